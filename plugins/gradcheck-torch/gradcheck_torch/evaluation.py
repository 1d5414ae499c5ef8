"""Evaluating a scalar torch objective at the points the gradcheck engine asks for.

The engine perturbs flat NumPy storage in place and calls ``value()``. Each checked tensor
has one 1-D NumPy array as storage (float64 for the default float64 copy, the model's own
dtype with ``native_dtype=True``). On the CPU the working tensor is
``torch.from_numpy(storage)``: the same memory, no copy. On a CUDA device the storage is
copied to the device per call, and batches of perturbed points are built on the device.

Batches: given ``k`` points (flat index, value), a ``(c, n)`` block of parameter vectors is
built on the device, split into per-tensor batches and evaluated with
``torch.func.vmap`` over the objective in chunks of ``c`` points. When vmap cannot run the
objective (random layers, ``.item()``, an autograd.Function without a vmap rule) the
evaluator falls back to one evaluation at a time, for good, and says so in the report.

vmap is not always faster: an operator without a batching rule runs as a loop inside vmap,
and some batched kernels are slower per point than the plain one (``conv_transpose3d``
with groups and dilation: about 5x slower per point on a CPU). With ``batch=True`` the
first call times vmap on its first :data:`PROBE_POINTS` points (after a one-point call
that pays vmap's one-time costs) against the same points one at a time, stopping the
latter as soon as it has taken longer, and keeps the faster path for the rest of the
check; on the CPU, batches smaller than that (a noise table, a refinement level) are
evaluated one at a time until a batch large enough to time arrives (the first sweep).
Both paths compute f at the same points, so only the time changes (and the rounding of
batched kernels, which the error model covers, as for ``batch=False``).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gradcheck import ModelError, Parameter
from numpy.typing import NDArray

from gradcheck_torch.randomness import RNG_SEED, GeneratorStates

LOG = logging.getLogger("gradcheck_torch")

__all__ = ["Evaluator", "Objective", "Slot"]

BATCH_BYTES = {"cpu": 2**25, "cuda": 2**29}
"""Bytes of parameter vectors in one vmap chunk, per device type."""

PROBE_POINTS = 64
"""Points of the first vmap chunk timed against one evaluation at a time (``batch=True``)."""

Objective = Callable[[Sequence[torch.Tensor], Sequence[torch.Tensor]], torch.Tensor]
"""``objective(tensors, buffers) -> scalar tensor``; vmap-able where the model allows."""


@dataclass(frozen=True, slots=True, eq=False)
class Slot:
    """One checked tensor: its report name, shape and flat NumPy storage."""

    name: str
    shape: tuple[int, ...]
    storage: NDArray[Any]

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(self.storage.size)


class Evaluator:
    """``value``, ``gradient`` and ``perturbed_values`` of one objective over its slots.

    Parameters
    ----------
    slots : sequence of Slot
        The checked tensors, in report order.
    objective : Objective
        The scalar to differentiate, given the working tensors and fresh buffers.
    buffers : sequence of Tensor
        Tensors the objective may update in place (BatchNorm running statistics); each
        evaluation gets its own copy, so every evaluation starts from the same state.
    device : torch.device
        Where the working tensors live.
    dtype : torch.dtype
        Their dtype.
    batch : bool or int
        Whether ``perturbed_values`` uses vmap: True measures on the first call whether
        it is faster than one evaluation at a time; an int is the chunk size, always vmap.
    reseed : bool
        Reseed torch's generator before every evaluation, inside ``fork_rng``.
    note : callable (str) -> None
        Adds a fact to the report.
    on_random : callable () -> None
        Called once, the first time an evaluation is seen drawing from torch's generator
        (its state changed during the evaluation).
    """

    def __init__(
        self,
        slots: Sequence[Slot],
        objective: Objective,
        *,
        buffers: Sequence[torch.Tensor],
        device: torch.device,
        dtype: torch.dtype,
        batch: bool | int,
        reseed: bool,
        note: Callable[[str], None],
        on_random: Callable[[], None],
    ) -> None:
        self.slots = tuple(slots)
        self.objective = objective
        self.buffers = tuple(buffers)
        self.device = device
        self.dtype = dtype
        self.batch = batch
        self.reseed = reseed
        self.note = note
        self.on_random = on_random
        self.drew_random = False
        self.batched: bool | None = None if batch is True else batch is not False
        self.offsets = np.cumsum([0] + [s.size for s in self.slots])
        self.views = (
            [torch.from_numpy(s.storage) for s in self.slots] if device.type == "cpu" else None
        )

    # -- the three callables of a Problem ---------------------------------------------

    def parameters(self) -> list[Parameter]:
        """The engine's view of the slots: live storage."""
        return [Parameter(s.name, s.shape, s.storage) for s in self.slots]

    def value(self) -> float:
        """The objective at the current storage."""
        with self._rng(), torch.no_grad():
            out = self.objective(self._tensors(), self._fresh_buffers())
        return _scalar(out)

    def gradient(self) -> NDArray[np.float64]:
        """The objective's gradient from autograd, flat, as float64."""
        leaves = [t.detach().clone().requires_grad_(True) for t in self._tensors()]
        with self._rng(), torch.enable_grad():
            out = self.objective(leaves, self._fresh_buffers())
            _scalar(out)
            if not out.requires_grad:
                grads: Sequence[torch.Tensor | None] = [None] * len(leaves)
            else:
                grads = torch.autograd.grad(out.reshape(()), leaves, allow_unused=True)
        flat = [
            np.zeros(s.size) if g is None else _numpy64(g).reshape(-1)
            for s, g in zip(self.slots, grads, strict=True)
        ]
        for s, g in zip(self.slots, flat, strict=True):
            if g.size != s.size:
                raise ModelError(f"backward returned {g.size} elements for {s.name}{s.shape}")
        return np.concatenate(flat)

    def failure_at_start(self) -> Exception | None:
        """What evaluating the objective once at the start point raises, or None."""
        try:
            self.value()
        except Exception as exc:
            return exc
        return None

    def perturbed_values(
        self, index: NDArray[np.int64], values: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """The objective at ``k`` points, point j having flat element ``index[j] = values[j]``."""
        if self.batched is None:
            if self.device.type == "cpu" and index.size < min(PROBE_POINTS, 2 * self.offsets[-1]):
                # too few points to time vmap against one at a time fairly (a noise table,
                # a refinement level): those go one at a time until a larger batch decides
                return self._one_at_a_time(index, values)
            return self._faster_path(index, values)
        if self.batched:
            try:
                return self._batched(index, values)
            except Exception as exc:
                self._vmap_failed(exc)
        return self._one_at_a_time(index, values)

    def _faster_path(
        self, index: NDArray[np.int64], values: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Evaluate the first points both ways, timed; keep the faster way for the rest."""
        c = min(self._chunk(), index.size, PROBE_POINTS)
        if c == 0:
            return np.empty(0)
        try:
            self._batched(index[:1], values[:1])  # vmap's one-time costs, outside the timing
            start = time.perf_counter()
            batched = self._batched(index[:c], values[:c])
            batched_s = time.perf_counter() - start
        except Exception as exc:
            self._vmap_failed(exc)
            return self._one_at_a_time(index, values)
        single = np.empty(c)
        start = time.perf_counter()
        for j in range(c):
            single[j : j + 1] = self._one_at_a_time(index[j : j + 1], values[j : j + 1])
            single_s = time.perf_counter() - start
            if single_s >= batched_s:  # vmap is faster: keep it
                self.batched = True
                return np.concatenate([batched, self.perturbed_values(index[c:], values[c:])])
        self.batched = False
        # logged, not noted in the report: which path is faster depends on the machine's
        # load at that moment, and a report must be the same for the same seed
        LOG.info(
            "perturbed points were evaluated one at a time: faster than torch.func.vmap for "
            "this model (measured on %d points: %.3g s batched, %.3g s one at a time)",
            c,
            batched_s,
            single_s,
        )
        return np.concatenate([single, self.perturbed_values(index[c:], values[c:])])

    def _vmap_failed(self, exc: Exception) -> None:
        self.batched = False
        reason = (str(exc).strip().splitlines() or [""])[0].split(". ")[0][:120]
        self.note(
            "perturbed points were evaluated one at a time: torch.func.vmap cannot "
            f"run this model ({type(exc).__name__}: {reason})"
        )

    # -- internals --------------------------------------------------------------------

    def _tensors(self) -> list[torch.Tensor]:
        if self.views is not None:
            return [v.view(s.shape) for v, s in zip(self.views, self.slots, strict=True)]
        flat = torch.from_numpy(np.concatenate([s.storage for s in self.slots]))
        return self._split(flat.to(self.device, self.dtype), batch=None)

    def _split(self, flat: torch.Tensor, batch: int | None) -> list[torch.Tensor]:
        lead = () if batch is None else (batch,)
        return [
            flat[..., int(a) : int(b)].reshape(*lead, *s.shape)
            for s, a, b in zip(self.slots, self.offsets[:-1], self.offsets[1:], strict=True)
        ]

    def _fresh_buffers(self) -> list[torch.Tensor]:
        return [b.clone() for b in self.buffers]

    @contextlib.contextmanager
    def _rng(self) -> Iterator[None]:
        """One evaluation's generator: reseeded if asked; a draw from it is reported."""
        cuda = [self.device.index or 0] if self.device.type == "cuda" else []
        with contextlib.ExitStack() as stack:
            if self.reseed:
                device_type = "cuda" if cuda else None
                stack.enter_context(torch.random.fork_rng(devices=cuda, device_type=device_type))
                torch.default_generator.manual_seed(RNG_SEED)
                if cuda:
                    torch.cuda.default_generators[cuda[0]].manual_seed(RNG_SEED)
            before = None if self.drew_random else GeneratorStates(cuda)
            yield
            if before is not None and before.changed():
                self.drew_random = True
                self.on_random()

    def _chunk(self) -> int:
        if not isinstance(self.batch, bool):
            return max(1, int(self.batch))
        n = int(self.offsets[-1])
        budget = BATCH_BYTES.get(self.device.type, BATCH_BYTES["cuda"])
        itemsize = torch.empty((), dtype=self.dtype).element_size()
        return max(1, budget // (n * itemsize))

    def _batched(self, index: NDArray[np.int64], values: NDArray[np.float64]) -> NDArray[Any]:
        if index.size == 0:
            return np.empty(0)
        base = torch.from_numpy(np.concatenate([s.storage for s in self.slots]))
        base = base.to(self.device, self.dtype)
        index_t = torch.from_numpy(np.asarray(index, dtype=np.int64)).to(self.device)
        values_t = torch.from_numpy(np.asarray(values, dtype=np.float64))
        values_t = values_t.to(self.device, self.dtype)
        chunk = self._chunk()

        def one(tensors: list[torch.Tensor], buffers: list[torch.Tensor]) -> torch.Tensor:
            return self.objective(tensors, buffers).reshape(())

        mapped = torch.func.vmap(one, in_dims=(0, 0), randomness="error")
        results = []
        with self._rng(), torch.no_grad():
            for start in range(0, index.size, chunk):
                rows = index_t[start : start + chunk]
                c = int(rows.numel())
                block = base.expand(c, -1).clone()
                block[torch.arange(c, device=self.device), rows] = values_t[start : start + c]
                buffers = [b.unsqueeze(0).repeat(c, *([1] * b.dim())) for b in self.buffers]
                results.append(mapped(self._split(block, batch=c), buffers))
        return _numpy64(torch.cat(results))

    def _one_at_a_time(
        self, index: NDArray[np.int64], values: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        owner = np.searchsorted(self.offsets, index, side="right") - 1
        out = np.empty(index.size)
        for j, (i, slot_index) in enumerate(zip(index.tolist(), owner.tolist(), strict=True)):
            storage = self.slots[slot_index].storage
            k = i - int(self.offsets[slot_index])
            old = storage[k]
            try:
                storage[k] = values[j]
                out[j] = self.value()
            finally:
                storage[k] = old
        return out


def _scalar(out: object) -> float:
    if not isinstance(out, torch.Tensor):
        raise ModelError(f"the objective returned {type(out).__name__}; expected a tensor")
    if out.numel() != 1:
        raise ModelError(
            f"the objective returned a tensor of shape {tuple(out.shape)}; expected a scalar "
            "(pass loss= for a module whose output is not a scalar)"
        )
    if out.is_complex():
        raise ModelError("the objective returned a complex tensor; expected a real scalar")
    return float(_numpy64(out.reshape(())))


def _numpy64(t: torch.Tensor) -> NDArray[np.float64]:
    """A float64 NumPy copy of what autograd or the objective returned, whatever its kind.

    Detached (an output may require grad), dense (a sparse gradient, as
    ``nn.Embedding(sparse=True)`` gives) and materialised (autograd's ZeroTensor, e.g. the
    gradient of ``torch.sgn``, has no storage and refuses ``.numpy()``).
    """
    t = t.detach()
    if t.layout != torch.strided:
        t = t.to_dense()
    if t._is_zerotensor():
        t = torch.zeros(t.shape, dtype=t.dtype, device=t.device)
    return t.to("cpu", torch.float64).numpy()
