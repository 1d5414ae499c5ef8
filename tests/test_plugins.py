"""The plugin manager: built-in backends, third-party ones, and the errors around them."""

from __future__ import annotations

import types

import numpy as np
import pytest

import gradcheck
from gradcheck import NoBackend, Parameter, Problem
from gradcheck import _plugins as plugins


def test_installed_backends_lists_the_builtins_with_what_they_accept() -> None:
    infos = {info.name: info for info in gradcheck.installed_backends()}
    assert {"python", "numpy"} <= set(infos)
    assert "micrograd" in infos["python"].accepts
    assert "params" in infos["numpy"].accepts


def test_the_builtin_backends_import_as_the_modules_they_are() -> None:
    import gradcheck.backends.numpy
    import gradcheck.backends.python

    assert gradcheck.backends.numpy.__name__ == "gradcheck.backends.numpy"
    assert hasattr(gradcheck.backends.python, "gradcheck_adapt")


def test_an_object_no_backend_accepts_names_the_backends_and_the_entry_point_group() -> None:
    with pytest.raises(NoBackend, match=r"no backend accepts str 'model.pt'.*group 'gradcheck'"):
        gradcheck.check("model.pt", 1.0)


def test_unknown_option_is_reported_with_the_backend() -> None:
    with pytest.raises(gradcheck.InvalidArgument, match=r"unknown option\(s\) \['lr'\]"):
        gradcheck.check(lambda x: x, 1.0, grad=lambda x: 1.0, lr=0.1)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"method": "forward"}, "method='forward' is not one of"),
        ({"rtol": -1.0}, "rtol=-1.0: expected a finite number >= 0"),
        ({"step": 2.0}, "step=2.0: expected a relative step between 0 and 1"),
        ({"seed": -3}, "seed=-3: expected a non-negative integer"),
        ({"seed": True}, "seed=True: expected a non-negative integer"),
        ({"rtol": "1e-3"}, "rtol='1e-3': expected a finite number >= 0"),
    ],
)
def test_bad_options_are_explained(option: dict[str, object], message: str) -> None:
    with pytest.raises(gradcheck.InvalidArgument, match=message):
        gradcheck.check(lambda x: x, 1.0, grad=lambda x: 1.0, **option)  # type: ignore[arg-type]


def test_a_third_party_backend_is_asked_before_the_builtins() -> None:
    class Square:
        """A toy object: f = v ** 2 over its one value."""

        def __init__(self) -> None:
            self.v = np.array([3.0])

    module = types.ModuleType("toy_backend")
    module.__doc__ = "Toy objects."

    @gradcheck.hookimpl
    def gradcheck_adapt(obj, args, grad, value_and_grad, kwargs):  # type: ignore[no-untyped-def]
        if not isinstance(obj, Square):
            return None
        kwargs.pop("flavour", None)
        return Problem(
            [Parameter("v", (1,), obj.v)],
            value=lambda: float(obj.v[0] ** 2),
            gradient=lambda: 2 * obj.v,
            backend="toy",
        )

    module.gradcheck_adapt = gradcheck_adapt  # type: ignore[attr-defined]
    pm = plugins.make_plugin_manager()
    pm.register(module, name="toy")
    problem = plugins.adapt(Square(), (), None, None, {"flavour": "x"}, pm=pm)
    assert problem.backend == "toy"
    assert next(info.name for info in plugins.installed_backends(pm)) == "toy"


def test_numpy_scalars_are_accepted_as_options() -> None:
    seed, rtol = np.int64(3), np.float32(1e-5)  # typed int and float; accepted at run time
    report = gradcheck.check(
        lambda x: x * x,
        1.0,
        grad=lambda x: 2 * x,
        seed=seed,  # type: ignore[arg-type]
        rtol=rtol,  # type: ignore[arg-type]
    )
    assert report.metadata.seed == 3
