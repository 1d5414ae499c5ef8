"""Differential tests against ``torch.autograd.gradcheck`` on the same functions.

Every planted backward bug that torch's slow mode catches, gradcheck catches too; where
torch's defaults are wrong (a false alarm on a correct float32 function, a bug that fast
mode misses) gradcheck is right. Run this file as a script to print the measured table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradcheck
import pytest
import torch
from torch.autograd import Function
from torch.autograd.function import BackwardCFunction

# -- functions with hand-written backward, right and wrong ----------------------------


class Cube(Function):
    """y = x**3, elementwise."""

    @staticmethod
    def forward(ctx: BackwardCFunction, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx: BackwardCFunction, g: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return 3 * x**2 * g


class CubeIgnoresGradOutput(Cube):
    @staticmethod
    def backward(ctx: BackwardCFunction, g: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return 3 * x**2


class Sine(Function):
    @staticmethod
    def forward(ctx: BackwardCFunction, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return x.sin()

    @staticmethod
    def backward(ctx: BackwardCFunction, g: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return -x.cos() * g  # wrong sign


class SquareHalfGradient(Function):
    @staticmethod
    def forward(ctx: BackwardCFunction, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return (x * x).sum()

    @staticmethod
    def backward(ctx: BackwardCFunction, g: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return x * g  # missing factor 2


class MatMul(Function):
    @staticmethod
    def forward(ctx: BackwardCFunction, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx: BackwardCFunction, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, b = ctx.saved_tensors  # type: ignore[misc]  # torch's stub: saved_tensors is a 1-tuple
        return g @ b.T, a.T @ g


class MatMulTransposed(MatMul):
    @staticmethod
    def backward(ctx: BackwardCFunction, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, b = ctx.saved_tensors  # type: ignore[misc]  # torch's stub: saved_tensors is a 1-tuple
        return g @ b.T, a @ g  # a instead of a.T


class ScaleSwapped(Function):
    """y = x * w**2; backward returns the two gradients in the wrong order."""

    @staticmethod
    def forward(ctx: BackwardCFunction, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, w)
        return x * w**2

    @staticmethod
    def backward(ctx: BackwardCFunction, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, w = ctx.saved_tensors  # type: ignore[misc]  # torch's stub: saved_tensors is a 1-tuple
        return 2 * x * w * g, w**2 * g


class SinCos(Function):
    """Two outputs: sin(x w) elementwise and the sum of cos(x w)."""

    @staticmethod
    def forward(
        ctx: BackwardCFunction, x: torch.Tensor, w: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        ctx.save_for_backward(x, w)
        return (x * w).sin(), (x * w).cos().sum()

    @staticmethod
    def backward(
        ctx: BackwardCFunction, g_sin: torch.Tensor, g_cos: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x, w = ctx.saved_tensors  # type: ignore[misc]  # torch's stub: saved_tensors is a 1-tuple
        d = (x * w).cos() * g_sin - (x * w).sin() * g_cos
        return d * w, d * x


class SinCosSecondOutputWrong(SinCos):
    @staticmethod
    def backward(
        ctx: BackwardCFunction, g_sin: torch.Tensor, g_cos: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x, w = ctx.saved_tensors  # type: ignore[misc]  # torch's stub: saved_tensors is a 1-tuple
        d = (x * w).cos() * g_sin + (x * w).sin() * g_cos  # sign of the second output
        return d * w, d * x


class AddBias(Function):
    """y = x + b with b broadcast over the rows of x."""

    @staticmethod
    def forward(ctx: BackwardCFunction, x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return x + b

    @staticmethod
    def backward(ctx: BackwardCFunction, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return g, g[0]  # should be g.sum(0)


class Exp(Function):
    @staticmethod
    def forward(ctx: BackwardCFunction, x: torch.Tensor) -> torch.Tensor:
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: BackwardCFunction, g: torch.Tensor) -> torch.Tensor:
        (y,) = ctx.saved_tensors
        return y * g


WRONG_ELEMENT = 617


class ExpOneWrongElement(Exp):
    @staticmethod
    def backward(ctx: BackwardCFunction, g: torch.Tensor) -> torch.Tensor:
        (y,) = ctx.saved_tensors
        out = y * g
        out[WRONG_ELEMENT] *= 1.01  # 1 % off at one element of 1000
        return out


def _tanh_mlp_loss(x: torch.Tensor, w1: torch.Tensor, w2: torch.Tensor) -> torch.Tensor:
    return (torch.tanh(x @ w1) @ w2).square().mean()


# -- the cases ------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One function with its inputs and what it is: correct or not."""

    name: str
    func: Callable[..., torch.Tensor]
    make_inputs: Callable[[torch.Generator], tuple[torch.Tensor, ...]]
    correct: bool
    wrong_labels: tuple[str, ...] | None = None  # exact mismatches when known


def _randn(
    *shape: int, dtype: torch.dtype = torch.float64
) -> Callable[[torch.Generator], torch.Tensor]:
    return lambda gen: torch.randn(*shape, generator=gen, dtype=dtype).requires_grad_()


def _inputs(
    *makers: Callable[[torch.Generator], torch.Tensor],
) -> Callable[..., tuple[torch.Tensor, ...]]:
    return lambda gen: tuple(make(gen) for make in makers)


BUGS = [
    Case("backward ignores grad_output", CubeIgnoresGradOutput.apply, _inputs(_randn(5)), False),
    Case("wrong sign (sin)", Sine.apply, _inputs(_randn(6)), False),
    Case("missing factor 2", SquareHalfGradient.apply, _inputs(_randn(6)), False),
    Case(
        "transposed matmul backward",
        MatMulTransposed.apply,
        _inputs(_randn(3, 3), _randn(3, 3)),
        False,
    ),
    Case(
        "gradients of two inputs swapped", ScaleSwapped.apply, _inputs(_randn(4), _randn(4)), False
    ),
    Case(
        "second of two outputs wrong",
        SinCosSecondOutputWrong.apply,
        _inputs(_randn(5), _randn(5)),
        False,
    ),
    Case("broadcast bias not summed", AddBias.apply, _inputs(_randn(4, 3), _randn(3)), False),
    Case(
        "one wrong element among 1000 (1 %)",
        ExpOneWrongElement.apply,
        _inputs(_randn(1000)),
        False,
        (f"x[{WRONG_ELEMENT}]",),
    ),
]

CORRECT = [
    Case("cube", Cube.apply, _inputs(_randn(5)), True),
    Case("matmul", MatMul.apply, _inputs(_randn(3, 4), _randn(4, 2)), True),
    Case("two outputs", SinCos.apply, _inputs(_randn(5), _randn(5)), True),
    Case("exp, 1000 elements", Exp.apply, _inputs(_randn(1000)), True),
]

FLOAT32 = [
    Case("float32 exp, 1000 elements", Exp.apply, _inputs(_randn(1000, dtype=torch.float32)), True),
    Case(
        "float32 tanh MLP loss",
        _tanh_mlp_loss,
        _inputs(
            _randn(16, 8, dtype=torch.float32),
            _randn(8, 16, dtype=torch.float32),
            _randn(16, 4, dtype=torch.float32),
        ),
        True,
    ),
]


def torch_verdict(case: Case, gen: torch.Generator, fast: bool) -> bool:
    """Whether ``torch.autograd.gradcheck`` with its defaults passes the case."""
    inputs = case.make_inputs(gen)
    if inputs[0].dtype != torch.float64:
        with pytest.warns(UserWarning, match="is not a double precision"):
            return torch.autograd.gradcheck(
                case.func, inputs, raise_exception=False, fast_mode=fast
            )
    return torch.autograd.gradcheck(case.func, inputs, raise_exception=False, fast_mode=fast)


def gradcheck_report(case: Case, gen: torch.Generator, **options: Any) -> gradcheck.Report:
    return gradcheck.check(case.func, *case.make_inputs(gen), seed=0, **options)


def _mismatches(report: gradcheck.Report) -> list[str]:
    return [e.name for e in report.elements() if str(e.verdict) == "mismatch"]


@pytest.mark.parametrize("case", BUGS, ids=lambda c: c.name)
def test_every_bug_torch_slow_mode_catches_gradcheck_catches(
    case: Case, gen: torch.Generator
) -> None:
    assert not torch_verdict(case, torch.Generator().manual_seed(1), fast=False)
    report = gradcheck_report(case, gen)
    assert not report.ok
    if case.wrong_labels is not None:
        assert _mismatches(report) == list(case.wrong_labels)


def test_one_wrong_element_among_1000_is_missed_by_torch_fast_mode(gen: torch.Generator) -> None:
    case = BUGS[-1]
    assert torch_verdict(case, torch.Generator().manual_seed(1), fast=True)  # torch: pass
    assert _mismatches(gradcheck_report(case, gen)) == [f"x[{WRONG_ELEMENT}]"]


@pytest.mark.parametrize("case", CORRECT, ids=lambda c: c.name)
def test_correct_functions_pass_both(case: Case, gen: torch.Generator) -> None:
    assert torch_verdict(case, torch.Generator().manual_seed(1), fast=False)
    report = gradcheck_report(case, gen)
    assert report.ok, report


@pytest.mark.parametrize("native", [False, True], ids=["float64-copy", "native-float32"])
@pytest.mark.parametrize("case", FLOAT32, ids=lambda c: c.name)
def test_correct_float32_function_false_alarm_in_torch_not_in_gradcheck(
    case: Case, native: bool, gen: torch.Generator
) -> None:
    assert not torch_verdict(case, torch.Generator().manual_seed(1), fast=False)  # false alarm
    report = gradcheck_report(case, gen, native_dtype=native)
    assert report.ok, report
    assert report.metadata.dtype == ("float32" if native else "float64")


def main() -> None:
    """Print the measured table: torch slow, torch fast and gradcheck on every case."""
    import warnings

    warnings.simplefilter("ignore")
    rows = [("case", "truth", "torch slow", "torch fast", "gradcheck", "gradcheck native")]
    word = {True: "pass", False: "FAIL"}
    for case in [*BUGS, *CORRECT, *FLOAT32]:
        inputs = case.make_inputs(torch.Generator().manual_seed(1))
        slow = torch.autograd.gradcheck(case.func, inputs, raise_exception=False)
        fast = torch.autograd.gradcheck(case.func, inputs, raise_exception=False, fast_mode=True)
        ours = gradcheck.check(case.func, *inputs, seed=0)
        native = gradcheck.check(case.func, *inputs, seed=0, native_dtype=True)
        found = ", ".join(_mismatches(ours)[:3]) if not ours.ok else ""
        rows.append(
            (
                case.name,
                "correct" if case.correct else "bug",
                word[slow],
                word[fast],
                word[ours.ok]
                + (f" ({ours.counts['mismatch']} wrong: {found}...)" if found else ""),
                word[native.ok],
            )
        )
    print("| " + " | ".join(rows[0]) + " |")
    print("|" + "---|" * len(rows[0]))
    for row in rows[1:]:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
