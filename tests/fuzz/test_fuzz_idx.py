"""IDX files, fuzzed fast: read_idx and load_mnist return valid data or a DataError naming the file.

(tests/data/test_idx.py fuzzes read_idx's raw bytes and headers; these add gzip
bombs, gzipped mutations and the whole of load_mnist with a memory budget.)
"""

from __future__ import annotations

import gzip
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from support.fuzzing import FAST, INTERESTING, check_reader, mutated

from neuraldigits.data.idx import read_idx
from neuraldigits.data.mnist import FILES, load_mnist
from neuraldigits.errors import DataError


def _idx(array: np.ndarray) -> bytes:
    return struct.pack(f">HBB{array.ndim}I", 0, 8, array.ndim, *array.shape) + array.tobytes()


RNG = np.random.default_rng(0)
SEEDS = [
    _idx(RNG.integers(0, 256, (3, 28, 28), dtype=np.uint8)),
    _idx(np.arange(3, dtype=np.uint8)),
    _idx(RNG.integers(0, 256, (2, 5, 7), dtype=np.uint8)),
]
GZIPPED = [gzip.compress(seed, mtime=0) for seed in SEEDS]


@FAST
@given(mutated(SEEDS + GZIPPED), st.sampled_from([None, 1, 3]))
def test_mutated_files(data, ndim):
    read = lambda p: read_idx(p, ndim, max_bytes=1 << 20)  # noqa: E731
    array = check_reader(read, data, "fuzz-idx", DataError)
    assert array is None or (array.dtype == np.uint8 and (ndim is None or array.ndim == ndim))


@FAST
@given(
    st.sampled_from([1, 100, 10_000, 2_739_128, 0xFFFFFFFF]),
    st.sampled_from([1, 28, 1000]),
    st.integers(0, 64),
    st.booleans(),
)
def test_gzip_bombs_stop_at_the_budget(count, side, blocks, complete):
    """A header declaring many images, then up to 4 MB of compressed zeros."""
    header = struct.pack(">HBB3I", 0, 8, 3, count, side, side)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = deflate.compress(bytes(1 << 16)) + deflate.flush(zlib.Z_FULL_FLUSH)
    first = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream = first.compress(header) + first.flush(zlib.Z_FULL_FLUSH) + zeros * blocks
    data = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + stream + (b"\x03\x00" if complete else b"")
    check_reader(lambda p: read_idx(p, 3, max_bytes=1 << 20), data, "fuzz-bomb.gz", DataError)


@FAST
@given(st.sampled_from(list(FILES)), mutated(SEEDS + GZIPPED), st.sampled_from(INTERESTING))
def test_load_mnist_with_one_bad_file(which, data, count):
    with tempfile.TemporaryDirectory() as directory:
        directory = Path(directory)
        for key, name in FILES.items():
            n = 3 if key.startswith("train") else 2
            images = key.endswith("images")
            shape = (n, 28, 28) if images else (n,)
            (directory / name).write_bytes(_idx(np.zeros(shape, dtype=np.uint8)))
        if count % 2:  # sometimes a valid header declaring ``count`` images instead
            data = struct.pack(">HBB3I", 0, 8, 3, count, 28, 28) + bytes(100)
        bad = directory / FILES[which]
        bad.write_bytes(data)
        try:
            load_mnist(directory, memory_budget=1 << 20)
        except DataError as e:
            assert str(bad) in str(e) or str(directory) in str(e), e
