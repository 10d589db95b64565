"""Saving and loading networks: one ``.npz`` of plain arrays plus JSON metadata.

Never pickle: a model file may come from anywhere, and unpickling runs code.
The file holds ``weights_0, biases_0, weights_1, ...`` and ``metadata``, a
UTF-8 JSON document stored as a uint8 array.  Loading uses
``allow_pickle=False`` and checks every name, shape and dtype against the
metadata before building the network.  Writes are atomic.
"""

from __future__ import annotations

import json
import os
import time
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_write
from .costs import COSTS
from .errors import ModelFileError
from .network import Network
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
        dtype=net.dtype.name,
        saved_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    try:
        text = json.dumps(meta, default=_json_default, allow_nan=False)
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


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def load(path: str | os.PathLike[str]) -> Network:
    """The network saved at ``path``, with its metadata in ``net.metadata``.

    Raises :class:`ModelFileError` naming the file for a missing, foreign,
    truncated or inconsistent file.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(
            f"{path}: model file not found (train one with `digits train`, "
            "or name an existing .npz model)"
        )
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):  # a lone .npy array
            raise ModelFileError(f"{path}: not a neuraldigits model (.npz archive) file")
        with loaded as npz:
            arrays = {name: npz[name] for name in npz.files}
    except ModelFileError:
        raise
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise ModelFileError(
                f"{path}: contains pickled objects; refusing to load it (neuraldigits models "
                "hold plain arrays only)"
            ) from None
        raise ModelFileError(f"{path}: not a neuraldigits model (.npz) file ({e})") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError) as e:
        raise ModelFileError(
            f"{path}: not a readable neuraldigits model (.npz) file; it may be truncated or "
            f"of another kind ({type(e).__name__}: {e})"
        ) from None
    meta = _read_metadata(arrays, path)
    return _build(arrays, meta, path)


def _read_metadata(arrays: dict[str, np.ndarray], path: Path) -> dict[str, Any]:
    raw = arrays.get("metadata")
    if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
        raise ModelFileError(f"{path}: not a neuraldigits model (no metadata record)")
    try:
        meta = json.loads(bytes(raw).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelFileError(f"{path}: corrupt metadata ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a neuraldigits model (format is not {FORMAT!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model format version {meta.get('format_version')!r} is not supported "
            f"(this is neuraldigits {__version__}, which reads version {FORMAT_VERSION})"
        )
    sizes = meta.get("sizes")
    if (
        not isinstance(sizes, list)
        or len(sizes) < 2
        or not all(isinstance(s, int) and s > 0 for s in sizes)
    ):
        raise ModelFileError(f"{path}: metadata has invalid layer sizes {sizes!r}")
    if meta.get("cost") not in COSTS:
        raise ModelFileError(f"{path}: unknown cost {meta.get('cost')!r}")
    if meta.get("dtype") not in ("float32", "float64"):
        raise ModelFileError(f"{path}: unsupported dtype {meta.get('dtype')!r}")
    return meta


def _build(arrays: dict[str, np.ndarray], meta: dict[str, Any], path: Path) -> Network:
    sizes = meta["sizes"]
    dtype = np.dtype(meta["dtype"])
    expected = {"metadata"}
    weights, biases = [], []
    for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        for name, shape, into in (
            (f"weights_{layer}", (n_out, n_in), weights),
            (f"biases_{layer}", (n_out, 1), biases),
        ):
            expected.add(name)
            array = arrays.get(name)
            if array is None:
                raise ModelFileError(f"{path}: array {name} is missing for sizes {sizes}")
            if array.shape != shape or array.dtype != dtype:
                raise ModelFileError(
                    f"{path}: array {name} has shape {array.shape} and dtype {array.dtype}, "
                    f"expected {shape} and {dtype} for sizes {sizes}"
                )
            if not np.all(np.isfinite(array)):
                raise ModelFileError(f"{path}: array {name} holds NaN or infinite values")
            into.append(np.ascontiguousarray(array))
    extra = sorted(set(arrays) - expected)
    if extra:
        raise ModelFileError(f"{path}: unexpected arrays {extra} for sizes {sizes}")
    net = Network(sizes, dtype=dtype, cost=meta["cost"], seed=0)
    net.weights, net.biases = weights, biases
    net.metadata = meta
    return net
