"""gonogo: a pytest suite that decides whether a release of a web stack may go live."""

from gonogo.environment import LoadedEnvironment, not_configured, section
from gonogo.evidence import attach
from gonogo.waiting import Convergence, ConvergenceTimeout, wait_until

__version__ = "0.1.0"

__all__ = [
    "Convergence",
    "ConvergenceTimeout",
    "LoadedEnvironment",
    "__version__",
    "attach",
    "not_configured",
    "section",
    "wait_until",
]
