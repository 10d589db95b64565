"""The offline MNIST sample shipped inside the package: 5,000 / 1,000 / 1,000 real digits.

``mnist_sample.npz`` (beside this module, about 1 MB) holds digits of the
official MNIST files, unchanged: training and validation digits from MNIST's
training file (disjoint), test digits from MNIST's *test* file — so a score on
the sample's test digits is a score on digits no model trained on MNIST's
training set has seen.  ``tools/make_sample.py`` builds it, reproducibly, from
the four official files; ``mnist_sample_LICENSE.md`` beside it gives MNIST's
licence (CC BY-SA 3.0), its authors and the sample's provenance.

The archive is read like a model file: ``allow_pickle=False``, every array
checked by name, dtype and shape, and each split's content checked against the
fingerprint its provenance record gives, so a damaged file is refused, never
half-used.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import DataError
from ..geometry import PIXELS
from ..network import Dataset
from .mnist import _scale

SAMPLE_PATH = Path(__file__).with_name("mnist_sample.npz")
LICENCE_PATH = Path(__file__).with_name("mnist_sample_LICENSE.md")
FORMAT = "neuraldigits-mnist-sample"
FORMAT_VERSION = 1
SPLITS = ("training", "validation", "test")
# Which official file each split's digits come from ("train" or "test", as in mnist.FILES).
SOURCE_FILE = {"training": "train", "validation": "train", "test": "test"}
_SOURCE_SIZES = {"train": 60_000, "test": 10_000}
# The shipped file is about 1 MB, 5.5 MB unpacked; anything far larger is not a sample.
_MAX_UNPACKED_BYTES = 64 << 20


@dataclass(frozen=True)
class Sample:
    """The sample's three splits as raw bytes, and where each digit came from.

    ``sets[split]`` is ``(images (N, 784) uint8, labels (N,) int64)``;
    ``indices[split]`` (N,) are the digits' positions in their official file
    (:data:`SOURCE_FILE`); ``provenance`` is the JSON record the archive holds.
    """

    path: Path
    sets: dict[str, Dataset]
    indices: dict[str, NDArray[np.int64]]
    provenance: dict[str, Any]

    def fingerprint(self, split: str) -> str:
        """The content fingerprint of one split, as recorded in the provenance."""
        return self.provenance["splits"][split]["fingerprint"]


def fingerprint(images: NDArray[np.uint8], labels: NDArray) -> str:
    """A SHA-256 of a set's raw images and labels: equal sets, equal fingerprints."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(images, dtype=np.uint8).tobytes())
    digest.update(np.ascontiguousarray(labels, dtype=np.uint8).tobytes())
    return digest.hexdigest()


def locate_sample() -> Path:
    """The path of the shipped sample; a clear error if the installation lacks it."""
    if not SAMPLE_PATH.is_file():
        raise DataError(
            f"{SAMPLE_PATH}: the offline MNIST sample is missing from this installation; "
            "reinstall neuraldigits"
        )
    return SAMPLE_PATH


def load_sample(
    path: str | os.PathLike[str] | None = None, *, dtype: Any = np.float32
) -> tuple[Dataset, Dataset, Dataset]:
    """``(training, validation, test)`` from the sample: 5,000 / 1,000 / 1,000 digits.

    Images are (N, 784) scaled to [0, 1] in ``dtype`` (or the raw bytes for
    ``np.uint8``); labels (N,) int64.
    """
    sample = read_sample(path)
    training, validation, test = (sample.sets[split] for split in SPLITS)
    return tuple((_scale(x, dtype), y) for x, y in (training, validation, test))  # type: ignore[return-value]


def read_sample(path: str | os.PathLike[str] | None = None) -> Sample:
    """The sample archive at ``path`` (default: the shipped one), checked throughout."""
    path = Path(path) if path is not None else locate_sample()
    arrays = _read_arrays(path)
    provenance = _read_provenance(arrays.pop("provenance", None), path)
    expected = {f"{split}_{part}" for split in SPLITS for part in ("images", "labels", "indices")}
    if set(arrays) != expected:
        raise DataError(
            f"{path}: not a neuraldigits MNIST sample: holds arrays {sorted(arrays)}, "
            f"expected {sorted(expected)}"
        )
    sets, indices = {}, {}
    for split in SPLITS:
        x, y, where = (arrays[f"{split}_{part}"] for part in ("images", "labels", "indices"))
        _check_split(path, split, x, y, where)
        if fingerprint(x, y) != provenance["splits"][split]["fingerprint"]:
            raise DataError(
                f"{path}: the {split} digits do not match the sample's record of them; "
                "the file is damaged (reinstall neuraldigits)"
            )
        sets[split] = (x, y.astype(np.int64))
        indices[split] = where.astype(np.int64)
    return Sample(path, sets, indices, provenance)


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > _MAX_UNPACKED_BYTES:
            raise DataError(
                f"{path}: unpacks to {unpacked:,} bytes, far more than an MNIST sample holds"
            )
        with np.load(path, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except DataError:
        raise
    except ValueError as e:
        raise DataError(f"{path}: not a readable MNIST sample (.npz) file ({e})") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError) as e:
        raise DataError(
            f"{path}: not a readable MNIST sample (.npz) file; it may be truncated "
            f"({type(e).__name__}: {e})"
        ) from None


def _read_provenance(raw: np.ndarray | None, path: Path) -> dict[str, Any]:
    if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
        raise DataError(f"{path}: not a neuraldigits MNIST sample (no provenance record)")
    try:
        record = json.loads(bytes(raw).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{path}: corrupt provenance record ({e})") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise DataError(f"{path}: not a neuraldigits MNIST sample (format is not {FORMAT!r})")
    if record.get("format_version") != FORMAT_VERSION:
        raise DataError(
            f"{path}: sample format version {record.get('format_version')!r} is not supported "
            f"(expected {FORMAT_VERSION})"
        )
    splits = record.get("splits")
    if not isinstance(splits, dict) or not all(
        isinstance(splits.get(s), dict) and isinstance(splits[s].get("fingerprint"), str)
        for s in SPLITS
    ):
        raise DataError(f"{path}: the provenance record lacks the splits' fingerprints")
    return record


def _check_split(path: Path, split: str, x: np.ndarray, y: np.ndarray, where: np.ndarray) -> None:
    n = len(y)
    if (
        x.dtype != np.uint8 or x.shape != (n, PIXELS) or n == 0
        or y.dtype != np.uint8 or y.ndim != 1
        or where.dtype != np.uint16 or where.shape != (n,)
    ):  # fmt: skip
        raise DataError(
            f"{path}: the {split} arrays have shapes {x.shape}, {y.shape}, {where.shape} and "
            f"dtypes {x.dtype}, {y.dtype}, {where.dtype}; expected (N, {PIXELS}) uint8 images, "
            "(N,) uint8 labels and (N,) uint16 indices"
        )
    if y.max() > 9:
        raise DataError(f"{path}: the {split} labels must be 0..9, found {int(y.max())}")
    limit = _SOURCE_SIZES[SOURCE_FILE[split]]
    if where.max() >= limit or len(np.unique(where)) != n:
        raise DataError(
            f"{path}: the {split} indices must be distinct positions below {limit:,} in MNIST's "
            f"{SOURCE_FILE[split]} file"
        )
