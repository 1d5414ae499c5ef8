"""CheckOptions: one list of check's options, their defaults and help, and their validation."""

from __future__ import annotations

import inspect
from typing import get_type_hints

import numpy as np
import pytest

import gradcheck
from gradcheck._options import (
    OPTION_DEFAULTS,
    OPTION_HELP,
    CheckOptions,
    Method,
    Options,
    describe,
    validate,
)


def square(x: float) -> float:
    return x * x


def twice(x: float) -> float:
    return 2 * x


def test_check_takes_exactly_the_options_listed_with_their_defaults() -> None:
    parameters = inspect.signature(gradcheck.check).parameters
    keyword_only = {
        name: p.default
        for name, p in parameters.items()
        if p.kind is p.KEYWORD_ONLY and name not in ("grad", "value_and_grad", "hess", "hessp")
    }
    assert keyword_only == OPTION_DEFAULTS
    assert set(get_type_hints(CheckOptions)) == set(OPTION_DEFAULTS) == set(OPTION_HELP)


def test_defaults_are_those_the_engine_applies() -> None:
    engine = Options()
    assert {name: getattr(engine, name) for name in OPTION_DEFAULTS} == OPTION_DEFAULTS
    assert validate(OPTION_DEFAULTS) == OPTION_DEFAULTS
    assert OPTION_DEFAULTS["method"] is Method.CENTRAL


@pytest.mark.parametrize("name", sorted(OPTION_HELP))
def test_every_option_has_one_line_of_help(name: str) -> None:
    line = describe(name)
    assert line.startswith(OPTION_HELP[name])
    assert line.endswith(".")
    assert "\n" not in line


def test_help_shows_defaults_as_a_user_types_them() -> None:
    assert describe("rtol") == "Relative floor added to every tolerance (default 1e-6)."
    assert describe("method").endswith("(default central).")
    assert describe("strict").endswith("(default False).")


def test_an_unknown_option_is_named_with_the_option_meant() -> None:
    with pytest.raises(gradcheck.InvalidArgument) as info:
        validate({"rtl": 1e-5})
    message = str(info.value)
    assert message.startswith("unknown option 'rtl' (did you mean 'rtol'?)")
    assert f"the options of gradcheck.check are {', '.join(sorted(OPTION_HELP))}" in message
    with pytest.raises(gradcheck.InvalidArgument, match=r"unknown option 'loss'; the options"):
        validate({"loss": None})  # a backend's option is not one of check's own
    with pytest.raises(gradcheck.InvalidArgument, match="unknown option 'colour'"):
        describe("colour")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rtol": "1e-3"}, "rtol='1e-3': expected a finite number >= 0"),
        ({"strict": "yes"}, "strict='yes': expected True or False"),
        ({"reseed": 1}, "reseed=1: expected True or False"),
        ({"method": "forward"}, "method='forward' is not one of 'central', 'richardson'"),
        ({"seed": 1.5}, "seed=1.5: expected a non-negative integer"),
        ({"bounds": 3.0}, r"bounds=3.0: expected a pair \(lower, upper\)"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_naming_the_option(
    options: dict[str, object], message: str
) -> None:
    with pytest.raises(gradcheck.InvalidArgument, match=message):
        validate(options)


def test_a_wrong_type_given_to_check_is_refused_before_f_is_called() -> None:
    def never(x: float) -> float:
        raise AssertionError("f was called")

    with pytest.raises(gradcheck.InvalidArgument, match="strict='no': expected True or False"):
        gradcheck.check(never, 1.0, grad=twice, strict="no")  # type: ignore[arg-type]


def test_validated_options_come_back_as_the_engine_reads_them() -> None:
    options = validate({"method": "richardson", "seed": np.int64(7), "strict": np.True_})
    assert options == {"method": Method.RICHARDSON, "seed": 7, "strict": True}
    assert type(options["seed"]) is int
    assert validate({}) == {}


def test_a_typed_mapping_of_options_unpacks_into_every_door() -> None:
    options: CheckOptions = {"method": "richardson", "seed": 0, "rtol": 1e-5}
    report = gradcheck.check(square, 1.0, grad=twice, **options)
    assert report.ok
    assert report.metadata.method == "richardson"
    assert gradcheck.assert_gradients(square, 1.0, grad=twice, **options).ok
    assert gradcheck.Case(square, 1.0, grad=twice).run(**options).metadata.seed == 0
