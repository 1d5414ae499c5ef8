"""Turning JAX objects into gradcheck Problems: functions of pytrees and custom rules.

Layout: :mod:`~gradcheck_jax.rules` recognises custom_vjp and custom_jvp,
:mod:`~gradcheck_jax.arguments` splits the arguments into checked leaves and the rest,
:mod:`~gradcheck_jax.projection` reduces the outputs to a scalar,
:mod:`~gradcheck_jax.precision` resolves the x64 setting, and
:mod:`~gradcheck_jax.evaluation` compiles and evaluates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np
from gradcheck import InvalidArgument, ModelError, Problem
from numpy.typing import NDArray

from gradcheck_jax.arguments import Arguments, argument_names, opaque
from gradcheck_jax.evaluation import Evaluator, UserGradient
from gradcheck_jax.options import Options
from gradcheck_jax.precision import Precision
from gradcheck_jax.projection import Projection, Weighing
from gradcheck_jax.rules import Rule, custom_rule, unwrapped

__all__ = ["adapt"]


def adapt(
    obj: object,
    args: tuple[object, ...],
    grad: Callable[..., Any] | None,
    value_and_grad: Callable[..., Any] | None,
    kwargs: dict[str, object],
) -> Problem | None:
    """A Problem for a JAX function or custom rule, or None when ``obj`` is not one."""
    rule = custom_rule(obj)
    if not callable(obj) or (rule is None and not _is_jax_call(obj, args)):
        return None
    what = rule.name if rule is not None else _function_name(obj)
    options = Options.pop(kwargs)
    hand_written = grad is not None or value_and_grad is not None
    _refuse_contradictions(rule, options, hand_written, what)
    argnums = _argnums(options.argnums, rule, len(args), what)
    precision = Precision(options.x64)
    notes = Notes()
    names = argument_names(rule.fun if rule is not None else _innermost(obj), len(args))
    arguments = Arguments(args, argnums, names, precision, what)
    for original in dict.fromkeys(s.original for s in arguments.slots):
        text = precision.note([s.name for s in arguments.slots if s.original == original], original)
        if text is not None:
            notes(text)
    weighing: Weighing = "never" if hand_written else "always" if rule else "non-scalar"
    projection = Projection(weighing, what, notes)

    def objective(call: tuple[object, ...]) -> jax.Array:
        return projection(obj(*call))

    evaluator = Evaluator(
        arguments,
        objective,
        precision=precision,
        batch=options.batch,
        autodiff=options.autodiff,
        user_gradient=_user_gradient(grad, value_and_grad, arguments, options.argnums),
        note=notes,
    )

    def finish() -> None:  # the end of the check: the only hook a Problem offers
        text = evaluator.compile_note()
        if text is not None:
            notes(text)

    return notes.attach(
        Problem(
            evaluator.parameters(),
            evaluator.value,
            evaluator.gradient,
            backend="jax",
            output_shape=(),
            perturbed_values=evaluator.perturbed_values if options.batch is not False else None,
            restore=finish,
            notes=notes.texts,
        )
    )


class Notes:
    """Facts for the report: kept until the Problem exists, then added to it."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.problem: Problem | None = None

    def __call__(self, text: str) -> None:
        if self.problem is not None:
            self.problem.note(text)
        elif text not in self.texts:
            self.texts.append(text)

    def attach(self, problem: Problem) -> Problem:
        """Send later facts to ``problem``; returns it."""
        self.problem = problem
        return problem


def _is_jax_call(obj: object, args: tuple[object, ...]) -> bool:
    """Whether ``obj`` is jitted, or any argument holds a JAX array."""
    if any(isinstance(candidate, jax.stages.Wrapped) for candidate in unwrapped(obj)):
        return True
    leaves = jax.tree_util.tree_leaves(args, is_leaf=opaque)
    return any(isinstance(leaf, jax.Array) for leaf in leaves)


def _innermost(obj: Callable[..., Any]) -> Callable[..., Any]:
    """The function ``obj`` wraps, or ``obj``."""
    inner = unwrapped(obj)[-1]
    return inner if callable(inner) else obj


def _function_name(obj: Callable[..., Any]) -> str:
    inner = _innermost(obj)
    return str(getattr(inner, "__name__", type(inner).__name__))


def _refuse_contradictions(
    rule: Rule | None, options: Options, hand_written: bool, what: str
) -> None:
    """Refuse a hand-written gradient for a rule, and forward mode where it cannot apply."""
    if rule is not None and hand_written:
        raise InvalidArgument(
            f"{what}: its gradient comes from its own rule, which is what is checked, so grad= "
            "and value_and_grad= are not used; drop them"
        )
    if options.autodiff == "fwd" and hand_written:
        raise InvalidArgument(
            f"{what}: autodiff='fwd' chooses how JAX computes the gradient, but grad= or "
            "value_and_grad= gives it; drop one of them"
        )
    if rule is not None and rule.kind == "custom_vjp" and options.autodiff == "fwd":
        raise InvalidArgument(
            f"{what}: autodiff='fwd' needs forward mode, which JAX cannot apply to a custom_vjp "
            "function; drop autodiff= to check its bwd rule in reverse mode"
        )


def _argnums(
    given: int | tuple[int, ...] | None, rule: Rule | None, count: int, what: str
) -> tuple[int, ...]:
    """The checked arguments: ``given``, or all a rule differentiates, or the first."""
    if given is None:
        if rule is None:
            return (0,) if count else ()
        return tuple(k for k in range(count) if k not in rule.nondiff_argnums)
    numbers = (given,) if isinstance(given, int) else given
    for k in numbers:
        if not -count <= k < count:
            raise InvalidArgument(
                f"argnums={given!r}: {what} was given {count} argument(s), so positions run "
                f"from 0 to {count - 1}"
            )
        if rule is not None and k % count in rule.nondiff_argnums:
            raise InvalidArgument(
                f"argnums={given!r}: argument {k % count} of {what} is in its nondiff_argnums, "
                "so its rule gives no derivative for it; leave it out"
            )
    return tuple(k % count for k in numbers)


def _user_gradient(
    grad: Callable[..., Any] | None,
    value_and_grad: Callable[..., Any] | None,
    arguments: Arguments,
    argnums: int | tuple[int, ...] | None,
) -> UserGradient | None:
    """The user's gradient as a function of the arguments returning a flat vector."""
    given = grad if grad is not None else value_and_grad
    if given is None:
        return None
    what = "grad" if grad is not None else "value_and_grad"

    def gradient(call: tuple[object, ...]) -> NDArray[np.float64]:
        result = given(*call)
        if value_and_grad is not None:
            if not isinstance(result, tuple | list) or len(result) != 2:
                raise ModelError(
                    f"value_and_grad returned {type(result).__name__}; expected a pair "
                    "(value, gradient), as jax.value_and_grad does"
                )
            result = result[1]
        per_argument: Sequence[object] = (
            result if isinstance(argnums, tuple) else (result,)  # as jax.grad returns it
        )
        if isinstance(argnums, tuple) and (
            not isinstance(result, tuple | list) or len(result) != len(argnums)
        ):
            raise ModelError(
                f"{what} returned {type(result).__name__}; with argnums={argnums!r} expected a "
                f"tuple of {len(argnums)} gradients, one per argument, as jax.grad returns"
            )
        return arguments.flatten_gradient(per_argument, what)

    return gradient
