"""Shared fixtures: real MNIST (when NEURALDIGITS_DATA is set) and a tiny synthetic set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.data import write_mnist_dir

from neuraldigits.data.mnist import load_mnist

SKIP_REAL = (
    "real-MNIST test: set NEURALDIGITS_DATA to a directory holding the four MNIST IDX files "
    "(CI sets it to ../shared/data/mnist)"
)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The real MNIST directory, or skip with a clear reason."""
    directory = os.environ.get("NEURALDIGITS_DATA")
    if not directory:
        pytest.skip(SKIP_REAL)
    return Path(directory)


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    """``(training, validation, test)`` from real MNIST, float32, loaded once per session."""
    return load_mnist(mnist_dir)


@pytest.fixture(scope="session")
def tiny_mnist_dir(tmp_path_factory) -> Path:
    """A directory with a small synthetic MNIST-format data set (1,200 train, 200 test)."""
    return write_mnist_dir(tmp_path_factory.mktemp("tiny-mnist"))
