"""Checkpoints: a training run saved after every epoch, to resume it exactly after a kill.

A checkpoint is one ``.npz`` file, in the same safe format as a model
(:mod:`neuraldigits.modelfile`): plain arrays plus a JSON document stored as a
uint8 array, read with ``allow_pickle=False`` and written atomically.  It holds
everything :meth:`Network.sgd <neuraldigits.network.Network.sgd>` needs to
carry on as if it had never stopped:

* the weights and biases, momentum's velocities, and the weights of the best
  validation epoch so far (arrays);
* the generator's full state (the numpy ``bit_generator`` state, as JSON), so
  the next epoch shuffles as it would have;
* the history so far and the stopping rules' counters (:class:`SgdState`);
* the run's settings and a fingerprint of its data (:func:`data_fingerprint`),
  so that a resumed run can refuse other settings or other data.

Save one from ``sgd``'s ``on_epoch_end`` and resume from it::

    from neuraldigits.training.checkpoint import load_checkpoint, save_checkpoint

    def save(state):
        save_checkpoint("run.ckpt.npz", net, state, settings=settings, data=fingerprint)

    net.sgd(data, 30, 10, 3.0, validation_data=validation, on_epoch_end=save)
    ...  # killed; later, in a new process:
    checkpoint = load_checkpoint("run.ckpt.npz")
    state = checkpoint.restore(net)  # weights, velocities and net.rng as they were
    net.sgd(data, 30, 10, 3.0, validation_data=validation, state=state, on_epoch_end=save)

With the same data, settings and seed (and one thread, as by default), the
resumed run's history and weights are those of the run never interrupted, to
the bit.  A run that has ended can be marked so (:func:`mark_finished`), which
keeps only the settings and drops the arrays.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..atomic import atomic_write
from ..budget import default_budget, describe
from ..errors import NeuralDigitsError
from ..modelfile import json_default
from ..network import EpochResult, History, Network, Score, SgdState
from ..plateau import Plateau
from ..untrusted import open_regular
from ..version import __version__

FORMAT = "neuraldigits-checkpoint"
FORMAT_VERSION = 1


class CheckpointError(NeuralDigitsError, ValueError):
    """A checkpoint is missing, foreign, corrupt, finished, or from another run."""


def checkpoint_path(model_path: str | os.PathLike[str]) -> Path:
    """Where the checkpoint of a run that saves its model at ``model_path`` lives: beside
    it, ``model.npz`` → ``model.ckpt.npz``."""
    path = Path(model_path)
    stem = path.name[: -len(".npz")] if path.name.endswith(".npz") else path.name
    return path.with_name(stem + ".ckpt.npz")


def data_fingerprint(*datasets: tuple[NDArray, NDArray] | None) -> str:
    """A SHA-256 of the data sets' arrays: their dtypes, shapes and bytes, in order.

    Cheap enough to take once per run (about 0.2 s for MNIST's 50,000 float32
    images); a data set given as None counts as absent.
    """
    digest = hashlib.sha256()
    for dataset in datasets:
        digest.update(b"none" if dataset is None else b"set")
        for array in () if dataset is None else dataset:
            array = np.ascontiguousarray(array)
            digest.update(f"{array.dtype.str}{array.shape}".encode())
            digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


@dataclass
class Checkpoint:
    """A checkpoint as read by :func:`load_checkpoint`.

    ``settings`` and ``data`` are what the run was saved with; ``metadata`` any
    other record the caller added.  ``finished``: the run has ended (then there
    is nothing to restore).
    """

    path: Path
    settings: dict[str, Any]
    data: str
    metadata: dict[str, Any]
    finished: bool = False
    sizes: list[int] = field(default_factory=list)
    dtype: str = "float32"
    arrays: dict[str, NDArray] = field(default_factory=dict, repr=False)
    _state: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def next_epoch(self) -> int:
        """The epoch the run carries on from (the number of epochs done)."""
        return len(self._state.get("history", []))

    def differences(self, settings: dict[str, Any], data: str) -> list[str]:
        """What differs between this checkpoint's run and one with ``settings`` on ``data``:
        one ``"NAME: SAVED in the checkpoint, WANTED now"`` per setting, and the data."""
        found = [
            f"{name}: {self.settings.get(name)!r} in the checkpoint, {settings.get(name)!r} now"
            for name in sorted(set(self.settings) | set(settings))
            if self.settings.get(name) != settings.get(name)
        ]
        if data != self.data:
            found.append("data: not the data the checkpoint was trained on (another fingerprint)")
        return found

    def restore(self, net: Network, rng: np.random.Generator | None = None) -> SgdState:
        """Put the saved weights, velocities and generator state into ``net`` (and ``rng``,
        by default ``net.rng``); return the :class:`SgdState` to pass to ``sgd``."""
        if self.finished:
            raise CheckpointError(f"{self.path}: this run has finished; there is nothing to resume")
        if list(net.sizes) != self.sizes or net.dtype.name != self.dtype:
            raise CheckpointError(
                f"{self.path}: a checkpoint of a {self.sizes} {self.dtype} network, "
                f"not of {net.sizes} {net.dtype.name}"
            )
        layers = range(len(self.sizes) - 1)
        net.weights = [self.arrays[f"weights_{k}"].copy() for k in layers]
        net.biases = [self.arrays[f"biases_{k}"].copy() for k in layers]
        net.weight_velocities = net.bias_velocities = None
        if self._state["velocities"]:
            net.weight_velocities = [self.arrays[f"weight_velocities_{k}"].copy() for k in layers]
            net.bias_velocities = [self.arrays[f"bias_velocities_{k}"].copy() for k in layers]
        generator = net.rng if rng is None else rng
        try:
            generator.bit_generator.state = self._state["rng"]
        except (TypeError, ValueError, KeyError) as e:
            raise CheckpointError(f"{self.path}: corrupt generator state ({e})") from None
        best = None
        if self._state["best"]:
            best = (
                [self.arrays[f"best_weights_{k}"].copy() for k in layers],
                [self.arrays[f"best_biases_{k}"].copy() for k in layers],
            )
        return SgdState(_history(self._state), _plateau(self._state["plateau"]), best)


def save_checkpoint(
    path: str | os.PathLike[str],
    net: Network,
    state: SgdState,
    *,
    settings: dict[str, Any],
    data: str,
    rng: np.random.Generator | None = None,
    **metadata: Any,
) -> Path:
    """Write ``net`` and ``state`` (and ``rng``, by default ``net.rng``) to ``path`` atomically.

    ``settings``: the run's settings, JSON values (compared on resume);
    ``data``: :func:`data_fingerprint` of its data; ``metadata``: anything else
    to keep (JSON values).  Returns the path.
    """
    generator = net.rng if rng is None else rng
    arrays: dict[str, NDArray] = {}
    for k, (w, b) in enumerate(zip(net.weights, net.biases)):
        arrays[f"weights_{k}"], arrays[f"biases_{k}"] = w, b
    velocities = net.weight_velocities is not None
    if velocities:
        for k, (vw, vb) in enumerate(zip(net.weight_velocities, net.bias_velocities)):
            arrays[f"weight_velocities_{k}"], arrays[f"bias_velocities_{k}"] = vw, vb
    if state.best is not None:
        for k, (w, b) in enumerate(zip(*state.best)):
            arrays[f"best_weights_{k}"], arrays[f"best_biases_{k}"] = w, b
    plateau = state.plateau
    record = _record(net, settings, data, metadata)
    record.update(
        rng=generator.bit_generator.state,
        velocities=velocities,
        best=state.best is not None,
        history=[result.to_dict() for result in state.history],
        stopped=state.history.stopped,
        plateau=dict(
            eta=plateau.eta, eta0=plateau.eta0, early_stop=plateau.early_stop,
            eta_schedule=plateau.eta_schedule, best_accuracy=plateau.best_accuracy,
            best_epoch=plateau.best_epoch, since_best=plateau.since_best,
        ),
    )  # fmt: skip
    return _write(Path(path), record, arrays)


def mark_finished(
    path: str | os.PathLike[str], net: Network, *, settings: dict[str, Any], data: str, **metadata
) -> Path:
    """Replace the checkpoint at ``path`` by a small record that its run has ended.

    It keeps the settings and ``metadata`` (where the model went, say) but no
    arrays: :func:`load_checkpoint` reads it with ``finished`` True, so that
    resuming can say the run is over rather than that nothing was found.
    """
    record = _record(net, settings, data, metadata)
    record["finished"] = True
    return _write(Path(path), record, {})


def _record(net: Network, settings: dict, data: str, metadata: dict) -> dict[str, Any]:
    return {
        **metadata,
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "sizes": list(net.sizes),
        "dtype": net.dtype.name,
        "settings": settings,
        "data": data,
        "finished": False,
    }


def _write(path: Path, record: dict[str, Any], arrays: dict[str, NDArray]) -> Path:
    try:
        text = json.dumps(record, allow_nan=False, default=json_default)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: the checkpoint's record is not JSON ({e})") from None
    with atomic_write(path) as f:
        np.savez(f, metadata=np.frombuffer(text.encode("utf-8"), dtype=np.uint8), **arrays)
    return path


# ---------------------------------------------------------------------- reading


_NOT_FOUND = "no checkpoint there (is this the run's --out?)"


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """The checkpoint at ``path``, checked array by array.

    Raises :class:`CheckpointError` naming the file for a missing, foreign,
    truncated or inconsistent one.  A finished run's checkpoint loads with
    ``finished`` True and no arrays.
    """
    path = Path(path)
    try:
        # Opened here, so that it is closed whatever np.load makes of it; as every file
        # we read, only a regular one (a FIFO would wait for a writer forever).
        with (
            open_regular(path, "a checkpoint", CheckpointError, not_found=_NOT_FOUND) as file,
            np.load(file, allow_pickle=False) as npz,
        ):
            _check_declared_size(path, npz.zip)
            # Every array is read, then size-checked against the record, below.
            arrays = {name: npz[name] for name in npz.files}
        record = json.loads(bytes(arrays.pop("metadata")).decode("utf-8"))
    except CheckpointError:
        raise
    except Exception as e:  # any damage at all: truncated, another kind of file, ...
        raise CheckpointError(
            f"{path}: not a readable checkpoint ({type(e).__name__}: {e}); "
            "start the run afresh without --resume"
        ) from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a neuraldigits checkpoint")
    if record.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format {record.get('format_version')!r} is not supported "
            f"(this is neuraldigits {__version__}, which reads version {FORMAT_VERSION})"
        )
    try:
        checkpoint = _checked(path, record, arrays)
    except CheckpointError:
        raise
    except Exception as e:  # a well-formed file with a damaged record
        raise CheckpointError(
            f"{path}: corrupt checkpoint record ({type(e).__name__}: {e})"
        ) from None
    return checkpoint


def _check_declared_size(path: Path, archive: zipfile.ZipFile) -> None:
    """Refuse, before inflating anything, a checkpoint whose members declare more bytes than
    memory allows: a checkpoint is ours, but --resume may be pointed at any file."""
    declared = sum(info.file_size for info in archive.infolist())
    if declared > default_budget():
        raise CheckpointError(
            f"{path}: its arrays declare {describe(declared)}, over the memory budget of "
            f"{describe(default_budget())}; not a checkpoint this machine can resume"
        )


def _checked(path: Path, record: dict[str, Any], arrays: dict[str, NDArray]) -> Checkpoint:
    sizes, dtype = record["sizes"], record["dtype"]
    if not (isinstance(sizes, list) and len(sizes) >= 2 and all(_whole(s) for s in sizes)):
        raise CheckpointError(f"{path}: invalid layer sizes {sizes!r}")
    if dtype not in ("float32", "float64"):
        raise CheckpointError(f"{path}: unsupported dtype {dtype!r}")
    settings, metadata = record["settings"], dict(record)
    if not isinstance(settings, dict) or not isinstance(record["data"], str):
        raise CheckpointError(f"{path}: its settings or data fingerprint are missing")
    checkpoint = Checkpoint(path, settings, record["data"], metadata, bool(record["finished"]),
                            sizes, dtype)  # fmt: skip
    if checkpoint.finished:
        return checkpoint
    checkpoint.arrays = _checked_arrays(path, record, arrays, sizes, np.dtype(dtype))
    checkpoint._state = record
    _history(record)  # readable, or the error says why
    _plateau(record["plateau"])
    return checkpoint


def _checked_arrays(path, record, arrays, sizes, dtype) -> dict[str, NDArray]:
    """Every array there should be, of its shape and dtype, finite; and no other."""
    groups = [("weights", "biases")]
    if record["velocities"]:
        groups.append(("weight_velocities", "bias_velocities"))
    if record["best"]:
        groups.append(("best_weights", "best_biases"))
    expected = {}
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        for weights, biases in groups:
            expected[f"{weights}_{k}"] = (n_out, n_in)
            expected[f"{biases}_{k}"] = (n_out, 1)
    if set(arrays) != set(expected):
        raise CheckpointError(
            f"{path}: arrays {sorted(arrays)} do not match sizes {sizes} "
            f"(expected {sorted(expected)})"
        )
    for name, shape in expected.items():
        array = arrays[name]
        if array.shape != shape or array.dtype != dtype:
            raise CheckpointError(
                f"{path}: array {name} has shape {array.shape} and dtype {array.dtype}, "
                f"expected {shape} and {dtype}"
            )
        if not np.all(np.isfinite(array)):
            raise CheckpointError(f"{path}: array {name} holds NaN or infinite values")
    return arrays


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _history(record: dict[str, Any]) -> History:
    history = History(_epoch_result(item, k) for k, item in enumerate(record["history"]))
    history.stopped = record["stopped"]
    if history.stopped is not None and not isinstance(history.stopped, str):
        raise ValueError(f"stopped is {history.stopped!r}")
    return history


def _epoch_result(item: dict[str, Any], k: int) -> EpochResult:
    scores = {
        name: None if item[name] is None else Score(**item[name])
        for name in ("test", "validation", "training")
    }
    if item["epoch"] != k:
        raise ValueError(f"the history's epoch {k} is numbered {item['epoch']!r}")
    return EpochResult(epoch=k, seconds=float(item["seconds"]), eta=item["eta"], **scores)


def _plateau(saved: dict[str, Any]) -> Plateau:
    plateau = Plateau(saved["eta0"], saved["early_stop"], saved["eta_schedule"])
    plateau.eta = float(saved["eta"])
    plateau.best_accuracy = float(saved["best_accuracy"])
    plateau.best_epoch = int(saved["best_epoch"])
    plateau.since_best = int(saved["since_best"])
    if not (math.isfinite(plateau.eta) and plateau.eta > 0):
        raise ValueError(f"eta is {plateau.eta!r}")
    return plateau
