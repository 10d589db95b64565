"""neuraldigits: chapter 1 of Nielsen's *Neural Networks and Deep Learning*, done properly."""

__version__ = "0.1.0"
