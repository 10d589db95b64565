"""Saving and loading networks: one ``.npz`` of plain arrays plus JSON metadata.

Never pickle: a model file may come from anywhere, and unpickling runs code.
The file holds ``weights_0, biases_0, weights_1, ...`` and ``metadata``, a
UTF-8 JSON document stored as a uint8 array.  Writes are atomic.

Loading trusts nothing and never unpickles: it reads the zip directory first
(member names, declared sizes, encryption and compression flags) and each
``.npy`` header by a strict pattern (never ``eval``), parses the JSON within
limits, budgets memory from the declared layer sizes, and only then reads each
array, exactly as large as its header and the metadata agree it must be.  A
network whose outputs could overflow is refused too.  Whatever the bytes, the
only exception is :class:`~neuraldigits.errors.ModelFileError`, naming the file.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_write
from .budget import describe as describe_bytes
from .budget import resolve as resolve_budget
from .costs import COSTS
from .errors import ModelFileError
from .network import INITS, Network, overflow_reason
from .untrusted import open_regular
from .version import __version__

FORMAT = "neuraldigits-model"
FORMAT_VERSION = 1


def save(net: Network, path: str | os.PathLike[str], **metadata: Any) -> Path:
    """Write ``net`` to ``path`` atomically, with ``metadata`` (JSON-serialisable).

    The file records sizes, cost, dtype and library version itself; the caller
    adds anything else (training settings, history).  Returns the path.
    """
    path = Path(path)
    meta = {**net.metadata, **metadata}
    meta.update(
        format=FORMAT,
        format_version=FORMAT_VERSION,
        library_version=__version__,
        sizes=list(net.sizes),
        cost=net.cost.name,
        init=net.init,
        dtype=net.dtype.name,
        saved_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    try:
        text = json.dumps(meta, default=json_default, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ModelFileError(f"metadata for {path} is not JSON-serialisable: {e}") from None
    arrays = {"metadata": np.frombuffer(text.encode("utf-8"), dtype=np.uint8)}
    for layer, (w, b) in enumerate(zip(net.weights, net.biases)):
        arrays[f"weights_{layer}"] = w
        arrays[f"biases_{layer}"] = b
    with atomic_write(path) as f:
        np.savez(f, **arrays)
    net.metadata = meta
    return path


def json_default(value: Any) -> Any:
    """``json.dumps``'s ``default=`` for the files we write: numpy scalars and arrays as
    plain numbers and lists, objects with ``to_dict`` as their dict."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def load(path: str | os.PathLike[str], *, memory_budget: int | None = None) -> Network:
    """The network saved at ``path``, with its metadata in ``net.metadata``.

    Raises :class:`ModelFileError` naming the file and the reason for anything
    that is not a sound model, whatever its bytes: missing, not a regular file,
    not a zip, unexpected or oversized members, encrypted or oddly compressed
    members, malformed ``.npy`` headers or JSON, arrays that disagree with the
    metadata, weights whose outputs overflow, or arrays needing more than
    ``memory_budget`` bytes (default: :func:`neuraldigits.budget.default_budget`).
    Sizes and names are checked from the zip directory and the ``.npy`` headers
    before anything is decompressed or allocated.
    """
    path = Path(path)
    budget = resolve_budget(memory_budget)
    try:
        with open_regular(path, "a .npz model file", ModelFileError, not_found=_NOT_FOUND) as f:
            size = os.fstat(f.fileno()).st_size
            _check_zip_directory(f, size, path)
            with zipfile.ZipFile(f) as archive:
                members = _members(archive, path)
                meta = _read_metadata(archive, members.pop("metadata", None), path)
                return _build(archive, members, meta, path, budget)
    except ModelFileError:
        raise
    except Exception as e:
        # Foreign bytes make zipfile, zlib and struct fail in many ways (BadZipFile,
        # EOFError, OverflowError, NotImplementedError, ...); each is the file's fault.
        raise ModelFileError(
            f"{path}: not a readable neuraldigits model (.npz) file; it may be truncated or "
            f"corrupt ({type(e).__name__}: {e})"
        ) from None


# ------------------------------------------------------------ the file and its zip directory

_NOT_FOUND = "model file not found (train one with `digits train`, or name an existing .npz model)"
# Limits no model this library writes comes near: they bound what a hostile file costs.
MAX_LAYERS = 64  # entries of "sizes"
MAX_LAYER_SIZE = 1 << 24  # neurons in one layer
MAX_METADATA_BYTES = 1 << 20  # the JSON record (a long history is ~100 bytes an epoch)
MAX_JSON_DEPTH = 32  # nesting of JSON arrays and objects
MAX_INT_DIGITS = 64  # digits of one JSON integer
MAX_NPY_HEADER = 4096  # numpy writes 118-byte headers
MAX_ZIP_DIRECTORY = 1 << 20  # bytes of the zip's central directory
_MEMBER = re.compile(r"(metadata|weights_\d{1,2}|biases_\d{1,2})\.npy")
_NPY_MAGIC = b"\x93NUMPY"
_NPY_HEADER = re.compile(
    r"\{\s*'descr':\s*'([^']{1,16})',\s*'fortran_order':\s*(True|False),\s*"
    r"'shape':\s*\(([0-9,\s]{0,256})\),?\s*\}\s*"
)
_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")


def _check_zip_directory(f, size: int, path: Path) -> None:
    """Refuse a file that is not a zip, or whose central directory is implausibly large.

    zipfile reads the whole central directory into memory, one object per
    entry; a small file can declare millions.  The end records say how big it
    is, so we read them first (as zipfile finds them: the last 64 kB).
    """
    start = f.read(8)
    if not start.startswith(_ZIP_SIGNATURES):
        raise ModelFileError(
            f"{path}: not a neuraldigits model (.npz archive) file: {_sniff(start, f)}"
        )
    tail_size = min(size, (1 << 16) + 22)
    f.seek(size - tail_size)
    tail = f.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise ModelFileError(
            f"{path}: not a readable neuraldigits model: the zip archive has no end record "
            "(truncated?)"
        )
    _, _, _, _, entries, directory, _, _ = struct.unpack("<4s4H2LH", tail[at : at + 22])
    locator = tail.rfind(b"PK\x06\x07", 0, at)
    if locator >= 0 and at - locator == 20 and locator >= 56:
        record = tail[locator - 56 : locator]
        if record.startswith(b"PK\x06\x06"):
            fields = struct.unpack("<4sQ2H2L4Q", record)
            entries, directory = max(entries, fields[7]), max(directory, fields[8])
    if entries > 2 * MAX_LAYERS + 1 or directory > MAX_ZIP_DIRECTORY:
        raise ModelFileError(
            f"{path}: not a neuraldigits model: its zip directory declares {entries:,} members "
            f"in {directory:,} bytes (a model has at most {2 * MAX_LAYERS + 1})"
        )
    f.seek(0)


def _sniff(start: bytes, f) -> str:
    """What a file that is not a zip seems to be, for the error message."""
    kinds = (
        (b"\x89PNG", "it is a PNG image"),
        (b"\xff\xd8\xff", "it is a JPEG image"),
        (b"GIF8", "it is a GIF image"),
        (b"%PDF", "it is a PDF document"),
        (b"\x1f\x8b", "it is gzip-compressed data"),
        (_NPY_MAGIC, "it is a lone .npy array"),
        (b"\x80", "it looks like a Python pickle, which neuraldigits never loads"),
    )
    for signature, kind in kinds:
        if start.startswith(signature):
            return kind
    f.seek(0)
    sample = f.read(4096)
    if not sample:
        return "the file is empty"
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as e:
        text = sample[: e.start].decode("utf-8") if e.start > len(sample) - 4 else None
    if text is not None and all(c.isprintable() or c in "\t\r\n" for c in text):
        return "it is text"
    return "unknown binary data, not a zip archive"


def _members(archive: zipfile.ZipFile, path: Path) -> dict[str, zipfile.ZipInfo]:
    """The archive's members by array name, each checked from the directory alone."""
    members: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        match = _MEMBER.fullmatch(info.filename)
        if match is None:
            raise ModelFileError(
                f"{path}: unexpected arrays [{info.filename[:80]!r}] in the archive (a model "
                "holds only metadata.npy, weights_N.npy and biases_N.npy)"
            )
        name = match.group(1)
        if name in members:
            raise ModelFileError(f"{path}: member {info.filename!r} appears twice")
        if info.flag_bits & 0x41:  # bit 0: encrypted; bit 6: strong encryption
            raise ModelFileError(f"{path}: member {info.filename!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ModelFileError(
                f"{path}: member {info.filename!r} uses zip compression method "
                f"{info.compress_type}; models are stored or deflated"
            )
        members[name] = info
    return members


# ---------------------------------------------------------------------- .npy members


def _read_array(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    path: Path,
    name: str,
    expect: Callable[[tuple[int, ...], np.dtype], None],
) -> np.ndarray:
    """One member's array, its header parsed and checked by ``expect`` before reading the data.

    ``expect(shape, dtype)`` raises for a shape or dtype the metadata does not
    allow, so no more than it allows is ever read or allocated.
    """
    with archive.open(info) as member:
        magic = member.read(8)
        if len(magic) != 8 or not magic.startswith(_NPY_MAGIC) or magic[6] not in (1, 2, 3):
            raise ModelFileError(f"{path}: array {name} is not in .npy format")
        width = 2 if magic[6] == 1 else 4
        length = int.from_bytes(member.read(width), "little")
        if length > MAX_NPY_HEADER:
            raise ModelFileError(f"{path}: array {name} has an oversized header ({length:,} bytes)")
        raw = member.read(length)
        shape, dtype, fortran = _parse_npy_header(raw, path, name, utf8=magic[6] == 3)
        expect(shape, dtype)
        n_bytes = math.prod(shape) * dtype.itemsize
        if info.file_size != 8 + width + length + n_bytes:
            raise ModelFileError(
                f"{path}: array {name} declares {info.file_size:,} bytes in the archive but its "
                f"header shape {shape} needs {8 + width + length + n_bytes:,}"
            )
        data = member.read(n_bytes)
        if len(data) != n_bytes:
            raise ModelFileError(f"{path}: array {name} is truncated")
    # A bytearray, so that the arrays are writable (a loaded network can train on).
    array = np.frombuffer(bytearray(data), dtype=dtype)
    array = array.reshape(shape[::-1]).T if fortran else array.reshape(shape)
    return np.ascontiguousarray(array, dtype=dtype.newbyteorder("="))


def _parse_npy_header(
    raw: bytes, path: Path, name: str, utf8: bool
) -> tuple[tuple[int, ...], np.dtype, bool]:
    """Shape, dtype and order from a ``.npy`` header, read by a strict pattern, never eval."""
    text = raw.decode("utf-8" if utf8 else "latin1", errors="replace")
    match = _NPY_HEADER.fullmatch(text)
    if match is None:
        raise ModelFileError(f"{path}: array {name} has a malformed .npy header")
    descr, fortran, dims = match.groups()
    if descr.lstrip("<>|=") in ("O", "V") or "O" in descr:
        raise ModelFileError(
            f"{path}: contains pickled objects; refusing to load it (neuraldigits models "
            "hold plain arrays only)"
        )
    if descr not in _DESCRS:
        raise ModelFileError(f"{path}: array {name} has unsupported element type {descr!r}")
    parts = [p.strip() for p in dims.split(",")]
    if parts and parts[-1] == "":
        parts.pop()
    if len(parts) > 2 or not all(p.isdigit() and len(p) <= 20 for p in parts):
        raise ModelFileError(f"{path}: array {name} has an invalid shape ({dims})")
    return tuple(int(p) for p in parts), np.dtype(descr), fortran == "True"


# Plain numbers of either byte order: uint8 for the metadata, floats for the arrays.
_DESCRS = {"|u1", "<u1", ">u1", "<f4", ">f4", "<f8", ">f8"}


# ---------------------------------------------------------------------- metadata


def _read_metadata(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo | None, path: Path
) -> dict[str, Any]:
    if info is None:
        raise ModelFileError(f"{path}: not a neuraldigits model (no metadata record)")

    def expect(shape: tuple[int, ...], dtype: np.dtype) -> None:
        if dtype != np.uint8 or len(shape) != 1:
            raise ModelFileError(f"{path}: not a neuraldigits model (no metadata record)")
        if shape[0] > MAX_METADATA_BYTES:
            raise ModelFileError(
                f"{path}: metadata of {shape[0]:,} bytes is over the limit of "
                f"{MAX_METADATA_BYTES:,}"
            )

    raw = _read_array(archive, info, path, "metadata", expect)
    meta = _parse_json(raw.tobytes(), path)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a neuraldigits model (format is not {FORMAT!r})")
    version = meta.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model format version {_short(version)} is not supported "
            f"(this is neuraldigits {__version__}, which reads version {FORMAT_VERSION})"
        )
    sizes = meta.get("sizes")
    if (
        not isinstance(sizes, list)
        or not 2 <= len(sizes) <= MAX_LAYERS
        or not all(type(s) is int and 0 < s <= MAX_LAYER_SIZE for s in sizes)
    ):
        raise ModelFileError(f"{path}: metadata has invalid layer sizes {_short(sizes)}")
    cost = meta.get("cost")
    if not isinstance(cost, str) or cost not in COSTS:
        raise ModelFileError(f"{path}: unknown cost {_short(cost)} (known: {', '.join(COSTS)})")
    if meta.get("dtype") not in ("float32", "float64"):
        raise ModelFileError(f"{path}: unsupported dtype {_short(meta.get('dtype'))}")
    _check_history(meta.get("history"), path)
    return meta


# A saved history is a list of EpochResult.to_dict() records; plots, reproduce and
# info read these fields, so a file that says otherwise is refused here, once.
_SCORES = ("test", "validation", "training")


def _check_history(history: Any, path: Path) -> None:
    if history is None:
        return
    if not isinstance(history, list):
        raise ModelFileError(f"{path}: metadata 'history' is {_short(history)}, not a list")
    for k, record in enumerate(history):
        if not _is_epoch_record(record):
            raise ModelFileError(
                f"{path}: metadata 'history' entry {k} is {_short(record)}, not an epoch "
                "record (epoch, seconds, and test/validation/training scores)"
            )


def _is_epoch_record(record: Any) -> bool:
    def number(value: Any) -> bool:
        return type(value) in (int, float)

    def score(value: Any) -> bool:
        return value is None or (
            isinstance(value, dict)
            and type(value.get("correct")) is int
            and type(value.get("total")) is int
            and 0 <= value["correct"] <= value["total"]
            and (value.get("cost") is None or number(value["cost"]))
        )

    return (
        isinstance(record, dict)
        and type(record.get("epoch")) is int
        and number(record.get("seconds", 0.0))
        and (record.get("eta") is None or number(record["eta"]))
        and all(score(record.get(name)) for name in _SCORES)
    )


def _short(value: Any) -> str:
    """``repr(value)`` cut to fit in a message."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _parse_json(raw: bytes, path: Path) -> Any:
    """The metadata's JSON, parsed within limits on nesting and on the length of integers."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ModelFileError(f"{path}: corrupt metadata (not UTF-8: {e})") from None
    depth = _json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise ModelFileError(
            f"{path}: corrupt metadata (JSON nested {depth} deep, over the limit of "
            f"{MAX_JSON_DEPTH})"
        )
    try:
        return json.loads(text, parse_int=_bounded_int, parse_constant=_no_constant)
    except (json.JSONDecodeError, ValueError) as e:
        raise ModelFileError(f"{path}: corrupt metadata ({e})") from None


def _json_depth(text: str) -> int:
    """How deeply arrays and objects nest in ``text``, brackets inside strings not counted.

    Vectorised over the bytes (a regular expression for strings keeps a
    backtracking record per character: 100 MB for a 1 MB string).  A quote
    ends or starts a string unless an odd run of backslashes precedes it.
    """
    codes = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    if codes.size == 0:
        return 0
    positions = np.arange(codes.size, dtype=np.int32)
    backslash = codes == 0x5C
    # For each position, where the latest non-backslash byte is (-1: none yet).
    last_other = np.maximum.accumulate(np.where(backslash, -1, positions))
    quotes = np.flatnonzero(codes == 0x22)
    before = quotes - 1
    run = np.where(before >= 0, before - last_other[np.maximum(before, 0)], 0)
    real = np.zeros(codes.size, dtype=np.int8)
    real[quotes[run % 2 == 0]] = 1
    outside = (np.cumsum(real, dtype=np.int32) % 2 == 0) & (real == 0)
    steps = ((codes == 0x5B) | (codes == 0x7B)).astype(np.int8)
    steps -= (codes == 0x5D) | (codes == 0x7D)
    steps *= outside
    return int(np.cumsum(steps, dtype=np.int32).max(initial=0))


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(digits):,} digits (limit {MAX_INT_DIGITS})")
    return int(digits)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


# ---------------------------------------------------------------------- the network


def _build(
    archive: zipfile.ZipFile,
    members: dict[str, zipfile.ZipInfo],
    meta: dict[str, Any],
    path: Path,
    budget: int,
) -> Network:
    sizes = meta["sizes"]
    dtype = np.dtype(meta["dtype"])
    shapes = {}
    for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        shapes[f"weights_{layer}"] = (n_out, n_in)
        shapes[f"biases_{layer}"] = (n_out, 1)
    extra = sorted(set(members) - set(shapes))
    if extra:
        raise ModelFileError(f"{path}: unexpected arrays {extra} for sizes {sizes}")
    for name in shapes:
        if name not in members:
            raise ModelFileError(f"{path}: array {name} is missing for sizes {sizes}")
    # The arrays as read, and Network() drawing its own (float64, then cast) before
    # they replace them.
    params = sum(math.prod(shape) for shape in shapes.values())
    need = params * (2 * dtype.itemsize + 8)
    if need > budget:
        raise ModelFileError(
            f"{path}: sizes {_short(sizes)} declare {params:,} parameters, needing about "
            f"{describe_bytes(need)} to load, over the memory budget of {describe_bytes(budget)}"
        )
    arrays = {}
    for name, shape in shapes.items():
        expect = _expect(shape, dtype, path, name, sizes)
        arrays[name] = _read_array(archive, members[name], path, name, expect)
        if not np.all(np.isfinite(arrays[name])):
            raise ModelFileError(f"{path}: array {name} holds NaN or infinite values")
    weights = [arrays[f"weights_{layer}"] for layer in range(len(sizes) - 1)]
    biases = [arrays[f"biases_{layer}"] for layer in range(len(sizes) - 1)]
    reason = overflow_reason(weights, biases)
    if reason is not None:
        raise ModelFileError(f"{path}: {reason}, so its outputs would be NaN; refusing the model")
    net = Network(sizes, dtype=dtype, cost=meta["cost"], init=_init_of(meta), seed=0)
    net.weights, net.biases = weights, biases
    net.metadata = meta
    return net


def _init_of(meta: dict[str, Any]) -> str:
    """How the saved weights started (for repr and summary): as save recorded it, or in
    files from before it did, as the training settings say; "large" when neither does."""
    training = meta.get("training")
    for init in (meta.get("init"), training.get("init") if isinstance(training, dict) else None):
        if init in INITS:
            return init
    return "large"


def _expect(shape, dtype, path, name, sizes) -> Callable[[tuple[int, ...], np.dtype], None]:
    def check(found_shape: tuple[int, ...], found_dtype: np.dtype) -> None:
        if found_shape != shape or found_dtype.newbyteorder("=") != dtype:
            raise ModelFileError(
                f"{path}: array {name} has shape {found_shape} and dtype {found_dtype.name}, "
                f"expected {shape} and {dtype} for sizes {sizes}"
            )

    return check
