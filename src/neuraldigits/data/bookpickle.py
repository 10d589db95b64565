"""The book's own ``mnist.pkl.gz``, read without letting a pickle run code.

Nielsen's code loads ``((train_x, train_y), (valid_x, valid_y), (test_x, test_y))``
— 50,000 / 10,000 / 10,000 images as (N, 784) float32 in [0, 1] and labels
(N,) int64 — with ``cPickle.load``.  A pickle is a program: loading an untrusted
one can call any function (``os.system`` included).  :class:`BookUnpickler`
lets a pickle name only the few numpy functions that rebuild plain numeric
arrays; any other name is refused before anything runs.  The file was written
by Python 2, whose byte strings we decode as latin-1, which numpy turns back
into the exact bytes.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from ..network import Dataset

# A decompressed pickle larger than this is not the book's (about 220 MB).
MAX_BYTES = 1 << 30
# Numeric kinds only: an object array would hold arbitrary unpickled objects.
_ALLOWED_KINDS = set("biuf")
_SET_NAMES = ("training", "validation", "test")


class BookUnpickler(pickle.Unpickler):
    """An unpickler that can only rebuild numpy arrays, dtypes, tuples and lists."""

    def find_class(self, module: str, name: str) -> Any:
        # numpy 2 renamed numpy.core to numpy._core; pickles name either.
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name == "_reconstruct":
            return _reconstruct
        if module in ("numpy.core.numeric", "numpy._core.numeric") and name == "_frombuffer":
            return _frombuffer
        if module == "numpy" and name == "ndarray":
            return np.ndarray
        if module == "numpy" and name == "dtype":
            return _dtype
        if (module, name) == ("_codecs", "encode"):
            # How Python 3 writes bytes in protocols 0-2: harmless text encoding.
            return _encode
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name}: the file may only hold numpy arrays"
        )

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("refusing a persistent reference: not a plain data file")


def _reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    # numpy pickles always start from an empty array and fill it in with
    # __setstate__; refusing anything bigger stops a pickle asking for a huge one.
    if subtype is not np.ndarray or tuple(shape) not in ((0,), ()):
        raise pickle.UnpicklingError("unexpected array construction in the pickle")
    return np.ndarray.__new__(np.ndarray, (0,), _dtype(dtype))


def _frombuffer(buffer: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    # Protocol 5's layout: the raw bytes, then how to view them.
    if not isinstance(dtype, np.dtype) or dtype.kind not in _ALLOWED_KINDS or order not in "CF":
        raise pickle.UnpicklingError("unexpected array layout in the pickle")
    return np.frombuffer(buffer, dtype=dtype).reshape(shape, order=order)


def _dtype(spec: Any, align: Any = 0, copy: Any = 1) -> np.dtype:
    if not isinstance(spec, (str, bytes)):
        raise pickle.UnpicklingError(f"unexpected dtype {spec!r} in the pickle")
    dtype = np.dtype(spec.decode("latin1") if isinstance(spec, bytes) else spec)
    if dtype.kind not in _ALLOWED_KINDS:
        raise pickle.UnpicklingError(f"refusing arrays of dtype {dtype}: only numbers allowed")
    return dtype


def _encode(text: Any, encoding: Any = "utf-8") -> bytes:
    if not isinstance(text, str) or encoding != "latin1":
        raise pickle.UnpicklingError("unexpected call to _codecs.encode in the pickle")
    return text.encode("latin1")


class _LimitedReader(io.RawIOBase):
    """A file that refuses to yield more than ``limit`` bytes (a gzip bomb stops here)."""

    def __init__(self, f: Any, limit: int, path: Path) -> None:
        self.f, self.left, self.path = f, limit, path

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.f.read(min(len(buffer), self.left + 1))
        if len(data) > self.left:
            raise DataError(
                f"{self.path}: decompresses to over {MAX_BYTES:,} bytes: not the book's"
            )
        self.left -= len(data)
        buffer[: len(data)] = data
        return len(data)


def load_book_pickle(
    path: str | os.PathLike[str], *, dtype: Any = np.float32
) -> tuple[Dataset, Dataset, Dataset]:
    """``(training, validation, test)`` from the book's ``mnist.pkl.gz`` (or an unzipped copy).

    Images come back (N, 784) in ``dtype`` scaled to [0, 1] (``np.uint8``: 0–255
    bytes), labels (N,) int64.  Raises :class:`DataError` for anything that is
    not plain numeric arrays in the book's layout; nothing in the file is run.
    """
    path = Path(path)
    try:
        with open(path, "rb") as raw:
            gzipped = raw.read(2) == b"\x1f\x8b"
        with (gzip.open if gzipped else open)(path, "rb") as f:
            reader = io.BufferedReader(_LimitedReader(f, MAX_BYTES, path))
            # latin1: Python 2's byte strings become str whose code points are the bytes.
            content = BookUnpickler(reader, encoding="latin1").load()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, expected the book's mnist.pkl.gz") from None
    except pickle.UnpicklingError as e:
        raise DataError(f"{path}: unsafe or malformed pickle, not loaded: {e}") from None
    except (OSError, EOFError, zlib.error, ValueError, TypeError, KeyError, IndexError) as e:
        # Garbage makes the unpickler fail in many ways; all mean "not the book's file".
        raise DataError(
            f"{path}: not a readable pickle ({type(e).__name__}: {e}); expected the book's "
            "mnist.pkl.gz"
        ) from None
    return _check_layout(content, path, dtype)


def _check_layout(content: Any, path: Path, dtype: Any) -> tuple[Dataset, Dataset, Dataset]:
    expected = "a tuple (training, validation, test) of (images, labels) pairs"
    if not isinstance(content, (tuple, list)) or len(content) != 3:
        raise DataError(f"{path}: expected {expected}, got {type(content).__name__}")
    sets = []
    for name, pair in zip(_SET_NAMES, content):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise DataError(f"{path}: the {name} set is not an (images, labels) pair")
        images, labels = pair
        if not (isinstance(images, np.ndarray) and isinstance(labels, np.ndarray)):
            raise DataError(f"{path}: the {name} set does not hold numpy arrays")
        for array in (images, labels):
            if array.dtype.kind not in _ALLOWED_KINDS or array.dtype.names is not None:
                raise DataError(f"{path}: the {name} set holds arrays of dtype {array.dtype}")
        if images.ndim != 2 or labels.ndim != 1 or len(images) != len(labels):
            raise DataError(
                f"{path}: the {name} set has images of shape {images.shape} and labels of "
                f"shape {labels.shape}; expected (N, pixels) and (N,)"
            )
        if labels.dtype.kind not in "iu" or (
            len(labels) and not 0 <= labels.min() <= labels.max() <= 9
        ):
            raise DataError(f"{path}: the {name} labels must be whole numbers 0..9")
        sets.append((_images(images, path, name, dtype), labels.astype(np.int64)))
    if len({images.shape[1] for images, _ in sets}) != 1:
        raise DataError(f"{path}: the three sets' images have different sizes")
    return sets[0], sets[1], sets[2]


def _images(images: np.ndarray, path: Path, name: str, dtype: Any) -> np.ndarray:
    """The book stores floats in [0, 1]; accept raw bytes too.  Return them in ``dtype``."""
    if images.dtype == np.uint8:
        unit = images.astype(np.float32) / 255
    else:
        unit = images.astype(np.float32)
        if images.size and not (np.isfinite(unit).all() and unit.min() >= 0 and unit.max() <= 1):
            raise DataError(f"{path}: the {name} images must be in [0, 1]")
    dtype = np.dtype(dtype)
    if dtype == np.uint8:
        return np.rint(unit * 255).astype(np.uint8)
    return unit.astype(dtype, copy=False)
