"""Model files: import them, and collect the cases they declare (``-k`` selects among
them: :mod:`gradcheck._keywords`).

A model file declares its cases explicitly, in two ways::

    import gradcheck

    @gradcheck.case                              # a function returning what check accepts
    def chain_rule():
        return gradcheck.Case(J, {"x": 5.0, "y": 3.0, "z": 2.0}, grad=grad_J)

    @gradcheck.case(points=[0, 1, 2])            # one case per point: net[0], net[1], ...
    def net(seed):
        model = Net(seed)
        return model.loss, X, y                  # a backend's object and its inputs

    softmax = gradcheck.Case(f, scores, grad=df)  # a module-level Case

A folder is searched for ``*.py`` files, its subfolders too, except hidden and private
ones (``.x``, ``_x``), virtual environments, :data:`SKIPPED_FOLDERS`, and folders with a
``requirements.txt`` of their own, which need packages the search cannot assume: name
such a folder to run it (``gradcheck run examples/in_the_wild/``).

Files are imported the way pytest imports test files (its ``prepend`` import mode): the
first folder above the file without an ``__init__.py`` goes to the front of ``sys.path``,
so a model file imports its neighbours as it does when run as a script.

This module is a front end: it uses only the public face ``gradcheck``.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, Unpack

import gradcheck

__all__ = [
    "CaseError",
    "Collection",
    "CollectionError",
    "ModelCase",
    "collect",
]

SKIPPED_FOLDERS = frozenset({"__pycache__", "node_modules", "site-packages", "build", "dist"})
"""Folders never searched for model files (besides hidden ones and virtual environments)."""

OWN_REQUIREMENTS = "requirements.txt"
"""A folder holding this file needs packages of its own (``examples/in_the_wild/``): a
search of the folder above it passes it by; name it to run it."""

_imported: dict[str, Path] = {}
"""Modules this process imported from model files: name -> file."""


class _CaseSpec(Protocol):
    """What ``@gradcheck.case`` records on a function (``gradcheck._api.CaseSpec``)."""

    name: str
    expect: str
    points: tuple[object, ...] | None
    ids: tuple[str, ...] | None


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class CollectionError:
    """A file that could not be collected: where, and a message that says what to do."""

    path: Path
    line: int | None
    message: str
    exception: BaseException | None = None

    @property
    def location(self) -> str:
        """``file:line``, or the file alone."""
        where = _display(self.path)
        return f"{where}:{self.line}" if self.line else where

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class CaseError(Exception):
    """A case's function raised, or returned something that is not a check."""

    def __init__(self, case: ModelCase, line: int | None, message: str) -> None:
        super().__init__(message)
        self.case = case
        self.line = line
        self.message = message

    @property
    def location(self) -> str:
        """``file:line`` of the problem, or of the case."""
        return f"{_display(self.case.path)}:{self.line or self.case.line}"


@dataclass(frozen=True)
class ModelCase:
    """One collected case: where it is declared and how to build its check."""

    path: Path
    line: int
    name: str
    expect: str
    make: Callable[[], object] = field(repr=False)
    """Returns what the case function returned (or the module-level Case itself)."""

    @property
    def nodeid(self) -> str:
        """``file::name``, as pytest names its tests; what ``-k`` matches against."""
        return f"{_display(self.path)}::{self.name}"

    @property
    def location(self) -> str:
        """``file:line`` of the declaration."""
        return f"{_display(self.path)}:{self.line}"

    def build(self) -> gradcheck.Case:
        """The :class:`gradcheck.Case` to check; raise :class:`CaseError` when there is none."""
        try:
            made = self.make()
        except Exception as exc:
            raise CaseError(
                self,
                _line_in(exc, self.path),
                f"case {self.name!r} raised {type(exc).__name__}: {exc}. Fix the case "
                "function (--traceback shows where it failed)",
            ) from exc
        if isinstance(made, gradcheck.Case):
            expect = "mismatch" if "mismatch" in (made.expect, self.expect) else "ok"
            return gradcheck.Case(
                made.obj, *made.args, name=self.name, expect=expect, **made.kwargs
            )
        if made is None:
            raise CaseError(
                self,
                None,
                f"case {self.name!r} returned None; return gradcheck.Case(f, params, "
                "grad=df), or a model's loss method and its inputs: (model.loss, X, y)",
            )
        obj, *args = made if isinstance(made, tuple) and made else (made,)
        return gradcheck.Case(obj, *args, name=self.name, expect=self.expect)

    def check(
        self, **options: Unpack[gradcheck.CheckOptions]
    ) -> tuple[gradcheck.Case, gradcheck.Report]:
        """Build the case and check it; every failure becomes a located :class:`CaseError`.

        ``options`` (those of :func:`gradcheck.check`) override the case's own.
        """
        case = self.build()
        try:
            return case, case.run(**options)
        except gradcheck.GradcheckError as exc:
            cause = exc.__cause__ or exc
            raise CaseError(self, _line_in(cause, self.path), f"case {self.name!r}: {exc}") from exc
        except Exception as exc:
            raise CaseError(
                self,
                _line_in(exc, self.path),
                f"case {self.name!r}: checking it raised {type(exc).__name__}: {exc}",
            ) from exc


@dataclass
class Collection:
    """The cases found in the given paths, and the files that failed."""

    cases: list[ModelCase] = field(default_factory=list)
    errors: list[CollectionError] = field(default_factory=list)


def collect(paths: Iterable[Path]) -> Collection:
    """Import every model file under ``paths`` and collect the cases it declares.

    A file named explicitly must declare cases; in a folder, files without cases are
    skipped, but a folder without any case is an error.
    """
    result = Collection()
    importlib.invalidate_caches()
    for given in paths:
        path = given.resolve()
        if path.is_file() and path.suffix != ".py":
            result.errors.append(
                CollectionError(
                    path,
                    None,
                    "not a Python file; gradcheck runs model files (*.py) that declare cases, "
                    "or folders of them",
                )
            )
            continue
        files = [path] if path.is_file() else list(_model_files(path))
        found = 0
        for file in files:
            try:
                module = _import(file)
            except _ImportFailure as failure:
                result.errors.append(failure.error)
                continue
            cases = list(_cases_in(module, file))
            found += len(cases)
            result.cases.extend(cases)
        if not found and not any(_within(e.path, path) for e in result.errors):
            what = "file" if path.is_file() else "folder (searched its *.py files)"
            result.errors.append(
                CollectionError(
                    path,
                    None,
                    f"no gradcheck cases in this {what}. Declare one with a function "
                    "decorated @gradcheck.case that returns gradcheck.Case(f, params, "
                    "grad=df), or assign one to a name at module level: "
                    "my_case = gradcheck.Case(f, params, grad=df)",
                )
            )
    return result


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _model_files(folder: Path) -> Iterator[Path]:
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith((".", "_")) and entry.name != "__init__.py":
            continue
        if entry.is_dir():
            separate = (entry / "pyvenv.cfg").exists() or (entry / OWN_REQUIREMENTS).exists()
            if entry.name not in SKIPPED_FOLDERS and not separate:
                yield from _model_files(entry)
        elif entry.suffix == ".py" and entry.name != "__init__.py":
            yield entry


class _ImportFailure(Exception):
    def __init__(self, error: CollectionError) -> None:
        super().__init__(str(error))
        self.error = error


def _module_name(path: Path) -> tuple[Path, str]:
    """The folder for ``sys.path`` and the dotted module name, as pytest's prepend mode."""
    parts = [path.stem]
    folder = path.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    return folder, ".".join(parts)


def _import(path: Path) -> ModuleType:
    root, name = _module_name(path)
    loaded = sys.modules.get(name)
    if loaded is not None:
        origin = getattr(loaded, "__file__", None)
        if origin is not None and Path(origin).resolve() == path:
            return loaded
        if _imported.get(name) is None:
            raise _ImportFailure(
                CollectionError(
                    path,
                    None,
                    f"this file would be imported as module {name!r}, but a module of that "
                    f"name is already imported from {origin or 'a built-in'}. Rename the file",
                )
            )
        del sys.modules[name]  # another model file of the same name, imported earlier
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(name)
    except SyntaxError as exc:
        where = Path(exc.filename).resolve() if exc.filename else path
        raise _ImportFailure(
            CollectionError(
                where,
                exc.lineno,
                f"syntax error: {exc.msg}. Fix the file (python {_display(where)} shows "
                "the same error)",
                exc,
            )
        ) from None
    except ModuleNotFoundError as exc:
        raise _ImportFailure(
            CollectionError(
                path,
                _line_in(exc, path),
                f"the model could not be imported: no module named {exc.name!r}. Install it "
                "into the environment gradcheck runs in, or fix the import",
                exc,
            )
        ) from None
    except Exception as exc:
        raise _ImportFailure(
            CollectionError(
                path,
                _line_in(exc, path),
                f"importing the model raised {type(exc).__name__}: {exc}. Fix the module "
                "(--traceback shows where it failed)",
                exc,
            )
        ) from None
    _imported[name] = path
    return module


def _line_in(exc: BaseException, path: Path) -> int | None:
    """The line of ``path`` closest to where ``exc`` was raised, if it passed through it."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).resolve() == path:
            line = frame.lineno
    return line


def _assignment_lines(path: Path) -> dict[str, int]:
    """Line of each top-level ``name = ...``, to point at module-level cases."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
    lines: dict[str, int] = {}
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Name):
                lines.setdefault(target.id, node.lineno)
    return lines


def _cases_in(module: ModuleType, path: Path) -> Iterator[ModelCase]:
    found: list[ModelCase] = []
    assignments: dict[str, int] | None = None
    for variable, value in list(vars(module).items()):
        spec: _CaseSpec | None = (
            getattr(value, "__gradcheck_case__", None) if callable(value) else None
        )
        if spec is not None:
            if getattr(value, "__module__", None) == module.__name__:
                found.extend(_function_cases(value, spec, path))
        elif isinstance(value, gradcheck.Case):
            if assignments is None:
                assignments = _assignment_lines(path)
            found.append(
                ModelCase(
                    path=path,
                    line=assignments.get(variable, 1),
                    name=value.name or variable,
                    expect=value.expect,
                    make=_constant(value),
                )
            )
    found.sort(key=lambda c: c.line)
    yield from found


def _constant(value: object) -> Callable[[], object]:
    return lambda: value


def _function_cases(func: Callable[..., Any], spec: _CaseSpec, path: Path) -> Iterator[ModelCase]:
    code = getattr(func, "__code__", None)
    line = code.co_firstlineno if code is not None else 1
    if spec.points is None:
        yield ModelCase(path, line, spec.name, spec.expect, func)
        return
    ids: Sequence[str] = spec.ids or [str(k) for k in range(len(spec.points))]
    for point_id, point in zip(ids, spec.points, strict=True):
        yield ModelCase(path, line, f"{spec.name}[{point_id}]", spec.expect, _call(func, point))


def _call(func: Callable[..., Any], point: object) -> Callable[[], object]:
    return lambda: func(point)
