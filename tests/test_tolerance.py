"""The error model on its own: tolerances, verdicts at their boundaries, and the scales.

Every expected value below follows from the error model as the README states it:

    tolerance = 2 (error + analytic rounding) + atol + rtol |analytic|
    analytic rounding = 8 precision (|analytic| + |x| |f''|)

an estimate is uncertain when its error exceeds a tenth of its scale (its own size,
``|f''|`` times the element's own scale, or 1e-3 of the output's largest gradient entry),
and an uncertain estimate needs a gap of three tolerances for a mismatch. The numbers are
short sums of powers of two wherever a boundary is tested, so that every tolerance and
every gap is exact in float64 and "exactly at the tolerance" means exactly.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from numpy.typing import NDArray

from gradcheck import Verdict
from gradcheck._tolerance import ErrorModel

FloatArray = NDArray[np.float64]

EPS = 2.0**-52
NOISE = np.array([2.0**-40])


def _row(*values: float) -> FloatArray:
    """One output's elements, shape (1, k)."""
    return np.array([values], dtype=np.float64)


def _model(precision: float = EPS, rtol: float = 0.0, atol: float = 0.0) -> ErrorModel:
    return ErrorModel(noise=NOISE, precision=precision, rtol=rtol, atol=atol)


def _verdicts(
    model: ErrorModel, analytic: FloatArray, numeric: FloatArray, error: FloatArray, scale: float
) -> tuple[list[Verdict], FloatArray]:
    codes, reach = model.verdicts(analytic, numeric, error, np.array([[scale]]))
    return [Verdict(c) for c in codes[0]], reach


# -- the tolerance -------------------------------------------------------------------------


def test_tolerance_is_twice_the_errors_plus_the_floors() -> None:
    """With precision 2**-52, rtol 2**-20 and atol 2**-30, an element with analytic value
    g and numeric error E has tolerance 2 (E + 8 * 2**-52 |g|) + 2**-30 + 2**-20 |g|."""
    model = _model(precision=EPS, rtol=2.0**-20, atol=2.0**-30)
    analytic = _row(1.0, -4.0, 0.0)
    error = _row(2.0**-24, 2.0**-10, 2.0**-40)
    expected = [
        2 * (2.0**-24 + 8 * EPS * 1.0) + 2.0**-30 + 2.0**-20 * 1.0,
        2 * (2.0**-10 + 8 * EPS * 4.0) + 2.0**-30 + 2.0**-20 * 4.0,
        2 * (2.0**-40 + 0.0) + 2.0**-30 + 0.0,
    ]
    assert model.tolerance(analytic, error).tolist() == [expected]


def test_an_absurd_entry_does_not_loosen_its_neighbours() -> None:
    """Rounding and rtol come from each element's own analytic value: a neighbour of
    1e300, inf or NaN leaves an element's tolerance as it was. A non-finite analytic
    value counts as magnitude 0 in its own tolerance, which stays finite."""
    model = _model(rtol=2.0**-20)
    error = _row(2.0**-30, 2.0**-30)
    alone = model.tolerance(_row(1.0, 1.0), error)[0, 0]
    for absurd in (1e300, np.inf, np.nan):
        tolerance = model.tolerance(_row(1.0, absurd), error)
        assert tolerance[0, 0] == alone
    assert model.tolerance(_row(np.nan), _row(2.0**-30)).tolist() == [[2 * 2.0**-30]]


def test_conditioning_widens_the_analytic_rounding() -> None:
    """A gradient computed in precision eps is the exact gradient at a point off by about
    eps |x|, so it carries eps |x| |f''| of rounding however it is summed: with |x| = 4
    and |f''| = 2 the analytic rounding is 8 eps (|g| + 8)."""
    model = dataclasses.replace(_model(), magnitude=np.array([4.0])).with_curvature(np.array([2.0]))
    assert np.asarray(model.conditioning).tolist() == [[8.0]]
    error = _row(2.0**-30)
    assert model.tolerance(_row(1.0), error).tolist() == [[2 * (2.0**-30 + 8 * EPS * (1 + 8))]]


def test_conditioning_and_natural_scale_are_zero_until_curvature_is_measured() -> None:
    model = ErrorModel(
        noise=NOISE, precision=EPS, magnitude=np.array([4.0]), own_scale=np.array([0.5])
    )
    assert model.conditioning == 0.0
    assert model.natural == 0.0
    measured = model.with_curvature(np.array([2.0]))
    assert np.asarray(measured.natural).tolist() == [[1.0]]  # |f''| times the own scale
    assert ErrorModel(noise=NOISE, precision=EPS).with_curvature(np.array([2.0])).natural == 0.0


# -- verdicts at the boundaries --------------------------------------------------------------


def test_a_gap_exactly_at_the_tolerance_agrees_and_a_wider_one_is_a_mismatch() -> None:
    """g = 1 and E = 2**-20 give tolerance 2 (2**-20 + 8 * 2**-52) = 2**-19 + 2**-48, and
    1 ± that is exact, as are gaps 2**-52 (above 1) and 2**-51 (below 1) wider. E is far
    below a tenth of the estimate's size, so the estimate is certain and the reach is the
    tolerance itself."""
    model = _model()
    tolerance = 2.0**-19 + 2.0**-48
    numeric = _row(1 + tolerance, 1 - tolerance, 1 + tolerance + 2.0**-52, 1 - tolerance - 2.0**-51)
    verdicts, reach = _verdicts(
        model, _row(1.0, 1.0, 1.0, 1.0), numeric, _row(*[2.0**-20] * 4), 1.0
    )
    assert verdicts == [Verdict.OK, Verdict.OK, Verdict.MISMATCH, Verdict.MISMATCH]
    assert reach.tolist() == [[tolerance] * 4]


def test_an_uncertain_estimate_needs_three_tolerances_for_a_mismatch() -> None:
    """N = 1 with E = 1/4 is uncertain (E > 1/10 of |N|). Precision 0 leaves the analytic
    rounding out, so the tolerance is 2E = 1/2 and the reach 3/2: a gap of 0 agrees, a gap
    up to 3/2 is inconclusive (it would be a mismatch were the estimate certain), and the
    next float beyond 3/2 is a mismatch."""
    model = _model(precision=0.0)
    analytic = _row(1.0, 1.25, 2.5, 2.5 + 2.0**-51, -0.5 - 2.0**-52)
    numeric = np.ones_like(analytic)
    error = np.full_like(analytic, 0.25)
    verdicts, reach = _verdicts(model, analytic, numeric, error, 1.0)
    assert verdicts == [
        Verdict.OK,
        Verdict.INCONCLUSIVE,
        Verdict.INCONCLUSIVE,
        Verdict.MISMATCH,
        Verdict.MISMATCH,
    ]
    assert reach.tolist() == [[1.5] * 5]


def test_an_error_of_exactly_a_tenth_of_the_scale_is_still_certain() -> None:
    """Uncertain means an error above a tenth of the scale: at exactly 0.1 of |N| = 1 a
    gap beyond the tolerance (2 * 0.1 with precision 0) is a mismatch; at the next float
    above 0.1 the same gap is only inconclusive."""
    model = _model(precision=0.0)
    analytic, numeric = _row(1.3, 1.3), _row(1.0, 1.0)
    error = _row(0.1, float(np.nextafter(0.1, 1.0)))
    verdicts, reach = _verdicts(model, analytic, numeric, error, 1.0)
    assert verdicts == [Verdict.MISMATCH, Verdict.INCONCLUSIVE]
    assert reach[0, 1] == 3 * model.tolerance(analytic, error)[0, 1]


def test_uncertainty_is_judged_on_the_estimate_never_on_the_analytic_value() -> None:
    """What the check promises to catch must not depend on the value under test: with
    N = 100 and E = 1/4 the estimate is certain whatever g is (even g = 1, where E would
    be a quarter of |g|), and with N = 1 it is uncertain whatever g is."""
    model = _model(precision=0.0)
    error = _row(0.25, 0.25)
    certain, reach = _verdicts(model, _row(1.0, 100.0), _row(100.0, 100.0), error, 100.0)
    assert certain == [Verdict.MISMATCH, Verdict.OK]
    assert reach.tolist() == [[0.5, 0.5]]
    uncertain, reach = _verdicts(model, _row(1.0, 100.0), _row(1.0, 1.0), error, 1.0)
    assert uncertain == [Verdict.OK, Verdict.MISMATCH]
    assert reach.tolist() == [[1.5, 1.5]]


def test_atol_and_rtol_widen_the_gap_a_mismatch_needs() -> None:
    """With no error and precision 0 the tolerance is atol + rtol |g| alone: 2**-10 +
    2**-6 * 4 for g = 4; a gap of exactly that agrees, one 2**-50 beyond it does not."""
    model = _model(precision=0.0, rtol=2.0**-6, atol=2.0**-10)
    tolerance = 2.0**-10 + 2.0**-4
    analytic = _row(4.0, 4.0)
    numeric = _row(4.0 - tolerance, 4.0 - tolerance - 2.0**-50)
    verdicts, reach = _verdicts(model, analytic, numeric, _row(0.0, 0.0), 4.0)
    assert verdicts == [Verdict.OK, Verdict.MISMATCH]
    assert reach.tolist() == [[tolerance, tolerance]]


def test_what_cannot_be_estimated_is_inconclusive_and_a_non_finite_gradient_a_mismatch() -> None:
    """A NaN estimate or an infinite error explains any gap: inconclusive, however far the
    analytic value is. A non-finite analytic value is wrong whatever the estimate."""
    model = _model()
    analytic = _row(1.0, 1e9, 1e9, np.nan, np.inf, np.nan)
    numeric = _row(np.nan, np.nan, 1.0, 1.0, 1.0, np.nan)
    error = _row(0.0, 0.0, np.inf, 0.0, 0.0, 0.0)
    verdicts, _ = _verdicts(model, analytic, numeric, error, 1.0)
    assert verdicts == [Verdict.INCONCLUSIVE] * 3 + [Verdict.MISMATCH] * 3


# -- the scale an error is judged on --------------------------------------------------------


def test_element_scale_is_the_estimate_its_natural_scale_or_a_thousandth_of_the_row() -> None:
    """For a row whose largest gradient entry is 100: an estimate of -0.5 is judged on
    0.5, one of 1e-6 on 1e-3 * 100 = 0.1, and, once |f''| = 4 is measured on an own
    scale of 1/2, both on that natural scale of 2."""
    model = ErrorModel(noise=NOISE, precision=EPS, own_scale=np.array([0.5, 0.5]))
    numeric = _row(-0.5, 1e-6)
    scale = np.array([[100.0]])
    assert model.element_scale(numeric, scale).tolist() == [[0.5, 1e-3 * 100.0]]
    curved = model.with_curvature(np.array([4.0]))
    assert curved.element_scale(numeric, scale).tolist() == [[2.0, 2.0]]


def test_a_negligible_element_is_judged_on_its_rows_scale() -> None:
    """An estimate of 1e-6 with error 1e-5 in a row whose largest entry is 1 is certain
    (1e-5 < 0.1 * 1e-3): its error is negligible beside the gradient it belongs to, so a
    clear miss of it is a mismatch, not inconclusive."""
    model = _model(precision=0.0)
    verdicts, _ = _verdicts(model, _row(1e-3), _row(1e-6), _row(1e-5), 1.0)
    assert verdicts == [Verdict.MISMATCH]


# -- the model's parts -------------------------------------------------------------------------


def test_column_keeps_one_elements_scales_and_drops_the_curvature() -> None:
    model = ErrorModel(
        noise=np.array([1e-9, 2e-9]),
        precision=1e-7,
        rtol=1e-5,
        atol=1e-8,
        curvature=np.ones((2, 3)),
        magnitude=np.array([1.0, 2.0, 3.0]),
        own_scale=np.array([4.0, 5.0, 6.0]),
    )
    column = model.column(1)
    assert column.curvature is None
    assert column.magnitude is not None
    assert column.magnitude.tolist() == [2.0]
    assert column.own_scale is not None
    assert column.own_scale.tolist() == [5.0]
    assert column.noise.tolist() == [1e-9, 2e-9]
    assert (column.precision, column.rtol, column.atol) == (1e-7, 1e-5, 1e-8)
    bare = ErrorModel(noise=NOISE, precision=EPS).column(0)
    assert (bare.magnitude, bare.own_scale) == (None, None)


def test_with_curvature_takes_one_column_or_all_and_leaves_the_model_as_it_was() -> None:
    model = _model()
    one = model.with_curvature(np.array([2.0, 3.0]))
    assert one.curvature is not None
    assert one.curvature.shape == (2, 1)
    every = model.with_curvature(np.ones((2, 4)))
    assert every.curvature is not None
    assert every.curvature.shape == (2, 4)
    assert model.curvature is None
    assert one.with_curvature(None).curvature is None


def test_roundoff_of_a_central_difference_is_the_noise_over_the_step() -> None:
    """f(x + h) and f(x - h) are each off by at most the noise eps_f, their difference by
    2 eps_f, and the difference divided by h+ + h- by 2 eps_f / (h+ + h-): eps_f / h for
    equal steps. Noise 2**-40 and 2**-30 over steps 2**-10 and 2**-20 (one row per output,
    one column per element)."""
    model = ErrorModel(noise=np.array([2.0**-40, 2.0**-30]), precision=EPS)
    h = np.array([2.0**-10, 2.0**-20])
    assert model.roundoff(h, h).tolist() == [[2.0**-30, 2.0**-20], [2.0**-20, 2.0**-10]]
    lopsided = model.roundoff(np.array([2.0**-10]), np.array([3 * 2.0**-10]))
    assert lopsided.tolist() == [[2.0**-31], [2.0**-21]]


# -- verdict codes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("verdict", "code", "text"),
    [
        (Verdict.OK, 0, "ok"),
        (Verdict.MISMATCH, 1, "mismatch"),
        (Verdict.KINK, 2, "kink"),
        (Verdict.INCONCLUSIVE, 3, "inconclusive"),
    ],
)
def test_verdicts_are_small_integers_that_print_as_words(
    verdict: Verdict, code: int, text: str
) -> None:
    """Reports hold verdicts as int8 codes that users compare with Verdict members, and
    print them as lower-case words."""
    assert verdict == code
    assert np.array([code], dtype=np.int8)[0] == verdict
    assert str(verdict) == text
