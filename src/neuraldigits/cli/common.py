"""Argument types and options shared by several subcommands."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..locations import DATA_ENV, default_model_path
from ..models import SHIPPED, shipped_model
from .completion import FILE
from .console import Console


def _whole_number(text: str, minimum: int, kind: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected a {kind} whole number, got {value}")
    return value


def positive_int(text: str) -> int:
    return _whole_number(text, 1, "positive")


def non_negative_int(text: str) -> int:
    return _whole_number(text, 0, "non-negative")


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def positive_float(text: str) -> float:
    value = _number(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text}")
    return value


def non_negative_float(text: str) -> float:
    value = _number(text)
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a non-negative finite number, got {text}")
    return value


def fraction(text: str) -> float:
    """A number in [0, 1), such as a momentum coefficient."""
    value = _number(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a number from 0 up to (not including) 1, got {text}"
        )
    return value


def layer_sizes(text: str) -> list[int]:
    """Parse ``784,30,10`` into ``[784, 30, 10]``."""
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated layer sizes such as 784,30,10, got {text!r}"
        ) from None
    if len(sizes) < 2 or any(s <= 0 for s in sizes):
        raise argparse.ArgumentTypeError(
            f"expected at least two positive layer sizes such as 784,30,10, got {text!r}"
        )
    return sizes


def add_data_argument(parser: argparse.ArgumentParser) -> None:
    action = parser.add_argument(
        "--data",
        metavar="PATH",
        default=None,
        help="directory holding the four MNIST IDX files (or Fashion-MNIST's), or the "
        f"book's mnist.pkl.gz (default: ${DATA_ENV}, else the per-user cache, else a "
        "download, else the offline sample; see `digits data info`)",
    )
    action.complete = FILE  # type: ignore[attr-defined]  # read by `digits completion`


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    action = parser.add_argument(
        "model",
        nargs="?",
        metavar="MODEL",
        default=None,
        help=f"model file saved by `digits train`, or {' / '.join(SHIPPED)} for the model "
        f"shipped with neuraldigits (default: {default_model_path()} if you have trained "
        "one, else the shipped reader)",
    )
    action.complete = FILE  # type: ignore[attr-defined]


def resolve_model(model: str | Path | None, command: str, console: Console | None = None) -> Path:
    """The model file a command reads: ``model`` as given (a shipped model's name, such as
    ``reader``, means that model), else the user's default model if there is one, else the
    shipped reader.  Says on stderr which, when the user did not name one (not with -q)."""
    console = console or Console(command)
    if model is not None:
        name = str(model)
        path = shipped_model(name) if name in SHIPPED else Path(name)
        console.detail(f"model {path}")
        return path
    path = default_model_path()
    if path.exists():
        console.note(f"using your model {path}")
        return path
    reader = shipped_model("reader")
    console.note(
        f"using the shipped reader (no model of yours at {path}; `digits train` makes one)"
    )
    return reader
