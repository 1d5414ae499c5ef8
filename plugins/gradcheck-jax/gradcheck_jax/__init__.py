"""gradcheck-jax: the gradcheck backend for JAX.

Installing this distribution registers the backend in the entry-point group ``gradcheck``;
``gradcheck.check`` then accepts

* a function of pytrees of JAX arrays (the gradient comes from ``jax.grad``, or from the
  user's ``grad=`` / ``value_and_grad=``),
* a ``jax.custom_vjp`` or ``jax.custom_jvp`` function (or a jitted one) with its
  arguments: its hand-written rule is what is checked.

Importing this package does not import JAX; the backend imports it only when JAX is
already loaded, since the user's object cannot be a JAX object otherwise.
"""

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("gradcheck-jax")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
