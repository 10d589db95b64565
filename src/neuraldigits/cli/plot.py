"""`digits plot`: pictures of a saved model — learning curve, hidden weights, mistakes."""

from __future__ import annotations

import argparse

from ..book.plots import FORMATS, plot_model
from .common import add_data_argument, add_model_argument
from .data import model_and_data

HELP = "draw a saved model: learning curve, hidden neurons' weights, mistakes, confusion matrix"
DESCRIPTION = (
    HELP + ".\n\nWrites learning_curve, hidden_weights, misclassified and confusion_matrix,\n"
    "each as PNG and SVG, into --out. Needs the plot extra (matplotlib)."
)


def formats(text: str) -> tuple[str, ...]:
    chosen = tuple(part.strip().lower() for part in text.split(",") if part.strip())
    unknown = [f for f in chosen if f not in FORMATS]
    if not chosen or unknown:
        raise argparse.ArgumentTypeError(
            f"expected a comma-separated list of {', '.join(FORMATS)}, got {text!r}"
        )
    return chosen


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser)
    parser.add_argument("--out", default="plots", metavar="DIR", help="directory for the images")
    parser.add_argument(
        "--format",
        type=formats,
        default=",".join(FORMATS),
        metavar="png,svg",
        help="image formats to write",
    )
    add_data_argument(parser)


def run(args: argparse.Namespace) -> int:
    console = args.console
    net, _, data = model_and_data(args.model, args.data, "plot", console)
    # A figure of the sample must not pass for one of MNIST's 10,000 test digits.
    test_name = "offline sample's test digits" if data.is_sample else "test digits"
    if not net.metadata.get("history"):
        console.note("the model holds no training history; skipping the learning curve")
    for path in plot_model(net, data.test, args.out, args.format, test_name=test_name):
        console.result(str(path))
    return 0
