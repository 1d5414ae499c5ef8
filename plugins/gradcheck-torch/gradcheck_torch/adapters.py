"""Turning torch objects into gradcheck Problems: functions, autograd.Function, nn.Module.

Every problem works on copies: the checked tensors are copied into NumPy storage (float64
by default, the model's dtype with ``native_dtype=True``), a module is deep-copied (and
converted to float64) before the first evaluation. The user's module, tensors, ``.grad``
fields, ``requires_grad`` flags, buffers and train/eval mode are recorded anyway and put
back by ``Problem.restore()``, which the engine calls in ``finally``.

Non-scalar and multi-output objectives are reduced to one scalar with fixed random
weights, ``phi(x) = sum_k <u_k, out_k(x)>``, ``|u| in [1, 2]`` with random signs; its
gradient is one vector-Jacobian product (``backward`` with ``grad_outputs = u``). One
backward pass per gradient, one scalar for the error model, and an error in any Jacobian
entry changes the checked VJP by at least its own size (no weight is below 1).
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from gradcheck import InvalidArgument, Problem, UndoStack

from gradcheck_torch.evaluation import RNG_SEED, Evaluator, Objective, Slot

__all__ = ["adapt"]

PROJECTION_SEED = 0
"""Seed of the fixed random weights that reduce non-scalar outputs to a scalar."""

_FLOAT_DTYPES = (torch.float16, torch.float32, torch.float64)


def adapt(
    obj: object,
    args: tuple[object, ...],
    grad: Callable[..., Any] | None,
    value_and_grad: Callable[..., Any] | None,
    kwargs: dict[str, object],
) -> Problem | None:
    """A Problem for a torch object, or None when ``obj`` is not one."""
    function_class = _autograd_function(obj)
    if isinstance(obj, torch.nn.Module):
        kind = f"nn.Module {type(obj).__name__}"
    elif function_class is not None:
        kind = f"autograd.Function {function_class.__name__}"
    elif callable(obj) and any(isinstance(a, torch.Tensor) for a in args):
        kind = f"function {getattr(obj, '__name__', type(obj).__name__)} of tensors"
    else:
        return None
    if grad is not None or value_and_grad is not None:
        raise InvalidArgument(
            f"{kind}: its gradient comes from autograd, so grad= and value_and_grad= are not "
            "used; drop them (to check a hand-written gradient function, pass NumPy arrays)"
        )
    options = _Options.pop(kwargs)
    if isinstance(obj, torch.nn.Module):
        return _module_problem(obj, args, options)
    options.refuse_module_only(kind)
    if function_class is not None:
        return _function_problem(
            function_class.apply,
            args,
            options,
            what=function_class.__name__,
            names_from=function_class.forward,
            project=True,
        )
    what = getattr(obj, "__qualname__", type(obj).__name__)
    return _function_problem(obj, args, options, what=what, names_from=obj, project=False)


# -- options ------------------------------------------------------------------------------


class _Options:
    """The backend's keyword options, validated."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.loss: Callable[..., Any] | None = values["loss"]
        self.input_grad: bool = values["input_grad"]
        self.native_dtype: bool = values["native_dtype"]
        self.batch: bool | int = values["batch"]
        self.train: bool | None = values["train"]
        self.reseed: bool = values["reseed"]

    @classmethod
    def pop(cls, kwargs: dict[str, object]) -> _Options:
        values: dict[str, Any] = {
            "loss": kwargs.pop("loss", None),
            "input_grad": kwargs.pop("input_grad", False),
            "native_dtype": kwargs.pop("native_dtype", False),
            "batch": kwargs.pop("batch", True),
            "train": kwargs.pop("train", None),
            "reseed": kwargs.pop("reseed", True),
        }
        if values["loss"] is not None and not callable(values["loss"]):
            raise InvalidArgument(
                f"loss={values['loss']!r}: expected a function loss(output, *targets), "
                "e.g. torch.nn.functional.cross_entropy"
            )
        for name in ("input_grad", "native_dtype", "reseed"):
            if not isinstance(values[name], bool):
                raise InvalidArgument(f"{name}={values[name]!r}: expected True or False")
        if values["train"] is not None and not isinstance(values["train"], bool):
            raise InvalidArgument(f"train={values['train']!r}: expected True, False or None")
        batch = values["batch"]
        if not isinstance(batch, bool | int) or (not isinstance(batch, bool) and batch < 1):
            raise InvalidArgument(
                f"batch={batch!r}: expected True (vmap in automatic chunks), False (one "
                "evaluation at a time) or a positive number of points per chunk"
            )
        return cls(values)

    def refuse_module_only(self, kind: str) -> None:
        for name, default in (("loss", None), ("input_grad", False), ("train", None)):
            if getattr(self, name) != default:
                raise InvalidArgument(
                    f"{name}= applies to an nn.Module, but the object is a {kind}; for a "
                    "function, compute the loss inside it"
                )


# -- shared pieces --------------------------------------------------------------------


class _Reporter:
    """Notes for the report; later ones are added to the Problem once it exists."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.problem: Problem | None = None

    def __call__(self, text: str) -> None:
        if text in self.notes:
            return
        self.notes.append(text)
        if self.problem is not None:
            self.problem.note(text)


class _Projection:
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


def _autograd_function(obj: object) -> type[torch.autograd.Function] | None:
    owner = getattr(obj, "__self__", None) if inspect.ismethod(obj) else obj
    if (
        isinstance(owner, type)
        and issubclass(owner, torch.autograd.Function)
        and (owner is obj or getattr(obj, "__name__", "") == "apply")
    ):
        return owner
    return None


def _working_dtype(tensors: Sequence[torch.Tensor], native: bool, what: str) -> torch.dtype:
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


def _one_device(tensors: Sequence[torch.Tensor], what: str) -> torch.device:
    devices = {t.device for t in tensors}
    if len(devices) != 1:
        raise InvalidArgument(
            f"{what} are on several devices ({sorted(str(d) for d in devices)}); move them to "
            "one device"
        )
    return next(iter(devices))


def _convert(value: object, dtype: torch.dtype) -> object:
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return value.detach().to(dtype=dtype)
    return value


def _slot(name: str, tensor: torch.Tensor, dtype: torch.dtype) -> Slot:
    storage = tensor.detach().to("cpu", dtype=dtype, copy=True).reshape(-1).numpy()
    return Slot(name, tuple(tensor.shape), storage)


def _dtype_notes(original: set[torch.dtype], dtype: torch.dtype, what: str) -> list[str]:
    lower = sorted(str(d).removeprefix("torch.") for d in original if d != torch.float64)
    if dtype != torch.float64 or not lower:
        return []
    return [
        f"{'/'.join(lower)} {what} checked on a float64 copy (pass native_dtype=True to "
        "check in its own dtype with its error model)"
    ]


def _problem(
    slots: list[Slot],
    objective: Objective,
    *,
    buffers: Sequence[torch.Tensor],
    device: torch.device,
    dtype: torch.dtype,
    options: _Options,
    reporter: _Reporter,
    restore: Callable[[], None] | None,
) -> Problem:
    evaluator = Evaluator(
        slots,
        objective,
        buffers=buffers,
        device=device,
        dtype=dtype,
        batch=options.batch,
        reseed=options.reseed,
        note=reporter,
    )
    problem = Problem(
        evaluator.parameters(),
        evaluator.value,
        evaluator.gradient,
        backend="torch",
        output_shape=(),
        dtype=np.dtype(str(dtype).removeprefix("torch.")),
        perturbed_values=evaluator.perturbed_values if options.batch is not False else None,
        restore=restore,
        notes=reporter.notes,
    )
    reporter.problem = problem
    return problem


# -- functions and autograd.Function --------------------------------------------------


def _argument_names(func: Callable[..., Any], count: int) -> list[str]:
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        params = []
    if params and params[0].name == "ctx":
        params = params[1:]
    names = [
        p.name
        for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self"
    ]
    return [names[i] if i < len(names) else f"arg{i}" for i in range(count)]


def _function_problem(
    func: Callable[..., Any],
    args: tuple[object, ...],
    options: _Options,
    *,
    what: str,
    names_from: Callable[..., Any],
    project: bool,
) -> Problem:
    floating = [
        i for i, a in enumerate(args) if isinstance(a, torch.Tensor) and a.is_floating_point()
    ]
    checked = [i for i in floating if args[i].requires_grad] or floating  # type: ignore[union-attr]
    if not checked:
        raise InvalidArgument(
            f"{what}: none of its {len(args)} argument(s) is a floating tensor, so there is "
            "nothing to differentiate with respect to"
        )
    tensors: list[torch.Tensor] = [args[i] for i in checked]  # type: ignore[misc]
    device = _one_device(tensors, f"the inputs of {what}")
    dtype = _working_dtype(tensors, options.native_dtype, f"the inputs of {what}")
    names = _argument_names(names_from, len(args))
    slots = [_slot(names[i], args[i], dtype) for i, t in zip(checked, tensors, strict=True)]  # type: ignore[arg-type]
    fixed = [_convert(a, dtype) if not options.native_dtype else a for a in args]
    reporter = _Reporter()
    for note in _dtype_notes({t.dtype for t in tensors}, dtype, f"inputs of {what}"):
        reporter(note)
    projection = _Projection(project, what, reporter)

    def objective(values: Sequence[torch.Tensor], buffers: Sequence[torch.Tensor]) -> torch.Tensor:
        call = list(fixed)
        for i, t in zip(checked, values, strict=True):
            call[i] = t
        return projection(func(*call))

    return _problem(
        slots,
        objective,
        buffers=(),
        device=device,
        dtype=dtype,
        options=options,
        reporter=reporter,
        restore=None,
    )


# -- nn.Module ------------------------------------------------------------------------


def _record_module(module: torch.nn.Module, undo: UndoStack) -> Callable[[], None]:
    """Record the module's state; return a function that puts it back bit for bit."""
    tensors = [t for t in (*module.parameters(), *module.buffers())]
    saved = [t.detach().clone() for t in tensors]
    for m in module.modules():
        undo.save_attribute(m, "training")
    for p in module.parameters():
        undo.save_attribute(p, "grad")
        undo.save_attribute(p, "requires_grad")

    def restore() -> None:
        try:
            with torch.no_grad():
                for t, s in zip(tensors, saved, strict=True):
                    if not _same_bits(t, s):
                        t.copy_(s)  # only when changed: a write bumps autograd's version
        finally:
            undo.undo()

    return restore


def _same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    bits_a = a.detach().reshape(-1).view(torch.uint8)
    return torch.equal(bits_a, b.detach().reshape(-1).view(torch.uint8))


def _module_problem(
    module: torch.nn.Module, args: tuple[object, ...], options: _Options
) -> Problem:
    what = type(module).__name__
    if options.loss is not None:
        if not args:
            raise InvalidArgument(
                f"{what} with loss=: pass the input and the targets, "
                "check(model, x, y, loss=F.cross_entropy)"
            )
        inputs = list(args[0]) if isinstance(args[0], tuple) else [args[0]]
        targets = list(args[1:])
    else:
        inputs, targets = list(args), []
    named = list(module.named_parameters())
    checked_params = [(n, p) for n, p in named if p.requires_grad] or named
    input_positions = [
        i
        for i, a in enumerate(inputs)
        if options.input_grad and isinstance(a, torch.Tensor) and a.is_floating_point()
    ]
    if not checked_params and not input_positions:
        raise InvalidArgument(
            f"{what} has no parameters; pass input_grad=True to check the input gradient"
        )
    originals = [p for _, p in checked_params] + [inputs[i] for i in input_positions]
    device = _one_device(originals, f"the parameters and inputs of {what}")  # type: ignore[arg-type]
    dtype = _working_dtype(originals, options.native_dtype, f"the parameters of {what}")  # type: ignore[arg-type]

    undo = UndoStack()
    restore = _record_module(module, undo)
    try:
        work = copy.deepcopy(module)
        if not options.native_dtype:
            work = work.to(torch.float64)
        if options.train is not None:
            work.train(options.train)
    except Exception:
        restore()
        raise
    work.requires_grad_(False)
    inputs = [_convert(a, dtype) if not options.native_dtype else a for a in inputs]
    targets = [_convert(a, dtype) if not options.native_dtype else a for a in targets]
    work_params = dict(work.named_parameters())
    param_names = [n for n, _ in checked_params]
    input_names = ["input"] if len(input_positions) == 1 else [f"input{i}" for i in input_positions]
    slots = [_slot(n, work_params[n], dtype) for n in param_names] + [
        _slot(name, inputs[i], dtype)  # type: ignore[arg-type]
        for name, i in zip(input_names, input_positions, strict=True)
    ]
    buffer_names = [n for n, _ in work.named_buffers()]
    buffers = [b.detach().clone() for _, b in work.named_buffers()]

    reporter = _Reporter()
    for note in _dtype_notes({p.dtype for p in originals}, dtype, f"model {what}"):  # type: ignore[union-attr]
        reporter(note)
    if options.reseed and any(
        m.training and isinstance(m, torch.nn.modules.dropout._DropoutNd) for m in work.modules()
    ):
        reporter(
            f"{what} has dropout in train mode: torch's generator was reseeded (seed "
            f"{RNG_SEED}) before every evaluation, so each one drew the same mask and the "
            "gradient was checked for that mask (reseed=False: random masks, reported as "
            "non-deterministic; train=False: eval mode)"
        )
    projection = _Projection(False, f"{what} (and its loss)", reporter)
    count = len(param_names)
    loss = options.loss

    def objective(values: Sequence[torch.Tensor], bufs: Sequence[torch.Tensor]) -> torch.Tensor:
        params = dict(zip(param_names, values[:count], strict=True))
        call = list(inputs)
        for i, t in zip(input_positions, values[count:], strict=True):
            call[i] = t
        state = {**params, **dict(zip(buffer_names, bufs, strict=True))}
        out = torch.func.functional_call(work, state, tuple(call))
        if loss is not None:
            out = loss(out, *targets)
        return projection(out)

    return _problem(
        slots,
        objective,
        buffers=buffers,
        device=device,
        dtype=dtype,
        options=options,
        reporter=reporter,
        restore=restore,
    )
