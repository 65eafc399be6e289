"""gonogo: a pytest suite that decides whether a release of a web stack may go live."""

__version__ = "0.1.0"

from gonogo.environment import LoadedEnvironment, not_configured, section  # noqa: E402
from gonogo.evidence import attach  # noqa: E402
from gonogo.judge import judge  # noqa: E402
from gonogo.skips import dependent  # noqa: E402
from gonogo.waiting import Convergence, ConvergenceTimeout, wait_until  # noqa: E402

__all__ = [
    "Convergence",
    "ConvergenceTimeout",
    "LoadedEnvironment",
    "__version__",
    "attach",
    "dependent",
    "judge",
    "not_configured",
    "section",
    "wait_until",
]
