"""Problems for an ``nn.Module`` with example inputs and, optionally, a loss.

The module is deep-copied (and converted to float64 unless ``native_dtype=True``) before
the first evaluation; the copy is called through ``torch.func.functional_call`` with the
checked parameters (and inputs, with ``input_grad=True``) taken from NumPy storage. The
user's module, its ``.grad`` fields, ``requires_grad`` flags, buffers and train/eval mode
are recorded anyway and put back by ``Problem.restore()``.

A lazy module (``nn.LazyLinear``) passed before its first forward has no parameter values
yet: gradcheck's copy is initialised by one forward on the example input, and the user's
module is left uninitialized, as it was.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from gradcheck import InvalidArgument, Problem, UndoStack
from torch.nn.parameter import is_lazy

from gradcheck_torch.options import Options
from gradcheck_torch.problems import (
    Projection,
    Reporter,
    Setup,
    Subject,
    build_problem,
    convert,
    one_device,
    slot,
    working_dtype,
)
from gradcheck_torch.randomness import random_layers, random_note
from gradcheck_torch.sparse import sparse_values

__all__ = ["module_problem"]


def _record_module(module: torch.nn.Module, undo: UndoStack) -> None:
    """Record the module's state on ``undo``, to be put back bit for bit."""
    tensors = [t for t in (*module.parameters(), *module.buffers()) if not is_lazy(t)]
    saved = [t.detach().clone() for t in tensors]
    for m in module.modules():
        undo.save_attribute(m, "training")
    for p in module.parameters():
        undo.save_attribute(p, "grad")
        undo.save_attribute(p, "requires_grad")

    def put_back_tensors() -> None:
        with torch.no_grad():
            for t, s in zip(tensors, saved, strict=True):
                if not _same_bits(t, s):
                    t.copy_(s)  # only when changed: a write bumps autograd's version

    undo.push(put_back_tensors)


def _same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    bits_a = a.detach().reshape(-1).view(torch.uint8)
    return torch.equal(bits_a, b.detach().reshape(-1).view(torch.uint8))


def _inputs_and_targets(
    args: tuple[object, ...], options: Options, what: str
) -> tuple[list[object], list[object]]:
    if options.loss is None:
        return list(args), []
    if not args:
        raise InvalidArgument(
            f"{what} with loss=: pass the input and the targets, "
            "check(model, x, y, loss=F.cross_entropy)"
        )
    inputs = list(args[0]) if isinstance(args[0], tuple) else [args[0]]
    return inputs, list(args[1:])


def _checked(
    module: torch.nn.Module, inputs: list[object], options: Options, what: str
) -> tuple[list[tuple[str, torch.nn.Parameter]], dict[int, torch.Tensor]]:
    """The parameters (and, with input_grad, the inputs) to check, by name and position."""
    named = list(module.named_parameters())
    params = [(n, p) for n, p in named if p.requires_grad] or named
    inputs_checked = {
        i: a
        for i, a in enumerate(inputs)
        if options.input_grad and isinstance(a, torch.Tensor) and a.is_floating_point()
    }
    if not params and not inputs_checked:
        raise InvalidArgument(
            f"{what} has no parameters; pass input_grad=True to check the input gradient"
        )
    for n, p in params:
        if p.layout != torch.strided:
            raise InvalidArgument(
                f"{what}: parameter {n} has layout {p.layout}; gradcheck checks dense "
                f"parameters. Freeze it ({n}.requires_grad_(False)) to check the others"
            )
    return params, inputs_checked


def _lazy_names(module: torch.nn.Module) -> str:
    names = [n for n, t in (*module.named_parameters(), *module.named_buffers()) if is_lazy(t)]
    more = f" and {len(names) - 4} more" if len(names) > 4 else ""
    return ", ".join(names[:4]) + more


def _initialise_lazy(
    work: torch.nn.Module, inputs: list[object], device: torch.device, what: str, lazy: str
) -> None:
    """Materialise the copy's lazy parameters by one forward, in eval mode, without a trace.

    Eval mode: no running statistics are updated and no dropout draws; the initial values
    are drawn from torch's generator inside ``fork_rng``, so every copy gets the same ones
    and the user's generator does not move.
    """
    modes = [(m, m.training) for m in work.modules()]
    devices = [device.index or 0] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            work.eval()
            work(*inputs)
    except Exception as exc:
        raise InvalidArgument(
            f"{what} has uninitialized (lazy) parameters ({lazy}), and initialising "
            f"gradcheck's copy by one forward on the example input raised "
            f"{type(exc).__name__}: {exc}. Run one forward yourself first, "
            "model(example_input), then check the model"
        ) from exc
    finally:
        for m, mode in modes:
            m.training = mode


def module_problem(
    module: torch.nn.Module, args: tuple[object, ...], options: Options, undo: UndoStack
) -> Problem:
    """The Problem of ``loss(module(input), *targets)`` (or of the module's output).

    The module's state is recorded on ``undo``: the problem's ``restore()`` undoes it, or
    the caller does when this raises.
    """
    what = type(module).__name__
    inputs, targets = _inputs_and_targets(args, options, what)
    checked_params, checked_inputs = _checked(module, inputs, options, what)
    lazy = _lazy_names(module)
    if lazy and not inputs:
        raise InvalidArgument(
            f"{what} has uninitialized (lazy) parameters ({lazy}): their shapes come from the "
            "first forward. Pass an example input, check(model, example_input), or run one "
            "forward first, model(example_input)"
        )
    input_names = {i: "input" if len(checked_inputs) == 1 else f"input{i}" for i in checked_inputs}
    sparse = {i: sparse_values(a, input_names[i], what) for i, a in checked_inputs.items()}
    originals = [p for _, p in checked_params] + list(checked_inputs.values())
    device = one_device(originals, f"the parameters and inputs of {what}")
    dtype = working_dtype(originals, options.native_dtype, f"the parameters of {what}")
    param_names = [n for n, _ in checked_params]
    reporter = Reporter()
    for split in sparse.values():
        if split is not None:
            reporter(split.note)
    if lazy:
        reporter(
            f"{what} has uninitialized (lazy) parameters ({lazy}): gradcheck initialised its "
            "own copy by one forward on the example input (torch's default initialisation, "
            "drawn from torch's generator, whose state was put back) and checked that copy; "
            "your module is still uninitialized (run model(example_input) first to check it "
            "at its own initial values)"
        )
    projection = Projection(False, f"{what} (and its loss)", reporter)
    works: list[torch.nn.Module] = []  # the copy each setup made; the last one is checked

    def setup(dtype: torch.dtype, native: bool) -> Setup:
        work = copy.deepcopy(module)
        if lazy:
            _initialise_lazy(work, inputs, device, what, lazy)
        if not native:
            work = work.to(dtype)
        if options.train is not None:
            work.train(options.train)
        work.requires_grad_(False)
        works.append(work)
        work_params = dict(work.named_parameters())
        slots = [slot(n, work_params[n], dtype) for n in param_names]
        for i, split in sparse.items():
            if split is None:
                slots.append(slot(input_names[i], checked_inputs[i], dtype))
            else:
                slots.append(slot(f"{input_names[i]}.values()", split.values, dtype))
        fixed_inputs = [a if native else convert(a, dtype) for a in inputs]
        fixed_targets = [a if native else convert(a, dtype) for a in targets]
        buffer_names = [n for n, _ in work.named_buffers()]
        count = len(param_names)
        loss = options.loss

        def objective(values: Sequence[torch.Tensor], bufs: Sequence[torch.Tensor]) -> torch.Tensor:
            state = dict(zip(param_names, values[:count], strict=True))
            state.update(zip(buffer_names, bufs, strict=True))
            call = list(fixed_inputs)
            for (i, split), t in zip(sparse.items(), values[count:], strict=True):
                call[i] = t if split is None else split.build(t)
            out = torch.func.functional_call(work, state, tuple(call))
            if loss is not None:
                out = loss(out, *fixed_targets)
            return projection(out)

        buffers = [b.detach().clone() for b in work.buffers()]
        return Setup(slots, objective, buffers)

    _record_module(module, undo)
    return build_problem(
        setup,
        originals,
        Subject(
            what,
            f"model {what}",
            "register those tensors as buffers (register_buffer), which "
            ".to(torch.float64) converts, or make them float64",
        ),
        device=device,
        dtype=dtype,
        options=options,
        reporter=reporter,
        random_note=lambda: random_note(
            what, reseed=options.reseed, layers=random_layers(works[-1]), module=True
        ),
        undo=undo,
    )
