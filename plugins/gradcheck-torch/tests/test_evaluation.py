"""What the evaluator hands the engine: plain float64 numbers, whatever autograd returns."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import gradcheck
import numpy as np
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


def _cube_slow_when(batched: bool, seconds: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """sum(x**3), sleeping ``seconds`` per call inside vmap (batched) or outside it."""

    def cube(x: torch.Tensor) -> torch.Tensor:
        if torch._C._functorch.is_batchedtensor(x) == batched:
            time.sleep(seconds)
        return (x**3).sum()

    return cube


def test_one_at_a_time_is_kept_where_it_is_faster_than_vmap(
    gen: torch.Generator, caplog: pytest.LogCaptureFixture
) -> None:
    x = torch.randn(6, generator=gen, dtype=torch.float64, requires_grad=True)
    with caplog.at_level(logging.INFO, logger="gradcheck_torch"):
        report = gradcheck.check(_cube_slow_when(batched=True, seconds=0.1), x, seed=0)
    assert "faster than torch.func.vmap" in caplog.text
    # a choice made by timing stays out of the report, which the seed alone decides
    assert not any("one at a time" in n for n in report.metadata.warnings)
    single = gradcheck.check(_cube_slow_when(batched=True, seconds=0.1), x, seed=0, batch=False)
    np.testing.assert_array_equal(report.verdicts, single.verdicts)
    np.testing.assert_array_equal(report.numeric, single.numeric)  # the same evaluations


def test_vmap_is_kept_where_it_is_faster(gen: torch.Generator) -> None:
    x = torch.randn(6, generator=gen, dtype=torch.float64, requires_grad=True)
    report = gradcheck.check(_cube_slow_when(batched=False, seconds=0.005), x, seed=0)
    assert report.ok, report
    assert not any("one at a time" in n for n in report.metadata.warnings)
