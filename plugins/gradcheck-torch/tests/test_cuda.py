"""CUDA tensors are checked on their device; these tests skip where there is no CUDA."""

from __future__ import annotations

from typing import Any

import gradcheck
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.autograd.function import BackwardCFunction

pytestmark = pytest.mark.cuda


class Square(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:
        return x * x

    @staticmethod
    def setup_context(
        ctx: BackwardCFunction, inputs: tuple[torch.Tensor], output: torch.Tensor
    ) -> None:
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx: BackwardCFunction, g: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        out = 2 * x * g
        out[3] = out[3] * 1.001  # one element 0.1 % off
        return out


def test_wrong_element_is_found_on_the_gpu_in_batches_and_one_at_a_time() -> None:
    x = torch.randn(100, dtype=torch.float64, device="cuda", requires_grad=True)
    reports = [gradcheck.check(Square.apply, x, seed=0, batch=b) for b in (True, False)]
    for report in reports:
        assert [e.name for e in report.elements() if str(e.verdict) == "mismatch"] == ["x[3]"]
    np.testing.assert_array_equal(reports[0].verdicts, reports[1].verdicts)


def test_module_on_the_gpu_passes_and_is_left_as_it_was() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(8, 16),
        torch.nn.BatchNorm1d(16),
        torch.nn.Tanh(),
        torch.nn.Dropout(0.2),
        torch.nn.Linear(16, 4),
    ).cuda()
    x = torch.randn(12, 8, device="cuda")
    y = torch.randint(0, 4, (12,), device="cuda")
    F.cross_entropy(model(x), y).backward()  # type: ignore[no-untyped-call]  # unannotated in torch
    before = [t.detach().clone() for t in (*model.parameters(), *model.buffers())]
    grads = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    variants: list[dict[str, Any]] = [{}, {"native_dtype": True}, {"train": False}]
    for options in variants:
        report = gradcheck.check(model, x, y, loss=F.cross_entropy, seed=0, **options)
        assert report.ok, report
    after = [t.detach() for t in (*model.parameters(), *model.buffers())]
    assert all(torch.equal(a, b) for a, b in zip(after, before, strict=True))
    assert all(
        p.grad is not None and torch.equal(p.grad, g)
        for p, g in zip(model.parameters(), grads, strict=True)
    )
    assert model.training


def test_mlp_of_ten_thousand_parameters_is_checked_in_batches() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(32, 300), torch.nn.Tanh(), torch.nn.Linear(300, 1))
    model = model.double().cuda()
    x = torch.randn(16, 32, dtype=torch.float64, device="cuda")
    y = torch.randn(16, 1, dtype=torch.float64, device="cuda")
    report = gradcheck.check(model, x, y, loss=F.mse_loss, seed=0)
    assert report.ok
    assert report.counts["ok"] == 10_201
    assert not any("one at a time" in note for note in report.metadata.warnings)


@pytest.mark.parametrize("reseed", [True, False])
def test_cuda_generator_is_put_back_after_a_random_model(reseed: bool) -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Dropout(0.5)).double().cuda()
    x = torch.randn(5, 4, dtype=torch.float64, device="cuda")
    torch.cuda.manual_seed(5)
    torch.rand(3, device="cuda")  # a state that is not a fresh seed's
    before = (torch.get_rng_state(), torch.cuda.get_rng_state())
    report = gradcheck.check(model, x, seed=0, reseed=reseed)
    assert torch.equal(torch.get_rng_state(), before[0])
    assert torch.equal(torch.cuda.get_rng_state(), before[1])
    assert any("random numbers" in n and "Dropout" in n for n in report.metadata.warnings)
