"""`digits info [MODEL]`: what a model file holds: its network, training and scores."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..modelfile import load
from ..models import shipped_name
from ..network import Network
from ..summary import history_summary
from ..wording import plural
from .common import add_model_argument, resolve_model
from .console import add_json_argument

HELP = "show a saved model's network, training settings, history and data source"
DESCRIPTION = (
    HELP + ".\n\nReads the model's metadata (the file is checked as strictly as for any "
    "other command):\nlayer sizes, parameter count, cost, initialisation, the settings it was "
    "trained with,\nits epochs, the saved epoch's scores and the data it was trained on. "
    "--json prints\nthe same as one document (fields: docs/json.md)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser)
    add_json_argument(parser)


def run(args: argparse.Namespace) -> int:
    console = args.console
    path = resolve_model(args.model, "info", console)
    net = load(path)
    facts = describe(net, path)
    if console.json_mode:
        console.json(facts)
    for line in lines(facts):
        console.result(line)
    return 0


def describe(net: Network, path: Path) -> dict[str, Any]:
    """The model's facts, as ``digits info --json`` prints them (docs/json.md)."""
    meta = net.metadata
    training = meta.get("training") if isinstance(meta.get("training"), dict) else None
    weights = sum(int(w.size) for w in net.weights)
    biases = sum(int(b.size) for b in net.biases)
    return {
        "file": str(path),
        "shipped": shipped_name(path),
        "file_bytes": path.stat().st_size,
        "format": meta.get("format"),
        "format_version": meta.get("format_version"),
        "library_version": meta.get("library_version"),
        "saved_at": meta.get("saved_at"),
        "sizes": list(net.sizes),
        "parameters": weights + biases,
        "weights": weights,
        "biases": biases,
        "cost": net.cost.name,
        "dtype": net.dtype.name,
        "init": training.get("init") if training else None,
        "training": training,
        "data": training.get("data") if training else None,
        "history": history_summary(meta),
    }


def saved_validation_accuracy(meta: dict[str, Any]) -> float | None:
    """The validation accuracy of the epoch a model file holds, as its metadata records it
    (None when it records none): what `digits train` compares before replacing a model."""
    summary = history_summary(meta)
    if summary is None or summary["validation"] is None:
        return None
    return summary["validation"]["accuracy"]


def lines(facts: dict[str, Any]) -> list[str]:
    """``digits info``'s human-readable lines."""
    name = f" (the shipped {facts['shipped']})" if facts["shipped"] else ""
    out = [
        f"{facts['file']}{name}: {facts['file_bytes']:,} bytes, {facts['format']} format "
        f"{facts['format_version']}, saved {facts['saved_at'] or 'at an unknown time'} by "
        f"neuraldigits {facts['library_version'] or '(unknown version)'}",
        f"Network: {facts['sizes']}, {plural(facts['parameters'], 'parameter')} "
        f"({facts['weights']:,} weights, {facts['biases']:,} biases), {facts['dtype']}, "
        f"{facts['cost']} cost" + (f", {facts['init']} init" if facts["init"] else ""),
    ]
    training = facts["training"]
    if training:
        out.append("Training: " + ", ".join(_settings(training)))
    out.append(f"Data: {facts['data'] or 'not recorded'}")
    history = facts["history"]
    if history is None:
        out.append("History: none recorded")
        return out
    how = "interrupted" if history["interrupted"] else (history["stopped"] or "ran to the end")
    out.append(
        f"History: {plural(history['epochs'], 'epoch')} ({how}), "
        f"{history['seconds']:.1f} s of training"
    )
    if history["validation"] is not None:
        saved = f"Saved epoch {history['best_epoch']}: validation {_percent(history['validation'])}"
        if history["test"] is not None:
            saved += f", test {_percent(history['test'])}"
        out.append(saved)
    if history["best_test"] is not None:
        out.append(
            f"Best test accuracy: {_percent(history['best_test'])} at epoch "
            f"{history['best_test_epoch']}"
        )
    return out


def _percent(score: dict[str, Any]) -> str:
    return f"{score['correct']} / {score['total']} ({100 * score['accuracy']:.2f} %)"


def _settings(training: dict[str, Any]) -> list[str]:
    """The recorded settings worth a word, in `digits train`'s order and names."""
    parts = []
    if training.get("recipe"):
        parts.append(f"recipe {training['recipe']}")
    names = (("epochs", "epochs"), ("mini_batch_size", "mini-batch size"), ("eta", "eta"),
             ("lmbda", "lmbda"), ("momentum", "momentum"), ("early_stop", "early stop"),
             ("eta_schedule", "eta schedule"), ("augment", "distorted copies"),
             ("seed", "seed"), ("training_examples", "training images"))  # fmt: skip
    for key, label in names:
        value = training.get(key)
        if value not in (None, 0, 0.0, False) or key in ("epochs", "eta", "seed"):
            shown = f"{value:,}" if key == "training_examples" and isinstance(value, int) else value
            parts.append(f"{label} {shown}")
    if training.get("distort"):
        parts.append("fresh distortions every epoch")
    return parts
