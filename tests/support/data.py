"""Small synthetic data sets in MNIST's shapes and files, for tests that need no real MNIST."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neuraldigits.data.idx import write_idx
from neuraldigits.data.mnist import FILES


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


def digits(n: int, seed: int = 0, dtype=np.float32):
    """n synthetic 784-pixel digits (mostly-zero background, like MNIST) and labels."""
    images, labels = synthetic_digits(n, seed)
    images = images.reshape(n, -1)
    images[images < 30] = 0  # MNIST-like sparsity, so the sparse kernel has work to skip
    if dtype != np.uint8:
        images = images.astype(dtype) / dtype(255)
    return images, labels.astype(np.int64)
