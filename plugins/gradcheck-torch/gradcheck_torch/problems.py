"""From checked tensors and a scalar objective to a gradcheck Problem.

The pieces every torch problem shares: report notes that arrive before and after the
Problem exists, the fixed random projection of non-scalar outputs to one scalar, the
working dtype and device, the flat NumPy storage of each checked tensor, and
:func:`build_problem`, which wires an :class:`~gradcheck_torch.evaluation.Evaluator` into
a :class:`gradcheck.Problem`.

Non-scalar and multi-output objectives are reduced to one scalar with fixed random
weights, ``phi(x) = sum_k <u_k, out_k(x)>``, ``|u| in [1, 2]`` with random signs; its
gradient is one vector-Jacobian product (``backward`` with ``grad_outputs = u``). One
backward pass per gradient, one scalar for the error model, and an error in any Jacobian
entry changes the checked VJP by at least its own size (no weight is below 1).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gradcheck import InvalidArgument, Problem, UndoStack

from gradcheck_torch.evaluation import Evaluator, Objective, Slot
from gradcheck_torch.options import Options

__all__ = [
    "PROJECTION_SEED",
    "Projection",
    "Reporter",
    "Setup",
    "Subject",
    "build_problem",
    "convert",
    "dtype_notes",
    "one_device",
    "slot",
    "working_dtype",
]

PROJECTION_SEED = 0
"""Seed of the fixed random weights that reduce non-scalar outputs to a scalar."""

_FLOAT_DTYPES = (torch.float16, torch.float32, torch.float64)


class Reporter:
    """Notes for the report; later ones are added to the Problem once it exists."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.problem: Problem | None = None
        self.unfixed = False  # random draws seen before the Problem existed

    def __call__(self, text: str) -> None:
        if text in self.notes:
            return
        self.notes.append(text)
        if self.problem is not None:
            self.problem.note(text)

    def random(self, text: str, *, fixed: bool) -> None:
        """Note that the objective drew random numbers; unless reseeding ``fixed`` the
        draws, the problem is random and the report fails where that leaves an element
        undecided."""
        if fixed:
            self(text)
        elif self.problem is not None:
            self.problem.mark_random(text)
        else:
            self.unfixed = True
            self(text)

    def withdraw(self, *texts: str) -> None:
        """Take back notes that no longer hold, before the Problem exists."""
        self.notes = [n for n in self.notes if n not in texts]


class Projection:
    """Reduces the objective's output to a scalar, with fixed random weights if needed."""

    def __init__(self, always: bool, what: str, note: Callable[[str], None]) -> None:
        self.always = always
        self.what = what
        self.note = note
        self.weights: dict[tuple[Any, ...], torch.Tensor] = {}

    def __call__(self, out: object) -> torch.Tensor:
        tensors = _floating_outputs(out, self.what)
        if not self.always and len(tensors) == 1 and tensors[0].numel() == 1:
            return tensors[0].reshape(())
        self.note(
            f"{self.what}: {len(tensors)} output(s) reduced to the scalar sum_k <u_k, out_k> "
            f"with fixed random weights |u| in [1, 2] (seed {PROJECTION_SEED}); checked: the "
            "vector-Jacobian product u^T J"
        )
        total = torch.zeros((), dtype=tensors[0].dtype, device=tensors[0].device)
        for k, t in enumerate(tensors):
            total = total + (self._weight(k, t) * t).sum()
        return total

    def _weight(self, k: int, t: torch.Tensor) -> torch.Tensor:
        key = (k, tuple(t.shape), t.dtype, t.device)
        if key not in self.weights:
            rng = np.random.default_rng([PROJECTION_SEED, k])
            shape = tuple(t.shape)
            u = rng.uniform(1.0, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
            self.weights[key] = torch.from_numpy(np.asarray(u)).to(t.device, t.dtype)
        return self.weights[key]


def _floating_outputs(out: object, what: str) -> list[torch.Tensor]:
    items = list(out) if isinstance(out, tuple | list) else [out]
    tensors = [t for t in items if isinstance(t, torch.Tensor) and t.is_floating_point()]
    if not tensors:
        raise InvalidArgument(
            f"{what} returned {type(out).__name__}; expected a floating tensor or a tuple "
            "holding at least one"
        )
    return tensors


def working_dtype(tensors: Sequence[torch.Tensor], native: bool, what: str) -> torch.dtype:
    """float64, or with ``native`` the one float dtype of ``tensors``."""
    dtypes = {t.dtype for t in tensors}
    if not native:
        return torch.float64
    if len(dtypes) != 1 or next(iter(dtypes)) not in _FLOAT_DTYPES:
        raise InvalidArgument(
            f"native_dtype=True needs {what} of one NumPy-compatible float dtype (float16, "
            f"float32, float64), got {sorted(str(d) for d in dtypes)}; drop native_dtype "
            "to check on a float64 copy"
        )
    return next(iter(dtypes))


def one_device(tensors: Sequence[torch.Tensor], what: str) -> torch.device:
    """The one device all ``tensors`` are on."""
    devices = {t.device for t in tensors}
    if len(devices) != 1:
        raise InvalidArgument(
            f"{what} are on several devices ({sorted(str(d) for d in devices)}); move them to "
            "one device"
        )
    return next(iter(devices))


def convert(value: object, dtype: torch.dtype) -> object:
    """A floating tensor detached and in ``dtype``; anything else as it is."""
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return value.detach().to(dtype=dtype)
    return value


def slot(name: str, tensor: torch.Tensor, dtype: torch.dtype) -> Slot:
    """A checked tensor's report name, shape and a flat NumPy copy in ``dtype``."""
    storage = tensor.detach().to("cpu", dtype=dtype, copy=True).reshape(-1).numpy()
    return Slot(name, tuple(tensor.shape), storage)


def dtype_notes(original: set[torch.dtype], dtype: torch.dtype, what: str) -> list[str]:
    """The note that lower-precision tensors are checked on a float64 copy, if they are."""
    lower = _lower_precision(original)
    if dtype != torch.float64 or not lower:
        return []
    return [
        f"{'/'.join(lower)} {what} checked on a float64 copy (pass native_dtype=True to "
        "check in its own dtype with its error model)"
    ]


def _lower_precision(dtypes: set[torch.dtype]) -> list[str]:
    return sorted(str(d).removeprefix("torch.") for d in dtypes if d != torch.float64)


@dataclass(frozen=True, slots=True, eq=False)
class Setup:
    """What a problem evaluates in one working dtype: its slots, objective and buffers."""

    slots: list[Slot]
    objective: Objective
    buffers: Sequence[torch.Tensor] = ()


@dataclass(frozen=True, slots=True)
class Subject:
    """How notes name what is checked, e.g. ``Subject("Net", "model Net", ...)``.

    ``owner`` names the function or module, ``tensors`` the checked tensors in the float64
    note ("inputs of f", "model Net"), and ``fix`` says how to let a float64 copy reach
    tensors of the owner's own that it does not convert.
    """

    owner: str
    tensors: str
    fix: str


def build_problem(
    setup: Callable[[torch.dtype, bool], Setup],
    originals: Sequence[torch.Tensor],
    subject: Subject,
    *,
    device: torch.device,
    dtype: torch.dtype,
    options: Options,
    reporter: Reporter,
    random_note: Callable[[], str],
    undo: UndoStack,
) -> Problem:
    """The Problem that evaluates the objective of ``setup(dtype, native)``.

    ``setup`` builds the slots and the objective in a working dtype (``native``: leave
    the user's tensors in their own dtypes). ``random_note()`` words the note on an
    objective seen drawing random numbers; ``undo`` holds what puts the user's objects
    back, which the problem's ``restore()`` undoes.

    A float64 copy of lower-precision tensors (the default) is evaluated once here: when
    it raises and the objective runs in the tensors' own dtype, the objective computes
    with tensors of its own that the copy does not convert (a float32 tensor it closes
    over), and the problem is checked in that dtype, as ``native_dtype=True`` does, with
    a note that says why and how to check on a float64 copy instead.
    """

    def evaluator(dtype: torch.dtype, native: bool) -> Evaluator:
        built = setup(dtype, native)
        return Evaluator(
            built.slots,
            built.objective,
            buffers=built.buffers,
            device=device,
            dtype=dtype,
            batch=options.batch,
            reseed=options.reseed,
            note=reporter,
            on_random=lambda: reporter.random(random_note(), fixed=options.reseed),
        )

    chosen = evaluator(dtype, options.native_dtype)
    notes = dtype_notes({t.dtype for t in originals}, dtype, subject.tensors)
    for note in notes:
        reporter(note)
    native = {t.dtype for t in originals}
    failure = chosen.failure_at_start() if notes and len(native) == 1 else None
    if failure is not None:
        (native_dtype,) = native
        fallback = evaluator(native_dtype, True)
        if fallback.failure_at_start() is None:
            chosen, dtype = fallback, native_dtype
            reporter.withdraw(*notes)
            reporter(_fallback_note(subject, failure, native_dtype))
    problem = Problem(
        chosen.parameters(),
        chosen.value,
        chosen.gradient,
        backend="torch",
        output_shape=(),
        dtype=np.dtype(str(dtype).removeprefix("torch.")),
        perturbed_values=chosen.perturbed_values if options.batch is not False else None,
        restore=undo.undo,
        notes=reporter.notes,
    )
    reporter.problem = problem
    if reporter.unfixed:
        problem.random = True
    return problem


def _fallback_note(subject: Subject, failure: Exception, native: torch.dtype) -> str:
    name = str(native).removeprefix("torch.")
    reason = (str(failure).strip().splitlines() or [""])[0][:160]
    return (
        f"{subject.owner} raised {type(failure).__name__} on a float64 copy of its {name} "
        f"tensors ({reason}) but runs in {name}: it computes with {name} tensors of its own "
        f"that the copy does not convert, so it was checked in {name} with the {name} error "
        f"model, as native_dtype=True does. To check on a float64 copy, {subject.fix}"
    )
