"""torch's float64 ``hardsigmoid`` backward multiplies by a float32 1/6.

``hardsigmoid(x) = clamp(x / 6 + 1/2, 0, 1)``, so its derivative is exactly 1/6 between
-3 and 3. In float64, torch's backward returns 0.16666667163372 (1/6 rounded to float32):
3e-8 too large, relative. That is below the default ``rtol=1e-6``, so the first case
passes; with ``rtol=0`` gradcheck judges by its error model alone, whose float64
tolerance is about 1e-9 relative, and every element between -3 and 3 is a mismatch. Seen
in torch 2.13.0 (pinned in ``requirements.txt`` beside this file and in
``gradcheck[wild]``).

Run it::

    gradcheck run examples/in_the_wild/torch_hardsigmoid.py
"""

from __future__ import annotations

import torch

import gradcheck

X = torch.linspace(-2.5, 2.5, 6, dtype=torch.float64)


def hardsigmoid_sum(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.hardsigmoid(x).sum()


@gradcheck.case
def hardsigmoid_default_rtol() -> gradcheck.Case:
    """Within the default rtol=1e-6: the float32 constant goes unnoticed."""
    return gradcheck.Case(hardsigmoid_sum, X)


@gradcheck.case(expect="mismatch")
def hardsigmoid_rtol_0() -> gradcheck.Case:
    """rtol=0: the float32 1/6 is a mismatch at every element."""
    return gradcheck.Case(hardsigmoid_sum, X, rtol=0.0)
