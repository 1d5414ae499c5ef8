"""Model files: importing them, collecting their cases, and selecting cases with -k."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import gradcheck
from gradcheck import _cases as cases
from gradcheck._keywords import keyword_matcher

HEADER = """
import gradcheck

def J(p):
    return 3 * (p["x"] + p["y"] * p["z"])

def dJ(p):
    return {"x": 3.0, "y": 3 * p["z"], "z": 3 * p["y"]}

POINT = {"x": 5.0, "y": 3.0, "z": 2.0}
"""


@pytest.fixture(autouse=True)
def _isolated_imports(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Model files imported by a test leave sys.path and sys.modules as they were."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield
    for name, module in list(sys.modules.items()):
        if tmp_path in Path(getattr(module, "__file__", None) or "/").parents:
            del sys.modules[name]


def write(path: Path, source: str, header: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text((HEADER if header else "") + textwrap.dedent(source))
    return path


def test_decorated_functions_and_module_level_cases_are_collected_in_file_order(
    tmp_path: Path,
) -> None:
    model = write(
        tmp_path / "model.py",
        """
        @gradcheck.case
        def first():
            return gradcheck.Case(J, POINT, grad=dJ)

        second = gradcheck.Case(J, POINT, grad=dJ)

        @gradcheck.case(name="renamed", expect="mismatch")
        def third():
            return gradcheck.Case(J, POINT, grad=dJ)
        """,
    )
    found = cases.collect([model])
    assert found.errors == []
    assert [(c.nodeid, c.expect) for c in found.cases] == [
        ("model.py::first", "ok"),
        ("model.py::second", "ok"),
        ("model.py::renamed", "mismatch"),
    ]
    lines = model.read_text().splitlines()
    assert [lines[c.line - 1].split("(")[0] for c in found.cases] == [
        "@gradcheck.case",
        "second = gradcheck.Case",
        "@gradcheck.case",
    ]


def test_points_make_one_case_each_named_by_id(tmp_path: Path) -> None:
    model = write(
        tmp_path / "model.py",
        """
        @gradcheck.case(points=[1.0, 2.0])
        def square(x):
            return gradcheck.Case(lambda p: p * p, x, grad=lambda p: 2 * p)

        @gradcheck.case(points=[1.0], ids=["one"])
        def cube(x):
            return gradcheck.Case(lambda p: p**3, x, grad=lambda p: 3 * p**2)
        """,
    )
    found = cases.collect([model]).cases
    assert [c.name for c in found] == ["square[0]", "square[1]", "cube[one]"]
    assert [c.build().args for c in found] == [(1.0,), (2.0,), (1.0,)]


def test_a_case_may_return_a_backend_object_and_its_inputs(tmp_path: Path) -> None:
    model = write(
        tmp_path / "model.py",
        """
        import numpy as np

        class Model:
            def __init__(self):
                self.params = {"w": np.array([1.0, 2.0])}

            def loss(self, x):
                w = self.params["w"]
                return float(w @ w * x), {"w": 2 * w * x}

        @gradcheck.case
        def model_loss():
            return Model().loss, 3.0
        """,
    )
    (case,) = cases.collect([model]).cases
    built, report = case.check()
    assert built.args == (3.0,)
    assert report.ok


def test_expect_on_the_decorator_or_the_returned_case_declares_a_known_mismatch(
    tmp_path: Path,
) -> None:
    model = write(
        tmp_path / "model.py",
        """
        @gradcheck.case(expect="mismatch")
        def on_decorator():
            return gradcheck.Case(J, POINT, grad=dJ)

        @gradcheck.case
        def on_case():
            return gradcheck.Case(J, POINT, grad=dJ, expect="mismatch")
        """,
    )
    assert [c.build().expect for c in cases.collect([model]).cases] == ["mismatch", "mismatch"]


def test_imported_case_functions_are_collected_only_where_they_are_defined(
    tmp_path: Path,
) -> None:
    write(
        tmp_path / "shared.py",
        """
        @gradcheck.case
        def shared_case():
            return gradcheck.Case(J, POINT, grad=dJ)
        """,
    )
    write(tmp_path / "user.py", "from shared import shared_case\n", header=False)
    found = cases.collect([tmp_path]).cases
    assert [c.nodeid for c in found] == ["shared.py::shared_case"]


def test_a_folder_is_searched_recursively_skipping_hidden_and_private_entries(
    tmp_path: Path,
) -> None:
    body = """
        @gradcheck.case
        def c():
            return gradcheck.Case(J, POINT, grad=dJ)
        """
    write(tmp_path / "models" / "a.py", body)
    write(tmp_path / "models" / "deeper" / "b.py", body)
    write(tmp_path / "models" / "helpers.py", "X = 1\n")  # no cases: skipped in a folder
    write(tmp_path / "models" / "_private.py", "raise RuntimeError\n")
    write(tmp_path / "models" / ".hidden" / "h.py", "raise RuntimeError\n")
    found = cases.collect([tmp_path / "models"])
    assert found.errors == []
    assert [c.nodeid for c in found.cases] == ["models/a.py::c", "models/deeper/b.py::c"]


def test_a_model_file_imports_its_neighbours_and_its_package(tmp_path: Path) -> None:
    write(tmp_path / "pkg" / "__init__.py", "", header=False)
    write(tmp_path / "pkg" / "functions.py", HEADER, header=False)
    write(
        tmp_path / "pkg" / "model.py",
        """
        from .functions import J as J_again

        @gradcheck.case
        def relative():
            return gradcheck.Case(J_again, POINT, grad=dJ)
        """,
    )
    found = cases.collect([tmp_path / "pkg" / "model.py"])
    assert found.errors == []
    _, report = found.cases[0].check()
    assert report.ok


def test_a_file_that_shadows_an_imported_module_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "json.py", "x = 1\n", header=False)
    (error,) = cases.collect([tmp_path / "json.py"]).errors
    assert "imported as module 'json'" in error.message
    assert "Rename the file" in error.message


def test_two_model_files_of_the_same_name_in_turn_are_both_imported(tmp_path: Path) -> None:
    one = write(
        tmp_path / "one" / "model.py",
        "@gradcheck.case\ndef from_one():\n    return gradcheck.Case(J, POINT, grad=dJ)\n",
    )
    two = write(
        tmp_path / "two" / "model.py",
        "@gradcheck.case\ndef from_two():\n    return gradcheck.Case(J, POINT, grad=dJ)\n",
    )
    assert [c.name for c in cases.collect([one]).cases] == ["from_one"]
    assert [c.name for c in cases.collect([two]).cases] == ["from_two"]


def test_a_case_returning_none_says_what_to_return(tmp_path: Path) -> None:
    model = write(
        tmp_path / "model.py",
        """
        @gradcheck.case
        def forgot_return():
            gradcheck.Case(J, POINT, grad=dJ)
        """,
    )
    (case,) = cases.collect([model]).cases
    with pytest.raises(cases.CaseError, match=r"returned None; return gradcheck.Case\(") as info:
        case.build()
    assert info.value.location == f"model.py:{case.line}"


# -- -k --------------------------------------------------------------------------------------

IDS = [
    "examples/seed_backprop.py::chain_rule[worked]",
    "examples/seed_backprop.py::chain_rule_as_written",
    "examples/seed_backprop.py::and_gate_neuron[0]",
    "examples/two_layer_numpy.py::two_layer_net[1]",
]


@pytest.mark.parametrize(
    ("expression", "selected"),
    [
        ("chain", [0, 1]),
        ("CHAIN_RULE", [0, 1]),
        ("chain and not written", [0]),
        ("not chain", [2, 3]),
        ("neuron or net", [2, 3]),
        ("(chain or neuron) and not (written or worked)", [2]),
        ("two_layer_net[1]", [3]),
        ("two_layer_numpy.py::", [3]),
        ("not not chain", [0, 1]),
        ("", [0, 1, 2, 3]),
    ],
)
def test_k_selects_cases_as_pytest_does(expression: str, selected: list[int]) -> None:
    match = keyword_matcher(expression)
    assert [i for i, nodeid in enumerate(IDS) if match(nodeid)] == selected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("chain and", r"expected a name, 'not' or '\(', found the end"),
        ("(chain", r"expected '\)', found the end"),
        ("chain neuron", r"expected 'and', 'or' or the end, found 'neuron' at column 7"),
        ("or chain", r"found 'or' at column 1"),
        ("__import__('os')", r"unexpected character \"'\" at column 12"),
    ],
)
def test_a_k_expression_that_does_not_parse_says_where(expression: str, message: str) -> None:
    with pytest.raises(gradcheck.InvalidArgument, match=message):
        keyword_matcher(expression)
