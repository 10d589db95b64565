"""`digits reproduce`: chapters 1 and 3's experiments and baselines, book figure beside ours."""

from __future__ import annotations

import argparse
import shlex

from ..atomic import atomic_write
from ..book.reproduce import run as reproduce
from ..book.reproduce import tables, to_markdown
from .common import add_data_argument, positive_int
from .console import add_json_argument
from .data import load_for_command, sample_note
from .sweeping import add_sweep_arguments, sweep_settings

HELP = "rerun the book's experiments and baselines; print them beside the book's figures"
DESCRIPTION = (
    HELP + ".\n\n"
    "Chapter 1: trains [784,30,10], [784,100,10], eta = 0.001, eta = 100 and [784,10]\n"
    "(quadratic cost) once per seed, then the baselines.\n"
    "Chapter 3: trains [784,30,10] and [784,100,10] with the cross-entropy cost, with\n"
    "and without L2 regularisation (lambda = 5.0), and compares the N(0, 1) and\n"
    "N(0, 1/n_in) weight initialisations, each with the book's own settings and\n"
    "scored on the set the book quotes (test or validation).\n\n"
    "With the defaults it runs for tens of minutes, the two SVMs taking much of it;\n"
    "run it in the background:\n\n"
    "  nohup digits reproduce --out docs/results.md --plots docs/images > reproduce.log &"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seeds", type=positive_int, default=3, metavar="N", help="runs per net")
    parser.add_argument("--epochs", type=positive_int, default=30, help="epochs per run")
    parser.add_argument(
        "--mini-batch-size", type=positive_int, default=10, metavar="M", help="SGD mini-batch size"
    )
    parser.add_argument("--no-svm", action="store_true", help="skip the (slow) SVM baselines")
    add_sweep_arguments(parser)
    add_data_argument(parser)
    parser.add_argument(
        "--out",
        metavar="FILE",
        default=None,
        help="also write the table, with this command, as Markdown to FILE (default: print only)",
    )
    parser.add_argument(
        "--plots",
        metavar="DIR",
        default=None,
        help="also save PNG plots of the best [784,30,10] run into DIR (needs the plot extra; "
        "default: no plots)",
    )
    add_json_argument(parser)


def run(args: argparse.Namespace) -> int:
    if args.plots is not None:
        from ..book.plots import require_matplotlib

        require_matplotlib()  # fail now, not after an hour
    where = sweep_settings(args)  # likewise for --jobs and --cluster
    console = args.console
    data = load_for_command(args.data, console=console)
    training, validation, test = data.training, data.validation, data.test
    result = reproduce(
        training,
        validation,
        test,
        seeds=list(range(args.seeds)),
        epochs=args.epochs,
        mini_batch_size=args.mini_batch_size,
        svm=not args.no_svm,
        on_progress=lambda text: print(text, flush=True),
        **where,
    )
    print()
    if note := sample_note(data):
        console.result(note)
    console.result(tables(result))
    if console.json_mode:
        console.json(_document(result, data))
    if args.out is not None:
        command = "digits reproduce " + shlex.join(_arguments(args))
        with atomic_write(args.out, "w") as f:
            f.write(to_markdown(result, command, plots=args.plots, sample_note=sample_note(data)))
        print(f"\nWrote {args.out}")
    if args.plots is not None:
        from ..book.plots import plot_model

        for path in plot_model(result.best_net30, test, args.plots, formats=("png",)):
            print(path)
    return 0


def _document(result, data) -> dict:
    """`digits reproduce --json`'s document (docs/json.md): every table row, per seed."""
    return {
        "data": data.source,
        "sample": data.is_sample,
        "seeds": list(result.seeds),
        "epochs": result.epochs,
        "mini_batch_size": result.mini_batch_size,
        "training_examples": result.training_examples,
        "seconds": result.seconds,
        "rows": [
            {
                "key": row.key,
                "chapter": row.chapter,
                "experiment": row.experiment,
                "book": row.book,
                "scored_on": row.scored_on,
                "total": row.total,
                "correct": list(row.correct),
                "best": row.best,
                "final": list(row.final) if row.final is not None else None,
                "first": list(row.first) if row.first is not None else None,
                "seconds": row.seconds,
            }
            for row in result.rows
        ],
    }


def _arguments(args: argparse.Namespace) -> list[str]:
    """The options of this run, for the command line recorded in the results file."""
    words = [f"--seeds={args.seeds}", f"--epochs={args.epochs}"]
    if args.mini_batch_size != 10:
        words.append(f"--mini-batch-size={args.mini_batch_size}")
    if args.no_svm:
        words.append("--no-svm")
    if args.data is not None:
        words.append(f"--data={args.data}")
    words.append(f"--out={args.out}")
    if args.plots is not None:
        words.append(f"--plots={args.plots}")
    return words
