"""Fuzz the IDX reader: ``read_idx`` on one file, and ``load_mnist`` on a directory of four.

Seeds: small valid IDX files (images 1..50 × 28 × 28 or other sides, labels),
raw and gzipped.  Mutations: generic byte edits (bit flips, interesting
integers, truncation, insertion, deletion, splices) of the raw or the gzipped
bytes; header edits (magic, type code, dimension count, each size set to 0,
1, 2**31 - 1, 2**32 - 1, 2,739,128, ...); gzip bombs (a header declaring up
to 2.1 GB of images followed by that many compressed zeros, cut off at a
random point); concatenated and corrupt gzip members; Git LFS pointers.  Half
of the cases go through ``load_mnist`` (the case is one of the four files,
the other three valid), with a memory budget of 64 MB.

    nice -n 5 python fuzz/fuzz_idx.py --cases 100000
"""

from __future__ import annotations

import gzip
import struct
import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness  # noqa: E402  (first: it pins BLAS to one thread before numpy loads)
import numpy as np  # noqa: E402

from neuraldigits.data.idx import read_idx  # noqa: E402
from neuraldigits.data.mnist import FILES, load_mnist  # noqa: E402

LIBRARY_BUDGET = 64 << 20  # max_bytes= and memory_budget= in the cases
SCRATCH = Path(_harness.tempfile.mkdtemp(prefix="neuraldigits-fuzz-idx-"))


def _idx(array: np.ndarray) -> bytes:
    return struct.pack(f">HBB{array.ndim}I", 0, 8, array.ndim, *array.shape) + array.tobytes()


def _seeds() -> list[bytes]:
    rng = np.random.default_rng(0)
    seeds = []
    for n, side in ((1, 28), (5, 28), (12, 8), (3, 1)):
        seeds.append(_idx(rng.integers(0, 256, (n, side, side), dtype=np.uint8)))
        seeds.append(_idx(rng.integers(0, 10, n, dtype=np.uint8)))
    return seeds


SEEDS = _seeds()
GZIPPED = [gzip.compress(seed, mtime=0) for seed in SEEDS]


def _header_edit(rng: np.random.Generator, data: bytes) -> tuple[bytes, str]:
    """A changed magic, type code, dimension count or size, the data left as it was."""
    out = bytearray(data)
    field = int(rng.integers(4 + 4 * max(1, data[3] if len(data) > 3 else 1)))
    if field < 4:
        out[field] = int(rng.choice([0, 1, 3, 8, 9, 0x0B, 0x0D, 0x0E, 0xFF, 32, 33]))
        return bytes(out), f"header byte {field}"
    at = 4 * (field // 4)
    value = int(rng.choice(_harness.INTERESTING_INTS)) & 0xFFFFFFFF
    out[at : at + 4] = value.to_bytes(4, "big")
    return bytes(out), f"dimension size at {at} = {value}"


def _bomb(rng: np.random.Generator) -> tuple[bytes, str]:
    """A valid-looking header declaring many images, then compressed zeros, maybe cut short."""
    n = int(rng.choice([100, 10_000, 100_000, 2_739_128, 1 << 31]))
    side = int(rng.choice([28, 1, 1000]))
    header = struct.pack(">HBB3I", 0, 8, 3, n & 0xFFFFFFFF, side, side)
    # Compressing megabytes per case would dominate the run; a raw deflate stream of
    # zeros is built from one compressed block repeated (each block holds 64 kB).
    block = zlib.compressobj(9, zlib.DEFLATED, -15)
    one = block.compress(bytes(1 << 16)) + block.flush(zlib.Z_FULL_FLUSH)
    repeats = int(rng.integers(1, 1 << int(rng.integers(1, 13))))
    body = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream = body.compress(header) + body.flush(zlib.Z_FULL_FLUSH) + one * repeats
    if rng.random() < 0.5:
        stream += b"\x03\x00"  # an empty final block: a complete stream
    data = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + stream
    return data, f"gzip bomb declaring {n:,} images of {side}x{side}, {repeats * 64} kB of zeros"


def _mutated(rng: np.random.Generator) -> tuple[bytes, str]:
    k = int(rng.integers(len(SEEDS)))
    choice = rng.random()
    if choice < 0.3:
        return _harness.generic(rng, SEEDS[k], SEEDS)
    if choice < 0.5:
        return _harness.generic(rng, GZIPPED[k], GZIPPED)
    if choice < 0.7:
        data, how = _header_edit(rng, SEEDS[k])
        if rng.random() < 0.5:
            data, how = gzip.compress(data, mtime=0), how + ", gzipped"
        return data, how
    if choice < 0.85:
        return _bomb(rng)
    if choice < 0.9:
        return GZIPPED[k] + _harness.generic(rng, GZIPPED[k], [])[0], "two gzip members"
    if choice < 0.95:
        return b"version https://git-lfs.github.com/spec/v1\noid sha256:00\n", "LFS pointer"
    return rng.bytes(int(rng.integers(0, 200))), "random bytes"


def make(rng: np.random.Generator) -> _harness.Case:
    data, how = _mutated(rng)
    variant = int(rng.integers(8))  # 0-3: read_idx with ndim None/1/3/3; 4-7: load_mnist
    return _harness.Case(data, name="fuzz-idx-ubyte", variant=variant, mutation=how)


def _mnist_dir(case: _harness.Case, path: Path) -> tuple[Path, Path]:
    """A directory with the case as one of the four files and valid others; and that file."""
    directory = path.parent / "mnist"
    directory.mkdir(exist_ok=True)
    rng = np.random.default_rng(case.variant)
    sets = {
        "train": rng.integers(0, 256, (12, 28, 28), dtype=np.uint8),
        "t10k": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
    }
    for key, name in FILES.items():
        (directory / name).unlink(missing_ok=True)
        prefix = "train" if key.startswith("train") else "t10k"
        array = sets[prefix] if key.endswith("images") else np.arange(len(sets[prefix])) % 10
        (directory / name).write_bytes(_idx(np.asarray(array, dtype=np.uint8)))
    chosen = directory / list(FILES.values())[case.variant - 4]
    chosen.write_bytes(case.data)
    return directory, chosen


def target(case: _harness.Case, path: Path) -> object:
    if case.variant < 4:
        ndim = (None, 1, 3, 3)[case.variant]
        return read_idx(path, ndim, max_bytes=LIBRARY_BUDGET)
    directory, chosen = _mnist_dir(case, path)
    try:
        return load_mnist(directory, memory_budget=LIBRARY_BUDGET)
    except Exception as e:
        # Here the case is a standard file name in a directory: its error must name
        # that file (or, for a budget or a mismatch between files, the directory).
        if str(chosen) in str(e) or f"in {directory} " in str(e) or f"in {directory}:" in str(e):
            e.args = (f"{path.name} (as {chosen.name}): {e}",)
        raise


if __name__ == "__main__":
    sys.exit(
        _harness.main("idx", make, target, budget_mb=256, description=__doc__.split("\n\n")[0])
    )
