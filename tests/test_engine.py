"""The engine's verdicts on the cases that trap naive checkers, and what it costs."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradcheck
from gradcheck import ModelError, Verdict


def mismatched(report: gradcheck.Report) -> list[str]:
    return [e.name for e in report.elements(Verdict.MISMATCH)]


# -- the seed example: J = 3 (x + y z) ---------------------------------------------------


def chain_rule_J(p: np.ndarray) -> float:
    x, y, z = p
    u = y * z
    v = x + u
    return float(3 * v)


def chain_rule_dJ(p: np.ndarray, slip: bool = False) -> np.ndarray:
    _x, y, z = p
    dJ_dv = 3.0
    dv_dx, dv_du = 1.0, 1.0
    du_dy, du_dz = z, y
    if slip:  # the worked example dropped dJ/dv on the way to y and z
        return np.array([dJ_dv * dv_dx, du_dy, du_dz])
    return np.array([dJ_dv * dv_dx, dJ_dv * dv_du * du_dy, dJ_dv * dv_du * du_dz])


def test_seed_chain_rule_correct_gradient_agrees() -> None:
    report = gradcheck.check(chain_rule_J, np.array([5.0, 3.0, 2.0]), grad=chain_rule_dJ)
    assert report.ok
    assert report.counts["ok"] == 3


def test_seed_chain_rule_slip_is_flagged_at_exactly_y_and_z() -> None:
    report = gradcheck.check(
        chain_rule_J, np.array([5.0, 3.0, 2.0]), grad=lambda p: chain_rule_dJ(p, slip=True)
    )
    assert not report.ok
    assert mismatched(report) == ["p[1]", "p[2]"]
    assert report.numeric[0, 1] == pytest.approx(3 * 2.0)
    assert report.numeric[0, 2] == pytest.approx(3 * 3.0)


def test_assert_gradients_raises_an_assertion_error_with_the_report() -> None:
    with pytest.raises(gradcheck.GradientMismatch) as info:
        gradcheck.assert_gradients(
            chain_rule_J, np.array([5.0, 3.0, 2.0]), grad=lambda p: chain_rule_dJ(p, True)
        )
    assert isinstance(info.value, AssertionError)
    assert "2 / 3 elements disagree" in str(info.value)
    assert "p[1]" in str(info.value)
    assert not info.value.report.ok


# -- cost --------------------------------------------------------------------------------


def test_correct_smooth_gradient_costs_about_four_evaluations_per_element(
    rng: np.random.Generator,
) -> None:
    A = rng.standard_normal((300, 300)) / 20

    def f(x: np.ndarray) -> float:
        return float(np.sum(np.tanh(A @ x)))

    def df(x: np.ndarray) -> np.ndarray:
        grad: np.ndarray = A.T @ (1 - np.tanh(A @ x) ** 2)
        return grad

    report = gradcheck.check(f, rng.standard_normal(300), grad=df, seed=1)
    assert report.ok
    n = 300
    # a Richardson pair (h, 2h) per element measures its truncation; probes: about 40
    assert report.metadata.function_evaluations <= 4 * n + 60
    assert report.metadata.gradient_evaluations == 1


def test_richardson_method_spends_a_second_step_on_every_element() -> None:
    report = gradcheck.check(np.exp, 0.5, grad=np.exp, method="richardson", seed=0)
    assert report.ok
    central = gradcheck.check(np.exp, 0.5, grad=np.exp, seed=0)
    assert report.metadata.function_evaluations >= central.metadata.function_evaluations + 2


# -- kinks -------------------------------------------------------------------------------


@pytest.mark.parametrize("slope_at_zero", [0.0, 0.5, 1.0])
def test_relu_at_zero_is_reported_as_kink_for_any_subgradient(slope_at_zero: float) -> None:
    def f(x: np.ndarray) -> float:
        return float(np.sum(np.maximum(x, 0.0)))

    def df(x: np.ndarray) -> np.ndarray:
        return np.where(x > 0, 1.0, np.where(x < 0, 0.0, slope_at_zero))

    report = gradcheck.check(f, np.array([0.0, 1.5, -2.0]), grad=df, seed=3)
    assert report.ok
    kink = report.element(0, 0)
    assert kink.verdict is Verdict.KINK
    assert (kink.left, kink.right) == pytest.approx((0.0, 1.0))
    assert [str(report.element(0, i).verdict) for i in (1, 2)] == ["ok", "ok"]


def test_value_outside_one_sided_derivatives_at_a_kink_is_a_mismatch() -> None:
    report = gradcheck.check(
        lambda x: float(np.sum(np.maximum(x, 0.0))),
        np.array([0.0, 1.0]),
        grad=lambda x: np.array([2.0, 1.0]),
        seed=3,
    )
    assert mismatched(report) == ["x[0]"]


def test_abs_and_max_kinks_are_not_mismatches() -> None:
    def f(p: np.ndarray) -> float:
        return float(abs(p[0]) + max(p[1], p[2]))

    def df(p: np.ndarray) -> np.ndarray:
        return np.array([np.sign(p[0]), 1.0, 0.0])

    report = gradcheck.check(f, np.array([0.0, 1.0, 1.0]), grad=df, seed=0)
    assert report.ok
    assert report.counts["mismatch"] == 0
    assert report.counts["kink"] >= 2


def test_strict_mode_fails_on_a_kink() -> None:
    report = gradcheck.check(
        lambda x: float(np.maximum(x, 0.0).sum()),
        np.array([0.0]),
        grad=lambda x: x * 0,
        strict=True,
    )
    assert report.counts["kink"] == 1
    assert not report.ok


def test_kink_near_but_not_at_the_point_is_judged_on_its_smooth_side() -> None:
    # the kink sits 3e-6 from x, inside the first step (6e-6): finer steps resolve it
    report = gradcheck.check(
        lambda x: float(np.maximum(x[0] - 3e-6, 0.0)), np.array([0.0]), grad=lambda x: x * 0
    )
    assert report.ok
    assert report.verdicts[0, 0] == Verdict.OK


# -- noise, float32, scales --------------------------------------------------------------


def test_random_f_gradcheck_cannot_reseed_fails_as_random_not_as_a_wrong_gradient(
    rng: np.random.Generator,
) -> None:
    def dropout_loss(w: np.ndarray) -> float:  # a generator of its own: nothing to reseed
        mask = rng.random(w.shape) > 0.5
        return float(np.sum((2 * mask * w) ** 2))

    report = gradcheck.check(dropout_loss, np.array([1.0, 2.0, 3.0]), grad=lambda w: 4 * w)
    assert not report.ok  # it verified nothing
    assert report.metadata.random
    assert report.counts["mismatch"] == 0
    assert any("f is random" in w and "seeded generator" in w for w in report.metadata.warnings)
    assert "f is random" in str(report).splitlines()[0]


def test_dropout_from_the_global_numpy_generator_is_reseeded_and_checked_exactly() -> None:
    # the legacy global generator is the point: it is what gradcheck reseeds and puts back
    state = np.random.get_state()  # noqa: NPY002

    def dropout_loss(w: np.ndarray) -> float:
        mask = np.random.random_sample(w.shape) > 0.5  # noqa: NPY002
        return float(np.sum((2 * mask * w) ** 2))

    def dropout_grad(w: np.ndarray) -> np.ndarray:  # the same draw: reseeded alike
        mask = np.random.random_sample(w.shape) > 0.5  # noqa: NPY002
        grad: np.ndarray = 8 * mask * w
        return grad

    right = gradcheck.check(dropout_loss, np.array([1.0, 2.0, 3.0]), grad=dropout_grad)
    assert right.ok, str(right)
    assert right.counts["ok"] == 3
    assert not right.metadata.random
    flipped = gradcheck.check(
        dropout_loss, np.array([1.0, 2.0, 3.0]), grad=lambda w: -dropout_grad(w)
    )
    assert not flipped.ok
    assert flipped.counts["mismatch"] >= 1
    assert any("numpy.random" in w for w in flipped.metadata.warnings)
    after = np.random.get_state()  # noqa: NPY002
    # numpy's stub types get_state() as a dict; by default it returns the legacy tuple
    assert after[0] == state[0]  # type: ignore[index]
    assert np.array_equal(after[1], state[1])  # type: ignore[index]
    assert after[2:] == state[2:]  # type: ignore[index]


def test_slightly_noisy_f_still_catches_a_large_error(rng: np.random.Generator) -> None:
    def f(x: np.ndarray) -> float:
        return float(np.sum(x**2) + 1e-9 * rng.standard_normal())

    ok = gradcheck.check(f, np.array([1.0, 2.0]), grad=lambda x: 2 * x, seed=0)
    assert ok.ok
    bad = gradcheck.check(f, np.array([1.0, 2.0]), grad=lambda x: 2 * x * [1.0, 1.1], seed=0)
    assert mismatched(bad) == ["x[1]"]


def test_float32_model_is_judged_with_float32_roundoff(rng: np.random.Generator) -> None:
    W = rng.standard_normal((50, 20)).astype(np.float32)

    def f(w: np.ndarray) -> np.float32:
        loss: np.float32 = np.sum(np.tanh(W @ w) ** 2, dtype=np.float32)
        return loss

    def df(w: np.ndarray) -> np.ndarray:
        t = np.tanh(W @ w)
        grad: np.ndarray = W.T @ (2 * t * (1 - t * t))
        return grad.astype(np.float32)

    w = rng.standard_normal(20).astype(np.float32)
    report = gradcheck.check(f, w, grad=df, seed=0)
    assert report.metadata.dtype == "float32"
    assert report.counts["mismatch"] == 0
    wrong = gradcheck.check(f, w, grad=lambda w: df(w) * np.float32(1.05), seed=0)
    assert wrong.counts["mismatch"] >= 15


def test_float32_computation_behind_a_float64_interface_is_measured(
    rng: np.random.Generator,
) -> None:
    A = rng.standard_normal((40, 40))

    def f(x: np.ndarray) -> float:
        x32 = x.astype(np.float32)
        return float(np.sum(np.sin(A.astype(np.float32) @ x32)))

    def df(x: np.ndarray) -> np.ndarray:
        grad: np.ndarray = A.T @ np.cos(A @ x)
        return grad

    report = gradcheck.check(f, rng.standard_normal(40), grad=df, seed=2)
    assert report.counts["mismatch"] == 0
    assert report.metadata.noise[0] > 1e3 * np.finfo(np.float64).eps * abs(f(np.zeros(40)) + 1)


@pytest.mark.parametrize("scale", [1e-8, 1e-3, 1e3, 1e8])
def test_wild_parameter_scales_are_checked_on_their_own_scale(scale: float) -> None:
    def f(x: np.ndarray) -> float:
        return float(np.sum(np.sin(x / scale) + (x / scale) ** 2))

    def df(x: np.ndarray) -> np.ndarray:
        return (np.cos(x / scale) + 2 * x / scale) / scale

    x = scale * np.array([0.3, -1.2, 2.0])
    assert gradcheck.check(f, x, grad=df, seed=0).counts["mismatch"] == 0
    bad = gradcheck.check(f, x, grad=lambda x: df(x) * [1, 1 + 1e-3, 1], seed=0)
    assert mismatched(bad) == ["x[1]"]


def test_huge_function_values_do_not_hide_a_wrong_gradient() -> None:
    report = gradcheck.check(
        lambda x: float(1e12 + 1e6 * np.sum(x**2)),
        np.array([1.0, 2.0]),
        grad=lambda x: 2e6 * x * [1.0, 1.01],
        seed=0,
    )
    assert mismatched(report) == ["x[1]"]


# -- methods -----------------------------------------------------------------------------


def test_complex_step_agrees_to_near_machine_precision() -> None:
    report = gradcheck.check(
        lambda x: np.sum(np.exp(x) * np.sin(x)),
        np.array([0.3, 1.7]),
        grad=lambda x: np.exp(x) * (np.sin(x) + np.cos(x)),
        method="complex",
    )
    assert report.ok
    exact = np.exp([0.3, 1.7]) * (np.sin([0.3, 1.7]) + np.cos([0.3, 1.7]))
    assert np.all(np.abs(report.numeric[0] - exact) <= 4 * np.finfo(float).eps * np.abs(exact))
    assert report.metadata.function_evaluations <= 2 + 2  # f0, f0 again, one per element


def test_complex_step_explains_an_f_that_cannot_take_complex_input() -> None:
    with pytest.raises(ModelError, match="method='complex' needs an f"):
        gradcheck.check(
            lambda p: math.sin(p[0]), [0.5], grad=lambda p: [math.cos(p[0])], method="complex"
        )


def test_scipy_reference_method_agrees_with_the_engine() -> None:
    f = lambda x: float(np.sum(np.log1p(x**2)))  # noqa: E731
    df = lambda x: 2 * x / (1 + x**2)  # noqa: E731
    x = np.array([0.5, -2.0, 3.0])
    reference = gradcheck.check(f, x, grad=df, method="scipy", seed=0)
    ours = gradcheck.check(f, x, grad=df, seed=0)
    assert reference.ok
    assert ours.ok
    assert np.allclose(reference.numeric, ours.numeric, rtol=1e-8)


# -- bounds and vector outputs ------------------------------------------------------------


def test_bounds_are_never_crossed_and_one_sided_differences_are_used() -> None:
    seen: list[float] = []

    def f(x: np.ndarray) -> float:
        seen.append(float(x[0]))
        return float(np.sqrt(x[0]) + x[1] ** 2)

    def df(x: np.ndarray) -> np.ndarray:
        return np.array([0.5 / np.sqrt(x[0]), 2 * x[1]])

    report = gradcheck.check(f, np.array([1e-7, 1.0]), grad=df, bounds=(0.0, None), seed=0)
    assert min(seen) >= 0.0
    assert report.counts["mismatch"] == 0
    bad = gradcheck.check(
        f, np.array([0.0 + 1e-2, 1.0]), grad=lambda x: df(x) * [1.01, 1], bounds=(0, None)
    )
    assert mismatched(bad) == ["x[0]"]


def test_start_outside_the_bounds_is_an_invalid_argument() -> None:
    with pytest.raises(gradcheck.InvalidArgument, match=r"is 2.0, outside its bounds \[0.0, 1.0\]"):
        gradcheck.check(lambda x: float(x[0]), np.array([2.0]), grad=np.ones_like, bounds=(0, 1))


def test_vector_valued_function_has_its_jacobian_checked_elementwise() -> None:
    def F(x: np.ndarray) -> np.ndarray:
        return np.array([x[0] ** 2, x[0] * x[1], np.sin(x[1])])

    def J(x: np.ndarray) -> np.ndarray:
        return np.array([[2 * x[0], 0], [x[1], x[0]], [0, np.cos(x[1])]])

    x = np.array([1.0, 2.0])
    assert gradcheck.check(F, x, grad=J, seed=0).ok
    wrong = gradcheck.check(
        F, x, grad=lambda x: J(x) + np.array([[0, 0], [0, 0.1], [0, 0]]), seed=0
    )
    assert mismatched(wrong) == ["f[1] / x[1]"]


# -- the user's objects --------------------------------------------------------------------


def test_f_that_modifies_its_argument_is_reported_and_the_argument_restored() -> None:
    def f(x: np.ndarray) -> float:
        value = float(np.sum(x**2))
        x *= 0.5  # a bug: scales the caller's parameters in place
        return value

    x = np.array([1.0, -2.0])
    report = gradcheck.check(f, x, grad=lambda x: 2 * x, seed=0)
    assert report.ok
    assert any("modifies its argument" in w and "x[0]" in w for w in report.metadata.warnings)
    assert x.tolist() == [1.0, -2.0]


class ModelWithParams:
    """The classic hand-written model: a params dict and loss() returning (loss, grads)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.params = {"W": rng.standard_normal((3, 2)), "b": np.array([0.0, -0.0])}
        self.calls = 0
        self.fail_at: int | None = None
        self.failure: type[BaseException] = RuntimeError

    def loss(self, X: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        self.calls += 1
        if self.fail_at is not None and self.calls >= self.fail_at:  # broken from then on
            raise self.failure("out of memory")
        z = X @ self.params["W"] + self.params["b"]
        loss = float(np.sum(np.tanh(z)))
        dz = 1 - np.tanh(z) ** 2
        return loss, {"W": X.T @ dz, "b": dz.sum(axis=0)}


def _state(model: ModelWithParams) -> dict[str, bytes]:
    return {k: v.tobytes() for k, v in model.params.items()}


def test_model_params_are_restored_bit_for_bit_after_a_check(rng: np.random.Generator) -> None:
    model = ModelWithParams(rng)
    before = _state(model)
    arrays = dict(model.params)
    report = gradcheck.check(model.loss, rng.standard_normal((4, 3)), seed=0)
    assert report.ok
    assert _state(model) == before
    assert all(model.params[k] is arrays[k] for k in arrays)
    assert np.signbit(model.params["b"][1])


@pytest.mark.parametrize("fail_at", [1, 3, 7, 20])
def test_model_raising_at_its_kth_call_leaves_params_unchanged(
    rng: np.random.Generator, fail_at: int
) -> None:
    model = ModelWithParams(rng)
    model.fail_at = fail_at
    before = _state(model)
    with pytest.raises(ModelError, match="RuntimeError") as info:
        gradcheck.check(model.loss, rng.standard_normal((4, 3)), seed=0)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert _state(model) == before


def test_keyboard_interrupt_mid_check_leaves_params_unchanged(rng: np.random.Generator) -> None:
    model = ModelWithParams(rng)
    before = _state(model)
    model.fail_at = 9
    model.failure = KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        gradcheck.check(model.loss, rng.standard_normal((4, 3)))
    assert _state(model) == before


def test_wrong_model_gradient_is_named_by_parameter_and_index(rng: np.random.Generator) -> None:
    class Buggy(ModelWithParams):
        def loss(self, X: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
            loss, grads = super().loss(X)
            grads["W"][2, 1] *= 1.5
            return loss, grads

    model = Buggy(rng)
    report = gradcheck.check(model.loss, rng.standard_normal((4, 3)), seed=0)
    assert mismatched(report) == ["W[2, 1]"]


# -- traps found in review: float32 inside, poles, aliasing ------------------------------------


def test_float32_inside_with_sparse_dependence_is_measured_where_f_moves(
    rng: np.random.Generator,
) -> None:
    rows = np.array([3, 17, 42, 3, 250])  # an embedding table: five of 300 rows used
    w = rng.standard_normal(4)

    def f(E: np.ndarray) -> float:
        return float(np.sum(np.tanh(E[rows].astype(np.float32) @ w.astype(np.float32))))

    def df(E: np.ndarray) -> np.ndarray:
        G = np.zeros_like(E)
        np.add.at(G, rows, (1 - np.tanh(E[rows] @ w) ** 2)[:, None] * w)
        return G

    E = rng.standard_normal((300, 4))
    report = gradcheck.check(f, E, grad=df, seed=0)
    assert report.counts["mismatch"] == 0
    assert report.counts["kink"] == 0
    assert report.metadata.noise[0] > 1e-9  # float32 round-off, not float64's


def test_float32_inside_a_vector_valued_f_is_measured_per_output() -> None:
    x = np.linspace(-1, 1, 5) + 0.1
    report = gradcheck.check(
        lambda p: np.tanh(p.astype(np.float32)).astype(np.float64),
        x,
        grad=lambda p: np.diag(1 - np.tanh(p) ** 2),
        seed=0,
    )
    assert report.ok
    assert report.counts["kink"] == 0
    assert min(report.metadata.noise) > 1e-9


@pytest.mark.parametrize("x0", [3e-6, 1e-7])
def test_a_pole_inside_the_first_step_never_passes_a_wrong_gradient(x0: float) -> None:
    def f(p: np.ndarray) -> float:
        return float(1 / p[0] + p[1] ** 2)

    right = gradcheck.check(
        f, np.array([x0, 1.0]), grad=lambda p: np.array([-1 / p[0] ** 2, 2 * p[1]])
    )
    assert right.counts["mismatch"] == 0
    wrong = gradcheck.check(
        f, np.array([x0, 1.0]), grad=lambda p: np.array([-1.05 / p[0] ** 2, 2 * p[1]])
    )
    assert str(wrong.element(0, 0).verdict) in ("mismatch", "inconclusive")


def test_f_oscillating_far_faster_than_its_parameter_is_not_a_mismatch() -> None:
    report = gradcheck.check(
        lambda p: float(np.sin(1e7 * p[0])), np.array([0.3]), grad=lambda p: 1e7 * np.cos(1e7 * p)
    )
    assert report.counts["mismatch"] == 0


def test_the_evaluations_of_f_are_accounted_for_by_stage() -> None:
    """Every evaluation belongs to one stage, and a report whose refinement cost more than
    its screen says where they went (a 3-element f that took 101 evaluations)."""
    tiny = np.array([3e-8, -5e-9, 1e-8])

    def f(w: np.ndarray) -> float:
        return float(np.sum(w * np.cos(w * 1e7)))

    def wrong(w: np.ndarray) -> np.ndarray:
        g: np.ndarray = np.cos(w * 1e7) - 1e7 * w * np.sin(w * 1e7) * [1, 1, 1.01]
        return g

    report = gradcheck.check(f, tiny, grad=wrong, seed=3)
    stages = dict(report.metadata.stages)
    assert sum(stages.values()) == report.metadata.function_evaluations
    assert list(stages)[:3] == ["probe", "noise", "screen"]
    assert stages["screen"] == 4 * tiny.size
    assert stages["refinement"] > stages["screen"]
    assert "  evaluations of f: probe 2, noise 36, screen 12, refinement" in str(report)
    fast = gradcheck.check(f, tiny, grad=wrong, mode="fast", self_test=True, seed=3)
    fast_stages = dict(fast.metadata.stages)
    assert sum(fast_stages.values()) == fast.metadata.function_evaluations
    assert "probes" in fast_stages
    assert "self-test" in fast_stages
