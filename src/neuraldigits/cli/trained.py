"""What `digits train` does with the model it trained: where it goes, and the JSON report.

Without ``--out``, a run saves to the default model (the one ``predict``,
``evaluate`` and ``serve`` use).  A worse run must not silently replace a
better model there (a one-epoch η = 100 experiment once replaced a 95 % one),
so :func:`destination` compares the validation accuracy each model's metadata
records for the epoch it holds:

* no default model yet, or ``--force``: save there;
* the new model's accuracy is at least the old one's: replace it;
* otherwise (the old one is better, or its score cannot be read): keep it, and
  save the new one beside it as ``model-YYYYMMDD-HHMMSS.npz`` (``-2``, ``-3``... added
  should that name be taken).

The run's last line says which happened.  ``--out PATH`` always writes PATH.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ModelFileError
from ..locations import default_model_path
from ..modelfile import load
from ..network import EpochResult
from .info import saved_validation_accuracy


@dataclass(frozen=True)
class Destination:
    """Where to save, and what became of a model already there."""

    path: Path
    # "new" (nothing there), "forced", "replaced" (the new one is as good or better),
    # "explicit" (--out given), or "kept" (the old one stays; path is beside it)
    outcome: str
    previous: Path | None = None  # the default model that was there
    previous_accuracy: float | None = None  # its recorded validation accuracy


def destination(out: str | None, force: bool, accuracy: float) -> Destination:
    """Where `digits train` saves a model whose saved epoch's validation accuracy is
    ``accuracy``: ``out`` if given, else the default model unless a better one is there."""
    if out is not None:
        return Destination(Path(out), "explicit")
    default = default_model_path()
    if not default.exists():
        return Destination(default, "new")
    try:
        previous = saved_validation_accuracy(load(default).metadata)
    except ModelFileError:
        previous = None  # unreadable: keep it for the user to look at, never overwrite it
    if force:
        return Destination(default, "forced", default, previous)
    if previous is not None and accuracy >= previous:
        return Destination(default, "replaced", default, previous)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    beside = default.with_name(f"{default.stem}-{stamp}{default.suffix}")
    number = 2
    while beside.exists():  # two runs within a second: never overwrite the earlier one
        beside = default.with_name(f"{default.stem}-{stamp}-{number}{default.suffix}")
        number += 1
    return Destination(beside, "kept", default, previous)


def outcome_line(where: Destination, accuracy: float) -> str | None:
    """What became of the default model, in one sentence; None when nothing was there."""
    if where.previous is None:
        return None
    before = (
        f"validation {100 * where.previous_accuracy:.2f} %"
        if where.previous_accuracy is not None
        else "no readable validation score"
    )
    now = f"{100 * accuracy:.2f} %"
    if where.outcome == "kept":
        return (
            f"Kept your model {where.previous} ({before}, better than this run's {now}); "
            f"saved this run beside it. --force replaces it"
        )
    if where.outcome == "forced":
        return f"Replaced your model {where.previous} ({before}) as --force asked"
    return f"Replaced your model {where.previous} ({before}): this run's {now} is as good or better"


def document(
    history: Sequence[EpochResult],
    best_epoch: int,
    where: Destination | None,
    settings: dict[str, Any],
    sizes: Sequence[int],
    is_sample: bool,
    interrupted: bool,
) -> dict[str, Any]:
    """`digits train --json`'s document (docs/json.md)."""
    epochs = [_epoch(r) for r in history]
    saved = next((e for e in epochs if e["epoch"] == best_epoch), None)
    tested = [e for e in epochs if e["test"] is not None]
    best_test = max(tested, key=lambda e: e["test"]["accuracy"], default=None)
    return {
        "model": str(where.path) if where else None,
        "outcome": where.outcome if where else None,
        "previous_model": str(where.previous) if where and where.previous else None,
        "previous_validation_accuracy": where.previous_accuracy if where else None,
        "sizes": list(sizes),
        "data": settings.get("data"),
        "sample": is_sample,
        "settings": settings,
        "epochs": epochs,
        "best_epoch": best_epoch if saved else None,
        "validation": saved["validation"] if saved else None,
        "test": saved["test"] if saved else None,
        "best_test": best_test["test"] if best_test else None,
        "best_test_epoch": best_test["epoch"] if best_test else None,
        "seconds": sum(e["seconds"] for e in epochs),
        "stopped": settings.get("stopped"),
        "interrupted": interrupted,
    }


def _epoch(r: EpochResult) -> dict[str, Any]:
    return {
        "epoch": r.epoch,
        "seconds": r.seconds,
        "eta": r.eta,
        "test": _score(r.test),
        "validation": _score(r.validation),
    }


def _score(score: Any) -> dict[str, Any] | None:
    if score is None:
        return None
    return {
        "correct": score.correct,
        "total": score.total,
        "accuracy": score.accuracy,
        "cost": score.cost,
    }
