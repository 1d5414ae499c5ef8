"""Problems for an ``nn.Module`` with example inputs and, optionally, a loss.

The module is deep-copied (and converted to float64 unless ``native_dtype=True``) before
the first evaluation; the copy is called through ``torch.func.functional_call`` with the
checked parameters (and inputs, with ``input_grad=True``) taken from NumPy storage. The
user's module, its ``.grad`` fields, ``requires_grad`` flags, buffers and train/eval mode
are recorded anyway and put back by ``Problem.restore()``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch
from gradcheck import InvalidArgument, Problem, UndoStack

from gradcheck_torch.options import Options
from gradcheck_torch.problems import (
    Projection,
    Reporter,
    build_problem,
    convert,
    dtype_notes,
    one_device,
    slot,
    working_dtype,
)
from gradcheck_torch.randomness import GeneratorStates, random_layers, random_note
from gradcheck_torch.sparse import sparse_values

__all__ = ["module_problem"]


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


def module_problem(
    module: torch.nn.Module, args: tuple[object, ...], options: Options, rng: GeneratorStates
) -> Problem:
    """The Problem of ``loss(module(input), *targets)`` (or of the module's output)."""
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
    checked_inputs = {
        i: a
        for i, a in enumerate(inputs)
        if options.input_grad and isinstance(a, torch.Tensor) and a.is_floating_point()
    }
    if not checked_params and not checked_inputs:
        raise InvalidArgument(
            f"{what} has no parameters; pass input_grad=True to check the input gradient"
        )
    for n, p in checked_params:
        if p.layout != torch.strided:
            raise InvalidArgument(
                f"{what}: parameter {n} has layout {p.layout}; gradcheck checks dense "
                f"parameters. Freeze it ({n}.requires_grad_(False)) to check the others"
            )
    input_names = {i: "input" if len(checked_inputs) == 1 else f"input{i}" for i in checked_inputs}
    sparse = {i: sparse_values(a, input_names[i], what) for i, a in checked_inputs.items()}
    originals = [p for _, p in checked_params] + list(checked_inputs.values())
    device = one_device(originals, f"the parameters and inputs of {what}")
    dtype = working_dtype(originals, options.native_dtype, f"the parameters of {what}")

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
    input_positions = list(checked_inputs)
    inputs = [convert(a, dtype) if not options.native_dtype else a for a in inputs]
    targets = [convert(a, dtype) if not options.native_dtype else a for a in targets]
    work_params = dict(work.named_parameters())
    param_names = [n for n, _ in checked_params]
    slots = [slot(n, work_params[n], dtype) for n in param_names]
    for i in input_positions:
        split = sparse[i]
        if split is None:
            slots.append(slot(input_names[i], checked_inputs[i], dtype))
        else:
            slots.append(slot(f"{input_names[i]}.values()", split.values, dtype))
    buffer_names = [n for n, _ in work.named_buffers()]
    buffers = [b.detach().clone() for _, b in work.named_buffers()]

    reporter = Reporter()
    for note in dtype_notes({p.dtype for p in originals}, dtype, f"model {what}"):
        reporter(note)
    for split in sparse.values():
        if split is not None:
            reporter(split.note)
    projection = Projection(False, f"{what} (and its loss)", reporter)
    count = len(param_names)
    loss = options.loss

    def objective(values: Sequence[torch.Tensor], bufs: Sequence[torch.Tensor]) -> torch.Tensor:
        params = dict(zip(param_names, values[:count], strict=True))
        call = list(inputs)
        for i, t in zip(input_positions, values[count:], strict=True):
            split = sparse[i]
            call[i] = t if split is None else split.build(t)
        state = {**params, **dict(zip(buffer_names, bufs, strict=True))}
        out = torch.func.functional_call(work, state, tuple(call))
        if loss is not None:
            out = loss(out, *targets)
        return projection(out)

    return build_problem(
        slots,
        objective,
        buffers=buffers,
        device=device,
        dtype=dtype,
        options=options,
        reporter=reporter,
        random_note=lambda: random_note(
            what, reseed=options.reseed, layers=random_layers(work), module=True
        ),
        restore=[restore, rng.restore],
    )
