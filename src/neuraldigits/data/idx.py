"""Reading IDX files, the format of MNIST and its relatives, without trusting them.

An IDX file is a big-endian header — two zero bytes, a type code, the number of
dimensions d, then d 32-bit sizes — followed by the data.  MNIST's images are
unsigned bytes with d = 3 (magic 0x00000803) and its labels d = 1 (0x00000801).
Files may be gzipped; we decide by the content (gzip's 1f 8b signature), not the
name.  Every way a file can be wrong raises :class:`~neuraldigits.errors.DataError`
naming the file: a header that claims more data than the file holds is caught
before any large allocation, because we read in bounded chunks.
"""

from __future__ import annotations

import contextlib
import gzip
import math
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numpy.typing import NDArray

from ..budget import describe as describe_bytes
from ..errors import DataError
from ..untrusted import open_regular

GZIP_SIGNATURE = b"\x1f\x8b"
LFS_SIGNATURE = b"version https://git-lfs"
UBYTE = 0x08
_CHUNK = 1 << 20
# No IDX data set we read comes near this (EMNIST's largest is ~0.6 GB); a header
# claiming more is lying, or a gzip bomb.
MAX_DATA_BYTES = 1 << 31
# numpy 1.x arrays have at most 32 dimensions; real IDX files have 1 to 4.
MAX_DIMS = 32


def read_idx(
    path: str | os.PathLike[str], ndim: int | None = None, *, max_bytes: int | None = None
) -> NDArray[np.uint8]:
    """The unsigned-byte array stored in the IDX file at ``path``.

    ``ndim``, when given, is the number of dimensions the caller expects
    (1 for labels, 3 for images); any other count is refused.  ``max_bytes``
    (default :data:`MAX_DATA_BYTES`) caps the data the header may declare: a
    larger claim is refused before anything is read.
    """
    path = Path(path)
    limit = MAX_DATA_BYTES if max_bytes is None else min(max_bytes, MAX_DATA_BYTES)
    with _open(path) as (f, gzipped, size):
        return _parse(f, path, ndim, gzipped, size, limit)


def read_idx_shape(path: str | os.PathLike[str], ndim: int | None = None) -> tuple[int, ...]:
    """The shape the IDX file at ``path`` declares, reading only its header.

    For budgeting memory before loading: nothing but the header is decompressed.
    """
    path = Path(path)
    with _open(path) as (f, _, _):
        return _header(f, path, ndim)


@contextlib.contextmanager
def _open(path: Path) -> Iterator[tuple[BinaryIO, bool, int]]:
    """``(stream, gzipped, file size)`` for ``path``, every failure a DataError naming it."""
    with open_regular(path, "an IDX file", DataError) as raw:
        size = os.fstat(raw.fileno()).st_size
        start = raw.read(len(LFS_SIGNATURE))
        if start.startswith(LFS_SIGNATURE):
            raise DataError(
                f"{path}: is a Git LFS pointer file, not the data itself; fetch the real file "
                "(e.g. `git lfs pull`) or download MNIST afresh"
            )
        raw.seek(0)
        gzipped = start.startswith(GZIP_SIGNATURE)
        try:
            if gzipped:
                with gzip.GzipFile(fileobj=raw) as f:
                    yield f, True, size
            else:
                yield raw, False, size
        except (OSError, EOFError, zlib.error) as e:
            # gzip.BadGzipFile is an OSError; a truncated stream raises EOFError.
            what = "gzip stream" if gzipped else "file"
            raise DataError(f"{path}: corrupt or truncated {what} ({e})") from None


def _header(f: BinaryIO, path: Path, ndim: int | None) -> tuple[int, ...]:
    header = _read_exactly(f, 4, path, "the 4-byte IDX magic number")
    zero, dtype_code, dims = struct.unpack(">HBB", header)
    magic = int.from_bytes(header, "big")
    if zero != 0 or dtype_code != UBYTE or dims == 0 or (ndim is not None and dims != ndim):
        want = f"0x{UBYTE << 8 | ndim:08x}" if ndim is not None else "0x000008NN"
        raise DataError(
            f"{path}: wrong magic number 0x{magic:08x}, expected {want} "
            f"(an IDX file of unsigned bytes{'' if ndim is None else f' with {ndim} dimensions'})"
        )
    if dims > MAX_DIMS:
        raise DataError(f"{path}: header declares {dims} dimensions, more than {MAX_DIMS}")
    return struct.unpack(f">{dims}I", _read_exactly(f, 4 * dims, path, f"{dims} dimension sizes"))


def _parse(
    f: BinaryIO, path: Path, ndim: int | None, gzipped: bool, size: int, limit: int
) -> NDArray[np.uint8]:
    shape = _header(f, path, ndim)
    # Python ints: numpy's int64 product would wrap around for a lying header.
    expected = math.prod(shape)
    # Zero-sized dimensions aside (an empty set), the others must still be sane:
    # numpy refuses to build even an empty array of shape (0, 2**31, 2**31).
    declared = math.prod(n for n in shape if n)
    if declared > MAX_DATA_BYTES:
        raise DataError(
            f"{path}: header claims an absurd size {shape} (over {MAX_DATA_BYTES:,} bytes)"
        )
    if declared > limit:
        raise DataError(
            f"{path}: header declares shape {shape}, {describe_bytes(declared)} of data, over "
            f"the memory budget of {describe_bytes(limit)}"
        )
    header_bytes = 4 + 4 * len(shape)
    if not gzipped and size != header_bytes + expected:
        # A plain file's size says at once whether the header tells the truth.
        _refuse_length(path, shape, header_bytes, expected, size - header_bytes, gzipped)
    data = bytearray()
    while len(data) <= expected:
        chunk = f.read(min(_CHUNK, expected + 1 - len(data)))
        if not chunk:
            break
        data += chunk
    if len(data) != expected:
        _refuse_length(path, shape, header_bytes, expected, len(data), gzipped)
    # frombuffer on the bytearray shares its memory: no second copy of the data.
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


def _refuse_length(
    path: Path, shape: tuple[int, ...], header_bytes: int, expected: int, held: int, gzipped: bool
) -> None:
    if held < expected:
        kind = "decompressed " if gzipped else ""
        raise DataError(
            f"{path}: truncated: header declares shape {shape}, needing "
            f"{header_bytes + expected:,} {kind}bytes, but the file holds "
            f"{header_bytes + held:,}"
        )
    raise DataError(
        f"{path}: longer than its header declares (shape {shape}, "
        f"{header_bytes + expected:,} bytes): not a well-formed IDX file"
    )


def _read_exactly(f, n: int, path: Path, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise DataError(f"{path}: truncated: file ends before {what}")
    return data


def write_idx(path: str | os.PathLike[str], array: NDArray, *, compress: bool = False) -> Path:
    """Write a uint8 array as an IDX file (gzipped if ``compress``), atomically."""
    from ..atomic import atomic_write

    array = np.ascontiguousarray(array)
    if array.dtype != np.uint8 or not 1 <= array.ndim <= 255:
        raise ValueError(f"write_idx needs a uint8 array of 1 to 255 dimensions, got {array.dtype}")
    header = struct.pack(f">HBB{array.ndim}I", 0, UBYTE, array.ndim, *array.shape)
    path = Path(path)
    with atomic_write(path) as f:
        if compress:
            with gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as g:
                g.write(header)
                g.write(array.tobytes())
        else:
            f.write(header)
            f.write(array.tobytes())
    return path
