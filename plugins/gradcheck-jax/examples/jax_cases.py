"""JAX cases in a gradcheck model file: custom_vjp rules, right, wrong and deliberately not
the derivative.

Run it (with gradcheck-jax installed)::

    gradcheck run plugins/gradcheck-jax/examples/jax_cases.py -v
"""

from __future__ import annotations

import gradcheck
import jax
import jax.numpy as jnp


@jax.custom_vjp
def softclip(x: jax.Array) -> jax.Array:
    """``y = x / (1 + |x|)`` elementwise, with a hand-written rule ``1 / (1 + |x|)^2``."""
    return x / (1 + jnp.abs(x))


def _softclip_fwd(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    return softclip(x), x


def _softclip_bwd(x: jax.Array, g: jax.Array) -> tuple[jax.Array]:
    return (g / (1 + jnp.abs(x)) ** 2,)


softclip.defvjp(_softclip_fwd, _softclip_bwd)


@jax.custom_vjp
def straight_through_round(x: jax.Array) -> jax.Array:
    """``round(x)``, whose rule passes the cotangent through unchanged: by design not the
    derivative of round (0 almost everywhere), so gradcheck reports a mismatch."""
    return jnp.round(x)


def _round_fwd(x: jax.Array) -> tuple[jax.Array, None]:
    return jnp.round(x), None


def _round_bwd(_: None, g: jax.Array) -> tuple[jax.Array]:
    return (g,)


straight_through_round.defvjp(_round_fwd, _round_bwd)


def _inputs(seed: int) -> jax.Array:
    return jax.random.normal(jax.random.key(seed), (3, 4))


soft_clip = gradcheck.Case(softclip, _inputs(0))
straight_through = gradcheck.Case(straight_through_round, _inputs(1), expect="mismatch")


@gradcheck.case
def classifier_loss() -> gradcheck.Case:
    """A softmax classifier's loss, a function of a pytree of float32 parameters."""
    keys = jax.random.split(jax.random.key(2), 3)
    params = {"w": jax.random.normal(keys[0], (4, 3)), "b": jnp.zeros(3)}
    x = jax.random.normal(keys[1], (8, 4))
    y = jax.random.randint(keys[2], (8,), 0, 3)

    def loss(params: dict[str, jax.Array], x: jax.Array, y: jax.Array) -> jax.Array:
        logits = x @ params["w"] + params["b"]
        return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(8), y])

    return gradcheck.Case(loss, params, x, y)
