"""The ``digits`` command line: one module per subcommand, listed in COMMANDS.

Each subcommand module provides ``HELP`` (one line), ``add_arguments(parser)``
and ``run(args) -> int``.  Only this package prints; the library returns values.
``args.console`` (:class:`.console.Console`) says where each line goes under
``-q``, ``-v`` and ``--json``; commands that report results take ``--json`` and
print one document whose fields docs/json.md lists.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

from ..errors import NeuralDigitsError
from ..version import __version__
from . import (
    add,
    baselines,
    bench,
    completion,
    data,
    evaluate,
    experiment,
    export,
    gates,
    info,
    plot,
    predict,
    reproduce,
    serve,
    train,
)
from .console import NORMAL, QUIET, VERBOSE, Console, redirected

# Explicit registry: the order here is the order in `digits --help`.
COMMANDS = {
    "train": train,
    "evaluate": evaluate,
    "predict": predict,
    "info": info,
    "gates": gates,
    "add": add,
    "serve": serve,
    "data": data,
    "plot": plot,
    "baselines": baselines,
    "experiment": experiment,
    "reproduce": reproduce,
    "bench": bench,
    "export": export,
    "completion": completion,
}

# Commands that train, and so read $NEURALDIGITS_THREADS: checked before they load any data.
TRAINING_COMMANDS = {"train", "bench", "reproduce", "experiment"}


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Show defaults in every help text and keep descriptions' line breaks.

    An option whose help already explains its default in words ("default: ...")
    is left alone rather than getting a second, less helpful "(default: None)".
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.help and "default:" in action.help:
            return action.help
        if action.nargs == 0 and action.default is None:  # -q, -v: "(default: None)" says nothing
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="digits",
        description="Build, train, understand and serve networks that read handwritten digits "
        "(chapter 1 of Nielsen's Neural Networks and Deep Learning).",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_verbosity_arguments(parser, default=None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in COMMANDS.items():
        p = sub.add_parser(
            name,
            help=module.HELP,
            description=getattr(module, "DESCRIPTION", module.HELP),
            formatter_class=HelpFormatter,
        )
        module.add_arguments(p)
        # Also after the command (`digits train -q`, `digits data download -q`); SUPPRESS
        # keeps a -q given before it.
        for parser_ in _with_actions(p):
            add_verbosity_arguments(parser_, default=argparse.SUPPRESS)
        p.set_defaults(run=module.run)
    return parser


def _with_actions(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """``parser`` and the parsers of its nested actions (`digits data download`)."""
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found += _with_actions(child)
    return found


def add_verbosity_arguments(parser: argparse.ArgumentParser, default: object) -> None:
    """``-q`` and ``-v``, which exclude each other; both set ``args.verbosity``."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "-q",
        "--quiet",
        dest="verbosity",
        action="store_const",
        const=QUIET,
        default=default,
        help="print only results, warnings and errors (no progress, no remarks)",
    )
    group.add_argument(
        "-v",
        "--verbose",
        dest="verbosity",
        action="store_const",
        const=VERBOSE,
        default=default,
        help="also print details on stderr: data and model paths, the trainer used, timings",
    )


def check_settings(command: str) -> None:
    """Refuse a bad environment setting now, before the command spends time loading data."""
    if command in TRAINING_COMMANDS:
        from ..training.ckernel import requested_threads

        requested_threads()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``digits`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    verbosity = getattr(args, "verbosity", None)
    args.console = console = Console(
        args.command, NORMAL if verbosity is None else verbosity, getattr(args, "json", False)
    )
    started = time.perf_counter()
    try:
        check_settings(args.command)
        with redirected(console):
            status = args.run(args)
        console.detail(f"finished in {time.perf_counter() - started:.1f} s")
        return status
    except NeuralDigitsError as e:
        print(f"digits {args.command}: error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # `digits gates | head`: the reader left; that is not an error worth a message.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:
        # Permission denied, disk full, ...: the OS message names the file.
        print(f"digits {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"digits {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
