"""torch's generator: always put back, and a forward that draws from it is always reported."""

from __future__ import annotations

import gradcheck
import pytest
import torch


def _random_model(layer: str) -> tuple[torch.nn.Module, torch.Tensor]:
    """A small float64 model with one random layer, in train mode, and its input."""
    torch.manual_seed(0)
    if layer == "FractionalMaxPool2d":
        conv = torch.nn.Conv2d(1, 1, 2)
        pool = torch.nn.FractionalMaxPool2d(2, output_size=2)
        return torch.nn.Sequential(conv, pool).double(), torch.randn(1, 1, 5, 5).double()
    random = {"Dropout": torch.nn.Dropout(0.5), "RReLU": torch.nn.RReLU()}[layer]
    return torch.nn.Sequential(torch.nn.Linear(3, 4), random).double(), torch.randn(2, 3).double()


@pytest.mark.parametrize("layer", ["Dropout", "RReLU", "FractionalMaxPool2d"])
@pytest.mark.parametrize("reseed", [True, False])
def test_random_layers_are_reported_and_the_generator_is_put_back(layer: str, reseed: bool) -> None:
    model, x = _random_model(layer)
    torch.manual_seed(1234)
    torch.rand(3)  # a state that is not a fresh seed's
    before = torch.get_rng_state()
    report = gradcheck.check(model, x, seed=0, reseed=reseed)
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.initial_seed() == 1234
    notes = [n for n in report.metadata.warnings if "random numbers" in n]
    assert len(notes) == 1, report.metadata.warnings
    assert layer in notes[0]
    if reseed:
        assert report.ok, report
        assert not report.metadata.random
        assert "reseeded" in notes[0]
    else:
        assert "Pass reseed=True" in notes[0]
        assert report.metadata.random  # seen by the plugin, whatever the repeat probe saw
        assert not report.ok or not report.counts["inconclusive"], report


def test_generator_is_put_back_when_a_random_forward_raises(gen: torch.Generator) -> None:
    model, x = _random_model("Dropout")
    calls = []

    def loss(out: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        if len(calls) > 5:
            raise RuntimeError("loss failed on purpose")
        return out.square().sum()

    before = torch.get_rng_state()
    with pytest.raises(gradcheck.ModelError, match="on purpose"):
        gradcheck.check(model, x, loss=loss, seed=0, reseed=False)
    assert torch.equal(torch.get_rng_state(), before)


def test_a_function_that_draws_is_seen_by_its_behaviour(gen: torch.Generator) -> None:
    x = torch.randn(4, generator=gen, dtype=torch.float64, requires_grad=True)

    def noisy(x: torch.Tensor) -> torch.Tensor:
        return (x * (1 + 0.1 * torch.rand_like(x))).square().sum()

    before = torch.get_rng_state()
    fixed = gradcheck.check(noisy, x, seed=0)
    assert fixed.ok, fixed
    assert any("reseeded" in note for note in fixed.metadata.warnings)
    drawn = gradcheck.check(noisy, x, seed=0, reseed=False)
    assert any("Pass reseed=True" in note for note in drawn.metadata.warnings)
    assert torch.equal(torch.get_rng_state(), before)


def test_a_deterministic_model_gets_no_note_about_random_numbers(gen: torch.Generator) -> None:
    model, x = _random_model("Dropout")
    report = gradcheck.check(model, x, loss=lambda out: out.square().sum(), seed=0, train=False)
    assert report.ok, report
    assert not any("random" in note for note in report.metadata.warnings)
