"""Shared fixtures: real MNIST (when NEURALDIGITS_DATA is set) and a tiny synthetic set."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from neuraldigits.data.idx import write_idx
from neuraldigits.data.mnist import FILES, load_mnist
from neuraldigits.network import Network

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


def synthetic_digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` learnable 28×28 uint8 "digits": class k is a bright bar in row band k, plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=n).astype(np.uint8)
    images = rng.integers(0, 40, size=(n, 28, 28)).astype(np.uint8)
    for i, k in enumerate(labels):
        top = 2 + 2 * int(k)
        images[i, top : top + 3, 4:24] = 255
    return images, labels


def write_mnist_dir(directory: Path, n_train: int = 1200, n_test: int = 200, *, compress=True):
    """Write a synthetic data set under the four standard MNIST names; return the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if compress else ""
    train_images, train_labels = synthetic_digits(n_train, seed=1)
    test_images, test_labels = synthetic_digits(n_test, seed=2)
    for key, array in (
        ("train_images", train_images),
        ("train_labels", train_labels),
        ("test_images", test_images),
        ("test_labels", test_labels),
    ):
        write_idx(directory / (FILES[key] + suffix), array, compress=compress)
    return directory


@pytest.fixture(scope="session")
def tiny_mnist_dir(tmp_path_factory) -> Path:
    """A directory with a small synthetic MNIST-format data set (1,200 train, 200 test)."""
    return write_mnist_dir(tmp_path_factory.mktemp("tiny-mnist"))


# Training helpers shared by the fast-path tests (test_fastpath.py, test_ckernel.py).


def digits(n: int, seed: int = 0, dtype=np.float32):
    """n synthetic 784-pixel digits (mostly-zero background, like MNIST) and labels."""
    images, labels = synthetic_digits(n, seed)
    images = images.reshape(n, -1)
    images[images < 30] = 0  # MNIST-like sparsity, so the sparse kernel has work to skip
    if dtype != np.uint8:
        images = images.astype(dtype) / dtype(255)
    return images, labels.astype(np.int64)


def train(sizes, method, *, dtype=np.float32, n=503, m=10, epochs=2, images_dtype=None, **kw):
    """Train a fresh seeded network; return it and its history."""
    data = digits(n, seed=1, dtype=images_dtype or dtype)
    test = digits(97, seed=2, dtype=dtype)
    net = Network(sizes, seed=7, dtype=dtype)
    history = net.sgd(data, epochs, m, 3.0, test_data=test, method=method, **kw)
    return net, history


def assert_same_network(a: Network, b: Network, rtol: float, atol: float) -> None:
    for wa, wb in zip(a.weights + a.biases, b.weights + b.biases):
        assert wa.dtype == wb.dtype and wa.shape == wb.shape
        np.testing.assert_allclose(wa, wb, rtol=rtol, atol=atol)


TOLERANCE = {np.float64: (1e-9, 1e-11), np.float32: (2e-4, 2e-5)}


TOLERANCE = {np.float64: (1e-9, 1e-11), np.float32: (2e-4, 2e-5)}
