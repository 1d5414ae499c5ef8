"""gradcheck: tells you whether the gradients your code computes are right."""

__all__ = [
    "Case",
    "GradcheckError",
    "GradcheckFixture",
    "GradcheckWarning",
    "GradientMismatch",
    "GradientMismatchWarning",
    "InvalidArgument",
    "IterateMismatch",
    "Method",
    "ModelError",
    "NoBackend",
    "Parameter",
    "Problem",
    "Report",
    "UndoStack",
    "Verdict",
    "__version__",
    "assert_gradients",
    "backends",
    "case",
    "check",
    "hookimpl",
]

from importlib.metadata import PackageNotFoundError, version

# The subpackage gradcheck.backends shares its name with the function backends(): load it
# first, so that the function bound below is not replaced when the built-in backends load.
import gradcheck.backends  # noqa: F401  # isort: skip
from gradcheck.api import Case, assert_gradients, case, check
from gradcheck.errors import (
    GradcheckError,
    GradcheckWarning,
    GradientMismatch,
    GradientMismatchWarning,
    InvalidArgument,
    IterateMismatch,
    ModelError,
    NoBackend,
)
from gradcheck.hookspecs import hookimpl
from gradcheck.options import Method
from gradcheck.plugins import backends
from gradcheck.problem import Parameter, Problem, UndoStack
from gradcheck.report import Report
from gradcheck.tolerance import Verdict

try:
    __version__ = version("gradcheck")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"


def __getattr__(name: str) -> object:
    # The fixture's class lives with the pytest plugin, which imports pytest: load it
    # only when asked for, so that `import gradcheck` stays cheap.
    if name == "GradcheckFixture":
        from gradcheck.pytest_plugin import GradcheckFixture

        return GradcheckFixture
    raise AttributeError(f"module 'gradcheck' has no attribute {name!r}")
