"""Sparse inputs are checked with respect to their stored values; other layouts are refused."""

from __future__ import annotations

from collections.abc import Callable

import gradcheck
import pytest
import torch
from torch.autograd.function import BackwardCFunction

pytestmark = pytest.mark.filterwarnings("ignore:Sparse (CSR|CSC|BSR) tensor support is in beta")

LAYOUTS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sparse_coo": lambda t: t.to_sparse(),
    "sparse_csr": lambda t: t.to_sparse_csr(),
    "sparse_csc": lambda t: t.to_sparse_csc(),
    "sparse_bsr": lambda t: t.to_sparse_bsr((1, 2)),
}


def _sparse(layout: str, gen: torch.Generator) -> torch.Tensor:
    dense = torch.randn(4, 4, generator=gen, dtype=torch.float64)
    dense[dense.abs() < 0.6] = 0.0  # about half the entries
    return LAYOUTS[layout](dense)


class SparseCube(torch.autograd.Function):
    """sum(a ** 3) over the stored entries of a CSR matrix; backward drops the factor 3."""

    @staticmethod
    def forward(ctx: BackwardCFunction, a: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(a)
        return (a.values() ** 3).sum()

    @staticmethod
    def backward(ctx: BackwardCFunction, g: torch.Tensor) -> torch.Tensor:
        (a,) = ctx.saved_tensors
        values = g * a.values() ** 2  # wrong: 3 * a**2
        return torch.sparse_csr_tensor(
            a.crow_indices(), a.col_indices(), values, a.shape, check_invariants=False
        )


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_sparse_input_is_checked_on_its_stored_values(layout: str, gen: torch.Generator) -> None:
    a = _sparse(layout, gen).requires_grad_(True)
    x = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    saved = a.detach().to_dense().clone()
    report = gradcheck.check(lambda a, x: torch.tanh(a.to_dense() @ x).sum(), a, x, seed=0)
    assert report.ok, report
    assert report.parameters[0][0] == "a.values()"
    assert report.labels[0].startswith("a.values()[0")
    assert len(report.labels) == a.detach().values().numel()
    assert any(f"{layout} tensor of shape (4, 4)" in n for n in report.metadata.warnings)
    assert torch.equal(a.detach().to_dense(), saved)
    assert a.layout == LAYOUTS[layout](saved).layout


def test_wrong_sparse_backward_is_found_at_every_stored_value(gen: torch.Generator) -> None:
    a = _sparse("sparse_csr", gen).requires_grad_(True)
    report = gradcheck.check(SparseCube.apply, a, seed=0)
    assert report.counts["mismatch"] == a.detach().values().numel()


def test_an_unsupported_layout_is_refused_with_the_fix(gen: torch.Generator) -> None:
    # torch.backends.mkldnn.is_available is unannotated in torch
    if not torch.backends.mkldnn.is_available():  # type: ignore[no-untyped-call]
        pytest.skip("this torch build has no mkldnn layout")
    a = torch.randn(3, 3, generator=gen).to_mkldnn().requires_grad_(True)
    with pytest.raises(gradcheck.InvalidArgument, match=r"layout torch._mkldnn.*a.to_dense\(\)"):
        gradcheck.check(lambda a: a.to_dense().sum(), a)


def test_sparse_module_input_is_checked_with_input_grad(gen: torch.Generator) -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2).double()
    a = _sparse("sparse_csr", gen)

    def loss(out: torch.Tensor) -> torch.Tensor:
        return out.square().sum()

    class Dense(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = model

        def forward(self, a: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.inner(a.to_dense())
            return out

    report = gradcheck.check(Dense(), a, loss=loss, input_grad=True, seed=0)
    assert report.ok, report
    assert report.labels[-1].startswith("input.values()[")
