"""``-k EXPRESSION``: pytest's keyword grammar, compiled into a test on a case's id.

Identifiers are case-insensitive substrings of the id (``file::name[point]``), combined
with ``and``, ``or``, ``not`` and parentheses. The expression is parsed, never evaluated
as Python.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NoReturn

import gradcheck

__all__ = ["keyword_matcher"]

_TOKEN = re.compile(r"\s*(?:(\()|(\))|((?:\w|[:+\-.\[\]\\/])+))")
"""Parentheses and identifiers, as in pytest's ``-k`` grammar."""


def keyword_matcher(expression: str) -> Callable[[str], bool]:
    """Compile a pytest-style ``-k`` expression into a test on a case's id.

    An identifier matches when it is a case-insensitive substring of the id
    (``file::name[point]``); ``and``, ``or``, ``not`` and parentheses combine them. The
    expression is parsed, never evaluated as Python.

    Raises
    ------
    gradcheck.InvalidArgument
        When the expression does not parse; the message shows where.

    Examples
    --------
    >>> match = keyword_matcher("chain and not written")
    >>> match("seed.py::chain_rule[worked]"), match("seed.py::chain_rule_as_written")
    (True, False)
    """
    tokens = _tokenize(expression)
    if not tokens:
        return lambda nodeid: True
    parser = _Parser(expression, tokens)
    predicate = parser.expression()
    if parser.position < len(tokens):
        parser.fail("expected 'and', 'or' or the end")
    return predicate


def _tokenize(expression: str) -> list[tuple[int, str]]:
    tokens = []
    position = 0
    while position < len(expression):
        if expression[position:].isspace():
            break
        found = _TOKEN.match(expression, position)
        if found is None:
            start = len(expression) - len(expression[position:].lstrip())
            raise gradcheck.InvalidArgument(
                f"-k {expression!r}: unexpected character {expression[start]!r} at column "
                f"{start + 1}; use names, and, or, not and parentheses"
            )
        start = found.start(found.lastindex or 0)
        tokens.append((start, found.group(found.lastindex or 0)))
        position = found.end()
    return tokens


class _Parser:
    """Recursive descent: ``expr := and ('or' and)*``, ``and := not ('and' not)*``."""

    def __init__(self, source: str, tokens: list[tuple[int, str]]) -> None:
        self.source = source
        self.tokens = tokens
        self.position = 0

    def peek(self) -> str | None:
        return self.tokens[self.position][1] if self.position < len(self.tokens) else None

    def fail(self, expected: str) -> NoReturn:
        if self.position < len(self.tokens):
            column, token = self.tokens[self.position]
            found = f"{token!r} at column {column + 1}"
        else:
            found = "the end"
        raise gradcheck.InvalidArgument(
            f"-k {self.source!r}: {expected}, found {found}. Example: -k 'chain and not written'"
        )

    def expression(self) -> Callable[[str], bool]:
        terms = [self.conjunction()]
        while self.peek() == "or":
            self.position += 1
            terms.append(self.conjunction())
        return terms[0] if len(terms) == 1 else lambda s: any(t(s) for t in terms)

    def conjunction(self) -> Callable[[str], bool]:
        terms = [self.negation()]
        while self.peek() == "and":
            self.position += 1
            terms.append(self.negation())
        return terms[0] if len(terms) == 1 else lambda s: all(t(s) for t in terms)

    def negation(self) -> Callable[[str], bool]:
        token = self.peek()
        if token == "not":
            self.position += 1
            inner = self.negation()
            return lambda s: not inner(s)
        if token == "(":
            self.position += 1
            inner = self.expression()
            if self.peek() != ")":
                self.fail("expected ')'")
            self.position += 1
            return inner
        if token is None or token in (")", "and", "or"):
            self.fail("expected a name, 'not' or '('")
        self.position += 1
        word = str(token).lower()
        return lambda s: word in s.lower()
