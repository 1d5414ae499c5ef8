"""JUnit XML, as CI servers read it: one ``testsuite`` of ``testcase`` elements.

One writer serves a single report (:meth:`gradcheck.Report.to_junit_xml`) and a CLI run
(``gradcheck run --junit-xml``); ElementTree escapes every attribute and text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from xml.etree import ElementTree

__all__ = ["JUnitCase", "junit_xml"]


@dataclass(frozen=True, slots=True)
class JUnitCase:
    """One ``testcase``: who it is, where, how long it took and what it has to say.

    Attributes
    ----------
    classname, name : str
    time : str or None
        Seconds as written, e.g. ``"0.012"``; ``None`` writes no ``time`` attribute.
    file, line : optional
        Where the case is declared; written when given.
    outcome : {"failure", "error", "system-out"} or None
        The child element: a failure, an error, or output of a case that passed; ``None``
        for a case that passed silently.
    message : str or None
        The child's ``message`` attribute (failures and errors).
    text : str or None
        The child's text: the report, or what went wrong.
    """

    classname: str
    name: str
    time: str | None = None
    file: str | None = None
    line: int | None = None
    outcome: Literal["failure", "error", "system-out"] | None = None
    message: str | None = None
    text: str | None = None


def junit_xml(
    cases: Sequence[JUnitCase], *, time: str, count_errors: bool = True, standalone: bool = True
) -> str:
    """A JUnit XML document: a ``testsuite`` named gradcheck holding ``cases``.

    Parameters
    ----------
    cases : sequence of JUnitCase
    time : str
        The whole suite's seconds, as written.
    count_errors : bool, default True
        Whether the suite states its ``errors`` count (a single report has none to count).
    standalone : bool, default True
        A file of its own: an XML declaration first and a newline last.

    Examples
    --------
    >>> print(junit_xml([JUnitCase("gradcheck", "f", "0.5")], time="0.5", standalone=False))
    <testsuite name="gradcheck" tests="1" failures="0" errors="0" time="0.5"><testcase \
classname="gradcheck" name="f" time="0.5" /></testsuite>
    """
    suite = ElementTree.Element(
        "testsuite",
        name="gradcheck",
        tests=str(len(cases)),
        failures=str(sum(c.outcome == "failure" for c in cases)),
    )
    if count_errors:
        suite.set("errors", str(sum(c.outcome == "error" for c in cases)))
    suite.set("time", time)
    for case in cases:
        testcase = ElementTree.SubElement(
            suite, "testcase", classname=case.classname, name=case.name
        )
        for attribute, value in (("file", case.file), ("line", case.line), ("time", case.time)):
            if value is not None:
                testcase.set(attribute, str(value))
        if case.outcome is not None:
            child = ElementTree.SubElement(testcase, case.outcome)
            if case.message is not None:
                child.set("message", case.message)
            child.text = case.text
    if not standalone:
        return ElementTree.tostring(suite, encoding="unicode")
    return ElementTree.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"
