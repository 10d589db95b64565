"""MNIST from the four standard IDX files, split the way the book splits it.

``load_mnist()`` returns ``(training, validation, test)``: the first 50,000
training images, the last 10,000 training images, and the 10,000 test images,
each an ``(images, labels)`` pair — images (N, 784) with 0.0 for background and
1.0 for full ink, labels (N,) ints 0–9.  Any directory holding the four files in
IDX format works (Fashion-MNIST too): the loader reads the format, not a list of
known files.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..budget import MAX_DEFAULT_BUDGET
from ..budget import describe as describe_bytes
from ..budget import resolve as resolve_budget
from ..errors import DataError
from ..locations import DATA_ENV, data_search_path
from ..network import Dataset
from .idx import read_idx, read_idx_shape

# The four standard files; each may be gzipped or raw, whatever its name says.
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
VALIDATION_SIZE = 10_000


def _candidates(name: str) -> list[str]:
    # Also the dotted spelling some copies use (train-images.idx3-ubyte).
    dotted = name.replace("-idx", ".idx", 1)
    return [name + ".gz", name, dotted + ".gz", dotted]


def find_files(directory: str | os.PathLike[str]) -> tuple[dict[str, Path], list[str]]:
    """The four files found in ``directory``, and the names of those missing."""
    directory = Path(directory)
    found, missing = {}, []
    for key, name in FILES.items():
        for candidate in _candidates(name):
            if (directory / candidate).is_file():
                found[key] = directory / candidate
                break
        else:
            missing.append(name + "[.gz]")
    return found, missing


@dataclass(frozen=True)
class Place:
    """One place data is looked for, and which of the four files it holds."""

    directory: Path
    why: str  # why it is looked at, e.g. "$NEURALDIGITS_DATA" (see locations.data_search_path)
    exists: bool
    found: dict[str, Path]
    missing: list[str]

    @property
    def complete(self) -> bool:
        """Whether all four files are here: the search stops at the first such place."""
        return self.exists and not self.missing

    @property
    def shortfall(self) -> str:
        """What keeps this place from being used, in a few words."""
        return "no such directory" if not self.exists else f"missing {', '.join(self.missing)}"


def search(path: str | os.PathLike[str] | None = None) -> Iterator[Place]:
    """The places to look for the four files, in order, each with what it holds.

    The one walk over :func:`~neuraldigits.locations.data_search_path` that
    everything shares (:func:`locate`, :func:`~.sources.load_data`, ``digits data
    info``).  Lazy: a caller that stops at the first complete place looks no further.
    """
    for why, directory in data_search_path(path):
        if not directory.is_dir():
            yield Place(directory, why, exists=False, found={}, missing=[])
            continue
        found, missing = find_files(directory)
        yield Place(directory, why, exists=True, found=found, missing=missing)


def locate_place(path: str | os.PathLike[str] | None = None) -> Place:
    """The first place holding all four files, as :func:`locate` says."""
    looked = []
    for place in search(path):
        if place.complete:
            return place
        looked.append(place)
    raise DataError(
        "MNIST data not found. Looked in:\n"
        + "\n".join(f"  {p.directory} ({p.why}): {p.shortfall}" for p in looked)
        + "\nExpected the four standard IDX files (gzipped or not): "
        + ", ".join(FILES.values())
        + f".\nPoint to a directory holding them with --data DIR or ${DATA_ENV}, "
        "or put them in the per-user cache."
    )


def locate(path: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """Paths of the four files: from ``path``, else ``$NEURALDIGITS_DATA``, else the cache.

    When none of the places has all four, the error lists every place looked
    at, what was missing there, and how to provide the files.
    """
    return locate_place(path).found


def load_idx_pair(
    images_path: Path, labels_path: Path, num_classes: int = 10, *, max_bytes: int | None = None
) -> Dataset:
    """Images (N, rows·cols) as uint8 and labels (N,) as int64, checked against each other.

    ``max_bytes`` caps what each file's header may declare (see :func:`read_idx`).
    """
    images = read_idx(images_path, ndim=3, max_bytes=max_bytes)
    labels = read_idx(labels_path, ndim=1, max_bytes=max_bytes)
    if len(images) != len(labels):
        raise DataError(
            f"{images_path} holds {len(images):,} images but {labels_path} holds "
            f"{len(labels):,} labels; they must match one to one"
        )
    if len(images) == 0 or images[0].size == 0:
        # Also keeps reshape(-1) below from failing on an empty array.
        raise DataError(f"{images_path}: holds no images (shape {images.shape})")
    if len(labels) and labels.max() >= num_classes:
        raise DataError(
            f"{labels_path}: labels must be 0..{num_classes - 1}, found {int(labels.max())}"
        )
    return images.reshape(len(images), -1), labels.astype(np.int64)


def load_mnist(
    path: str | os.PathLike[str] | None = None,
    *,
    dtype: Any = np.float32,
    validation_size: int | None = None,
    memory_budget: int | None = None,
) -> tuple[Dataset, Dataset, Dataset]:
    """``(training, validation, test)`` as the book splits MNIST (50k / 10k / 10k).

    The validation set is the last ``validation_size`` training images: by
    default 10,000, or a sixth of the training images for a smaller data set
    (the book's 10,000 of 60,000).  Pixels are scaled to [0, 1] in ``dtype``;
    pass ``dtype=np.uint8`` to keep the raw 0–255 bytes (a quarter of the memory;
    :class:`Network` accepts them).

    Before reading any data, the four headers are read and what the loaded sets
    will hold at once (raw bytes, their scaled copy in ``dtype`` and the labels)
    is compared with ``memory_budget`` (bytes; default
    :func:`neuraldigits.budget.default_budget`): data that cannot fit is refused
    at once with a :class:`DataError` saying how much it needs.
    """
    files = locate(path)
    budget = resolve_budget(memory_budget)
    _check_budget(files, np.dtype(dtype), budget)
    train_images, train_labels = load_idx_pair(
        files["train_images"], files["train_labels"], max_bytes=budget
    )
    test_images, test_labels = load_idx_pair(
        files["test_images"], files["test_labels"], max_bytes=budget
    )
    if train_images.shape[1] != test_images.shape[1]:
        raise DataError(
            f"{files['train_images']} has images of {train_images.shape[1]} pixels but "
            f"{files['test_images']} has {test_images.shape[1]}; they must be the same size"
        )
    if validation_size is None:
        validation_size = min(VALIDATION_SIZE, len(train_labels) // 6)
    if not 0 <= validation_size < len(train_labels):
        raise DataError(
            f"cannot hold out {validation_size:,} validation images from "
            f"{len(train_labels):,} training images"
        )
    train_images, test_images = _scale(train_images, dtype), _scale(test_images, dtype)
    cut = len(train_labels) - validation_size
    return (
        (train_images[:cut], train_labels[:cut]),
        (train_images[cut:], train_labels[cut:]),
        (test_images, test_labels),
    )


def _check_budget(files: dict[str, Path], dtype: np.dtype, budget: int) -> None:
    """Refuse, from the headers alone, data whose loaded sets would not fit in ``budget`` bytes."""
    # While scaling, the raw bytes and their copy in ``dtype`` are both held.
    per_pixel = 1 + (0 if dtype == np.uint8 else dtype.itemsize)
    need, images = 0, 0
    for key, file in files.items():
        shape = read_idx_shape(file, ndim=1 if key.endswith("labels") else 3)
        if key.endswith("labels"):
            need += shape[0] * (1 + 8)  # the bytes and their int64 copy
        else:
            need += math.prod(shape) * per_pixel
            images += shape[0]
    if need > budget:
        raise DataError(
            f"the MNIST files in {files['train_images'].parent} declare {images:,} images, "
            f"needing about {describe_bytes(need)} in memory as {dtype.name}, over the memory "
            f"budget of {describe_bytes(budget)} (half the available memory, at most "
            f"{describe_bytes(MAX_DEFAULT_BUDGET)}; pass memory_budget= or dtype=np.uint8)"
        )


def _scale(images: NDArray[np.uint8], dtype: Any) -> NDArray:
    dtype = np.dtype(dtype)
    if dtype == np.uint8:
        return images
    scaled = images.astype(dtype)
    scaled /= dtype.type(255)
    return scaled
