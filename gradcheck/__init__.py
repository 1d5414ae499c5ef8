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

__version__: str  # computed on first access by __getattr__ below


def __getattr__(name: str) -> object:
    # Loaded only when asked for, so that `import gradcheck` stays cheap (pytest imports it
    # in every run): the version reads installed metadata (35 ms of importlib.metadata),
    # and the fixture's class lives with the pytest plugin.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("gradcheck")
        except PackageNotFoundError:  # a source tree that was never installed
            return "0+unknown"
    if name == "GradcheckFixture":
        from gradcheck.pytest_plugin import GradcheckFixture

        return GradcheckFixture
    raise AttributeError(f"module 'gradcheck' has no attribute {name!r}")
