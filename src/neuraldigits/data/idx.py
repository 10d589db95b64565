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

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ..errors import DataError

GZIP_SIGNATURE = b"\x1f\x8b"
LFS_SIGNATURE = b"version https://git-lfs"
UBYTE = 0x08
_CHUNK = 1 << 20
# No IDX data set we read comes near this (EMNIST's largest is ~0.6 GB); a header
# claiming more is lying, or a gzip bomb.
MAX_DATA_BYTES = 1 << 31
# numpy 1.x arrays have at most 32 dimensions; real IDX files have 1 to 4.
MAX_DIMS = 32


def read_idx(path: str | os.PathLike[str], ndim: int | None = None) -> NDArray[np.uint8]:
    """The unsigned-byte array stored in the IDX file at ``path``.

    ``ndim``, when given, is the number of dimensions the caller expects
    (1 for labels, 3 for images); any other count is refused.
    """
    path = Path(path)
    try:
        with open(path, "rb") as raw:
            start = raw.read(len(LFS_SIGNATURE))
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, expected an IDX file") from None
    if start.startswith(LFS_SIGNATURE):
        raise DataError(
            f"{path}: is a Git LFS pointer file, not the data itself; fetch the real file "
            "(e.g. `git lfs pull`) or download MNIST afresh"
        )
    gzipped = start.startswith(GZIP_SIGNATURE)
    opener = gzip.open if gzipped else open
    try:
        with opener(path, "rb") as f:
            return _parse(f, path, ndim, gzipped)
    except (OSError, EOFError, zlib.error) as e:
        # gzip.BadGzipFile is an OSError; a truncated stream raises EOFError.
        what = "gzip stream" if gzipped else "file"
        raise DataError(f"{path}: corrupt or truncated {what} ({e})") from None


def _parse(f, path: Path, ndim: int | None, gzipped: bool) -> NDArray[np.uint8]:
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
    shape = struct.unpack(f">{dims}I", _read_exactly(f, 4 * dims, path, f"{dims} dimension sizes"))
    # Python ints: numpy's int64 product would wrap around for a lying header.
    expected = math.prod(shape)
    # Zero-sized dimensions aside (an empty set), the others must still be sane:
    # numpy refuses to build even an empty array of shape (0, 2**31, 2**31).
    if math.prod(size for size in shape if size) > MAX_DATA_BYTES:
        raise DataError(
            f"{path}: header claims an absurd size {shape} (over {MAX_DATA_BYTES:,} bytes)"
        )
    data = bytearray()
    while len(data) <= expected:
        chunk = f.read(min(_CHUNK, expected + 1 - len(data)))
        if not chunk:
            break
        data += chunk
    header_bytes = 4 + 4 * dims
    if len(data) < expected:
        kind = "decompressed " if gzipped else ""
        raise DataError(
            f"{path}: truncated: header declares shape {shape}, needing "
            f"{header_bytes + expected:,} {kind}bytes, but the file holds "
            f"{header_bytes + len(data):,}"
        )
    if len(data) > expected:
        raise DataError(
            f"{path}: longer than its header declares (shape {shape}, "
            f"{header_bytes + expected:,} bytes): not a well-formed IDX file"
        )
    # frombuffer on the bytearray shares its memory: no second copy of the data.
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


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
