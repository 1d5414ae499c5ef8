"""gradcheck: tells you whether the gradients your code computes are right.

>>> import numpy as np, gradcheck
>>> report = gradcheck.check(lambda p: float(np.sum(p**3)), np.array([1.0, 2.0]),
...                          grad=lambda p: 3 * p**2, seed=0)
>>> report.ok
True

Start here, in this order:

1. ``_api.py``: :func:`check`, the one entry point, with its options (``_options.py``);
2. ``_engine.py``: what one check does, stage by stage, on a flat :class:`Problem`;
3. ``_report.py``: what comes back, element by element, and how it renders itself.

A backend, which turns a new kind of object into a :class:`Problem`, implements the one
hook in ``hookspecs.py``; the built-in ones are in ``backends/``. The front ends are the
``gradcheck`` command (``cli.py``), the pytest plugin (``pytest_plugin.py``) and
:mod:`gradcheck.optimize`. Modules with a leading underscore are internal: what they
hand out that a user needs is exported here.
"""

__all__ = [
    "BackendInfo",
    "Case",
    "CheckOptions",
    "Element",
    "GradcheckError",
    "GradcheckFixture",
    "GradcheckWarning",
    "GradientMismatch",
    "GradientMismatchWarning",
    "InvalidArgument",
    "IterateMismatch",
    "Metadata",
    "Method",
    "Mode",
    "ModelError",
    "NoBackend",
    "Parameter",
    "ParameterSummary",
    "Problem",
    "Report",
    "UndoStack",
    "Verdict",
    "__version__",
    "assert_gradients",
    "case",
    "check",
    "hookimpl",
    "installed_backends",
]

from gradcheck._api import Case, assert_gradients, case, check
from gradcheck._errors import (
    GradcheckError,
    GradcheckWarning,
    GradientMismatch,
    GradientMismatchWarning,
    InvalidArgument,
    IterateMismatch,
    ModelError,
    NoBackend,
)
from gradcheck._options import CheckOptions, Method, Mode
from gradcheck._plugins import BackendInfo, installed_backends
from gradcheck._problem import Parameter, Problem, UndoStack
from gradcheck._report import Element, Metadata, ParameterSummary, Report
from gradcheck._tolerance import Verdict
from gradcheck.hookspecs import hookimpl

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
