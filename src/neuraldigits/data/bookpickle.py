"""The book's own ``mnist.pkl.gz``, read without letting a pickle run code.

Nielsen's code loads ``((train_x, train_y), (valid_x, valid_y), (test_x, test_y))``
— 50,000 / 10,000 / 10,000 images as (N, 784) float32 in [0, 1] and labels
(N,) int64 — with ``cPickle.load``.  A pickle is a program: loading an untrusted
one can call any function (``os.system`` included).  :class:`BookUnpickler`
lets a pickle name only the few numpy functions that rebuild plain numeric
arrays; any other name is refused before anything runs.  The file was written
by Python 2, whose byte strings we decode as latin-1, which numpy turns back
into the exact bytes.

A pickle can also ask for memory: ``numpy.ndarray((10**12,))`` through REDUCE,
an array state declaring a huge shape, a length field of 2**64 − 1, a memo
index of 2**31.  So only a whitelist of opcodes runs, at most
:data:`MAX_OPCODES` of them; ``numpy.ndarray`` cannot be called; an array is
filled only once its shape agrees with the bytes that came with it; no length
is allocated before the file is known to hold it; and the converted images
must fit in the memory budget.  Every failure is a :class:`DataError` naming
the file.
"""

from __future__ import annotations

import contextlib
import gzip
import math
import os
import pickle
import struct
from pathlib import Path
from typing import Any

import numpy as np

from ..budget import describe as describe_bytes
from ..budget import resolve as resolve_budget
from ..errors import DataError
from ..network import Dataset
from ..untrusted import open_regular

# A decompressed pickle larger than this is not the book's (about 220 MB).
MAX_BYTES = 1 << 30
# Numeric kinds only: an object array would hold arbitrary unpickled objects.
_ALLOWED_KINDS = set("biuf")
_SET_NAMES = ("training", "validation", "test")


class _NdarrayName:
    """What the name ``numpy.ndarray`` stands for in a pickle: only a marker.

    numpy's pickles pass it to ``_reconstruct`` as the type to build; calling it
    (a REDUCE) would allocate an array of any shape the file asks for, so it
    refuses to be called.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise pickle.UnpicklingError("refusing to call numpy.ndarray directly")


_NDARRAY = _NdarrayName()


class _Array(np.ndarray):
    """The array ``_reconstruct`` makes: empty until BUILD fills it, through a checked state."""


class BookUnpickler(pickle._Unpickler):
    """An unpickler that can only rebuild numpy arrays, dtypes, tuples and lists.

    The pure-Python unpickler, so that every opcode goes through a table we
    choose: its memo is a dict (the C one allocates a slot for every index up
    to the largest a file names), opcodes are counted (a small file cannot
    make millions of objects), BUILD only fills our own arrays and dtypes,
    and no string or buffer is allocated before the file is known to hold it.
    """

    def __init__(self, reader: _BoundedFile) -> None:
        # latin1: Python 2's byte strings become str whose code points are the bytes.
        super().__init__(reader, encoding="latin1")
        self.reader = reader
        self.opcodes = 0

    def available(self) -> int:
        """Bytes the pickle may still yield: what is left of the current frame and the file."""
        frame = self._unframer.current_frame
        in_frame = frame.getbuffer().nbytes - frame.tell() if frame else 0
        return in_frame + self.reader.left

    def find_class(self, module: str, name: str) -> Any:
        # numpy 2 renamed numpy.core to numpy._core; pickles name either.
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name == "_reconstruct":
            return _reconstruct
        if module in ("numpy.core.numeric", "numpy._core.numeric") and name == "_frombuffer":
            return _frombuffer
        if module == "numpy" and name == "ndarray":
            return _NDARRAY
        if module == "numpy" and name == "dtype":
            return _dtype
        if (module, name) == ("_codecs", "encode"):
            # How Python 3 writes bytes in protocols 0-2: harmless text encoding.
            return _encode
        raise pickle.UnpicklingError(
            f"refusing to load {module[:60]}.{name[:60]}: the file may only hold numpy arrays"
        )

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("refusing a persistent reference: not a plain data file")


def _opcode(name: str) -> int:
    return getattr(pickle, name)[0]


# Opcodes that build what numpy's pickles and the book's hold; all others are refused.
_ALLOWED_OPCODES = {
    _opcode(name)
    for name in (
        "PROTO FRAME STOP MARK POP POP_MARK DUP NONE NEWTRUE NEWFALSE INT BININT BININT1 "
        "BININT2 LONG LONG1 FLOAT BINFLOAT STRING BINSTRING SHORT_BINSTRING UNICODE "
        "BINUNICODE SHORT_BINUNICODE BINUNICODE8 BINBYTES SHORT_BINBYTES BINBYTES8 "
        "BYTEARRAY8 EMPTY_TUPLE TUPLE TUPLE1 TUPLE2 TUPLE3 EMPTY_LIST LIST APPEND APPENDS "
        "GLOBAL STACK_GLOBAL REDUCE BUILD GET BINGET LONG_BINGET PUT BINPUT LONG_BINPUT "
        "MEMOIZE"
    ).split()
}
# numpy's pickle of the book's three pairs takes ~100 opcodes.
MAX_OPCODES = 10_000


class _Dispatch(dict):
    def __missing__(self, code: int) -> Any:
        raise pickle.UnpicklingError(f"refusing pickle opcode {bytes([code])!r}")


def _counted(load: Any) -> Any:
    def run(self: BookUnpickler) -> None:
        self.opcodes += 1
        if self.opcodes > MAX_OPCODES:
            raise pickle.UnpicklingError(
                f"more than {MAX_OPCODES:,} pickle opcodes: not a file of a few arrays"
            )
        load(self)

    return run


def _load_build(self: BookUnpickler) -> None:
    """BUILD: fill one of our empty arrays, or set a dtype's byte order; nothing else."""
    state = self.stack.pop()
    target = self.stack[-1]
    if type(target) is _Array:
        _fill(target, state)
    elif isinstance(target, np.dtype):
        _set_dtype_state(target, state)
    else:
        raise pickle.UnpicklingError(f"refusing to BUILD a {type(target).__name__}")


def _load_bytearray8(self: BookUnpickler) -> None:
    (size,) = struct.unpack("<Q", self.read(8))
    if size > self.available():  # refused before bytearray(size) allocates it
        raise pickle.UnpicklingError(f"a byte array of {size:,} bytes, more than the file holds")
    buffer = bytearray(size)
    self.readinto(buffer)
    self.append(buffer)


def _load_frame(self: BookUnpickler) -> None:
    (size,) = struct.unpack("<Q", self.read(8))
    self.reader.check(size)
    self._unframer.load_frame(size)


BookUnpickler.dispatch = _Dispatch(
    {
        code: _counted(load)
        for code, load in pickle._Unpickler.dispatch.items()
        if code in _ALLOWED_OPCODES
    }
)
BookUnpickler.dispatch[_opcode("BUILD")] = _counted(_load_build)
BookUnpickler.dispatch[_opcode("BYTEARRAY8")] = _counted(_load_bytearray8)
BookUnpickler.dispatch[_opcode("FRAME")] = _counted(_load_frame)


def _reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    # numpy pickles always start from an empty array and fill it in with
    # BUILD; refusing anything bigger stops a pickle asking for a huge one.
    if subtype is not _NDARRAY or not isinstance(shape, tuple) or shape not in ((0,), ()):
        raise pickle.UnpicklingError("unexpected array construction in the pickle")
    return np.ndarray.__new__(_Array, (0,), _dtype(dtype))


def _fill(array: _Array, state: Any) -> None:
    """``array.__setstate__(state)``, once the state's shape is known to match its bytes."""
    if not isinstance(state, tuple) or len(state) not in (4, 5):
        raise pickle.UnpicklingError("unexpected array state in the pickle")
    shape, dtype, fortran, raw = state[-4:]
    if (
        not isinstance(shape, tuple)
        or len(shape) > 4
        or not all(type(n) is int and n >= 0 for n in shape)
        or not isinstance(dtype, np.dtype)
        or dtype.kind not in _ALLOWED_KINDS
        or dtype.names is not None
        or dtype.subdtype is not None
        or not isinstance(fortran, bool)
        or not isinstance(raw, (bytes, bytearray, str))
    ):
        raise pickle.UnpicklingError("unexpected array state in the pickle")
    if math.prod(shape) * dtype.itemsize != len(raw):
        raise pickle.UnpicklingError(
            f"an array of shape {shape[:4]} and dtype {dtype} with {len(raw):,} bytes of data"
        )
    np.ndarray.__setstate__(array, state)


def _set_dtype_state(dtype: np.dtype, state: Any) -> None:
    """A plain numeric dtype's state says only its byte order; anything more is refused."""
    if (
        not isinstance(state, tuple)
        or len(state) != 8
        or state[1] not in ("<", ">", "|", "=")
        or state[2:5] != (None, None, None)
        or not all(type(v) is int and -1 <= v <= 64 for v in state[5:8])
    ):
        raise pickle.UnpicklingError("unexpected dtype state in the pickle")
    dtype.__setstate__(state)
    if dtype.kind not in _ALLOWED_KINDS:
        raise pickle.UnpicklingError(f"refusing arrays of dtype {dtype}: only numbers allowed")


def _frombuffer(buffer: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    # Protocol 5's layout: the raw bytes, then how to view them.
    if (
        not isinstance(buffer, (bytes, bytearray))
        or not isinstance(dtype, np.dtype)
        or dtype.kind not in _ALLOWED_KINDS
        or order not in ("C", "F")
        or not isinstance(shape, tuple)
        or not all(type(n) is int and n >= 0 for n in shape)
        or math.prod(shape) * dtype.itemsize != len(buffer)
    ):
        raise pickle.UnpicklingError("unexpected array layout in the pickle")
    return np.frombuffer(buffer, dtype=dtype).reshape(shape, order=order)


def _dtype(spec: Any, align: Any = 0, copy: Any = 1) -> np.dtype:
    if not isinstance(spec, (str, bytes)) or len(spec) > 8:
        raise pickle.UnpicklingError(f"unexpected dtype {spec!r:.40} in the pickle")
    dtype = np.dtype(spec.decode("latin1") if isinstance(spec, bytes) else spec)
    if dtype.kind not in _ALLOWED_KINDS or dtype.subdtype is not None:
        raise pickle.UnpicklingError(f"refusing arrays of dtype {dtype}: only numbers allowed")
    return dtype


def _encode(text: Any, encoding: Any = "utf-8") -> bytes:
    if not isinstance(text, str) or encoding != "latin1":
        raise pickle.UnpicklingError("unexpected call to _codecs.encode in the pickle")
    return text.encode("latin1")


class _BoundedFile:
    """The pickle's bytes, refusing to yield more than ``limit`` in all.

    A gzip bomb stops here, and so does a length field declaring more than is
    left: the request is refused before anything of that size is allocated.
    """

    def __init__(self, f: Any, limit: int, path: Path) -> None:
        self.f, self.left, self.path, self.limit = f, limit, path, limit

    def check(self, n: int) -> None:
        """Refuse to go on if ``n`` more bytes would pass the limit."""
        if n > self.left:
            raise DataError(
                f"{self.path}: decompresses to over {self.limit:,} bytes (or declares a string "
                f"of {n:,} bytes, more than is left): not the book's"
            )

    def read(self, n: int = -1) -> bytes:
        n = self.left + 1 if n < 0 else n
        self.check(n)
        parts, wanted = [], n
        while wanted:  # in chunks: a length field is a claim, not an allocation
            chunk = self.f.read(min(wanted, _CHUNK))
            if not chunk:
                break
            parts.append(chunk)
            wanted -= len(chunk)
        self.left -= n - wanted
        return b"".join(parts)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readline(self) -> bytes:
        line = self.f.readline(self.left + 1)
        self.check(len(line))
        self.left -= len(line)
        return line


_CHUNK = 1 << 20


def load_book_pickle(
    path: str | os.PathLike[str], *, dtype: Any = np.float32, memory_budget: int | None = None
) -> tuple[Dataset, Dataset, Dataset]:
    """``(training, validation, test)`` from the book's ``mnist.pkl.gz`` (or an unzipped copy).

    Images come back (N, 784) in ``dtype`` scaled to [0, 1] (``np.uint8``: 0–255
    bytes), labels (N,) int64.  Raises :class:`DataError` for anything that is
    not plain numeric arrays in the book's layout; nothing in the file is run.
    ``memory_budget`` (bytes; default :func:`neuraldigits.budget.default_budget`)
    bounds what loading may hold: the pickle's data is read only up to a
    fifth of it (a string may be held several times over while arrays are
    rebuilt), and the converted images must fit in it.
    """
    path = Path(path)
    budget = resolve_budget(memory_budget)
    try:
        with open_regular(path, "the book's mnist.pkl.gz", DataError) as raw:
            gzipped = raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            with gzip.GzipFile(fileobj=raw) if gzipped else contextlib.nullcontext(raw) as f:
                reader = _BoundedFile(f, min(MAX_BYTES, budget // 5), path)
                content = BookUnpickler(reader).load()
    except DataError:
        raise
    except pickle.UnpicklingError as e:
        raise DataError(f"{path}: unsafe or malformed pickle, not loaded: {e}") from None
    except Exception as e:
        # Garbage makes the unpickler fail in many ways (EOFError, struct.error,
        # OverflowError, UnicodeError, ...); all mean "not the book's file".
        raise DataError(
            f"{path}: not a readable pickle ({type(e).__name__}: {str(e)[:200]}); expected the "
            "book's mnist.pkl.gz"
        ) from None
    return _check_layout(content, path, dtype, budget)


def _check_layout(
    content: Any, path: Path, dtype: Any, budget: int
) -> tuple[Dataset, Dataset, Dataset]:
    expected = "a tuple (training, validation, test) of (images, labels) pairs"
    if not isinstance(content, (tuple, list)) or len(content) != 3:
        raise DataError(f"{path}: expected {expected}, got {type(content).__name__}")
    pairs = []
    for name, pair in zip(_SET_NAMES, content):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise DataError(f"{path}: the {name} set is not an (images, labels) pair")
        images, labels = pair
        if not (isinstance(images, np.ndarray) and isinstance(labels, np.ndarray)):
            raise DataError(f"{path}: the {name} set does not hold numpy arrays")
        images, labels = np.asarray(images), np.asarray(labels)  # our _Array: plain again
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
        pairs.append((name, images, labels))
    if len({images.shape[1] for _, images, _ in pairs}) != 1:
        raise DataError(f"{path}: the three sets' images have different sizes")
    # Converting holds a float32 copy and the result at once, beside what was read.
    need = sum(images.size * (4 + np.dtype(dtype).itemsize) for _, images, _ in pairs)
    if need > budget:
        raise DataError(
            f"{path}: converting its {sum(len(labels) for *_, labels in pairs):,} images needs "
            f"about {describe_bytes(need)}, over the memory budget of {describe_bytes(budget)}"
        )
    sets = [
        (_images(images, path, name, dtype), labels.astype(np.int64))
        for name, images, labels in pairs
    ]
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
