"""Baselines: how well do naive ideas, and a classic classifier, read digits?

Chapter 1 measures its network against three yardsticks:

* random guessing — right one time in ten;
* average darkness — classify an image as the digit whose training images have
  the closest mean total ink (the book's ``mnist_average_darkness.py``: 2,225 of
  the 10,000 test images);
* a support vector machine with scikit-learn's default settings (the book's
  ``mnist_svm.py``: 9,435 of 10,000).  Needs the ``svm`` extra.

Each function takes ``(images, labels)`` pairs — images (N, 784) uint8 or floats
in [0, 1], labels (N,) ints — and returns a :class:`BaselineResult`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..errors import NeuralDigitsError
from ..extras import install_hint
from ..network import Dataset

NUM_CLASSES = 10

# libsvm's kernel cache in MB.  A computational setting, not a model one: it
# changes how fast the SVM trains (scikit-learn's 200 MB thrashes on 50,000
# images), never what it learns.
SVM_CACHE_MB = 1000


@dataclass(frozen=True)
class BaselineResult:
    """One baseline's score on a test set."""

    name: str
    correct: int
    total: int
    seconds: float

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0


def random_guessing(test: Dataset, *, seed: int | np.random.Generator | None = 0) -> BaselineResult:
    """Guess a digit uniformly at random for every test image."""
    start = time.perf_counter()
    _, labels = test
    guesses = np.random.default_rng(seed).integers(0, NUM_CLASSES, size=len(labels))
    correct = int(np.sum(guesses == labels))
    return BaselineResult("random guessing", correct, len(labels), time.perf_counter() - start)


def darkness(images: NDArray) -> NDArray:
    """Total ink of each image: (N, n_pixels) → (N,), the sum of its pixels.

    uint8 pixels are summed exactly as integers; float pixels in float64.  (The
    scale does not matter: the classifier only compares darknesses.)
    """
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images.sum(axis=1, dtype=np.int64)
    return images.sum(axis=1, dtype=np.float64)


def average_darknesses(training: Dataset) -> NDArray[np.float64]:
    """Mean darkness of the training images of each digit: (10,), entry k for digit k."""
    images, labels = training
    ink = darkness(images)
    counts = np.bincount(labels, minlength=NUM_CLASSES)
    if np.any(counts == 0):
        missing = [k for k in range(NUM_CLASSES) if counts[k] == 0]
        raise NeuralDigitsError(f"the training data has no images of digit(s) {missing}")
    totals = np.bincount(labels, weights=ink.astype(np.float64), minlength=NUM_CLASSES)
    return totals / counts


def guess_by_darkness(images: NDArray, averages: NDArray) -> NDArray[np.intp]:
    """The digit whose average darkness is closest to each image's: (N, n_pixels) → (N,).

    Ties go to the smaller digit, as in the book (``min`` over the digits 0…9).
    """
    distances = np.abs(darkness(images)[:, None] - averages[None, :])
    return np.argmin(distances, axis=1)


def average_darkness(training: Dataset, test: Dataset) -> BaselineResult:
    """The book's average-darkness classifier, trained on ``training``, scored on ``test``."""
    start = time.perf_counter()
    averages = average_darknesses(training)
    images, labels = test
    correct = int(np.sum(guess_by_darkness(images, averages) == labels))
    return BaselineResult("average darkness", correct, len(labels), time.perf_counter() - start)


def svm(training: Dataset, test: Dataset, *, gamma: str | float = "scale") -> BaselineResult:
    """A support vector machine, scikit-learn's ``SVC()`` with its default settings.

    ``gamma="scale"`` is scikit-learn's default today; the book ran in 2015,
    when the default was ``"auto"`` (γ = 1 / number of pixels), which is what
    gave its 9,435.  Pixels are scaled to [0, 1] as the book's were.  Training
    on 50,000 images takes minutes.
    """
    try:
        from sklearn.svm import SVC
    except ImportError:
        raise NeuralDigitsError(
            f"the SVM baseline needs scikit-learn, the svm extra: {install_hint('svm')}"
        ) from None
    start = time.perf_counter()
    classifier = SVC(gamma=gamma, cache_size=SVM_CACHE_MB)
    classifier.fit(_unit_pixels(training[0]), training[1])
    images, labels = test
    correct = int(np.sum(classifier.predict(_unit_pixels(images)) == labels))
    name = "SVM (scikit-learn defaults)" if gamma == "scale" else f"SVM (gamma={gamma!r})"
    return BaselineResult(name, correct, len(labels), time.perf_counter() - start)


def _unit_pixels(images: NDArray) -> NDArray:
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images.astype(np.float32) / np.float32(255)
    return images
