"""GlobalRandomState: NumPy's global generator and Python's random, fixed and put back."""

# ruff: noqa: NPY002  (the legacy global generator is what this is about)

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

# the same functions as np.random's, which numpy's stub for np.random does not re-export
from numpy.random.mtrand import get_bit_generator, set_bit_generator

from gradcheck._randomness import NUMPY, PYTHON, RESEED_SEED, GlobalRandomState


def _numpy_state() -> dict[str, Any]:
    state: dict[str, Any] = np.random.get_state(legacy=False)
    return state


def _same_numpy_state(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (
        a["bit_generator"] == b["bit_generator"]
        and a["has_gauss"] == b["has_gauss"]
        and a["gauss"] == b["gauss"]
        and repr(a["state"]) == repr(b["state"])
    )


@pytest.fixture
def user_streams() -> Iterator[None]:
    """Both global generators mid-stream, a cached Gaussian in each, as a user leaves them."""
    numpy_before, python_before = _numpy_state(), random.getstate()
    np.random.seed(11)
    np.random.standard_normal()  # odd count: NumPy caches the second Gaussian
    random.seed(12)
    random.gauss(0.0, 1.0)  # random caches its second Gaussian too
    yield
    np.random.set_state(numpy_before)
    random.setstate(python_before)


@pytest.mark.usefixtures("user_streams")
def test_fix_gives_the_same_draws_every_time_from_both_generators() -> None:
    state = GlobalRandomState()
    try:
        draws = []
        for _ in range(3):
            state.fix()
            draws.append((np.random.rand(3).tolist(), np.random.randn(), random.random()))
    finally:
        state.restore()
    assert draws[0] == draws[1] == draws[2]


@pytest.mark.usefixtures("user_streams")
def test_fixed_state_is_the_one_seeding_with_the_reseed_seed_gives() -> None:
    state = GlobalRandomState()
    try:
        fixed = (np.random.rand(), np.random.randn(), random.random(), random.gauss(0, 1))
    finally:
        state.restore()
    np.random.seed(RESEED_SEED)
    random.seed(RESEED_SEED)
    assert fixed == (np.random.rand(), np.random.randn(), random.random(), random.gauss(0, 1))


@pytest.mark.usefixtures("user_streams")
def test_restore_puts_back_both_streams_exactly_cached_gaussians_included() -> None:
    numpy_before, python_before = _numpy_state(), random.getstate()
    state = GlobalRandomState()
    state.fix()
    np.random.rand(1000)
    random.random()
    state.restore()
    state.restore()  # safe twice
    assert _same_numpy_state(_numpy_state(), numpy_before)
    assert random.getstate() == python_before
    expected_numpy, expected_python = np.random.randn(), random.gauss(0, 1)
    np.random.set_state(numpy_before)
    random.setstate(python_before)
    assert (np.random.randn(), random.gauss(0, 1)) == (expected_numpy, expected_python)


@pytest.mark.usefixtures("user_streams")
def test_record_draws_names_each_generator_once_and_only_when_drawn() -> None:
    state = GlobalRandomState()
    try:
        state.fix()
        assert state.record_draws() == []
        random.random()
        assert state.record_draws() == [PYTHON]
        state.fix()
        np.random.rand()
        assert state.record_draws() == [NUMPY]
        random.random()
        assert state.record_draws() == []
    finally:
        state.restore()
    assert state.drawn == [PYTHON, NUMPY]


@pytest.mark.usefixtures("user_streams")
def test_without_reseeding_fix_does_nothing_and_restore_still_puts_back() -> None:
    numpy_before, python_before = _numpy_state(), random.getstate()
    state = GlobalRandomState(reseed=False)
    try:
        assert state.fixed == []
        state.fix()
        first = np.random.rand()
        state.fix()
        assert np.random.rand() != first
        random.random()
        assert state.record_draws() == [NUMPY, PYTHON]
    finally:
        state.restore()
    assert _same_numpy_state(_numpy_state(), numpy_before)
    assert random.getstate() == python_before


def test_a_global_generator_of_another_kind_is_fixed_and_put_back() -> None:
    original = get_bit_generator()
    set_bit_generator(np.random.PCG64(5))
    try:
        before = _numpy_state()
        state = GlobalRandomState()
        try:
            assert state.fixed == [NUMPY, PYTHON]
            first = np.random.rand()
            state.fix()
            assert np.random.rand() == first
        finally:
            state.restore()
        assert _same_numpy_state(_numpy_state(), before)
    finally:
        set_bit_generator(original)


def test_a_foreign_global_bit_generator_is_left_alone_but_put_back() -> None:
    class Foreign(np.random.PCG64):
        pass

    original = get_bit_generator()
    set_bit_generator(Foreign(5))
    try:
        before = _numpy_state()
        state = GlobalRandomState()
        try:
            assert state.fixed == [PYTHON]
            np.random.rand()
            assert state.record_draws() == [NUMPY]
        finally:
            state.restore()
        assert _same_numpy_state(_numpy_state(), before)
    finally:
        set_bit_generator(original)
