"""Session: every evaluation of f reseeded, what f and the gradient return made real."""

# ruff: noqa: NPY002  (the legacy global generator is what this is about)

from __future__ import annotations

import io
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
import torch
from numpy.typing import NDArray

import gradcheck
from gradcheck import ModelError
from gradcheck._evaluation import Session, as_real_array
from gradcheck._problem import Parameter, Problem
from gradcheck._randomness import NUMPY, PYTHON

FloatArray = NDArray[np.float64]


@pytest.fixture(autouse=True)
def user_streams() -> Iterator[None]:
    """Both global generators mid-stream, as a user leaves them; put back after the test."""
    numpy_before, python_before = np.random.get_state(), random.getstate()
    np.random.seed(3)
    random.seed(4)
    yield
    np.random.set_state(numpy_before)
    random.setstate(python_before)


def _problem(
    value: Callable[[Any], object],
    gradient: Callable[[FloatArray], object] | None = None,
    x: FloatArray | None = None,
    *,
    batched: bool = False,
) -> tuple[Problem, FloatArray]:
    storage = np.array([0.5, -1.0, 2.0]) if x is None else x
    grad = gradient or (lambda v: np.zeros_like(v))

    def perturbed_values(index: NDArray[np.int64], points: FloatArray) -> object:
        rows = []
        for i, point in zip(index, points, strict=True):
            y = storage.copy()
            y[i] = point
            rows.append(value(y))
        return np.array(rows)

    problem = Problem(
        [Parameter("x", storage.shape, storage)],
        lambda: value(storage),
        lambda: grad(storage),
        backend="plain",
        output_shape=None,
        complex_value=value,
        perturbed_values=perturbed_values if batched else None,
    )
    return problem, storage


@contextmanager
def _session(problem: Problem, reseed: bool = True) -> Iterator[Session]:
    """A Session over the problem, closed (the storage and generators put back) after."""
    session = Session(problem, reseed=reseed)
    try:
        yield session
    finally:
        session.close()


def _numpy_dropout(x: Any) -> Any:
    mask = np.random.rand(3) > 0.5
    return np.sum(x * x * mask) + np.random.randn()


def _python_dropout(x: Any) -> Any:
    return sum(x[k] * x[k] * (random.random() > 0.5) for k in range(3)) + random.gauss(0, 1)


# -- item 5: a random f made deterministic ---------------------------------------------


@pytest.mark.parametrize("f", [_numpy_dropout, _python_dropout])
def test_f_drawing_from_a_global_generator_gives_one_value_per_point_on_every_path(
    f: Callable[[Any], Any],
) -> None:
    problem, _ = _problem(f)
    with _session(problem) as session:
        assert np.array_equal(session.value_at_start(), session.value_at_start("again"))
        assert np.array_equal(session.at(1, 0.25), session.at(1, 0.25))
        assert np.array_equal(session.at_point(np.ones(3)), session.at_point(np.ones(3)))
        plus, minus = np.array([0.6, -0.9, 2.1]), np.array([0.4, -1.1, 1.9])
        first, again = session.sweep(plus, minus), session.sweep(plus, minus)
        assert np.array_equal(first[0], again[0])
        assert np.array_equal(first[1], again[1])
        assert np.array_equal(first[0][:, 1], session.at(1, -0.9))
        z = np.array([0.5, -1.0 + 1e-20j, 2.0])
        assert np.array_equal(session.complex_at(z, 1), session.complex_at(z, 1))


@pytest.mark.parametrize(
    ("draw", "generator"), [(lambda: np.random.rand(), NUMPY), (lambda: random.random(), PYTHON)]
)
def test_a_sweep_where_f_draws_at_some_points_only_is_run_again_reseeded(
    draw: Callable[[], float], generator: str
) -> None:
    def f(x: FloatArray) -> float:
        moved = x[0] > 0.5 or x[2] > 2.0  # draws only with x[0] or x[2] moved up
        return float(np.sum(x)) + (draw() if moved else 0.0)

    problem, x = _problem(f)
    with _session(problem) as session:
        session.value_at_start()
        plus, minus = session.sweep(x + 0.25, x - 0.25)
        assert session.calls == 1 + 2 * 6  # the first pass found a draw: a second one
        assert plus[0, 0] == session.at(0, 0.75)[0]
        assert plus[0, 2] == session.at(2, 2.25)[0]
        assert minus.tolist() == [[1.25, 1.25, 1.25]]
    assert [n.split(":")[0] for n in session.notes] == [f"f draws from {generator}"]


def test_batched_evaluation_is_reseeded_before_the_call() -> None:
    problem, _ = _problem(_numpy_dropout, batched=True)
    with _session(problem) as session:
        session.value_at_start()
        index, points = np.array([0, 1], dtype=np.int64), np.array([0.1, 0.2])
        assert np.array_equal(session.batch(index, points), session.batch(index, points))


def test_gradient_draws_what_f_draws_at_the_same_point() -> None:
    masks: list[list[bool]] = []

    def f(x: FloatArray) -> float:
        mask = np.random.rand(3) > 0.5
        masks.append(mask.tolist())
        return float(np.sum(x * mask))

    def gradient(x: FloatArray) -> FloatArray:
        mask = np.random.rand(3) > 0.5
        masks.append(mask.tolist())
        return mask.astype(np.float64)

    problem, _ = _problem(f, gradient)
    with _session(problem) as session:
        session.value_at_start()
        session.gradient()
    assert masks[0] == masks[1]


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, ValueError])
def test_close_puts_both_streams_back_also_after_f_raised(
    interrupt: type[BaseException],
) -> None:
    numpy_before, python_before = np.random.get_state(), random.getstate()
    calls = 0

    def f(x: FloatArray) -> float:
        nonlocal calls
        calls += 1
        random.random()
        if calls == 3:
            raise interrupt("stop")
        return float(np.sum(x) + np.random.rand())

    problem, x = _problem(f)
    with _session(problem) as session:
        session.value_at_start()
        with pytest.raises((KeyboardInterrupt, ModelError)):
            session.sweep(x + 0.1, x - 0.1)
    assert repr(np.random.get_state()) == repr(numpy_before)
    assert random.getstate() == python_before


def test_without_reseeding_f_stays_random_and_the_streams_are_still_put_back() -> None:
    numpy_before, python_before = np.random.get_state(), random.getstate()
    problem, _ = _problem(_numpy_dropout)
    with _session(problem, reseed=False) as session:
        assert not np.array_equal(session.value_at_start(), session.value_at_start())
        session.sweep(np.ones(3), np.zeros(3))
        assert session.calls == 2 + 2 * 3  # one pass: nothing to gain from another
    assert repr(np.random.get_state()) == repr(numpy_before)
    assert random.getstate() == python_before
    assert len(session.notes) == 1
    assert "did not reseed (reseeding is off)" in session.notes[0]


@pytest.mark.parametrize(
    ("f", "generators"),
    [
        (lambda x: float(np.sum(x)), []),
        (_numpy_dropout, [NUMPY]),
        (_python_dropout, [PYTHON]),
        (lambda x: _numpy_dropout(x) + _python_dropout(x), [NUMPY, PYTHON]),
    ],
)
def test_a_note_names_each_global_generator_f_draws_from_and_only_those(
    f: Callable[[Any], Any], generators: list[str]
) -> None:
    problem, _ = _problem(f)
    with _session(problem) as session:
        session.value_at_start()
        session.gradient()
    assert session.random_state.drawn == generators
    assert len(session.notes) == len(generators)
    for note, generator in zip(session.notes, generators, strict=True):
        assert note.startswith(f"f draws from {generator}: gradcheck reseeded it")


def test_a_draw_in_the_gradient_only_is_noted_as_the_gradients() -> None:
    def gradient(x: FloatArray) -> FloatArray:
        return x + 0.0 * np.random.rand()

    problem, _ = _problem(lambda x: float(np.sum(x)), gradient)
    with _session(problem) as session:
        session.value_at_start()
        session.gradient()
    assert [n.split(":")[0] for n in session.notes] == [f"the gradient function draws from {NUMPY}"]


def test_a_check_of_a_dropout_f_finds_a_wrong_gradient() -> None:
    def f(x: FloatArray) -> float:
        mask = np.random.binomial(1, 0.5, size=x.size) / 0.5
        return float(np.sum((x * mask) ** 2))

    def wrong(x: FloatArray) -> FloatArray:
        return -2 * x  # sign flipped, and blind to the mask

    report = gradcheck.check(f, np.array([1.0, 2.0, 3.0, 4.0]), grad=wrong, seed=0)
    assert not report.ok
    assert report.counts["mismatch"] >= 1


# -- items 2 and 3: what f and the gradient return -------------------------------------


def _gradient_error(raw: object) -> str:
    problem, _ = _problem(lambda x: float(np.sum(x)), lambda x: raw)
    with _session(problem) as session:
        session.value_at_start()
        with pytest.raises(ModelError) as info:
            session.gradient()
    return str(info.value)


def test_a_complex_gradient_is_refused_naming_its_imaginary_part() -> None:
    message = _gradient_error(np.array([1.0, 1.0 + 0.5j, 1.0]))
    assert "the gradient is complex values" in message
    assert "(1+0.5j)" in message
    assert "expected real numbers" in message


@pytest.mark.parametrize(
    "raw",
    [np.array(["1.0", "1.0", "1.0"]), ["1.0", "1.0", "1.0"], np.array([b"1", b"1", b"1"])],
)
def test_a_gradient_of_strings_is_refused_not_parsed(raw: object) -> None:
    message = _gradient_error(raw)
    assert "the gradient is strings" in message
    assert "'1" in message
    assert "return numbers, not their text" in message


def test_strings_inside_an_object_array_are_refused_not_parsed() -> None:
    assert "strings" in _gradient_error(np.array([1.0, "2.0", 3.0], dtype=object))


@pytest.mark.parametrize(
    "raw", [np.array([0.5, -1.0, 2.0], dtype=np.complex128), [0.5, complex(-1.0, 0.0), 2.0]]
)
def test_a_complex_gradient_is_refused_even_with_zero_imaginary_parts(raw: object) -> None:
    message = _gradient_error(raw)
    assert "the gradient is complex values (e.g. (0.5+0j) at [0])" in message
    assert "zero by construction, return np.real(...)" in message


@pytest.mark.parametrize(
    ("raw", "what"),
    [
        (np.array([1.0 + 1e-3j]), "complex values"),
        (np.complex128(1 + 1e-3j), r"a complex value \(1\+0\.001j\)"),
        (1 + 1e-3j, r"a complex value \(1\+0\.001j\)"),
        ("1.5", r"str \('1\.5'\)"),
        (np.array(["1.5"]), "strings"),
        ([np.str_("1.5")], "strings"),
    ],
)
def test_f_returning_complex_values_or_strings_is_refused(raw: object, what: str) -> None:
    problem, _ = _problem(lambda x: raw)
    with (
        _session(problem) as session,
        pytest.raises(ModelError, match=f"^f returned {what}.* at the start point;"),
    ):
        session.value_at_start()


def test_complex_values_in_the_sweep_are_refused_naming_the_element() -> None:
    def f(x: FloatArray) -> object:
        return np.sum(x) + 1j if x[1] > -1.0 else np.sum(x)

    problem, x = _problem(f)
    with _session(problem) as session:
        session.value_at_start()
        with pytest.raises(ModelError, match=r"a complex value .* with x\[1\] = -0\.75;"):
            session.sweep(x + 0.25, x - 0.25)


def _torch_loss(x: FloatArray) -> torch.Tensor:
    t = torch.tensor(x, requires_grad=True)
    return (t**2).sum()


def test_a_tensor_that_requires_grad_is_detached_on_every_path() -> None:
    problem, x = _problem(_torch_loss, lambda v: torch.tensor(2 * v, requires_grad=True))
    with _session(problem) as session:
        assert session.value_at_start().tolist() == [5.25]
        plus, minus = session.sweep(x + 0.5, x - 0.5)
        assert plus.tolist() == [[6.0, 4.5, 7.5]]
        assert minus.tolist() == [[5.0, 6.5, 3.5]]
        assert session.gradient().tolist() == [[1.0, -2.0, 4.0]]


def test_a_check_of_f_returning_a_tensor_that_requires_grad_runs() -> None:
    report = gradcheck.check(_torch_loss, np.array([0.5, -1.0, 2.0]), grad=lambda x: 2 * x)
    assert report.ok


def test_a_list_of_tensors_that_require_grad_is_detached() -> None:
    t = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    assert as_real_array([t[0] * 2, t[1] * 3]).tolist() == [2.0, 6.0]
    assert t.requires_grad


def test_an_object_with_detach_that_is_no_tensor_is_not_detached() -> None:
    stream = io.TextIOWrapper(io.BytesIO(b"1.0"))
    problem, _ = _problem(lambda x: stream)
    with _session(problem) as session, pytest.raises(ModelError, match="f returned TextIOWrapper"):
        session.value_at_start()
    assert stream.read() == "1.0"  # still attached to its buffer


def test_f_returning_none_still_asks_for_a_return_statement() -> None:
    problem, _ = _problem(lambda x: None)
    with _session(problem) as session, pytest.raises(ModelError, match="return statement missing"):
        session.value_at_start()


def test_a_value_in_a_buffer_f_writes_again_is_copied_not_aliased() -> None:
    buffer = np.zeros(2)

    def f(x: FloatArray) -> FloatArray:
        buffer[:] = [np.sum(x), np.prod(x)]
        return buffer

    problem, _ = _problem(f)
    with _session(problem) as session:
        start = session.value_at_start()
        session.at(0, 4.0)
        assert start.tolist() == [1.5, -1.0]


# -- item 4: non-finite values at perturbed points -------------------------------------


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_a_non_finite_value_at_a_perturbed_point_is_returned_on_its_side(bad: float) -> None:
    def f(x: FloatArray) -> float:
        return bad if x[1] > -1.0 else float(np.sum(x))

    problem, x = _problem(f)
    with _session(problem) as session:
        assert session.value_at_start().tolist() == [1.5]
        plus, minus = session.sweep(x + 0.25, x - 0.25)
        assert np.array_equal(plus[0], [1.75, bad, 1.75], equal_nan=True)
        assert np.isfinite(minus).all()
        assert np.array_equal(session.at(1, -0.5), [bad], equal_nan=True)
