"""The global random generators f may draw from, fixed for each evaluation and put back.

A function that draws from NumPy's legacy global generator (``np.random.rand``,
``np.random.binomial`` for a dropout mask) or from Python's :mod:`random` module returns a
different value at every call, and finite differences of it measure nothing.
:class:`GlobalRandomState` removes that randomness where it can: :meth:`~GlobalRandomState.fix`
sets both generators to one fixed state before every evaluation, so f draws the same
numbers each time and is an ordinary deterministic function whose gradient can be checked
(for that one draw). :meth:`~GlobalRandomState.restore` puts back the states the generators
had before, so the user's random streams continue exactly as if no check had run.

Generators created inside f (``np.random.default_rng()`` without a seed, ``os.urandom``)
are out of reach; such an f stays random, and the engine reports it.
"""

# ruff: noqa: NPY002  (the legacy global generator is what this is about)

from __future__ import annotations

import random
from typing import Any

import numpy as np

__all__ = ["NUMPY", "PYTHON", "RESEED_SEED", "GlobalRandomState"]

RESEED_SEED = 20240229
"""Seed of the state both generators are set to before every evaluation."""

NUMPY = "numpy.random's global generator"
"""How notes and ``GlobalRandomState.drawn`` name NumPy's legacy global generator."""
PYTHON = "Python's random module"
"""How notes and ``GlobalRandomState.drawn`` name the generator behind :mod:`random`."""


class GlobalRandomState:
    """NumPy's global generator and Python's :mod:`random`, fixed for each evaluation.

    Creating it saves both generators' states; with ``reseed`` it also sets both to the
    fixed state at once. Call :meth:`fix` before every evaluation of f and :meth:`restore`
    once, in ``finally``, when the check ends.

    Parameters
    ----------
    reseed : bool, default True
        Whether :meth:`fix` sets the generators to the fixed state. When False they are
        left to run (f stays random if it draws), but :meth:`restore` still puts back the
        states they had at the start.
    seed : int, default RESEED_SEED
        The fixed state is the one ``np.random.seed(seed)`` and ``random.seed(seed)`` give.

    Attributes
    ----------
    fixed : list of str
        The generators :meth:`fix` sets: both when reseeding, unless NumPy's global
        generator was replaced by a bit generator NumPy does not ship; none without
        reseeding.
    drawn : list of str
        The generators seen drawn from (by :meth:`record_draws`), in the order found:
        ``"numpy.random's global generator"``, ``"Python's random module"``.

    Examples
    --------
    >>> state = GlobalRandomState()
    >>> try:
    ...     state.fix()
    ...     first = np.random.rand()
    ...     state.fix()
    ...     again = np.random.rand()
    ...     found = state.record_draws()
    ... finally:
    ...     state.restore()
    >>> first == again, found
    (True, ["numpy.random's global generator"])
    """

    def __init__(self, reseed: bool = True, seed: int = RESEED_SEED) -> None:
        self.reseed = reseed
        self.seed = seed
        self.fixed: list[str] = []
        self.drawn: list[str] = []
        self._saved_numpy: dict[str, Any] = np.random.get_state(legacy=False)
        self._saved_python = random.getstate()
        # what "not drawn from" looks like: the fixed state, or the start's without one
        self._fixed_numpy: dict[str, Any] | None = None
        self._fixed_python = self._saved_python
        self._restored = False
        if reseed:
            self._fixed_numpy = _seeded_numpy_state(self._saved_numpy["bit_generator"], seed)
            self._fixed_python = random.Random(seed).getstate()
            self.fixed = [PYTHON] if self._fixed_numpy is None else [NUMPY, PYTHON]
            self.fix()

    def fix(self) -> None:
        """Set both generators to the fixed state (nothing when reseeding is off).

        About 2 µs for each generator: the saved states are applied with
        ``np.random.set_state`` and ``random.setstate``, NumPy's with its key as a list,
        which ``set_state`` reads 10 times faster than an array.
        """
        if not self.reseed:
            return
        if self._fixed_numpy is not None:
            np.random.set_state(self._fixed_numpy)
        random.setstate(self._fixed_python)

    def fix_drawn(self) -> None:
        """Like :meth:`fix`, for the generators in ``drawn`` only: for the hot loop.

        Setting a generator f never draws from costs 2 µs and changes nothing. A loop that
        calls this before each evaluation is exact if, after it, :meth:`record_draws`
        finds no generator that :meth:`fix` sets and that was not in ``drawn`` already;
        otherwise it must be run again.
        """
        if NUMPY in self.drawn and self._fixed_numpy is not None:
            np.random.set_state(self._fixed_numpy)
        if PYTHON in self.drawn and self.reseed:
            random.setstate(self._fixed_python)

    def record_draws(self) -> list[str]:
        """Generators drawn from since the last :meth:`fix`, not seen before; also in ``drawn``.

        A generator was drawn from when its state differs from the fixed state (from the
        state at the start when reseeding is off). About 30 µs: call it after a few
        evaluations, not after every one.
        """
        found: list[str] = []
        numpy_reference = self._fixed_numpy or self._saved_numpy
        if NUMPY not in self.drawn and not _same(
            np.random.get_state(legacy=False), numpy_reference
        ):
            found.append(NUMPY)
        if PYTHON not in self.drawn and random.getstate() != self._fixed_python:
            found.append(PYTHON)
        self.drawn.extend(found)
        return found

    def note(self, generator: str, who: str) -> str:
        """A sentence for the report: ``who`` (``"f"``, ...) draws from ``generator``."""
        restored = "its state was restored after the check"
        if generator in self.fixed:
            call = "np.random.seed" if generator == NUMPY else "random.seed"
            return (
                f"{who} draws from {generator}: gradcheck reseeded it ({call}({self.seed})) "
                f"before every evaluation, so {who} is deterministic here and the gradient "
                f"was checked for that one draw; {restored}"
            )
        why = "reseeding is off" if not self.reseed else "a bit generator NumPy does not ship"
        return (
            f"{who} draws from {generator}, which gradcheck did not reseed ({why}), so f is "
            f"random here; {restored}"
        )

    def restore(self) -> None:
        """Put both generators back in the states they had at the start; safe to call twice."""
        if self._restored:
            return
        self._restored = True
        try:
            np.random.set_state(self._saved_numpy)
        finally:
            random.setstate(self._saved_python)


def _seeded_numpy_state(bit_generator: str, seed: int) -> dict[str, Any] | None:
    """The global generator's state after seeding with ``seed``; None for a foreign type."""
    if bit_generator == "MT19937":
        state: dict[str, Any] = np.random.RandomState(seed).get_state(legacy=False)
        return {**state, "state": {**state["state"], "key": state["state"]["key"].tolist()}}
    kind = getattr(np.random, bit_generator, None)
    if not isinstance(kind, type) or not issubclass(kind, np.random.BitGenerator):
        return None
    seeded: dict[str, Any] = np.random.RandomState(kind(seed)).get_state(legacy=False)
    return seeded


def _same(a: object, b: object) -> bool:
    """Whether two generator states (nested dicts of numbers and arrays) are equal."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))
