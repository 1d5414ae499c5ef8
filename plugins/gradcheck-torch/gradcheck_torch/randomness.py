"""torch's random number generators: put back after every check, and seen being drawn from.

A check may move torch's generators: a random layer (dropout, RReLU, FractionalMaxPool) or
a ``torch.rand`` inside f draws at every evaluation, and with ``reseed=False`` it draws
from the user's own generator. :class:`GeneratorStates` records the CPU generator and,
where CUDA is initialised, every CUDA device's generator when the check starts, and puts
exactly those states back when it ends (``Problem.restore``), also when it fails.

Whether f is random is told by behaviour, not by a list of layer classes: a generator
whose state changed during one evaluation was drawn from (:meth:`GeneratorStates.changed`).
Known random layers are only named in the note (:func:`random_layers`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["RNG_SEED", "GeneratorStates", "random_layers", "random_note"]

RNG_SEED = 20240229
"""Seed given to torch's generator before every evaluation when reseeding."""

_TRAIN_MODE_RANDOM = (torch.nn.modules.dropout._DropoutNd, torch.nn.RReLU)
_ALWAYS_RANDOM = (torch.nn.FractionalMaxPool2d, torch.nn.FractionalMaxPool3d)


class GeneratorStates:
    """The states of torch's CPU generator and of CUDA generators, to compare or put back.

    Parameters
    ----------
    cuda : sequence of int, optional
        The CUDA devices whose generators to record. Default: every device when CUDA is
        initialised, none otherwise (an uninitialised CUDA generator cannot have moved).
    """

    def __init__(self, cuda: Sequence[int] | None = None) -> None:
        if cuda is None:
            # torch.cuda.is_initialized is unannotated in torch
            initialized = torch.cuda.is_initialized()  # type: ignore[no-untyped-call]
            cuda = range(torch.cuda.device_count()) if initialized else ()
        self.cuda = tuple(cuda)
        self.states = _states(self.cuda)

    def changed(self) -> bool:
        """Whether any recorded generator has moved since."""
        now = _states(self.cuda)
        return any(not torch.equal(a, b) for a, b in zip(self.states, now, strict=True))

    def restore(self) -> None:
        """Put every recorded generator back in its recorded state."""
        torch.set_rng_state(self.states[0])
        for device, state in zip(self.cuda, self.states[1:], strict=True):
            torch.cuda.set_rng_state(state, device)


def _states(cuda: Sequence[int]) -> list[torch.Tensor]:
    return [torch.get_rng_state(), *(torch.cuda.get_rng_state(d) for d in cuda)]


def random_layers(module: torch.nn.Module) -> list[str]:
    """Class names of the module's layers known to draw random numbers in its mode."""
    found = {
        type(m).__name__
        for m in module.modules()
        if (m.training and isinstance(m, _TRAIN_MODE_RANDOM))
        or (isinstance(m, _ALWAYS_RANDOM) and getattr(m, "_random_samples", None) is None)
    }
    return sorted(found)


def random_note(what: str, *, reseed: bool, layers: Sequence[str], module: bool) -> str:
    """The report's note on an objective seen drawing from torch's generator."""
    source = f" ({', '.join(layers)})" if layers else ""
    switch_off = (
        "train=False (eval mode), where dropout and RReLU draw nothing"
        if module
        else "make it deterministic"
    )
    if reseed:
        return (
            f"{what} drew random numbers from torch's generator{source}: the generator was "
            f"reseeded (seed {RNG_SEED}) before every evaluation, so each one drew the same "
            f"numbers and the gradient was checked for that one draw (to check without "
            f"them: {switch_off})"
        )
    return (
        f"{what} drew random numbers from torch's generator{source}, and reseed=False let "
        "every evaluation draw anew: its value changes between calls at the same point, so "
        "finite differences cannot verify its gradient. Pass reseed=True (the default) to "
        f"check the gradient for one fixed draw, or {switch_off}"
    )
