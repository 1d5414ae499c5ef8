"""torch cases in a gradcheck model file: a custom autograd.Function and an nn.Module.

Run it (with gradcheck-torch installed)::

    gradcheck run plugins/gradcheck-torch/examples/torch_cases.py -v
"""

from __future__ import annotations

import gradcheck
import torch
import torch.nn.functional as F
from torch.autograd.function import BackwardCFunction  # the type of the ctx torch passes


class SoftClip(torch.autograd.Function):
    """``y = x / (1 + |x|)`` elementwise, with a hand-written backward ``1 / (1 + |x|)^2``."""

    generate_vmap_rule = True  # lets gradcheck evaluate perturbed points in batches

    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:
        return x / (1 + x.abs())

    @staticmethod
    def setup_context(
        ctx: BackwardCFunction, inputs: tuple[torch.Tensor], output: torch.Tensor
    ) -> None:
        (x,) = inputs
        ctx.save_for_backward(x)

    @staticmethod
    def backward(ctx: BackwardCFunction, grad_output: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad_output / (1 + x.abs()) ** 2


class SoftClipWrong(SoftClip):
    """The same forward with a classic slip: the square is missing."""

    @staticmethod
    def backward(ctx: BackwardCFunction, grad_output: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad_output / (1 + x.abs())


def _inputs(seed: int) -> torch.Tensor:
    return torch.randn(3, 4, generator=torch.Generator().manual_seed(seed), requires_grad=True)


soft_clip = gradcheck.Case(SoftClip.apply, _inputs(0))
soft_clip_wrong = gradcheck.Case(SoftClipWrong.apply, _inputs(0), expect="mismatch")


@gradcheck.case
def small_classifier() -> gradcheck.Case:
    """A float32 classifier with BatchNorm and Dropout, checked on a float64 copy."""
    gen = torch.Generator().manual_seed(1)
    torch.manual_seed(1)
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 6),
        torch.nn.BatchNorm1d(6),
        torch.nn.Tanh(),
        torch.nn.Dropout(0.2),
        torch.nn.Linear(6, 3),
    )
    x = torch.randn(8, 4, generator=gen)
    y = torch.randint(0, 3, (8,), generator=gen)
    return gradcheck.Case(model, x, y, loss=F.cross_entropy)
