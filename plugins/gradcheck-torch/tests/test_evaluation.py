"""What the evaluator hands the engine: plain float64 numbers, whatever autograd returns."""

from __future__ import annotations

import gradcheck
import pytest
import torch


def test_zero_tensor_gradient_of_sgn_is_materialised(gen: torch.Generator) -> None:
    x = torch.randn(5, generator=gen, dtype=torch.float64, requires_grad=True)
    grad = torch.autograd.grad(torch.sgn(x).sum(), x)[0]
    assert grad._is_zerotensor()  # autograd's efficient zero: no storage behind it
    report = gradcheck.check(lambda x: torch.sgn(x).sum(), x, seed=0)
    assert report.ok, report
    assert report.analytic.ravel().tolist() == [0.0] * 5


def test_sparse_gradient_of_an_embedding_is_densified(gen: torch.Generator) -> None:
    torch.manual_seed(0)
    model = torch.nn.Embedding(6, 3, sparse=True).double()
    index = torch.tensor([[1, 4], [4, 0]])
    report = gradcheck.check(model, index, seed=0)
    assert report.ok, report
    assert report.analytic.reshape(6, 3)[[2, 3, 5]].tolist() == [[0.0] * 3] * 3


@pytest.mark.parametrize("batch", [True, False])
def test_outputs_that_require_grad_are_detached_on_every_path(
    batch: bool, gen: torch.Generator
) -> None:
    w = torch.randn(4, generator=gen, dtype=torch.float64, requires_grad=True)
    x = torch.randn(4, generator=gen, dtype=torch.float64, requires_grad=True)

    def graph_building(x: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():  # the output requires grad even where gradcheck turned it off
            return torch.sin(x * w).sum()

    report = gradcheck.check(graph_building, x, seed=0, batch=batch)
    assert report.ok, report
    assert w.grad is None


def test_a_loss_that_requires_grad_is_detached_for_a_module(gen: torch.Generator) -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2).double()
    offset = torch.zeros((), dtype=torch.float64, requires_grad=True)

    def loss(out: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            return out.square().sum() + offset

    report = gradcheck.check(model, torch.randn(4, 3, generator=gen).double(), loss=loss, seed=0)
    assert report.ok, report
