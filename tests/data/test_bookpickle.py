"""The book's mnist.pkl.gz: read through an unpickler that can only rebuild numeric arrays."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct

import numpy as np
import pytest

from neuraldigits.data import bookpickle
from neuraldigits.data.bookpickle import load_book_pickle
from neuraldigits.data.sources import load_data
from neuraldigits.errors import DataError


def book_sets(n=(30, 10, 10), seed=0):
    """Data in the book's layout: float32 images in [0, 1], int64 labels."""
    rng = np.random.default_rng(seed)
    return tuple((rng.random((k, 784), dtype=np.float32), rng.integers(0, 10, k)) for k in n)


def write_gz(path, payload: bytes):
    path.write_bytes(gzip.compress(payload, mtime=0))
    return path


def assert_same(loaded, original):
    for (x, y), (ox, oy) in zip(loaded, original):
        np.testing.assert_array_equal(x, ox)
        np.testing.assert_array_equal(y, oy)
        assert x.dtype == np.float32 and y.dtype == np.int64


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_python3_pickles_of_every_protocol(tmp_path, protocol):
    sets = book_sets()
    path = write_gz(tmp_path / "mnist.pkl.gz", pickle.dumps(sets, protocol=protocol))
    assert_same(load_book_pickle(path), sets)


# A Python 2 cPickle (protocol 2) of numpy arrays, written opcode by opcode:
# byte strings are STRING opcodes, which Python 3 must decode as latin-1.
def _py2_str(data: bytes) -> bytes:
    if len(data) < 256:
        return b"U" + bytes([len(data)]) + data
    return b"T" + struct.pack("<I", len(data)) + data


def _py2_int(value: int) -> bytes:
    return b"K" + bytes([value]) if 0 <= value < 256 else b"J" + struct.pack("<i", value)


def _py2_array(array: np.ndarray) -> bytes:
    dtype = {np.float32: b"f4", np.int64: b"i8"}[array.dtype.type]
    shape = b"(" + b"".join(_py2_int(s) for s in array.shape) + b"t"
    return (
        b"cnumpy.core.multiarray\n_reconstruct\n"
        + b"cnumpy\nndarray\n"
        + _py2_int(0)
        + b"\x85"
        + _py2_str(b"b")
        + b"\x87R"
        + b"("
        + _py2_int(1)
        + shape
        + b"cnumpy\ndtype\n"
        + _py2_str(dtype)
        + _py2_int(0)
        + _py2_int(1)
        + b"\x87R"
        + b"("
        + _py2_int(3)
        + _py2_str(b"<")
        + b"NNN"
        + _py2_int(-1)
        + _py2_int(-1)
        + _py2_int(0)
        + b"tb"
        + b"\x89"
        + _py2_str(array.tobytes())
        + b"tb"
    )


def py2_pickle(sets) -> bytes:
    pairs = b"".join(_py2_array(x) + _py2_array(y) + b"\x86" for x, y in sets)
    return b"\x80\x02" + pairs + b"\x87."


def test_a_python2_pickle_is_read_with_its_bytes_intact(tmp_path):
    sets = book_sets()
    raw = py2_pickle(sets)
    # The image bytes include values >= 0x80, which only latin-1 maps back exactly.
    assert max(sets[0][0].tobytes()) >= 0x80
    with pytest.raises(UnicodeDecodeError):
        pickle.loads(raw)  # what plain Python 3 pickle does with the book's file
    assert_same(load_book_pickle(write_gz(tmp_path / "mnist.pkl.gz", raw)), sets)
    # An unzipped copy works too.
    (tmp_path / "mnist.pkl").write_bytes(raw)
    assert_same(load_book_pickle(tmp_path / "mnist.pkl"), sets)


class _Evil:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


class _EvilOpen:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (str(self.target), "w"))


@pytest.mark.parametrize("protocol", [0, 2, 4])
@pytest.mark.parametrize("evil", [_Evil, _EvilOpen])
def test_a_malicious_pickle_is_refused_and_runs_nothing(tmp_path, protocol, evil):
    target = tmp_path / "pwned"
    payload = pickle.dumps(((evil(target), np.zeros(1)),) + book_sets()[1:], protocol=protocol)
    # Make sure the payload really would create the file if unpickled normally.
    control = tmp_path / "control"
    made = pickle.loads(pickle.dumps(evil(control), protocol=protocol))
    if hasattr(made, "close"):
        made.close()
    assert control.exists()
    path = write_gz(tmp_path / "mnist.pkl.gz", payload)
    with pytest.raises(DataError, match="refusing to load") as e:
        load_book_pickle(path)
    assert str(path) in str(e.value)
    assert not target.exists()


def test_object_arrays_are_refused(tmp_path):
    sets = book_sets()
    evil = ((np.array([1, "x"], dtype=object), sets[0][1]),) + sets[1:]
    path = write_gz(tmp_path / "mnist.pkl.gz", pickle.dumps(evil, protocol=2))
    with pytest.raises(DataError, match="only numbers"):
        load_book_pickle(path)


def test_an_array_pickle_asking_for_a_huge_allocation_is_refused(tmp_path):
    raw = py2_pickle(book_sets())
    huge = raw.replace(b"K\x00\x85U\x01b", b"J\x00\x00\x00\x7f\x85U\x01b", 1)
    assert huge != raw
    with pytest.raises(DataError, match="unexpected array construction"):
        load_book_pickle(write_gz(tmp_path / "x.pkl.gz", huge))


def test_a_decompression_bomb_is_cut_off(tmp_path, monkeypatch):
    monkeypatch.setattr(bookpickle, "MAX_BYTES", 10_000)
    path = write_gz(tmp_path / "x.pkl.gz", pickle.dumps(book_sets(), protocol=2))
    with pytest.raises(DataError, match="decompresses to over"):
        load_book_pickle(path)


@pytest.mark.parametrize(
    "content, message",
    [
        ((1, 2), "expected a tuple"),
        ("not data", "expected a tuple"),
        (((np.zeros((2, 784), np.float32),),) * 3, "not an .images, labels. pair"),
        (((np.zeros((2, 784), np.float32), np.zeros(3, np.int64)),) * 3, "shape"),
        (((np.zeros((2, 784), np.float32), np.array([0, 10])),) * 3, "0..9"),
        (((np.zeros((2, 784), np.float32), np.array([0.0, 1.0])),) * 3, "0..9"),
        (((np.full((2, 784), 2.0, np.float32), np.array([0, 1])),) * 3, r"\[0, 1\]"),
        (((np.zeros((2, 784), np.float32), [0, 1]),) * 3, "numpy arrays"),
    ],
)
def test_wrong_layouts_are_refused(tmp_path, content, message):
    path = write_gz(tmp_path / "x.pkl.gz", pickle.dumps(content, protocol=2))
    with pytest.raises(DataError, match=message):
        load_book_pickle(path)


@pytest.mark.parametrize(
    "payload",
    [b"", b"garbage that is not a pickle", b"\x80\x02", pickle.dumps(book_sets())[:500]],
)
def test_garbage_and_truncated_files_are_refused(tmp_path, payload):
    for path in (tmp_path / "raw.pkl", write_gz(tmp_path / "gz.pkl.gz", payload)):
        if path.suffix == ".pkl":
            path.write_bytes(payload)
        with pytest.raises(DataError, match=str(path.name)):
            load_book_pickle(path)
    (tmp_path / "bad.gz").write_bytes(b"\x1f\x8b" + b"\0" * 20)
    with pytest.raises(DataError, match="bad.gz"):
        load_book_pickle(tmp_path / "bad.gz")


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_book_pickle(tmp_path / "nope.pkl.gz")
    with pytest.raises(DataError, match="is a directory"):
        load_book_pickle(tmp_path)


def test_dtype_choice_and_load_data_accepts_the_pickle(tmp_path):
    sets = book_sets()
    path = write_gz(tmp_path / "mnist.pkl.gz", pickle.dumps(sets, protocol=2))
    (x, _), _, _ = load_book_pickle(path, dtype=np.uint8)
    np.testing.assert_array_equal(x, np.rint(sets[0][0] * 255).astype(np.uint8))
    loaded = load_data(path)
    assert "book's pickle" in loaded.source and not loaded.is_sample
    assert_same((loaded.training, loaded.validation, loaded.test), sets)


# ---------------------------------------------------------------------- hostile pickles (issue 15)


def _ndarray_call(shape) -> bytes:
    """numpy.ndarray(shape) through REDUCE: the short way to ask for any allocation."""
    return b"cnumpy\nndarray\n(" + b"".join(_py2_int(s) for s in shape) + b"t\x85R"


def _array_with_state(shape: bytes, data: bytes = b"U\x00") -> bytes:
    """An empty array from _reconstruct, then BUILD with a state of this shape and data."""
    return (
        b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R(K\x01"
        + shape
        + b"cnumpy\ndtype\nU\x02f4K\x00K\x01\x87R(K\x03U\x01<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xff"
        + b"K\x00tb\x89"
        + data
        + b"tb"
    )


def test_numpy_ndarray_cannot_be_called_to_allocate(tmp_path):
    one = _ndarray_call((1_000_000, 784)) + _ndarray_call((1_000_000,)) + b"\x86"
    raw = b"\x80\x02" + one * 3 + b"\x87."
    path = tmp_path / "x.pkl"
    path.write_bytes(raw)  # ~130 bytes asking for 3 × 6.3 GB of float64 images
    with pytest.raises(DataError, match="refusing to call numpy.ndarray directly"):
        load_book_pickle(path)


def test_a_state_declaring_a_huge_shape_is_refused_before_allocating(tmp_path):
    shape = b"\x8a\x06" + (10**12).to_bytes(6, "little") + b"\x85"
    raw = b"\x80\x02" + _array_with_state(shape) + b"."
    path = tmp_path / "x.pkl"
    path.write_bytes(raw)
    with pytest.raises(DataError, match=r"shape \(1000000000000,\) .* with 0 bytes of data"):
        load_book_pickle(path)
    # The same state with matching data is read: the check is on the shape, not the path.
    good = b"\x80\x02" + _array_with_state(b"K\x02\x85", b"U\x08" + b"\x00" * 8) + b"."
    reader = bookpickle._BoundedFile(io.BytesIO(good), 1000, path)
    np.testing.assert_array_equal(bookpickle.BookUnpickler(reader).load(), np.zeros(2))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\x80\x02]Nb.", "refusing to BUILD a list"),
        (b"\x80\x04\x8e" + b"\xff" * 8, "BINBYTES8 exceeds"),
        (b"\x80\x04\x8e" + (1 << 40).to_bytes(8, "little"), "declares a string of"),
        (b"\x80\x05\x96" + (1 << 40).to_bytes(8, "little"), "more than the file holds"),
        (b"\x80\x04\x95" + (1 << 40).to_bytes(8, "little"), "declares a string of"),
        (b"\x80\x02]r\xff\xff\xff\x7f.", "expected a tuple"),  # a memo index of 2**31 - 1
        (b"\x80\x02" + b"N0" * 6000 + b"N.", "more than 10,000 pickle opcodes"),
        (b"\x80\x02}.", "refusing pickle opcode"),
        (b"\x80\x02L" + b"9" * 5000 + b"L\n.", "not a readable pickle"),
        (b"\x80\x02(" * 100_000 + b".", "more than 10,000 pickle opcodes"),
    ],
)
def test_hostile_opcodes_are_a_data_error(tmp_path, raw, message):
    path = tmp_path / "x.pkl"
    path.write_bytes(raw)
    with pytest.raises(DataError, match=message):
        load_book_pickle(path)


def test_the_converted_images_must_fit_the_memory_budget(tmp_path):
    sets = tuple((np.zeros((n, 784), np.uint8), np.zeros(n, np.int64)) for n in (30, 10, 10))
    path = write_gz(tmp_path / "x.pkl.gz", pickle.dumps(sets, protocol=2))
    assert load_book_pickle(path, memory_budget=1 << 20)[0][0].dtype == np.float32
    with pytest.raises(DataError, match="over the memory budget of 250.0 kB"):
        load_book_pickle(path, memory_budget=250_000)  # 50 images need 313.6 kB as float32


def test_a_fifo_is_refused_without_hanging(tmp_path):
    os.mkfifo(tmp_path / "mnist.pkl.gz")
    with pytest.raises(DataError, match="is a FIFO"):
        load_book_pickle(tmp_path / "mnist.pkl.gz")
