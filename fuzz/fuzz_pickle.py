"""Fuzz ``load_book_pickle``, the reader of the book's ``mnist.pkl.gz``.

Seeds: the book's layout (three (images, labels) pairs) pickled by Python 3
with every protocol 0–5, and a Python 2 style protocol-2 pickle written opcode
by opcode (byte strings as STRING opcodes), each raw and gzipped.
Mutations: generic byte edits (bit flips, interesting integers, truncation,
insertion, deletion, splices); opcode programs built from a grammar
(GLOBAL/STACK_GLOBAL of allowed and forbidden names, REDUCE and BUILD with
random arguments and states — huge or negative shapes, mismatched data,
lists and dicts as targets —, length fields up to 2**64 - 1 for
BINBYTES8/BINUNICODE8/BYTEARRAY8/FRAME, memo indices up to 2**32 - 1, deep
MARK nesting, long runs of cheap opcodes); and such fragments inserted at
opcode boundaries of the seeds.  Every case runs with a memory budget of 64 MB.

    nice -n 5 python fuzz/fuzz_pickle.py --cases 100000
"""

from __future__ import annotations

import gzip
import pickle
import pickletools
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness  # noqa: E402  (first: it pins BLAS to one thread before numpy loads)
import numpy as np  # noqa: E402

from neuraldigits.data.bookpickle import load_book_pickle  # noqa: E402

LIBRARY_BUDGET = 64 << 20  # memory_budget= in the cases


def _book_sets(rng: np.random.Generator, uint8: bool = False):
    sets = []
    for n in (5, 2, 2):
        images = rng.random((n, 16), dtype=np.float32)
        if uint8:
            images = (images * 255).astype(np.uint8)
        sets.append((images, rng.integers(0, 10, n)))
    return tuple(sets)


def _py2_array(array: np.ndarray) -> bytes:
    """numpy's protocol-2 pickle of an array as Python 2 wrote it (STRING data)."""
    dtype = array.dtype.str[1:].encode()
    data = array.tobytes()
    shape = b"(" + b"".join(b"J" + struct.pack("<i", s) for s in array.shape) + b"t"
    return (
        b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R(K\x01"
        + shape
        + b"cnumpy\ndtype\nU"
        + bytes([len(dtype)])
        + dtype
        + b"K\x00K\x01\x87R(K\x03U\x01<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89T"
        + struct.pack("<I", len(data))
        + data
        + b"tb"
    )


def _seeds() -> list[bytes]:
    rng = np.random.default_rng(0)
    seeds = [pickle.dumps(_book_sets(rng), protocol=p) for p in range(pickle.HIGHEST_PROTOCOL + 1)]
    seeds.append(pickle.dumps(_book_sets(rng, uint8=True), protocol=2))
    sets = _book_sets(rng)
    seeds.append(
        b"\x80\x02" + b"".join(_py2_array(x) + _py2_array(y) + b"\x86" for x, y in sets) + b"\x87."
    )
    return seeds


SEEDS = _seeds()
GZIPPED = [gzip.compress(seed, mtime=0) for seed in SEEDS]

NAMES = [
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.numeric", "_frombuffer"),
    ("_codecs", "encode"), ("os", "system"), ("builtins", "eval"), ("builtins", "getattr"),
    ("numpy", "frombuffer"), ("numpy.lib.format", "read_array"), ("builtins", "list"),
    ("copyreg", "_reconstructor"), ("numpy", "zeros"),
]  # fmt: skip
LENGTHS = [0, 1, 8, 255, 1 << 16, 1 << 31, (1 << 32) - 1, 1 << 40, (1 << 63) - 1, (1 << 64) - 1]


def _int(rng: np.random.Generator) -> bytes:
    value = int(rng.choice(_harness.INTERESTING_INTS + (-1, -(1 << 31))))
    kind = rng.random()
    if kind < 0.4 and 0 <= value < 256:
        return b"K" + bytes([value])
    if kind < 0.7 and -(1 << 31) <= value < (1 << 31):
        return b"J" + struct.pack("<i", value)
    big = int(rng.choice([value, 10**12, -(10**12), 1 << 70]))
    raw = big.to_bytes((big.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(raw)]) + raw


def _string(rng: np.random.Generator) -> bytes:
    text = rng.choice([b"b", b"f4", b"<f4", b"u1", b"O", b"i8", b"V8", b"<", b"latin1", b"x" * 300])
    kind = int(rng.integers(4))
    if kind == 0:
        return b"U" + bytes([len(text) & 0xFF]) + text[:255]
    if kind == 1:
        return b"X" + struct.pack("<I", len(text)) + text
    if kind == 2:
        return b"C" + bytes([len(text) & 0xFF]) + text[:255]
    return b"\x8c" + bytes([len(text) & 0xFF]) + text[:255]


def _length_opcode(rng: np.random.Generator) -> bytes:
    """An opcode whose length field claims far more than follows."""
    length = int(rng.choice(LENGTHS))
    opcode = rng.choice([b"\x8e", b"\x8d", b"\x96", b"\x95", b"T", b"B", b"X"])
    width = 8 if opcode in (b"\x8e", b"\x8d", b"\x96", b"\x95") else 4
    return opcode + (length % (1 << (8 * width))).to_bytes(width, "little") + rng.bytes(16)


def _fragment(rng: np.random.Generator, depth: int = 0) -> bytes:
    """A short opcode program from a grammar of what array pickles do, and worse."""
    parts = []
    for _ in range(int(rng.integers(1, 8))):
        choice = rng.random()
        if choice < 0.15:
            module, name = NAMES[int(rng.integers(len(NAMES)))]
            if rng.random() < 0.5:
                parts.append(b"c" + module.encode() + b"\n" + name.encode() + b"\n")
            else:
                parts.append(
                    b"\x8c" + bytes([len(module)]) + module.encode()
                    + b"\x8c" + bytes([len(name)]) + name.encode() + b"\x93"
                )  # fmt: skip
        elif choice < 0.3:
            parts.append(b"(" + b"".join(_int(rng) for _ in range(int(rng.integers(0, 4)))) + b"t")
        elif choice < 0.4:
            parts.append(_string(rng))
        elif choice < 0.5:
            parts.append(rng.choice([b"R", b"b", b"\x85", b"\x86", b"\x87", b"t", b"0", b"2"]))
        elif choice < 0.55:
            parts.append(_length_opcode(rng))
        elif choice < 0.6:
            parts.append(b"r" + struct.pack("<I", int(rng.choice([0, 5, 1 << 20, (1 << 32) - 1]))))
        elif choice < 0.65:
            parts.append(b"h" + bytes([int(rng.integers(256))]))
        elif choice < 0.7:
            parts.append(rng.choice([b"]", b"}", b")", b"N", b"\x88", b"\x89", b"(", b"a", b"e"]))
        elif choice < 0.75:
            parts.append(b"(" * int(rng.choice([10, 1000, 20_000])))
        elif choice < 0.8:
            parts.append(b"N0" * int(rng.choice([10, 5000, 20_000])))
        elif choice < 0.85:
            parts.append(rng.choice([b"\x81", b"\x92", b"o", b"i", b"P0\n", b"Q", b"\x82\x01"]))
        elif choice < 0.9 and depth < 2:
            parts.append(_fragment(rng, depth + 1))
        else:
            parts.append(_int(rng))
    return b"".join(parts)


def _program(rng: np.random.Generator) -> bytes:
    head = b"\x80" + bytes([int(rng.integers(0, 7))]) if rng.random() < 0.8 else b""
    return head + _fragment(rng) + (b"." if rng.random() < 0.8 else b"")


def _insert_at_opcode(rng: np.random.Generator, data: bytes) -> bytes:
    positions = [pos for _, _, pos in pickletools.genops(data)]
    at = positions[int(rng.integers(len(positions)))]
    if rng.random() < 0.5:  # replace an opcode by a fragment
        later = [p for p in positions if p > at]
        return data[:at] + _fragment(rng) + data[later[0] if later else len(data) :]
    return data[:at] + _fragment(rng) + data[at:]


SEED_OPCODES = [list(pickletools.genops(seed)) for seed in SEEDS]


def make(rng: np.random.Generator) -> _harness.Case:
    k = int(rng.integers(len(SEEDS)))
    choice = rng.random()
    if choice < 0.3:
        data, how = _harness.generic(rng, SEEDS[k], SEEDS)
    elif choice < 0.4:
        data, how = _harness.generic(rng, GZIPPED[k], GZIPPED)
    elif choice < 0.7:
        data, how = _program(rng), "opcode program"
    else:
        data, how = _insert_at_opcode(rng, SEEDS[k]), f"fragment in seed {k}"
    if rng.random() < 0.2:
        data, how = gzip.compress(data, mtime=0), how + ", gzipped"
    return _harness.Case(data, name="fuzz-mnist.pkl", mutation=how)


def target(case: _harness.Case, path: Path) -> object:
    return load_book_pickle(path, memory_budget=LIBRARY_BUDGET)


if __name__ == "__main__":
    sys.exit(
        _harness.main("pickle", make, target, budget_mb=256, description=__doc__.split("\n\n")[0])
    )
