"""The book's pickle, fuzzed fast: loaded, or a DataError naming the file; never anything run."""

from __future__ import annotations

import gzip
import pickle
import struct

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from support.fuzzing import FAST, check_reader, mutated

from neuraldigits.data.bookpickle import load_book_pickle
from neuraldigits.errors import DataError

RNG = np.random.default_rng(0)
SETS = tuple((RNG.random((n, 16), dtype=np.float32), RNG.integers(0, 10, n)) for n in (4, 2, 2))
SEEDS = [pickle.dumps(SETS, protocol=p) for p in range(pickle.HIGHEST_PROTOCOL + 1)]


def _read(path):
    return load_book_pickle(path, memory_budget=8 << 20)


@FAST
@given(mutated(SEEDS), st.booleans())
def test_mutated_pickles(data, gzipped):
    check_reader(_read, gzip.compress(data, mtime=0) if gzipped else data, "fuzz.pkl", DataError)


GLOBALS = [
    b"cnumpy.core.multiarray\n_reconstruct\n", b"cnumpy\nndarray\n", b"cnumpy\ndtype\n",
    b"cnumpy.core.numeric\n_frombuffer\n", b"c_codecs\nencode\n", b"cos\nsystem\n",
    b"cbuiltins\ngetattr\n",
]  # fmt: skip
PIECES = st.one_of(
    st.sampled_from(GLOBALS),
    st.sampled_from([b"R", b"b", b"t", b"(", b")", b"]", b"}", b"N", b"\x85", b"\x86", b"\x87"]),
    st.sampled_from([b"a", b"e", b"0", b"2", b"\x88", b"\x89", b"i", b"o", b"\x81", b"\x92"]),
    st.integers(-(2**31), 2**31 - 1).map(lambda v: b"J" + struct.pack("<i", v)),
    st.integers(0, 255).map(lambda v: b"K" + bytes([v])),
    st.sampled_from([10**12, 1 << 70, -1]).map(
        lambda v: b"\x8a" + bytes([9]) + v.to_bytes(9, "little", signed=True)
    ),
    st.binary(max_size=12).map(lambda s: b"U" + bytes([len(s)]) + s),
    st.sampled_from([b"\x8e", b"\x8d", b"\x96", b"\x95"]).flatmap(
        lambda op: st.sampled_from([0, 8, 1 << 31, 1 << 40, 2**64 - 1]).map(
            lambda n: op + n.to_bytes(8, "little")
        )
    ),
    st.sampled_from([0, 1 << 20, 2**32 - 1]).map(lambda i: b"r" + struct.pack("<I", i)),
)


@FAST
@given(st.integers(0, 5), st.lists(PIECES, max_size=30))
def test_opcode_programs(protocol, pieces):
    data = b"\x80" + bytes([protocol]) + b"".join(pieces) + b"."
    check_reader(_read, data, "fuzz.pkl", DataError)
