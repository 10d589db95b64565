"""Helpers for the command-line tests."""

import argparse

from neuraldigits.cli import build_parser


def subcommand_parsers():
    """Every (sub)parser under `digits`, however deeply nested."""
    todo = [build_parser()]
    while todo:
        parser = todo.pop()
        yield parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                todo.extend(action.choices.values())
