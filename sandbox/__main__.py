"""`python -m sandbox ...`: see sandbox/cli.py."""

import sys

try:
    import cryptography  # noqa: F401
    import docker  # noqa: F401
    import yaml  # noqa: F401
except ImportError as exc:  # one clear line, not a traceback
    print(f"sandbox: missing Python package {exc.name!r}: run ./run setup, then .venv/bin/python -m sandbox ... "
          "(or pip install -e '.[sandbox]')", file=sys.stderr)
    sys.exit(2)

from .cli import main

sys.exit(main())
