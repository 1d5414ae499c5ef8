"""Functions of tensors and custom autograd.Function objects."""

from __future__ import annotations

from typing import Any

import gradcheck
import numpy as np
import pytest
import torch
from gradcheck import InvalidArgument
from torch.autograd.function import BackwardCFunction


class Scale(torch.autograd.Function):
    """y = w * x (w broadcast), new-style with a vmap rule: batches run through vmap."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return w * x

    @staticmethod
    def setup_context(
        ctx: BackwardCFunction, inputs: tuple[torch.Tensor, torch.Tensor], output: torch.Tensor
    ) -> None:
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx: BackwardCFunction, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, w = ctx.saved_tensors  # type: ignore[misc]  # torch's stub: saved_tensors is a 1-tuple
        return g * w, (g * x).sum(0)


class ScaleWrongAtOne(Scale):
    @staticmethod
    def backward(ctx: BackwardCFunction, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, w = ctx.saved_tensors  # type: ignore[misc]  # torch's stub: saved_tensors is a 1-tuple
        dw = (g * x).sum(0)
        dw[1] = 2 * dw[1]
        return g * w, dw


def _mismatches(report: gradcheck.Report) -> list[str]:
    return [e.name for e in report.elements() if str(e.verdict) == "mismatch"]


def test_function_of_tensors_is_checked_with_autograd_and_named_by_argument(
    gen: torch.Generator,
) -> None:
    x = torch.randn(3, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, generator=gen, dtype=torch.float64, requires_grad=True)

    def loss(inputs: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return torch.tanh(inputs @ weights).sum()

    report = gradcheck.check(loss, x, w, seed=0)
    assert report.ok
    assert report.metadata.backend == "torch"
    assert report.labels[0] == "inputs[0, 0]"
    assert report.labels[-1] == "weights[1]"


def test_inputs_that_do_not_require_grad_are_held_fixed(gen: torch.Generator) -> None:
    x = torch.randn(4, generator=gen, dtype=torch.float64, requires_grad=True)
    c = torch.randn(4, generator=gen, dtype=torch.float64)
    report = gradcheck.check(lambda x, c: (x * c).exp().sum(), x, c, seed=0)
    assert [name for name, _ in report.parameters] == ["x"]


def test_autograd_function_bug_in_one_element_of_one_input_is_located(
    gen: torch.Generator,
) -> None:
    x = torch.randn(5, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, generator=gen, dtype=torch.float64, requires_grad=True)
    assert gradcheck.check(Scale.apply, x, w, seed=0).ok
    report = gradcheck.check(ScaleWrongAtOne.apply, x, w, seed=0, batch=64)  # always vmap
    assert _mismatches(report) == ["w[1]"]
    assert any("vector-Jacobian product" in note for note in report.metadata.warnings)
    assert not any("one at a time" in note for note in report.metadata.warnings)


def test_batched_and_one_at_a_time_evaluation_give_the_same_verdicts(
    gen: torch.Generator,
) -> None:
    x = torch.randn(5, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, generator=gen, dtype=torch.float64, requires_grad=True)
    reports = [
        gradcheck.check(ScaleWrongAtOne.apply, x, w, seed=0, batch=batch)
        for batch in (True, 4, False)
    ]
    for other in reports[1:]:
        np.testing.assert_array_equal(other.verdicts, reports[0].verdicts)
        gap = np.abs(other.numeric - reports[0].numeric)
        assert np.all(gap <= other.error + reports[0].error)


def test_user_tensors_are_unchanged(gen: torch.Generator) -> None:
    x = torch.randn(4, 3, generator=gen, requires_grad=True)
    x.sum().backward()  # type: ignore[no-untyped-call]  # unannotated in torch
    assert x.grad is not None
    before = (x.detach().clone(), x.grad.clone(), x.requires_grad, x._version)
    gradcheck.check(lambda x: (x**3).sum(), x, seed=0)
    assert torch.equal(x.detach(), before[0])
    assert torch.equal(x.grad, before[1])
    assert (x.requires_grad, x._version) == before[2:]


def test_function_that_raises_is_a_model_error_and_tensors_are_unchanged(
    gen: torch.Generator,
) -> None:
    x = torch.randn(3, generator=gen, dtype=torch.float64, requires_grad=True)
    saved = x.detach().clone()
    calls = []

    def fails_later(x: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        if len(calls) > 4:
            raise RuntimeError("boom")
        return x.sum()

    with pytest.raises(gradcheck.ModelError, match="boom"):
        gradcheck.check(fails_later, x, seed=0, batch=False)
    assert torch.equal(x.detach(), saved)


def test_grad_argument_is_refused_for_autograd_objects(gen: torch.Generator) -> None:
    x = torch.randn(3, generator=gen, requires_grad=True)
    with pytest.raises(InvalidArgument, match="comes from autograd"):
        gradcheck.check(Scale.apply, x, x, grad=lambda x, w: x)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"loss": torch.nn.functional.mse_loss}, "applies to an nn.Module"),
        ({"batch": 0}, "points per chunk"),
        ({"native_dtype": "yes"}, "True or False"),
    ],
)
def test_bad_options_are_refused(
    option: dict[str, Any], message: str, gen: torch.Generator
) -> None:
    x = torch.randn(3, generator=gen, requires_grad=True)
    with pytest.raises(InvalidArgument, match=message):
        gradcheck.check(lambda x: x.sum(), x, **option)


def test_native_float32_check_uses_the_float32_error_model(gen: torch.Generator) -> None:
    x = torch.randn(50, generator=gen, requires_grad=True)
    report = gradcheck.check(lambda x: torch.sigmoid(x).prod(), x, seed=0, native_dtype=True)
    assert report.ok, report
    assert report.metadata.dtype == "float32"
    copy = gradcheck.check(lambda x: torch.sigmoid(x).prod(), x, seed=0)
    assert copy.metadata.dtype == "float64"
    assert any("float32 inputs" in note for note in copy.metadata.warnings)


def test_function_closing_over_float32_tensors_is_checked_in_float32(
    gen: torch.Generator,
) -> None:
    w = torch.randn(3, 4, generator=gen)  # float32, out of reach of the float64 copy
    x = torch.randn(4, generator=gen, requires_grad=True)
    report = gradcheck.check(lambda x: torch.tanh(w @ x).sum(), x, seed=0)
    assert report.ok, report
    assert report.metadata.dtype == "float32"
    (note,) = [n for n in report.metadata.warnings if "float64 copy" in n]
    assert "same dtype" in note  # torch's own words, quoted
    assert "checked in float32" in note
    assert "make those tensors float64 or pass them as arguments" in note


def test_function_that_fails_in_every_dtype_is_reported_as_it_fails(gen: torch.Generator) -> None:
    x = torch.randn(4, generator=gen, requires_grad=True)

    def broken(x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("broken on purpose")

    with pytest.raises(gradcheck.ModelError, match="broken on purpose"):
        gradcheck.check(broken, x, seed=0)
