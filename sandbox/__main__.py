"""`python -m sandbox ...`: see sandbox/cli.py."""

import sys

try:
    import cryptography  # noqa: F401
    import docker  # noqa: F401
    import yaml  # noqa: F401
except ImportError as exc:  # one clear line, not a traceback
    print(f"sandbox: missing Python package {exc.name!r}: install the project with its sandbox extra "
          "(pip install -e '.[sandbox]')", file=sys.stderr)
    sys.exit(2)

from .cli import main

sys.exit(main())
