"""Where and how a check ran, as a reader of a saved report needs it: versions and settings.

A Markdown or HTML report is read later, elsewhere: on a CI job's page, in a browser. It
names the software that produced it (Python, NumPy, gradcheck, and the library of the
backend that checked the model, such as torch, when it is imported) beside the settings
that decide its verdicts (dtype, method, tolerances, seed). Versions are those of the
process that renders the report, which is the one that checked it in every door
gradcheck has (``gradcheck run``, the pytest plugin, a script).
"""

from __future__ import annotations

import platform
import sys
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from gradcheck._report_records import Metadata

__all__ = ["settings", "versions"]


def versions(backends: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """``(software, version)`` pairs: Python, NumPy, gradcheck, then each backend's library.

    A backend's library is the module of the backend's name (``torch``, ``jax``) when it
    is imported; the built-in ``numpy`` and ``python`` backends add nothing.

    >>> [name for name, _ in versions(("numpy",))]
    ['Python', 'NumPy', 'gradcheck']
    """
    from gradcheck import __version__

    found = [
        ("Python", f"{platform.python_version()} ({platform.python_implementation()})"),
        ("NumPy", np.__version__),
        ("gradcheck", __version__),
    ]
    for backend in dict.fromkeys(backends):
        module = sys.modules.get(backend)
        version = getattr(module, "__version__", None)
        if backend not in ("numpy", "python") and isinstance(version, str):
            found.append((backend, version))
    return found


def settings(metadata: Metadata) -> list[tuple[str, str]]:
    """``(setting, value)`` pairs that decide a report's verdicts, and what the check cost.

    >>> from gradcheck._report_records import Metadata
    >>> dict(settings(Metadata("numpy", "float64", "central", 1e-6, 0.0, 7, 12, 1, 0.5, (0.0,))))
    ... # doctest: +NORMALIZE_WHITESPACE
    {'backend': 'numpy', 'dtype': 'float64', 'method': 'central', 'mode': 'full', 'rtol': '1e-06',
     'atol': '0', 'seed': '7', 'evaluations': '12 of f, 1 of the gradient', 'seconds': '0.5'}
    """
    return [
        ("backend", metadata.backend),
        ("dtype", metadata.dtype),
        ("method", metadata.method),
        ("mode", "full" if metadata.fast is None else metadata.fast.describe()),
        ("rtol", f"{metadata.rtol:g}"),
        ("atol", f"{metadata.atol:g}"),
        ("seed", str(metadata.seed)),
        (
            "evaluations",
            f"{metadata.function_evaluations} of f, {metadata.gradient_evaluations} of the "
            "gradient",
        ),
        ("seconds", f"{metadata.seconds:.3g}"),
    ]
