"""The plugin manager: built-in backends, then those installed through entry points."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pluggy

from gradcheck import hookspecs
from gradcheck._errors import InvalidArgument, NoBackend
from gradcheck._problem import Problem

__all__ = [
    "BUILTIN_BACKENDS",
    "SHARED_OPTIONS",
    "BackendInfo",
    "adapt",
    "installed_backends",
    "make_plugin_manager",
]

BUILTIN_BACKENDS = ("gradcheck.backends.python", "gradcheck.backends.numpy")


@dataclass(frozen=True, slots=True)
class BackendInfo:
    """One registered backend: its name, where it comes from, and what it accepts."""

    name: str
    version: str
    accepts: str


def make_plugin_manager() -> pluggy.PluginManager:
    """A new manager with the built-in backends and every ``gradcheck`` entry point."""
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    for module_name in BUILTIN_BACKENDS:
        module = importlib.import_module(module_name)
        pm.register(module, name=module_name.rsplit(".", 1)[-1])
    pm.load_setuptools_entrypoints(hookspecs.PROJECT_NAME)
    pm.check_pending()
    return pm


@functools.cache
def _default_manager() -> pluggy.PluginManager:
    return make_plugin_manager()


def installed_backends(pm: pluggy.PluginManager | None = None) -> list[BackendInfo]:
    """The registered backends, in the order they are asked (first asked first)."""
    pm = pm or _default_manager()
    versions = {id(plugin): dist.version for plugin, dist in pm.list_plugin_distinfo()}
    from gradcheck import __version__

    infos = []
    for impl in reversed(pm.hook.gradcheck_adapt.get_hookimpls()):
        plugin = impl.plugin
        doc = (getattr(plugin, "__doc__", None) or "").strip().splitlines()
        infos.append(
            BackendInfo(
                name=impl.plugin_name,
                version=versions.get(id(plugin), __version__),
                accepts=doc[0] if doc else "",
            )
        )
    return list(dict.fromkeys(infos))


SHARED_OPTIONS = ("reseed",)
"""Options of ``check`` that the engine uses and backends may honour too."""


def adapt(
    obj: object,
    args: tuple[object, ...],
    grad: Callable[..., Any] | None,
    value_and_grad: Callable[..., Any] | None,
    kwargs: dict[str, object],
    pm: pluggy.PluginManager | None = None,
) -> Problem:
    """Ask the backends for a Problem; raise a clear error when none takes ``obj``."""
    pm = pm or _default_manager()
    unused = dict(kwargs)
    problem = pm.hook.gradcheck_adapt(
        obj=obj, args=args, grad=grad, value_and_grad=value_and_grad, kwargs=unused
    )
    if problem is None:
        names = ", ".join(info.name for info in installed_backends(pm))
        raise NoBackend(
            f"no backend accepts {type(obj).__name__} {obj!r:.60} with "
            f"{len(args)} argument(s) ({', '.join(type(a).__name__ for a in args)}). "
            f"Installed backends: {names}. For a plain function call "
            "check(f, params, grad=df); a backend for a new kind of object registers "
            f"in the entry-point group {hookspecs.PROJECT_NAME!r}."
        )
    if not isinstance(problem, Problem):
        raise InvalidArgument(f"a backend returned {type(problem).__name__}, not a Problem")
    for name in SHARED_OPTIONS:
        unused.pop(name, None)  # a backend may honour these or not
    if unused:
        problem.restore()
        raise InvalidArgument(
            f"unknown option(s) {sorted(unused)} for the {problem.backend} backend; "
            "see help(gradcheck.check) for the options"
        )
    return problem
