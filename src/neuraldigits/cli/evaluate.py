"""`digits evaluate`: how many of the 10,000 test digits a saved model gets right."""

from __future__ import annotations

import argparse

from .common import add_data_argument, add_model_argument
from .console import add_json_argument
from .data import model_and_data

HELP = "score a saved model on the MNIST test set"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser)
    add_data_argument(parser)
    add_json_argument(parser)


def run(args: argparse.Namespace) -> int:
    console = args.console
    net, path, data = model_and_data(args.model, args.data, "evaluate", console)
    score = net.score(data.test)
    where = " on the offline sample's test images" if data.is_sample else ""
    if console.json_mode:
        console.json(
            {
                "model": str(path),
                "data": data.source,
                "sample": data.is_sample,
                "correct": score.correct,
                "total": score.total,
                "accuracy": score.accuracy,
                "cost": score.cost,
            }
        )
    console.result(f"{score.correct} / {score.total}  ({100 * score.accuracy:.2f} %){where}")
    return 0
