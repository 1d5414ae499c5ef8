"""The public face: what ``gradcheck`` and ``gradcheck.optimize`` export, and that it suffices."""

from __future__ import annotations

import numpy as np
from scipy.optimize import rosen, rosen_der

import gradcheck
from gradcheck import optimize


def test_every_exported_name_resolves() -> None:
    for module in (gradcheck, optimize):
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{module.__name__}.{name}"


def test_what_a_report_hands_out_is_exported_for_annotations() -> None:
    report = gradcheck.check(
        lambda p: float(np.sum(p**2)), np.array([1.0, 2.0]), grad=lambda p: 2 * p, seed=0
    )
    assert isinstance(report, gradcheck.Report)
    assert isinstance(report.metadata, gradcheck.Metadata)
    assert all(isinstance(e, gradcheck.Element) for e in report.elements())
    assert all(isinstance(s, gradcheck.ParameterSummary) for s in report.summaries())
    assert all(isinstance(info, gradcheck.BackendInfo) for info in gradcheck.installed_backends())


def test_what_the_optimize_face_hands_out_is_exported() -> None:
    x0 = np.array([1.3, 0.7])
    jac = optimize.checked(rosen, rosen_der, check="start", seed=0)
    assert isinstance(jac, optimize.CheckedJacobian)
    jac(x0)
    assert all(isinstance(point, optimize.CheckedPoint) for point in jac.reports)
    result = optimize.minimize(rosen, x0, jac=rosen_der, check=optimize.Schedule(first=1))
    assert all(isinstance(point, optimize.CheckedPoint) for point in result.gradcheck_reports)
    assert isinstance(optimize.cross_check(rosen, x0, rosen_der), optimize.CrossCheck)
