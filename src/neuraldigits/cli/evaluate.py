"""`digits evaluate`: how many of the 10,000 test digits a saved model gets right."""

from __future__ import annotations

import argparse

from .common import add_data_argument, add_model_argument
from .data import model_and_test_set

HELP = "score a saved model on the MNIST test set"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser)
    add_data_argument(parser)


def run(args: argparse.Namespace) -> int:
    net, test = model_and_test_set(args.model, args.data, "evaluate")
    score = net.score(test)
    print(f"{score.correct} / {score.total}  ({100 * score.accuracy:.2f} %)")
    return 0
