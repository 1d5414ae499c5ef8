"""Sparse tensors as checked inputs: checked with respect to their stored values.

A sparse tensor (COO, CSR, CSC, BSR, BSC) is a pattern of indices and a dense tensor of
stored values. Its gradient is checked with respect to the stored values, the pattern held
fixed: the storage the engine perturbs is a copy of ``t.values()``, and every evaluation
rebuilds the sparse tensor from the same indices and the current values
(``torch.sparse_coo_tensor``, ``torch.sparse_compressed_tensor``), through which autograd
carries the function's gradient for the sparse input back to the values. Other layouts
(mkldnn, jagged nested tensors) are refused with a message.
"""

from __future__ import annotations

import torch
from gradcheck import InvalidArgument

__all__ = ["SparseValues", "sparse_values"]

_COMPRESSED = {
    torch.sparse_csr: ("crow_indices", "col_indices"),
    torch.sparse_csc: ("ccol_indices", "row_indices"),
    torch.sparse_bsr: ("crow_indices", "col_indices"),
    torch.sparse_bsc: ("ccol_indices", "row_indices"),
}


class SparseValues:
    """A sparse tensor split into its fixed pattern and its stored values."""

    def __init__(self, tensor: torch.Tensor, name: str) -> None:
        self.layout = tensor.layout
        self.shape = tuple(tensor.shape)
        t = tensor.detach()
        if self.layout == torch.sparse_coo:
            t = t.coalesce()  # one stored value per index; a no-op when already coalesced
            self.indices: tuple[torch.Tensor, ...] = (t.indices(),)
        else:
            self.indices = tuple(getattr(t, part)() for part in _COMPRESSED[self.layout])
        self.values = t.values()
        self.note = (
            f"{name} is a {str(self.layout).removeprefix('torch.')} tensor of shape "
            f"{self.shape}: checked with respect to its {self.values.numel()} stored values "
            f"({name}.values(), in storage order), its sparsity pattern held fixed"
        )

    def build(self, values: torch.Tensor) -> torch.Tensor:
        """The sparse tensor with these stored values (differentiable in ``values``)."""
        # the pattern comes from a valid tensor: no invariant checks (nor torch's warning
        # that they are off by default)
        if self.layout == torch.sparse_coo:
            return torch.sparse_coo_tensor(
                self.indices[0], values, self.shape, is_coalesced=True, check_invariants=False
            )
        compressed, plain = self.indices
        return torch.sparse_compressed_tensor(
            compressed, plain, values, self.shape, layout=self.layout, check_invariants=False
        )


def sparse_values(tensor: torch.Tensor, name: str, what: str) -> SparseValues | None:
    """None for a dense tensor, the split for a sparse one; refuse any other layout."""
    if tensor.layout == torch.strided:
        return None
    if tensor.layout == torch.sparse_coo or tensor.layout in _COMPRESSED:
        return SparseValues(tensor, name)
    raise InvalidArgument(
        f"{what}: {name} has layout {tensor.layout}; gradcheck checks dense (torch.strided) "
        "tensors, and sparse ones (COO, CSR, CSC, BSR, BSC) with respect to their stored "
        f"values. Pass {name}.to_dense() instead, and convert it back inside the function if "
        "it needs that layout"
    )
