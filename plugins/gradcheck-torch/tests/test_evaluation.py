"""What the evaluator hands the engine: plain float64 numbers, whatever autograd returns."""

from __future__ import annotations

import gradcheck
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
