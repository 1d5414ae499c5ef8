"""Backpropagation by hand, checked: the chain rule on J = 3(x + yz), and an AND-gate neuron.

After "Motivation for Back Propagation" (A Santosh Kumar, from Andrew Ng's course). The
worked example there ends with the gradient ``[3, z, y]``: its last two entries stop the
chain at ``u = yz`` and lose the factor ``dJ/du = 3``. gradcheck catches the slip; the case
says it expects to (``expect="mismatch"``), so ``gradcheck run examples/`` passes while it
shows the mistake, and fails if the slip ever goes unnoticed.

Every step computes its value next to its local derivatives, as micrograd does; the
backward passes only multiply those along the path from the output.

Run it::

    gradcheck run examples/seed_backprop.py
"""

from __future__ import annotations

import math
import random

import gradcheck

# -- J = 3 (x + y z), step by step: u = y z, v = x + u, J = 3 v ---------------------------

Point = dict[str, float]
Locals = dict[str, float]


def chain(p: Point) -> tuple[float, tuple[Locals, Locals, Locals]]:
    """J and the local derivatives of each step: (du/d., dv/d., dJ/d.)."""
    u, du = p["y"] * p["z"], {"y": p["z"], "z": p["y"]}
    v, dv = p["x"] + u, {"x": 1.0, "u": 1.0}
    J, dJ = 3.0 * v, {"v": 3.0}
    return J, (du, dv, dJ)


def J(p: Point) -> float:
    """J = 3 (x + y z)."""
    return chain(p)[0]


def grad_J(p: Point) -> Point:
    """The chain rule: dJ/dy = dJ/dv dv/du du/dy = 3z, and so on."""
    _, (du, dv, dJ) = chain(p)
    dJ_du = dJ["v"] * dv["u"]
    return {"x": dJ["v"] * dv["x"], "y": dJ_du * du["y"], "z": dJ_du * du["z"]}


def grad_J_as_written(p: Point) -> Point:
    """The worked example's [3, z, y]: y and z get du/dy and du/dz, not dJ/du times them."""
    _, (du, dv, dJ) = chain(p)
    return {"x": dJ["v"] * dv["x"], "y": du["y"], "z": du["z"]}


WORKED_POINT = {"x": 5.0, "y": 3.0, "z": 2.0}


@gradcheck.case(points=[WORKED_POINT, {"x": -1.0, "y": 0.5, "z": 4.0}], ids=["worked", "other"])
def chain_rule(point: Point) -> gradcheck.Case:
    """The correct gradient [3, 3z, 3y], at the worked example's point and one more."""
    return gradcheck.Case(J, point, grad=grad_J)


@gradcheck.case(expect="mismatch")
def chain_rule_as_written() -> gradcheck.Case:
    """The worked example's gradient [3, z, y]: wrong in y and z, and gradcheck must say so."""
    return gradcheck.Case(J, WORKED_POINT, grad=grad_J_as_written)


# -- One sigmoid neuron on the AND gate: L = sum_i (y_i - a_i)^2 ----------------------------
#    a = sigmoid(z), z = p + b, p = w1 x1 + w2 x2

AND_GATE = [((0.0, 0.0), 0.0), ((0.0, 1.0), 0.0), ((1.0, 0.0), 0.0), ((1.0, 1.0), 1.0)]


def sigmoid(z: float) -> tuple[float, float]:
    """sigmoid(z) and its derivative a (1 - a)."""
    a = 1.0 / (1.0 + math.exp(-z))
    return a, a * (1.0 - a)


def neuron(w: Point) -> tuple[float, list[tuple[Locals, Locals, float, float]]]:
    """L over the four points, and per point the local derivatives (dp, dz, da/dz, dL/da)."""
    L, steps = 0.0, []
    for (x1, x2), y in AND_GATE:
        p, dp = w["w1"] * x1 + w["w2"] * x2, {"w1": x1, "w2": x2}
        z, dz = p + w["b"], {"p": 1.0, "b": 1.0}
        a, da_dz = sigmoid(z)
        L, dL_da = L + (y - a) ** 2, -2.0 * (y - a)
        steps.append((dp, dz, da_dz, dL_da))
    return L, steps


def loss(w: Point) -> float:
    """The neuron's loss L(w1, w2, b)."""
    return neuron(w)[0]


def backprop(w: Point, *, through_sigmoid: bool = True) -> Point:
    """dL/dw1 = sum_i dL/da da/dz dz/dp dp/dw1, and likewise for w2 and b."""
    _, steps = neuron(w)
    grad = {"w1": 0.0, "w2": 0.0, "b": 0.0}
    for dp, dz, da_dz, dL_da in steps:
        dL_dz = dL_da * da_dz if through_sigmoid else dL_da
        grad["w1"] += dL_dz * dz["p"] * dp["w1"]
        grad["w2"] += dL_dz * dz["p"] * dp["w2"]
        grad["b"] += dL_dz * dz["b"]
    return grad


def backprop_skipping_sigmoid(w: Point) -> Point:
    """The same slip as the worked example's: one link of the chain (da/dz) left out."""
    return backprop(w, through_sigmoid=False)


def initial_weights(seed: int) -> Point:
    """Small random weights, as before training starts."""
    rng = random.Random(seed)
    return {name: rng.uniform(-1.0, 1.0) for name in ("w1", "w2", "b")}


@gradcheck.case(points=[0, 1, 2])
def and_gate_neuron(seed: int) -> gradcheck.Case:
    """Hand-written backprop of the neuron, at three random starts."""
    return gradcheck.Case(loss, initial_weights(seed), grad=backprop)


@gradcheck.case(expect="mismatch")
def and_gate_neuron_skipping_sigmoid() -> gradcheck.Case:
    """Backprop without the sigmoid's derivative: gradcheck must flag w1, w2 and b."""
    return gradcheck.Case(loss, initial_weights(0), grad=backprop_skipping_sigmoid)
