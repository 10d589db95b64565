"""neuraldigits: chapter 1 of Nielsen's *Neural Networks and Deep Learning*, done properly."""

__version__ = "0.1.0"

from .activations import sigmoid, sigmoid_prime  # noqa: E402
from .mnist import load_mnist  # noqa: E402
from .modelfile import load, save  # noqa: E402
from .network import EpochResult, Network, Score  # noqa: E402

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
