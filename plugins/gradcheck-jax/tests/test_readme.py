"""The README's examples, run: every output it shows is what its code prints now.

The conventions of the core's ``tests/test_readme.py``: a ```python block followed, with
only blank lines between, by an untagged or ```text block runs alone (a fresh namespace,
the repository root as working directory) and must print exactly that output; any other
```python block runs alone and must not raise; ```sh blocks are not run. Timings are
normalised: a report's seconds, and the seconds of the compile-time note, which this
backend adds and the core's test does not know.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parent.parent
ROOT = PLUGIN.parent.parent
README = PLUGIN / "README.md"

OPENING = re.compile(r"^```([\w-]*)\s*$")
CLOSING = re.compile(r"^```\s*$")
TIMINGS = (
    # a report's provenance line: "...; seed 0; 0.0184 s"
    re.compile(r"(; seed \d+; )\d+(?:\.\d+)?(?:e[+-]\d+)? s$", re.MULTILINE),
    # the compile-time note: "jax.jit compile time 0.21 s, ... (f 0.043 s, ...)"
    re.compile(r"((?:compile time|f|gradient|vmap\(f\)|mode\)) )\d+(?:\.\d+)?(?:e[+-]\d+)? s"),
)


@dataclass
class Block:
    line: int  # of the opening fence, counted from 1
    lang: str
    text: str
    directly_after_block: bool  # only blank lines since the previous block's closing fence
    output: Block | None = None  # python: the output block right after it


def parse() -> list[Block]:
    lines = README.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    previous_close: int | None = None
    i = 0
    while i < len(lines):
        opening = OPENING.match(lines[i])
        if not opening:
            i += 1
            continue
        start = i
        i += 1
        while not CLOSING.match(lines[i]):
            i += 1
        after_block = previous_close is not None and not any(
            line.strip() for line in lines[previous_close + 1 : start]
        )
        blocks.append(
            Block(start + 1, opening.group(1), "\n".join(lines[start + 1 : i]), after_block)
        )
        previous_close = i
        i += 1
    for before, after in itertools.pairwise(blocks):
        if before.lang == "python" and after.lang in ("", "text") and after.directly_after_block:
            before.output = after
    return blocks


BLOCKS = parse()
PYTHON = [b for b in BLOCKS if b.lang == "python"]


def normalise(text: str) -> str:
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    normal = "\n".join(lines)
    for pattern in TIMINGS:
        normal = pattern.sub(r"\1<t> s", normal)
    return normal


@pytest.mark.parametrize("block", PYTHON, ids=lambda b: f"README.md:{b.line}")
def test_python_block(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code = compile("\n" * block.line + block.text, str(README), "exec")  # README's line numbers
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(code, {"__name__": "__main__"})
    if block.output is not None:
        assert normalise(printed.getvalue()) == normalise(block.output.text), (
            f"the output shown at README.md:{block.output.line} is stale; the code prints "
            f"now:\n{printed.getvalue()}"
        )


def test_every_output_block_is_produced_by_the_code_above_it() -> None:
    produced = {id(b.output) for b in PYTHON}
    unchecked = [b.line for b in BLOCKS if b.lang in ("", "text") and id(b) not in produced]
    assert not unchecked, f"output blocks at README.md lines {unchecked} follow no python block"
