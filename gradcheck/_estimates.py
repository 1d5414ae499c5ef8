"""What every method of estimating the derivatives returns: :class:`Estimates`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gradcheck._pairs import Column
from gradcheck._tolerance import Verdict

__all__ = ["Estimates"]

FloatArray = NDArray[np.float64]


@dataclass(slots=True)
class Estimates:
    """The numeric derivatives of one check and the verdicts on the analytic ones.

    Every array has shape (m, n) (outputs by parameter elements), except ``step`` (n,) and
    ``noise`` (m,). ``left`` and ``right`` are the one-sided derivatives where an element
    is a kink, NaN elsewhere.
    """

    analytic: FloatArray
    numeric: FloatArray
    error: FloatArray
    tolerance: FloatArray
    verdicts: NDArray[np.int8]
    left: FloatArray
    right: FloatArray
    step: FloatArray
    noise: FloatArray

    @classmethod
    def unbracketed(
        cls,
        analytic: FloatArray,
        numeric: FloatArray,
        error: FloatArray,
        judged: tuple[NDArray[np.int8], FloatArray],
        step: FloatArray,
        noise: FloatArray,
    ) -> Estimates:
        """Estimates from a method that finds no kinks (no one-sided derivatives);
        ``judged`` is :meth:`ErrorModel.verdicts`'s answer."""
        verdicts, tolerance = judged
        nan = np.full_like(analytic, np.nan)
        return cls(analytic, numeric, error, tolerance, verdicts, nan, nan, step, noise)

    def store(self, i: int, column: Column) -> None:
        """Element i's numbers and verdicts from a refined or one-sided ``column``."""
        self.numeric[:, i], self.error[:, i] = column.numeric, column.error
        self.tolerance[:, i], self.verdicts[:, i] = column.tolerance, column.verdicts
        self.left[:, i], self.right[:, i] = column.left, column.right

    def forbid_mismatches(self) -> None:
        """Where the error model did not hold, no gap is a mismatch: each becomes
        inconclusive, with tolerance inf."""
        mismatch = self.verdicts == Verdict.MISMATCH
        self.verdicts[mismatch] = Verdict.INCONCLUSIVE
        self.tolerance[mismatch] = np.inf
