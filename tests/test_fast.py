"""Fast mode: random directional probes, group testing for the wrong elements, mode="auto".

The models are the two kinds the issue names: a separable function and a small MLP's loss,
both with hand-written gradients that are correct unless a test plants an error. Planted
errors are "normwise": a size relative to the gradient's norm, added to one element.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from typer.testing import CliRunner

import gradcheck
from gradcheck import Verdict
from gradcheck.cli import app

FloatArray = NDArray[np.float64]
Gradient = Callable[[FloatArray], FloatArray]


class Separable:
    """f(x) = sum c_i sin(x_i) + 0.1 (sum x_i)^2: every element couples to every other."""

    def __init__(self, n: int, seed: int, dtype: type = np.float64) -> None:
        rng = np.random.default_rng(seed)
        self.x: FloatArray = rng.normal(size=n).astype(dtype)
        self.c = rng.uniform(0.5, 2.0, size=n)

    def f(self, x: FloatArray) -> float:
        x = x.astype(np.float64)
        return float(np.sum(self.c * np.sin(x)) + 0.1 * np.sum(x) ** 2)

    def grad(self, x: FloatArray) -> FloatArray:
        x = x.astype(np.float64)
        result: FloatArray = self.c * np.cos(x) + 0.2 * np.sum(x)
        return result


class MLP:
    """Mean squared error of a tanh network with one hidden layer, all weights in one
    vector: the README's kind of model, its backward pass written by hand."""

    def __init__(self, inputs: int, hidden: int, seed: int, dtype: type = np.float64) -> None:
        rng = np.random.default_rng(seed)
        self.shapes = [(inputs, hidden), (hidden,), (hidden, 1)]
        self.data = rng.normal(size=(16, inputs))
        self.target = rng.normal(size=(16, 1))
        size = sum(math.prod(s) for s in self.shapes)
        self.x = (rng.normal(size=size) / np.sqrt(inputs)).astype(dtype)

    def _unpack(self, x: FloatArray) -> list[FloatArray]:
        parts, start = [], 0
        for shape in self.shapes:
            stop = start + math.prod(shape)
            parts.append(x[start:stop].astype(np.float64).reshape(shape))
            start = stop
        return parts

    def f(self, x: FloatArray) -> float:
        w1, b1, w2 = self._unpack(x)
        out = np.tanh(self.data @ w1 + b1) @ w2
        return float(np.mean((out - self.target) ** 2))

    def grad(self, x: FloatArray) -> FloatArray:
        w1, b1, w2 = self._unpack(x)
        hidden = np.tanh(self.data @ w1 + b1)
        d_out = 2 * (hidden @ w2 - self.target) / self.target.size
        d_hidden = (d_out @ w2.T) * (1 - hidden**2)
        parts = [self.data.T @ d_hidden, d_hidden.sum(axis=0), hidden.T @ d_out]
        return np.concatenate([p.ravel() for p in parts])


def planted(grad: Gradient, where: dict[int, float]) -> Gradient:
    """``grad`` with ``size * ||g||`` added at each element of ``where``."""

    def wrong(x: FloatArray) -> FloatArray:
        g = grad(x).copy()
        norm = float(np.linalg.norm(g))
        for i, size in where.items():
            g[i] += size * norm
        return g

    return wrong


def mismatches(report: gradcheck.Report) -> list[int]:
    return np.flatnonzero(np.any(report.verdicts == Verdict.MISMATCH, axis=0)).tolist()


# -- correct gradients pass, in few evaluations, whatever n ----------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [1_000, 100_000])
def test_correct_gradients_pass_in_a_few_evaluations_whatever_n(n: int, dtype: type) -> None:
    for seed in range(3):
        model = Separable(n, seed, dtype)
        report = gradcheck.check(model.f, model.x, grad=model.grad, mode="fast", seed=seed)
        assert report.ok, str(report)
        assert report.metadata.mode == "fast"
        # the noise probe, 4 directions of 4 evaluations, a few refinement levels
        assert report.metadata.function_evaluations <= 80


def test_a_correct_mlp_gradient_passes_in_float64_and_float32() -> None:
    for dtype in (np.float64, np.float32):
        model = MLP(40, 30, seed=1, dtype=dtype)
        for seed in range(5):
            report = gradcheck.check(model.f, model.x, grad=model.grad, mode="fast", seed=seed)
            assert report.ok, str(report)


# -- one wrong element is named, with a full check's verdict ------------------------------------


@pytest.mark.parametrize("n", [1_000, 100_000])
def test_one_wrong_element_is_named_in_about_two_log2_n_evaluations(n: int) -> None:
    for seed in range(3):
        model = Separable(n, seed)
        j = int(np.random.default_rng(seed + 100).integers(n))
        grad = planted(model.grad, {j: 1e-3})
        report = gradcheck.check(model.f, model.x, grad=grad, mode="fast", seed=seed)
        assert mismatches(report) == [j]
        element = report.element(0, j)
        assert abs(element.numeric - model.grad(model.x)[j]) <= element.error
        # the probes and the noise stage (under 80), then about 2 per halving and a full
        # check of the element found
        assert report.metadata.function_evaluations <= 80 + 3 * math.log2(n) + 12


def test_an_error_at_the_certified_size_is_found() -> None:
    """What a pass certifies is a promise: an error twice ``detectable`` at an element the
    probes never looked at is caught, for every element tried."""
    model = Separable(2_000, seed=4)
    passed = gradcheck.check(model.f, model.x, grad=model.grad, mode="fast", seed=4)
    assert passed.ok
    norm = float(np.linalg.norm(model.grad(model.x)))
    for j in np.random.default_rng(0).choice(2_000, size=5, replace=False).tolist():
        size = 2.0 * float(passed.detectable[0, j]) / norm
        report = gradcheck.check(
            model.f, model.x, grad=planted(model.grad, {j: size}), mode="fast", seed=4
        )
        assert j in mismatches(report), (j, str(report))


def test_elements_spanning_1e_3_to_1e3_need_no_step_from_the_user() -> None:
    """One step chosen from ||x|| would be far too large for the small elements and blunt
    for the large: each element moves by its own scale, so a 1e-4 error is found anyway,
    at elements of every size, and the correct gradient passes."""
    n = 2_000
    for seed in range(3):
        rng = np.random.default_rng(seed)
        scale = 10.0 ** rng.uniform(-3, 3, n)
        x = scale * rng.uniform(0.5, 1.5, n) * rng.choice([-1.0, 1.0], n)
        c = rng.uniform(0.5, 2.0, n)

        def f(w: FloatArray, c: FloatArray = c, scale: FloatArray = scale) -> float:
            return float(np.sum(c * np.sin(w / scale)) + 0.1 * np.sum(w / scale) ** 2)

        def grad(w: FloatArray, c: FloatArray = c, scale: FloatArray = scale) -> FloatArray:
            result: FloatArray = c * np.cos(w / scale) / scale + 0.2 * np.sum(w / scale) / scale
            return result

        assert gradcheck.check(f, x, grad=grad, mode="fast", seed=seed).ok
        j = int(rng.integers(n))
        report = gradcheck.check(f, x, grad=planted(grad, {j: 1e-4}), mode="fast", seed=seed)
        assert mismatches(report) == [j], (seed, scale[j])


def test_two_errors_that_could_cancel_are_both_found() -> None:
    model = Separable(10_000, seed=5)
    grad = planted(model.grad, {17: 1e-4, 9_000: -1e-4})
    report = gradcheck.check(model.f, model.x, grad=grad, mode="fast", seed=5)
    assert mismatches(report) == [17, 9_000]


def test_a_scaled_gradient_is_called_widespread_not_listed_element_by_element() -> None:
    model = Separable(10_000, seed=6)
    report = gradcheck.check(
        model.f, model.x, grad=lambda x: 1.001 * model.grad(x), mode="fast", seed=6
    )
    assert not report.ok
    assert "widespread" in report.headline()
    assert report.metadata.function_evaluations < 2_000


def test_a_wrong_jacobian_entry_is_named_by_output_and_element() -> None:
    a = np.random.default_rng(7).normal(size=(3, 500))

    def f(x: FloatArray) -> FloatArray:
        return np.tanh(a @ x)

    def jac(x: FloatArray) -> FloatArray:
        result: FloatArray = (1 - np.tanh(a @ x) ** 2)[:, None] * a
        result[1, 321] += 1e-3
        return result

    x = np.random.default_rng(8).normal(size=500) / 10
    report = gradcheck.check(f, x, grad=jac, mode="fast", seed=7)
    wrong = np.argwhere(report.verdicts == Verdict.MISMATCH).tolist()
    assert wrong == [[1, 321]]


# -- mode="auto" and the budget -------------------------------------------------------------


def test_auto_checks_in_full_within_the_budget_and_fast_beyond_it() -> None:
    model = Separable(300, seed=9)
    full = gradcheck.check(model.f, model.x, grad=model.grad, seed=0)
    assert full.metadata.mode == "full"
    fast = gradcheck.check(model.f, model.x, grad=model.grad, budget=500, seed=0)
    assert fast.metadata.mode == "fast"
    assert "budget" in fast.metadata.describe()


def test_an_unknown_mode_or_a_bad_budget_is_refused_with_the_option_named() -> None:
    model = Separable(10, seed=0)
    with pytest.raises(gradcheck.InvalidArgument, match="mode"):
        gradcheck.check(model.f, model.x, grad=model.grad, mode="quick")  # type: ignore[arg-type]
    with pytest.raises(gradcheck.InvalidArgument, match="budget"):
        gradcheck.check(model.f, model.x, grad=model.grad, budget=-1)


# -- every door takes the mode ----------------------------------------------------------------

MODEL_FILE = """
import numpy as np
import gradcheck

c = np.linspace(0.5, 2.0, 2_000)

def f(w):
    return float(np.sum(c * np.sin(w)))

def wrong(w):
    g = c * np.cos(w)
    g[1_234] *= 1.1
    return g

big = gradcheck.Case(f, np.linspace(-1, 1, 2_000), grad=wrong)
"""


def test_the_cli_runs_fast_mode_and_names_the_element(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "model.py").write_text(MODEL_FILE)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["run", "model.py", "--mode", "fast", "--seed", "0"])
    assert result.exit_code == 1, result.output
    assert "w[1234]" in result.output
    assert "fast mode (asked for)" in result.output or "(fast)" in result.output


def test_the_pytest_marker_takes_the_mode(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import numpy as np
        import pytest

        @pytest.mark.gradcheck(mode="fast", seed=0)
        def test_big(gradcheck):
            c = np.linspace(0.5, 2.0, 3_000)
            report = gradcheck(lambda w: float(np.sum(c * np.sin(w))), np.zeros(3_000),
                               grad=lambda w: c * np.cos(w))
            assert report.metadata.mode == "fast"
        """
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=1)


def test_minimize_checks_a_large_jac_in_fast_mode() -> None:
    from gradcheck.optimize import minimize

    model = Separable(3_000, seed=10)
    result = minimize(
        model.f,
        model.x,
        jac=model.grad,
        method="L-BFGS-B",
        check=1,
        check_options={"mode": "fast", "seed": 0},
        options={"maxiter": 5},
    )
    (point,) = result.gradcheck_reports
    assert point.report.metadata.mode == "fast"
    assert point.report.ok
