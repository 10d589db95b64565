"""neuraldigits: chapter 1 of Nielsen's *Neural Networks and Deep Learning*, done properly.

The tree reads as a table of contents, from the bottom layer up:

* the core, here: :mod:`.network` (the book's Network), :mod:`.activations`,
  :mod:`.costs`, :mod:`.plateau` (early stopping, the η schedule),
  :mod:`.modelfile` (models as .npz + JSON), :mod:`.onnx_export` (models as
  ONNX graphs, with the ``onnx`` extra), :mod:`.models` (the shipped
  reader), :mod:`.confidence`, :mod:`.summary` (``Network.summary()``),
  :mod:`.progress` (``sgd(..., progress=True)``), :mod:`.atomic`, :mod:`.errors`,
  :mod:`.locations`, :mod:`.geometry`, :mod:`.version`;
* :mod:`.data` (MNIST and where it comes from), :mod:`.training` (the fast
  paths), :mod:`.images` (pictures in, distortions out);
* :mod:`.book` (perceptrons, circuits, baselines, the chapters' experiments and
  plots, and :mod:`.book.sweep`: seeded runs over processes or a Dask cluster),
  :mod:`.recipes` (training recipes by name) and :mod:`.sklearn` (the network as a
  scikit-learn estimator, with the ``sklearn`` extra);
* :mod:`.cli` and :mod:`.web` at the top.

A layer imports only the layers below it (``lint-imports`` checks this).
"""

from . import training  # noqa: F401  (adds the fast paths to Network.sgd's methods)
from .activations import sigmoid, sigmoid_prime
from .data.mnist import load_mnist
from .modelfile import load, save
from .network import EpochResult, Network, Score
from .version import __version__

__all__ = [
    "EpochResult",
    "Network",
    "Score",
    "__version__",
    "load",
    "load_mnist",
    "save",
    "sigmoid",
    "sigmoid_prime",
]
