"""Which precision JAX computes in during a check, and the dtype each checked leaf gets.

JAX computes in float32 unless ``jax_enable_x64`` is on: a float64 NumPy array passed to
a JAX function is silently rounded to float32. The check follows the user's setting by
default (``x64=None``), and ``x64=True`` / ``x64=False`` override it for the check:

* x64 off: every leaf is checked in the dtype JAX computes it in, float32 with the
  float32 error model (float64 leaves rounded to float32, as JAX does; float16 as is);
* x64 on: every floating leaf is checked on a float64 copy, the finer check (a float32
  leaf's rounding no longer hides small errors in its rule).

Either way the setting is applied only around the backend's own calls into JAX, through
the ``jax.enable_x64(...)`` context manager, which is thread-local and restored when each
call ends: the user's global ``jax_enable_x64`` is never changed.
"""

from __future__ import annotations

import contextlib
from typing import cast

import jax
import numpy as np

__all__ = ["Precision"]

FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))
"""Leaf dtypes the error model knows: NumPy's floating dtypes."""


class Precision:
    """The x64 setting the check runs under, resolved once when the check starts.

    Parameters
    ----------
    x64 : bool or None
        ``None``: JAX's own ``jax_enable_x64`` setting at the start of the check;
        ``True`` / ``False``: that setting for the check's own evaluations only.
    """

    def __init__(self, x64: bool | None) -> None:
        self.requested = x64
        self.enabled = bool(jax.enable_x64.value) if x64 is None else x64

    def scope(self) -> contextlib.AbstractContextManager[object]:
        """The context every call into JAX runs in: the resolved x64 setting."""
        return cast(contextlib.AbstractContextManager[object], jax.enable_x64(self.enabled))

    def working_dtype(self, dtype: np.dtype[np.floating]) -> np.dtype[np.floating]:
        """The dtype a leaf of ``dtype`` is checked in under this setting."""
        if self.enabled:
            return np.dtype(np.float64)
        if dtype == np.float64:
            return np.dtype(np.float32)
        return dtype

    def note(self, names: list[str], original: np.dtype[np.floating]) -> str | None:
        """Why leaves of ``original`` dtype are checked in another one, or None."""
        working = self.working_dtype(original)
        if working == original or not names:
            return None
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        if self.requested is True:
            return (
                f"{original} {shown} checked on float64 copies, with x64 enabled for the "
                "check's own evaluations (x64=True; your jax_enable_x64 setting is untouched)"
            )
        if self.enabled:
            return (
                f"{original} {shown} checked on float64 copies, since jax_enable_x64 is on "
                f"(pass x64=False to check in {original} with its error model)"
            )
        cause = "x64=False" if self.requested is False else "jax_enable_x64 is off"
        return (
            f"float64 {shown}: JAX computes in float32 ({cause}), so checked in float32 with "
            "the float32 error model (pass x64=True to check in float64)"
        )
