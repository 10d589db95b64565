"""`digits evaluate`: how many of the 10,000 test digits a saved model gets right."""

from __future__ import annotations

import argparse

from ..errors import NeuralDigitsError
from ..locations import default_model_path
from ..modelfile import load
from .common import add_data_argument, add_model_argument
from .data import load_for_command

HELP = "score a saved model on the MNIST test set"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser)
    add_data_argument(parser)


def run(args: argparse.Namespace) -> int:
    net = load(args.model or default_model_path())
    test = load_for_command(args.data).test
    if test[0].shape[1] != net.sizes[0]:
        raise NeuralDigitsError(
            f"the model takes {net.sizes[0]} inputs but the data's images have "
            f"{test[0].shape[1]} pixels"
        )
    score = net.score(test)
    print(f"{score.correct} / {score.total}  ({100 * score.accuracy:.2f} %)")
    return 0
