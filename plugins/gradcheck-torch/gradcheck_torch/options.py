"""The torch backend's keyword options of :func:`gradcheck.check`, validated.

Their meaning is documented in :mod:`gradcheck_torch.backend`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gradcheck import InvalidArgument

__all__ = ["Options"]


class Options:
    """The backend's keyword options, validated."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.loss: Callable[..., Any] | None = values["loss"]
        self.input_grad: bool = values["input_grad"]
        self.native_dtype: bool = values["native_dtype"]
        self.batch: bool | int = values["batch"]
        self.train: bool | None = values["train"]
        self.reseed: bool = values["reseed"]

    @classmethod
    def pop(cls, kwargs: dict[str, object]) -> Options:
        """Take the backend's options out of ``kwargs``; refuse bad values."""
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
        """Refuse options that only an nn.Module can use."""
        for name, default in (("loss", None), ("input_grad", False), ("train", None)):
            if getattr(self, name) != default:
                raise InvalidArgument(
                    f"{name}= applies to an nn.Module, but the object is a {kind}; for a "
                    "function, compute the loss inside it"
                )
