"""nn.Module: naming, dtype handling, random layers, and leaving the user's module alone."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import gradcheck
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.autograd.function import BackwardCFunction


class Net(torch.nn.Module):
    """Linear, BatchNorm, tanh, Dropout, Linear; optionally raises after some calls."""

    def __init__(self, fail_after: int | None = None) -> None:
        super().__init__()
        self.layer1 = torch.nn.Linear(4, 6)
        self.norm = torch.nn.BatchNorm1d(6)
        self.drop = torch.nn.Dropout(0.3)
        self.layer2 = torch.nn.Linear(6, 3)
        self.fail_after = fail_after
        self.calls = [0]  # a list: the deep copy shares nothing, so count on the class too

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        Net.total_calls += 1
        if self.fail_after is not None and Net.total_calls > self.fail_after:
            raise RuntimeError("forward failed on purpose")
        out: torch.Tensor = self.layer2(self.drop(torch.tanh(self.norm(self.layer1(x)))))
        return out

    total_calls = 0


def _data(gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(8, 4, generator=gen), torch.randint(0, 3, (8,), generator=gen)


def _state(model: torch.nn.Module) -> dict[str, object]:
    """Everything the check must leave as it was, as bytes and flags."""
    state: dict[str, object] = {}
    for name, t in [*model.named_parameters(), *model.named_buffers()]:
        state[name] = (t.detach().cpu().numpy().tobytes(), t.dtype, t._version)
    for name, p in model.named_parameters():
        grad = None if p.grad is None else p.grad.cpu().numpy().tobytes()
        state[f"{name}.grad"] = (grad, p.requires_grad)
    state["modes"] = [m.training for m in model.modules()]
    state["rng"] = torch.get_rng_state().numpy().tobytes()
    return state


def _used_model(gen: torch.Generator, fail_after: int | None = None) -> Net:
    """A model with .grad fields, one frozen parameter and updated running statistics."""
    torch.manual_seed(0)
    model = Net(fail_after)
    x, y = _data(gen)
    F.cross_entropy(model(x), y).backward()  # type: ignore[no-untyped-call]  # unannotated in torch
    model.layer1.bias.requires_grad_(False)
    return model


def test_parameters_are_named_like_the_module_names_them(gen: torch.Generator) -> None:
    model = _used_model(gen).eval()
    report = gradcheck.check(model, *_data(gen), loss=F.cross_entropy, seed=0)
    assert report.ok, report
    assert "layer1.weight[3, 2]" in report.labels
    assert "layer1.bias[0]" not in report.labels  # frozen: requires_grad is False
    assert [name for name, _ in report.parameters][-2:] == ["layer2.weight", "layer2.bias"]
    assert any("float32 model Net checked on a float64 copy" in n for n in report.metadata.warnings)


def test_input_gradients_are_checked_on_request(gen: torch.Generator) -> None:
    model = _used_model(gen).eval()
    report = gradcheck.check(model, *_data(gen), loss=F.cross_entropy, seed=0, input_grad=True)
    assert report.ok, report
    assert report.labels[-1] == "input[7, 3]"


@pytest.mark.parametrize("options", [{}, {"native_dtype": True}, {"batch": False}])
def test_batchnorm_and_dropout_in_train_mode_pass_and_leave_the_module_as_it_was(
    options: dict[str, Any], gen: torch.Generator
) -> None:
    model = _used_model(gen)
    before = _state(model)
    report = gradcheck.check(model, *_data(gen), loss=F.cross_entropy, seed=0, **options)
    assert report.ok, report
    assert report.counts["mismatch"] == 0
    assert any("random numbers" in n and "Dropout" in n for n in report.metadata.warnings)
    assert _state(model) == before


def test_random_dropout_is_reported_as_non_deterministic_not_as_wrong(
    gen: torch.Generator,
) -> None:
    model = _used_model(gen)
    report = gradcheck.check(model, *_data(gen), loss=F.cross_entropy, seed=0, reseed=False)
    assert report.counts["mismatch"] == 0
    assert not report.ok  # a random objective verified nothing
    assert any("f is random" in note for note in report.metadata.warnings)


def test_eval_mode_by_choice_leaves_the_module_in_train_mode(gen: torch.Generator) -> None:
    model = _used_model(gen)
    before = _state(model)
    report = gradcheck.check(model, *_data(gen), loss=F.cross_entropy, seed=0, train=False)
    assert report.ok
    assert not any("dropout" in note for note in report.metadata.warnings)
    assert _state(model) == before


@pytest.mark.parametrize("fail_after", [1, 3, 40])
def test_module_is_unchanged_when_forward_raises_mid_check(
    fail_after: int, gen: torch.Generator
) -> None:
    model = _used_model(gen, fail_after=None)
    before = _state(model)
    model.fail_after = fail_after
    Net.total_calls = 0
    with pytest.raises(gradcheck.ModelError, match="failed on purpose"):
        gradcheck.check(model, *_data(gen), loss=F.cross_entropy, seed=0)
    model.fail_after = None
    assert _state(model) == before


def test_batched_and_one_at_a_time_give_the_same_verdicts_on_a_module(
    gen: torch.Generator,
) -> None:
    torch.manual_seed(3)
    model = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.BatchNorm1d(7), torch.nn.GELU())
    x = torch.randn(6, 5, generator=gen, dtype=torch.float64)
    target = torch.randn(6, 7, generator=gen, dtype=torch.float64)
    batched = gradcheck.check(model, x, target, loss=F.mse_loss, seed=0, batch=256)  # vmap
    single = gradcheck.check(model, x, target, loss=F.mse_loss, seed=0, batch=False)
    assert not any("one at a time" in note for note in batched.metadata.warnings)
    np.testing.assert_array_equal(batched.verdicts, single.verdicts)
    # batched matmuls round differently: the estimates agree within their own error bounds
    assert np.all(np.abs(batched.numeric - single.numeric) <= batched.error + single.error)


def test_wrong_backward_inside_a_module_is_named_by_parameter(gen: torch.Generator) -> None:
    class LeakyClamp(torch.autograd.Function):
        @staticmethod
        def forward(ctx: BackwardCFunction, x: torch.Tensor) -> torch.Tensor:
            ctx.save_for_backward(x)
            return x.clamp(min=0) + 0.1 * x.clamp(max=0)

        @staticmethod
        def backward(ctx: BackwardCFunction, g: torch.Tensor) -> torch.Tensor:
            (x,) = ctx.saved_tensors
            return g * torch.where(x > 0, 1.0, 0.01)  # slope 0.01 where it is 0.1

    class Model(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layer1 = torch.nn.Linear(3, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            # Function.apply is unannotated in torch
            out: torch.Tensor = LeakyClamp.apply(self.layer1(x))  # type: ignore[no-untyped-call]
            return out.square().sum()

    torch.manual_seed(0)
    report = gradcheck.check(Model(), torch.randn(5, 3, generator=gen), seed=0)
    assert not report.ok
    wrong = {e.parameter for e in report.elements() if str(e.verdict) == "mismatch"}
    assert wrong <= {"layer1.weight", "layer1.bias"}
    assert wrong


def test_module_with_non_scalar_output_needs_loss_or_is_projected(gen: torch.Generator) -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2).double()
    report = gradcheck.check(model, torch.randn(4, 3, generator=gen, dtype=torch.float64), seed=0)
    assert report.ok
    assert any("u^T J" in note for note in report.metadata.warnings)


def test_torch_cases_in_a_model_file_run_like_any_other() -> None:
    path = Path(__file__).parents[1] / "examples" / "torch_cases.py"
    spec = importlib.util.spec_from_file_location("torch_cases", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.soft_clip.run(seed=0).ok
    assert not module.soft_clip_wrong.run(seed=0).ok
    assert module.small_classifier().run(seed=0).ok


def test_module_with_a_float32_tensor_that_is_not_a_buffer_is_checked_in_float32(
    gen: torch.Generator,
) -> None:
    class Scaled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(3, 2)
            self.scale = torch.tensor([[0.5, 2.0]])  # a plain attribute: .double() skips it

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.layer(x)
            return out @ self.scale.T

    torch.manual_seed(0)
    model = Scaled()
    before = _state(model)
    report = gradcheck.check(model, torch.randn(4, 3, generator=gen), seed=0)
    assert report.ok, report
    assert report.metadata.dtype == "float32"
    assert any("register_buffer" in n for n in report.metadata.warnings)
    assert _state(model) == before


def test_lazy_module_is_checked_on_an_initialised_copy_and_stays_lazy(
    gen: torch.Generator,
) -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.LazyLinear(3), torch.nn.Tanh(), torch.nn.LazyLinear(1))
    x = torch.randn(5, 4, generator=gen)
    rng = torch.get_rng_state()
    report = gradcheck.check(model, x, seed=0)
    assert report.ok, report
    assert report.labels[-1] == "2.bias[0]"
    assert len(report.labels) == 3 * 4 + 3 + 3 + 1
    assert any("uninitialized" in n and "0.weight" in n for n in report.metadata.warnings)
    assert all(torch.nn.parameter.is_lazy(p) for p in model.parameters())
    assert isinstance(model[0], torch.nn.LazyLinear)
    assert torch.equal(torch.get_rng_state(), rng)


def test_lazy_module_without_an_example_input_is_refused_with_the_fix() -> None:
    model = torch.nn.LazyLinear(3)
    with pytest.raises(gradcheck.InvalidArgument, match=r"uninitialized.*model\(example_input\)"):
        gradcheck.check(model, seed=0)
