"""gradcheck-torch: the gradcheck backend for PyTorch.

Installing this distribution registers the backend in the entry-point group ``gradcheck``;
``gradcheck.check`` then accepts

* a function of tensors returning a scalar tensor (the gradient comes from autograd),
* a custom ``torch.autograd.Function`` (``MyFn.apply`` or ``MyFn``) with its inputs,
* an ``nn.Module`` with example inputs, and ``loss=`` for a module that returns more
  than a scalar.

Importing this package does not import torch; the backend imports it only when torch is
already loaded, since the user's object cannot be a torch object otherwise.
"""

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("gradcheck-torch")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
