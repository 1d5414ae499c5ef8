"""Checking the constraints' derivatives of ``minimize``: each one's ``jac`` and ``hess``.

SLSQP, COBYQA and trust-constr take constraints as dicts (``{"type": "ineq", "fun": c,
"jac": dc, "args": (...)}``) or as :class:`scipy.optimize.NonlinearConstraint` objects
(``jac=`` and ``hess=``), one or a list of them. :func:`checked_constraints` hands SciPy
the same constraints with each hand-written ``jac`` a :class:`CheckedJacobian` (its
elements named ``constraint 1: c[2] / x[0]``: constraint 1 is ``constraints[1]``) and each
hand-written ``hess(x, v)`` a :class:`CheckedConstraintHessian`. Finite-difference
settings (``"2-point"``, a ``HessianUpdateStrategy``) and linear constraints have nothing
to check and are handed over as they are.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.optimize
from numpy.typing import NDArray

from gradcheck._api import check
from gradcheck._errors import InvalidArgument
from gradcheck._options import CheckOptions
from gradcheck._report import Report
from gradcheck.optimize._jacobian import CheckedJacobian, dense
from gradcheck.optimize._schedule import CheckPlan, ScheduledCheck

__all__ = ["CheckedConstraintHessian", "CheckedConstraints", "checked_constraints"]

FloatArray = NDArray[np.float64]


class CheckedConstraintHessian(ScheduledCheck):
    """A constraint's ``hess(x, v)`` (``sum_k v[k] * Hessian of c[k]``), checked as the
    Jacobian of ``x -> jac(x).T @ w`` for a seeded weight vector ``w`` (the same linear
    combination, so any ``v`` would do; a seeded one never hides a term behind a zero
    multiplier, as SciPy's first ``v`` often is). Returns the user's value unchanged.
    """

    def __init__(
        self,
        index: int,
        jac: Callable[..., Any],
        hess: Callable[..., Any],
        plan: CheckPlan,
    ) -> None:
        super().__init__(f"hess of constraint {index}", plan)
        self._constraint_jac = jac
        self._hess = hess

    def __call__(self, x: Any, v: Any) -> Any:
        evaluation = self._due()
        result = self._hess(x, v)
        if evaluation is not None:
            point = np.array(x, dtype=np.float64)
            outputs = int(np.size(v))
            self._check(point, evaluation, lambda options: self._report(point, outputs, options))
        return result

    def _report(self, x: FloatArray, outputs: int, options: CheckOptions) -> Report:
        seeded: CheckOptions = {**options}
        seed = seeded.get("seed")
        if seed is None:
            seed = seeded["seed"] = int(np.random.SeedSequence().generate_state(1)[0])
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2,)))
        weights = np.where(rng.random(outputs) < 0.5, -1.0, 1.0) * rng.uniform(0.5, 1.5, outputs)
        jac, hess = self._constraint_jac, self._hess

        def weighted_gradient(x: FloatArray) -> FloatArray:
            jacobian = np.asarray(dense(jac(x)), dtype=np.float64).reshape(outputs, -1)
            combined: FloatArray = weights @ jacobian
            return combined

        return check(weighted_gradient, x, hess=lambda p: hess(p, weights), **seeded)


class CheckedConstraints:
    """The constraints as SciPy receives them, and the checks made in them.

    Attributes
    ----------
    constraints : object
        What to pass as ``constraints=``: the user's, with hand-written derivatives
        wrapped (a list where the user gave a list or tuple).
    checks : list of (int, ScheduledCheck)
        Each wrapped derivative and the number of its constraint.
    count : int
        How many constraints there are.
    """

    def __init__(self, constraints: object, checks: list[tuple[int, ScheduledCheck]], count: int):
        self.constraints = constraints
        self.checks = checks
        self.count = count

    def evaluations(self, kind: str) -> list[int]:
        """Per constraint, the extra evaluations the checks cost: ``"fun"`` of the
        constraint function, ``"jac"`` of its Jacobian, ``"hess"`` of its Hessian."""
        counts = [0] * self.count
        for index, wrapper in self.checks:
            if isinstance(wrapper, CheckedJacobian):
                counts[index] += {
                    "fun": wrapper.function_evaluations,
                    "jac": wrapper.gradient_evaluations,
                }.get(kind, 0)
            else:
                counts[index] += {
                    "jac": wrapper.function_evaluations,
                    "hess": wrapper.gradient_evaluations,
                }.get(kind, 0)
        return counts


@dataclass
class _Wrapper:
    """Wraps constraint derivatives with one plan, keeping the checks."""

    plan: CheckPlan
    checks: list[tuple[int, ScheduledCheck]] = field(default_factory=list)

    def jac(self, index: int, fun: Callable[..., Any], jac: Callable[..., Any]) -> CheckedJacobian:
        wrapper = CheckedJacobian(fun, jac, self.plan, constraint=index)
        self.checks.append((index, wrapper))
        return wrapper

    def hess(
        self, index: int, jac: Callable[..., Any], hess: Callable[..., Any]
    ) -> CheckedConstraintHessian:
        wrapper = CheckedConstraintHessian(index, jac, hess, self.plan)
        self.checks.append((index, wrapper))
        return wrapper

    def dict_constraint(self, index: int, constraint: Mapping[str, Any]) -> Mapping[str, Any]:
        if not callable(constraint.get("fun")):
            raise InvalidArgument(
                f"constraints[{index}] has no function: a dict constraint needs 'fun' (and "
                "'type', 'jac', 'args' as SciPy takes them)"
            )
        jac = constraint.get("jac")
        if not callable(jac):
            return constraint
        return {**constraint, "jac": self.jac(index, constraint["fun"], jac)}

    def nonlinear_constraint(
        self, index: int, constraint: scipy.optimize.NonlinearConstraint
    ) -> scipy.optimize.NonlinearConstraint:
        wrapped = copy.copy(constraint)
        if callable(constraint.jac):
            wrapped.jac = self.jac(index, constraint.fun, constraint.jac)
            if callable(constraint.hess):
                wrapped.hess = self.hess(index, constraint.jac, constraint.hess)
        return wrapped


def checked_constraints(constraints: object, plan: CheckPlan) -> CheckedConstraints:
    """``constraints=`` of :func:`scipy.optimize.minimize` with every hand-written ``jac``
    and ``hess`` checking itself on the schedule (a constraint's ``hess`` only where its
    ``jac`` is hand-written too: the Hessian is checked against differences of it).

    Raises
    ------
    InvalidArgument
        When a constraint is neither a dict with ``"fun"`` nor a SciPy constraint object.
    """
    single = not isinstance(constraints, list | tuple)
    given: list[object] = [constraints] if single else list(constraints)  # type: ignore[call-overload]
    wrapper = _Wrapper(plan)
    handed: list[object] = []
    for index, constraint in enumerate(given):
        if isinstance(constraint, Mapping):
            handed.append(wrapper.dict_constraint(index, constraint))
        elif isinstance(constraint, scipy.optimize.NonlinearConstraint):
            handed.append(wrapper.nonlinear_constraint(index, constraint))
        elif isinstance(constraint, scipy.optimize.LinearConstraint):
            handed.append(constraint)
        else:
            raise InvalidArgument(
                f"constraints[{index}] is a {type(constraint).__name__}; expected a dict "
                "({'type': 'ineq', 'fun': c, 'jac': dc}), a NonlinearConstraint or a "
                "LinearConstraint"
            )
    return CheckedConstraints(handed[0] if single else handed, wrapper.checks, len(given))
