"""Fuzz ``neuraldigits.modelfile.load`` with mutated model files.

Seeds: models saved by ``modelfile.save`` (float32 and float64, 2 to 4 layers,
stored and deflated), plus files that are not models (a PNG, text, a lone
.npy, a pickle, gzip).  Mutations: generic byte edits (bit flips, interesting
integers, truncation, insertion, deletion, splices); zip directory edits (flag
bits incl. encryption, compression method, declared sizes, name lengths,
member counts and directory size in the end record, zip64 locators);
archives rebuilt with edited members (``.npy`` headers with huge, negative or
malformed shapes, other dtypes, object arrays, Fortran order, wrong header
lengths; extra, missing, duplicated and oddly named members; deflate bombs);
and edited JSON metadata (nesting 10 to 100,000 deep, integers of thousands
of digits, NaN, wrong types for every field, huge strings, invalid UTF-8).

    nice -n 5 python fuzz/fuzz_model.py --cases 100000
"""

from __future__ import annotations

import io
import json
import pickle
import struct
import sys
import warnings
import zipfile
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness  # noqa: E402  (first: it pins BLAS to one thread before numpy loads)
import numpy as np  # noqa: E402

from neuraldigits.modelfile import load, save  # noqa: E402
from neuraldigits.network import Network  # noqa: E402

LIBRARY_BUDGET = 64 << 20  # load(memory_budget=...) in the cases
warnings.filterwarnings("ignore", "Duplicate name", UserWarning)  # we zip duplicates on purpose


def _seed_models() -> list[bytes]:
    seeds = []
    scratch = Path(_harness.tempfile.mkdtemp(prefix="neuraldigits-fuzz-seeds-"))
    for k, (sizes, dtype) in enumerate(
        [([4, 3, 2], np.float32), ([6, 5, 4, 3], np.float64), ([10, 8, 3], np.float32)]
    ):
        net = Network(sizes, seed=k, dtype=dtype)
        path = save(net, scratch / f"m{k}.npz", history=[{"epoch": 0, "test": None}], seed=k)
        seeds.append(path.read_bytes())
    return seeds


SEEDS = _seed_models()


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {info.filename: z.read(info) for info in z.infolist()}


SEED_MEMBERS = [_members(seed) for seed in SEEDS]


def _zip(members: list[tuple[str, bytes]], compression: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as z:
        for name, data in members:
            z.writestr(name, data)
    return buffer.getvalue()


def _npy_header(descr: str, fortran: str, shape: str) -> bytes:
    text = f"{{'descr': {descr}, 'fortran_order': {fortran}, 'shape': {shape}, }}".encode()
    text += b" " * (-(len(text) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text


def _edit_npy(rng: np.random.Generator, data: bytes) -> bytes:
    """A member whose .npy header says something else: shape, dtype, order or header length."""
    body = data[data.find(b"\n") + 1 :] if b"\n" in data[:200] else data
    shapes = [
        "(10**12,)", "(1000000000000,)", "(-1,)", "(3, 4)", "()", "(0,)", "(2**31, 2**31)",
        "(" + ", ".join(["2"] * 40) + ")", "(9999999999999999999999,)", "'x'", "(3 4)", "((1,),)",
        f"({int(rng.integers(0, 1 << 20))}, {int(rng.integers(0, 1 << 20))})",
    ]  # fmt: skip
    descrs = ["'<f4'", "'<f8'", "'|u1'", "'|O'", "'<i8'", "'>f4'", "'V8'", "'<U3'", "[('a', 'f')]"]
    choice = rng.random()
    if choice < 0.8:
        order = str(rng.choice(["False", "True", "1"]))
        header = _npy_header(str(rng.choice(descrs)), order, str(rng.choice(shapes)))
        return header + body[: int(rng.integers(len(body) + 1))]
    if choice < 0.9:  # a header length far beyond the data, or a version we do not know
        return b"\x93NUMPY" + bytes([int(rng.integers(0, 5)), 0]) + rng.bytes(2) + body
    return b"\x93NUMPY\x02\x00" + struct.pack("<I", int(rng.choice([0xFFFFFFFF, 1 << 20]))) + body


def _json_metadata(rng: np.random.Generator, text: str) -> str:
    meta = json.loads(text)
    keys = ["format", "format_version", "sizes", "cost", "dtype", "history", "seed"]
    values = [
        [], {}, None, True, 1.5, "x", -1, 0, [4, 3], [4, 3, 2], [True, 3, 2], [4.0, 3, 2],
        [10**6, 10**6], [0, 3, 2], [1] * 100, "quadratic", "cross-entropy", "float16", 1, 2,
        "neuraldigits-model", [[4]], float("nan"),
    ]  # fmt: skip
    for _ in range(int(rng.integers(1, 4))):
        meta[str(rng.choice(keys))] = values[int(rng.integers(len(values)))]
    text = json.dumps(meta)
    choice = rng.random()
    if choice < 0.15:
        depth = int(rng.choice([10, 40, 1000, 100_000]))
        text = text[:-1] + ', "deep": ' + "[" * depth + "]" * depth + "}"
    elif choice < 0.3:
        digits = int(rng.choice([10, 100, 5000, 50_000]))
        text = text[:-1] + ', "big": ' + "9" * digits + "}"
    elif choice < 0.4:
        text = text[:-1] + ', "long": "' + "x" * int(rng.integers(1, 1 << 20)) + '"}'
    elif choice < 0.5:
        text = text[: int(rng.integers(len(text)))]
    return text


def _with_metadata(rng: np.random.Generator, members: dict[str, bytes]) -> dict[str, bytes]:
    raw = members["metadata.npy"]
    text = raw[raw.find(b"\n") + 1 :].decode()
    new = _json_metadata(rng, text).encode("utf-8", "surrogatepass")
    if rng.random() < 0.05:
        new = new[:10] + b"\xff\xfe" + new[10:]
    out = dict(members)
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.frombuffer(new, dtype=np.uint8))
    out["metadata.npy"] = buffer.getvalue()
    return out


def _rebuilt(rng: np.random.Generator, seed: int) -> tuple[bytes, str]:
    """The seed's members, some edited, added, dropped or renamed, zipped afresh."""
    members = dict(SEED_MEMBERS[seed])
    what = []
    choice = rng.random()
    if choice < 0.35:
        members, what = _with_metadata(rng, members), ["metadata JSON"]
    elif choice < 0.6:
        name = str(rng.choice(list(members)))
        members[name], what = _edit_npy(rng, members[name]), [f"npy header of {name}"]
    elif choice < 0.7:
        members.pop(str(rng.choice(list(members))))
        what = ["member dropped"]
    elif choice < 0.85:
        name = str(
            rng.choice(["extra.npy", "weights_9.npy", "../evil.npy", "weights_0.npy", "x" * 300])
        )
        size = int(rng.choice([10, 1 << 16, 1 << 22]))
        members[name + ("" if name != "weights_0.npy" else "")] = bytes(size)
        what = [f"extra member {name[:20]} of {size:,} bytes"]
    else:  # a deflate bomb under a legitimate name: 4 MB of zeros in ~4 kB
        name = str(rng.choice(list(members)))
        members[name] = members[name][:128] + bytes(4 << 20)
        what = [f"bomb in {name}"]
    items = list(members.items())
    if rng.random() < 0.1 and items:
        items.append(items[int(rng.integers(len(items)))])  # a duplicated name
        what.append("duplicate")
    compression = zipfile.ZIP_DEFLATED if rng.random() < 0.5 else zipfile.ZIP_STORED
    return _zip(items, compression), "rebuilt: " + ", ".join(what)


def _directory_edit(rng: np.random.Generator, data: bytes) -> tuple[bytes, str]:
    """Edit a field of a central directory entry, a local header or the end record."""
    out = bytearray(data)
    choice = rng.random()
    if choice < 0.6:
        entries = [i for i in range(len(out)) if out[i : i + 4] == b"PK\x01\x02"]
        if not entries:
            return data, "no directory"
        at = entries[int(rng.integers(len(entries)))]
        field, width = [
            (8, 2), (10, 2), (20, 4), (24, 4), (28, 2), (30, 2), (42, 4), (16, 4)
        ][int(rng.integers(8))]  # fmt: skip
        if field == 8:  # flag bits: encryption (0x1), strong encryption (0x40), ...
            bits = int(rng.choice([0x1, 0x40, 0x41, 0x8, 0x800, 0xFFFF]))
            value = int.from_bytes(out[at + 8 : at + 10], "little") | bits
        elif field == 10:  # compression method
            value = int(rng.choice([1, 6, 9, 12, 14, 93, 99, 0xFFFF]))
        else:
            value = int(rng.choice(_harness.INTERESTING_INTS)) % (1 << (8 * width))
        out[at + field : at + field + width] = value.to_bytes(width, "little")
        return bytes(out), f"central directory field +{field}"
    if choice < 0.8:
        at = out.find(b"PK\x03\x04", int(rng.integers(max(1, len(out) // 2))))
        if at < 0:
            at = out.find(b"PK\x03\x04")
        field, width = [(6, 2), (8, 2), (18, 4), (22, 4), (26, 2), (28, 2)][int(rng.integers(6))]
        value = int(rng.choice(_harness.INTERESTING_INTS)) % (1 << (8 * width))
        out[at + field : at + field + width] = value.to_bytes(width, "little")
        return bytes(out), f"local header field +{field}"
    end = out.rfind(b"PK\x05\x06")
    field, width = [(8, 2), (10, 2), (12, 4), (16, 4), (20, 2)][int(rng.integers(5))]
    value = int(rng.choice(_harness.INTERESTING_INTS)) % (1 << (8 * width))
    out[end + field : end + field + width] = value.to_bytes(width, "little")
    if rng.random() < 0.2:  # a zip64 end record and locator claiming a huge directory
        record = struct.pack(
            "<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, 1 << 40, 1 << 40, 1 << 40, 0
        )
        locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, len(out[:end]), 1)
        out[end:end] = record + locator
    return bytes(out), f"end record field +{field}"


def _foreign(rng: np.random.Generator) -> tuple[bytes, str]:
    buffer = io.BytesIO()
    kind = int(rng.integers(6))
    if kind == 0:
        from PIL import Image

        Image.new("L", (int(rng.integers(1, 40)), 8)).save(buffer, "PNG")
        return buffer.getvalue(), "a PNG"
    if kind == 1:
        return b"weights: lots\n" * int(rng.integers(1, 50)), "text"
    if kind == 2:
        np.save(buffer, np.zeros(int(rng.integers(1, 100))))
        return buffer.getvalue(), "a lone .npy"
    if kind == 3:
        return pickle.dumps({"weights": [1, 2]}), "a pickle"
    if kind == 4:
        return zlib.compress(SEEDS[0]), "zlib data"
    return rng.bytes(int(rng.integers(0, 300))), "random bytes"


def make(rng: np.random.Generator) -> _harness.Case:
    seed = int(rng.integers(len(SEEDS)))
    choice = rng.random()
    if choice < 0.3:
        data, how = _harness.generic(rng, SEEDS[seed], SEEDS)
    elif choice < 0.55:
        data, how = _rebuilt(rng, seed)
    elif choice < 0.85:
        data, how = _directory_edit(rng, SEEDS[seed])
    elif choice < 0.95:
        data, how = _rebuilt(rng, seed)
        data, more = _harness.generic(rng, data, SEEDS)
        how += " + " + more
    else:
        data, how = _foreign(rng)
    return _harness.Case(data, name="fuzz-model.npz", mutation=how)


def target(case: _harness.Case, path: Path) -> object:
    net = load(path, memory_budget=LIBRARY_BUDGET)
    # An accepted model must give finite outputs for any input in [0, 1].
    outputs = net.feedforward(np.ones(net.sizes[0]))
    if not np.all(np.isfinite(outputs)):
        raise AssertionError(f"accepted a model whose outputs are not finite: {outputs}")
    return net


if __name__ == "__main__":
    sys.exit(
        _harness.main(
            "model",
            make,
            target,
            budget_mb=256,
            description=__doc__.split("\n\n")[0],
        )
    )
