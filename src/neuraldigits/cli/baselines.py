"""`digits baselines`: random guessing, average darkness and an SVM, as in chapter 1."""

from __future__ import annotations

import argparse

from ..book import baselines
from .common import add_data_argument
from .console import add_json_argument
from .data import load_for_command

HELP = "score the book's baselines: random guessing, average darkness, an SVM"
DESCRIPTION = (
    HELP + ".\n\nThe book gets 2,225 / 10,000 by average darkness and 9,435 with scikit-learn's\n"
    "SVM (defaults of 2015: --svm-gamma auto). The SVM trains for minutes and needs\n"
    "the svm extra (scikit-learn)."
)


def gamma(text: str) -> str | float:
    if text in ("scale", "auto"):
        return text
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(
            f"expected 'scale', 'auto' or a positive number, got {text!r}"
        )
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_argument(parser)
    parser.add_argument(
        "--no-svm", action="store_true", help="skip the SVM (the only slow baseline)"
    )
    parser.add_argument(
        "--svm-gamma",
        type=gamma,
        default="scale",
        metavar="G",
        help="the SVM's kernel width: 'scale' (scikit-learn's default today), "
        "'auto' (= 1/784, the default the book used) or a number",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for random guessing")
    add_json_argument(parser)


def run(args: argparse.Namespace) -> int:
    console = args.console
    data = load_for_command(args.data, console=console)
    training, test = data.training, data.test
    results = [
        baselines.random_guessing(test, seed=args.seed),
        baselines.average_darkness(training, test),
    ]
    # Scores on the sample's 1,000 test digits must not read as MNIST's 10,000: each line says so.
    where = " on the offline sample's test images" if data.is_sample else ""
    for r in results:
        _print(console, r, where)
    if not args.no_svm:
        print(
            f"Training the SVM on {len(training[1]):,} images; this takes several minutes...",
            flush=True,
        )
        results.append(baselines.svm(training, test, gamma=args.svm_gamma))
        _print(console, results[-1], where)
    if console.json_mode:
        console.json(
            {
                "data": data.source,
                "sample": data.is_sample,
                "baselines": [
                    {
                        "name": r.name,
                        "correct": r.correct,
                        "total": r.total,
                        "accuracy": r.accuracy,
                        "seconds": r.seconds,
                    }
                    for r in results
                ],
            }
        )
    return 0


def _print(console, r: baselines.BaselineResult, where: str = "") -> None:
    console.result(f"{r.name}: {r.correct} / {r.total}  ({100 * r.accuracy:.2f} %){where}")
