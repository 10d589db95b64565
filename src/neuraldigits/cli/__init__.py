"""The ``digits`` command line: one module per subcommand, listed in COMMANDS.

Each subcommand module provides ``HELP`` (one line), ``add_arguments(parser)``
and ``run(args) -> int``.  Only this package prints; the library returns values.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ..errors import NeuralDigitsError
from ..version import __version__
from . import (
    add,
    baselines,
    bench,
    data,
    evaluate,
    experiment,
    export,
    gates,
    plot,
    predict,
    reproduce,
    serve,
    train,
)

# Explicit registry: the order here is the order in `digits --help`.
COMMANDS = {
    "train": train,
    "evaluate": evaluate,
    "predict": predict,
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
}


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Show defaults in every help text and keep descriptions' line breaks.

    An option whose help already explains its default in words ("default: ...")
    is left alone rather than getting a second, less helpful "(default: None)".
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.help and "default:" in action.help:
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
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in COMMANDS.items():
        p = sub.add_parser(
            name,
            help=module.HELP,
            description=getattr(module, "DESCRIPTION", module.HELP),
            formatter_class=HelpFormatter,
        )
        module.add_arguments(p)
        p.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``digits`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
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
