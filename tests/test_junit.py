"""JUnit XML as CI servers read it: counts that match the testcases, text escaped."""

from __future__ import annotations

from xml.etree import ElementTree

from gradcheck._junit import JUnitCase, junit_xml


def test_the_suite_counts_its_testcases_failures_and_errors() -> None:
    cases = [
        JUnitCase("m.py", "good", "0.010"),
        JUnitCase("m.py", "wrong", "0.020", outcome="failure", message="1 / 3 disagree", text="r"),
        JUnitCase("m.py", "raises", "0", outcome="error", message="boom", text="boom"),
        JUnitCase("m.py", "expected", "0.030", outcome="system-out", text="report"),
    ]
    root = ElementTree.fromstring(junit_xml(cases, time="0.100"))
    assert root.attrib == {
        "name": "gradcheck",
        "tests": "4",
        "failures": "1",
        "errors": "1",
        "time": "0.100",
    }
    failure = root.find("testcase[@name='wrong']/failure")
    assert failure is not None
    assert (failure.get("message"), failure.text) == ("1 / 3 disagree", "r")
    out = root.find("testcase[@name='expected']/system-out")
    assert out is not None
    assert out.attrib == {}
    assert out.text == "report"


def test_a_standalone_document_has_a_declaration_and_ends_with_a_newline() -> None:
    text = junit_xml([JUnitCase("gradcheck", "f")], time="1.0")
    assert text.startswith("<?xml version='1.0' encoding='utf-8'?>\n<testsuite ")
    assert text.endswith("</testsuite>\n")
    embedded = junit_xml([JUnitCase("gradcheck", "f")], time="1.0", standalone=False)
    assert embedded.startswith("<testsuite ")
    assert not embedded.endswith("\n")


def test_only_the_attributes_given_are_written() -> None:
    text = junit_xml(
        [JUnitCase("gradcheck.collect", "m.py:3"), JUnitCase("m.py", "f", "0.5", "m.py", 12)],
        time="0.5",
        count_errors=False,
    )
    root = ElementTree.fromstring(text)
    assert "errors" not in root.attrib
    first, second = root.findall("testcase")
    assert first.attrib == {"classname": "gradcheck.collect", "name": "m.py:3"}
    assert list(second.attrib) == ["classname", "name", "file", "line", "time"]
    assert second.get("line") == "12"


def test_names_messages_and_reports_are_escaped() -> None:
    nasty = 'W["a"] < 1 & b > 2 \u00e9'
    text = junit_xml(
        [JUnitCase(nasty, nasty, "0", outcome="failure", message=nasty, text=nasty)], time="0"
    )
    testcase = ElementTree.fromstring(text).find("testcase")
    assert testcase is not None
    assert testcase.get("name") == nasty
    failure = testcase.find("failure")
    assert failure is not None
    assert (failure.get("message"), failure.text) == (nasty, nasty)
