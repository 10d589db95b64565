"""Fuzzing the IDX reader: every malformed file gets the loader's own DataError, quickly.

No numpy traceback, no hang and no huge allocation from a header that lies.
"""

from __future__ import annotations

import gzip
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neuraldigits.data.idx import MAX_DATA_BYTES, read_idx, write_idx
from neuraldigits.errors import DataError

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _read(content: bytes, ndim: int | None = None):
    """read_idx on a file holding ``content``; returns the array or raises."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "fuzz-idx"
        path.write_bytes(content)
        return read_idx(path, ndim=ndim)


def _valid_or_data_error(content: bytes, ndim: int | None = None) -> None:
    try:
        array = _read(content, ndim)
    except DataError as e:
        assert "fuzz-idx" in str(e)  # the message names the file
        return
    # Accepted: then it really was a well-formed IDX file of unsigned bytes.
    assert array.dtype == np.uint8
    assert ndim is None or array.ndim == ndim


@FUZZ
@given(st.binary(max_size=64), st.sampled_from([None, 1, 3]))
def test_random_bytes(content, ndim):
    _valid_or_data_error(content, ndim)


@st.composite
def idx_files(draw):
    """Headers that are plausible or nearly so, followed by too little, enough or too much data."""
    zero = draw(st.sampled_from([0, 0, 0, 1, 0xFFFF]))
    dtype = draw(st.sampled_from([0x08, 0x08, 0x08, 0x09, 0x0D, 0x00]))
    dims = draw(st.integers(0, 70))
    sizes = draw(
        st.lists(
            st.one_of(st.integers(0, 5), st.integers(0, 2**32 - 1)),
            min_size=dims,
            max_size=dims,
        )
    )
    header = struct.pack(f">HBB{dims}I", zero, dtype, dims, *sizes)
    declared = int(np.prod(sizes, dtype=object)) if sizes else 0
    extra = draw(st.integers(-3, 3))
    n_data = max(0, min(declared, 200) + extra)
    body = draw(st.binary(min_size=n_data, max_size=n_data))
    cut = draw(st.one_of(st.none(), st.integers(0, len(header) + len(body))))
    content = header + body
    return content if cut is None else content[:cut]


@FUZZ
@given(idx_files(), st.sampled_from([None, 1, 3]), st.booleans())
def test_random_headers_and_truncations(content, ndim, compress):
    _valid_or_data_error(gzip.compress(content, mtime=0) if compress else content, ndim)


@FUZZ
@given(st.binary(min_size=0, max_size=200))
def test_gzip_garbage(tail):
    # The gzip signature followed by garbage: a corrupt stream, not a crash.
    _valid_or_data_error(b"\x1f\x8b" + tail)


@FUZZ
@given(st.data())
def test_damaged_gzip_of_a_valid_file(data):
    array = data.draw(st.lists(st.integers(0, 255), min_size=1, max_size=50))
    good = gzip.compress(struct.pack(">HBBI", 0, 8, 1, len(array)) + bytes(array), mtime=0)
    where = data.draw(st.integers(0, len(good) - 1))
    how = data.draw(st.sampled_from(["flip", "truncate"]))
    if how == "truncate":
        damaged = good[:where]
    else:
        damaged = good[:where] + bytes([good[where] ^ 0xFF]) + good[where + 1 :]
    _valid_or_data_error(damaged, 1)


def test_products_that_overflow_64_bits_are_refused():
    # 2^32-1 to the third power wraps around in int64 arithmetic; the check must not.
    sizes = [2**32 - 1] * 3
    header = struct.pack(">HBB3I", 0, 8, 3, *sizes)
    with pytest.raises(DataError, match="absurd size"):
        _read(header + b"\0" * 10)


def test_an_empty_array_with_absurd_other_dimensions_is_refused():
    # Found by the fuzzer: numpy cannot even reshape zero bytes to this shape.
    header = struct.pack(">HBB5I", 0, 8, 5, 0, 2044, 2584, 2594, 673253660)
    with pytest.raises(DataError, match="absurd size"):
        _read(header)


def test_more_dimensions_than_numpy_allows_are_refused():
    header = struct.pack(">HBB70I", 0, 8, 70, *([1] * 69 + [0]))
    with pytest.raises(DataError, match="dimensions"):
        _read(header)


def test_huge_declared_size_is_refused_before_reading(tmp_path):
    # A header declaring just over the limit, with almost no data behind it.
    side = int(MAX_DATA_BYTES ** (1 / 3)) + 2
    header = struct.pack(">HBB3I", 0, 8, 3, side, side, side)
    with pytest.raises(DataError, match="absurd size"):
        _read(header + b"\0" * 100, 3)


def test_gzip_bomb_claiming_a_lot_is_cut_off(tmp_path):
    # 64 MiB of zeros compresses to ~64 KiB; the header claims 2 GB, so reading
    # stops at the real end of data with a truncation error, holding only 64 MiB.
    header = struct.pack(">HBB3I", 0, 8, 3, 2000, 1024, 1024)
    payload = gzip.compress(header + bytes(64 << 20), compresslevel=1, mtime=0)
    path = tmp_path / "bomb.gz"
    path.write_bytes(payload)
    with pytest.raises(DataError, match="truncated"):
        read_idx(path, 3)


def test_valid_files_round_trip(tmp_path):
    for shape in [(0,), (3,), (2, 3, 4), (1, 28, 28)]:
        array = np.arange(np.prod(shape), dtype=np.uint8).reshape(shape)
        write_idx(tmp_path / "ok", array, compress=len(shape) == 3)
        np.testing.assert_array_equal(read_idx(tmp_path / "ok"), array)


def test_an_empty_image_file_is_refused_with_the_loaders_error(tmp_path):
    from neuraldigits.data.mnist import load_idx_pair

    write_idx(tmp_path / "images", np.zeros((0, 28, 28), dtype=np.uint8))
    write_idx(tmp_path / "labels", np.zeros((0,), dtype=np.uint8))
    with pytest.raises(DataError, match="holds no images"):
        load_idx_pair(tmp_path / "images", tmp_path / "labels")
