"""A network described in a few lines: its layers, parameters, cost, and how it was trained.

:meth:`neuraldigits.network.Network.summary` returns a :class:`Summary`.  It is
data (the layers, the counts, the settings a model file recorded), and its
``str()`` is a small table; its ``repr()`` is the same table, so that a notebook
shows it as it is.  The library never prints it: the caller decides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .wording import plural


@dataclass(frozen=True)
class Layer:
    """One layer: its neurons and the weights and biases leading into it (none for the input)."""

    name: str  # "input", "hidden 1", ..., "output"
    neurons: int
    weights: int  # n_in × n_out of the weight matrix into this layer; 0 for the input
    biases: int  # one per neuron; 0 for the input

    @property
    def parameters(self) -> int:
        return self.weights + self.biases


@dataclass(frozen=True)
class Training:
    """What a model file says about how its network was trained (all optional)."""

    settings: Mapping[str, Any]  # the "training" record: epochs, eta, seed, data, ...
    epochs_run: int | None = None  # epochs in the saved history
    best_epoch: int | None = None  # the epoch whose weights were saved
    best_validation: float | None = None  # validation accuracy of that epoch, 0–1
    test_at_best: float | None = None  # test accuracy of that epoch, 0–1
    interrupted: bool = False


@dataclass(frozen=True)
class Summary:
    """A network's layers, parameter counts, cost, initialisation, dtype and training."""

    layers: tuple[Layer, ...]
    cost: str
    init: str
    dtype: str
    training: Training | None = None  # None for a network that carries no training record
    saved_at: str | None = None
    library_version: str | None = None

    @property
    def sizes(self) -> list[int]:
        return [layer.neurons for layer in self.layers]

    @property
    def parameters(self) -> int:
        return sum(layer.parameters for layer in self.layers)

    def __str__(self) -> str:
        return "\n".join(self.lines())

    # A notebook shows an object's repr: this one should read as the table.
    __repr__ = __str__

    def lines(self) -> list[str]:
        """The summary as lines of text (a table of layers, then the training)."""
        lines = [
            f"Network({self.sizes}): {self.parameters:,} parameters, {self.cost} cost, "
            f"{self.init} init, {self.dtype}"
        ]
        lines += _layer_table(self.layers, self.parameters)
        if self.training is not None:
            lines += _training_lines(self.training)
        if self.saved_at or self.library_version:
            saved = " ".join(
                part
                for part in (
                    f"at {self.saved_at}" if self.saved_at else "",
                    f"by neuraldigits {self.library_version}" if self.library_version else "",
                )
                if part
            )
            lines.append(f"Saved {saved}")
        return lines


def summarise(
    sizes: Sequence[int], cost: str, init: str, dtype: str, metadata: Mapping[str, Any]
) -> Summary:
    """The :class:`Summary` of a network of ``sizes``, with what its ``metadata`` records."""
    layers = [Layer("input", sizes[0], 0, 0)]
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        name = "output" if k == len(sizes) - 1 else f"hidden {k}"
        layers.append(Layer(name, n_out, n_in * n_out, n_out))
    return Summary(
        layers=tuple(layers),
        cost=cost,
        init=init,
        dtype=dtype,
        training=_training(metadata),
        saved_at=metadata.get("saved_at"),
        library_version=metadata.get("library_version"),
    )


def _training(metadata: Mapping[str, Any]) -> Training | None:
    settings = metadata.get("training")
    history = metadata.get("history")
    if not isinstance(settings, Mapping) and not history:
        return None
    settings = settings if isinstance(settings, Mapping) else {}
    history = history if isinstance(history, list) else []
    best = metadata.get("best_epoch")
    scores = history_summary(metadata)
    return Training(
        settings=dict(settings),
        epochs_run=len(history) or None,
        best_epoch=best if isinstance(best, int) else None,
        best_validation=_accuracy(scores, "validation"),
        test_at_best=_accuracy(scores, "test"),
        interrupted=bool(metadata.get("interrupted")),
    )


def _accuracy(scores: Mapping[str, Any] | None, name: str) -> float | None:
    """The saved epoch's accuracy on ``name`` ("validation", "test"), 0–1, if recorded."""
    score = scores[name] if scores else None
    return score["accuracy"] if score else None


def history_summary(meta: Mapping[str, Any]) -> dict[str, Any] | None:
    """Epochs run, the saved (best-validation) epoch's scores and the best test score.

    None when the metadata holds no history (a model saved by the library alone).
    """
    history = meta.get("history")
    if not isinstance(history, list) or not history:
        return None
    epochs = [r for r in history if isinstance(r, dict)]
    best_epoch = meta.get("best_epoch")
    saved = next((r for r in epochs if r.get("epoch") == best_epoch), None)
    tested = [r for r in epochs if _score(r.get("test"))]
    best_test = max(tested, key=lambda r: _score(r["test"])["accuracy"], default=None)
    training = meta.get("training") if isinstance(meta.get("training"), dict) else {}
    return {
        "epochs": len(epochs),
        "seconds": sum(float(r.get("seconds") or 0) for r in epochs),
        "best_epoch": best_epoch,
        "validation": _score(saved.get("validation")) if saved else None,
        "test": _score(saved.get("test")) if saved else None,
        "best_test": _score(best_test["test"]) if best_test else None,
        "best_test_epoch": best_test.get("epoch") if best_test else None,
        "interrupted": bool(meta.get("interrupted", False)),
        "stopped": training.get("stopped"),
    }


def _score(record: Any) -> dict[str, Any] | None:
    """``{correct, total, accuracy}`` from a history entry's score, or None."""
    if not isinstance(record, dict):
        return None
    correct, total = record.get("correct"), record.get("total")
    if not isinstance(correct, int) or not isinstance(total, int) or total <= 0:
        return None
    return {"correct": correct, "total": total, "accuracy": correct / total}


def _layer_table(layers: Sequence[Layer], total: int) -> list[str]:
    rows = [("layer", "neurons", "weights", "biases", "parameters")]
    for layer in layers:
        counts = (layer.weights, layer.biases, layer.parameters) if layer.weights else ("",) * 3
        rows.append((layer.name, layer.neurons, *counts))
    rows.append(("total", "", "", "", total))
    cells = [[c if isinstance(c, str) else f"{c:,}" for c in row] for row in rows]
    widths = [max(len(row[k]) for row in cells) for k in range(len(cells[0]))]
    return [
        "  " + "  ".join(_cell(c, w, k) for k, (c, w) in enumerate(zip(row, widths))).rstrip()
        for row in cells
    ]


def _cell(text: str, width: int, column: int) -> str:
    return text.ljust(width) if column == 0 else text.rjust(width)  # names left, counts right


def _epochs(n: Any) -> str:
    return plural(n, "epoch") if isinstance(n, int) else f"{n} epochs"


# The training settings worth a word, in reading order, and how to say each.
_SETTINGS: tuple[tuple[str, Callable[[Any], str]], ...] = (
    ("recipe", "recipe {}".format),
    ("epochs", _epochs),
    ("mini_batch_size", "mini-batch size {}".format),
    ("eta", "η = {:g}".format),
    ("lmbda", "λ = {:g}".format),
    ("momentum", "μ = {:g}".format),
    ("early_stop", lambda n: f"early stop after {_epochs(n)} without improvement"),
    ("eta_schedule", lambda n: f"η halved after {_epochs(n)} without improvement"),
    ("augment", lambda n: plural(n, "distorted copy", "distorted copies")),
    ("distort", lambda _: "fresh distortions every epoch"),
    ("seed", "seed {}".format),
)


def _training_lines(training: Training) -> list[str]:
    s = training.settings
    said = [
        say(s[key])
        for key, say in _SETTINGS
        # Off (None, False, 0) says nothing, except seed 0, which is a seed.
        if key in s and s[key] is not None and s[key] is not False and (s[key] or key == "seed")
    ]
    lines = ["Trained: " + (", ".join(said) if said else "(no settings recorded)")]
    if training.epochs_run:
        ran = f"  {plural(training.epochs_run, 'epoch')} run"
        if training.interrupted:
            ran += " (interrupted)"
        if s.get("stopped"):
            ran += f"; stopped: {s['stopped']}"
        lines.append(ran)
    if training.best_epoch is not None:
        best = f"  saved epoch {training.best_epoch}"
        scores = [
            f"{name} {100 * value:.2f} %"
            for name, value in (
                ("validation", training.best_validation),
                ("test", training.test_at_best),
            )
            if value is not None
        ]
        lines.append(best + (f" ({', '.join(scores)})" if scores else ""))
    if s.get("data"):
        lines.append(f"  data: {s['data']}")
    return lines
