"""`digits experiment NAME`: the chapter's questions, measured.

* ``output-encoding`` — 10 output neurons against a 4-bit binary code, and the
  book's hand-set layer converting the 10 outputs into 4 bits;
* ``gd-vs-sgd`` — full-batch gradient descent against mini-batch SGD.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..book.experiments import gd_vs_sgd, output_encoding
from ..wording import plural
from .common import add_data_argument, positive_float, positive_int
from .data import load_for_command, sample_note
from .helptext import plain
from .sweeping import add_sweep_arguments, sweep_settings

HELP = "run one of the chapter's experiments: output-encoding or gd-vs-sgd"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="experiment", metavar="EXPERIMENT", required=True)
    fmt = parser.formatter_class
    p = sub.add_parser(
        "output-encoding",
        help="10 output neurons vs a 4-bit binary code; the hand-set 10→4 bit layer",
        description=plain(output_encoding.__doc__),
        formatter_class=fmt,
    )
    p.add_argument("--hidden", type=positive_int, default=30, help="hidden neurons of both nets")
    _add_training_arguments(p, epochs=10)
    p.add_argument(
        "--seeds", type=positive_int, default=3, metavar="N", help="train each encoding N times"
    )
    add_sweep_arguments(p)
    p.set_defaults(experiment_run=_run_output_encoding)

    p = sub.add_parser(
        "gd-vs-sgd",
        help="full-batch gradient descent vs mini-batch SGD, same gradient evaluations and time",
        description=plain(gd_vs_sgd.__doc__),
        formatter_class=fmt,
    )
    p.add_argument("--hidden", type=positive_int, default=30, help="hidden neurons")
    _add_training_arguments(p, epochs=3)
    p.add_argument("--seed", type=int, default=0, help="seed for the common starting weights")
    p.add_argument(
        "--out", default="plots", metavar="DIR", help="directory for gd_vs_sgd.png and .svg"
    )
    p.set_defaults(experiment_run=_run_gd_vs_sgd)


def _add_training_arguments(p: argparse.ArgumentParser, epochs: int) -> None:
    p.add_argument("--epochs", type=positive_int, default=epochs, help="passes over the data")
    p.add_argument(
        "--mini-batch-size", type=positive_int, default=10, metavar="M", help="SGD mini-batch size"
    )
    p.add_argument("--eta", type=positive_float, default=3.0, help="learning rate η")
    add_data_argument(p)


def run(args: argparse.Namespace) -> int:
    return args.experiment_run(args)


def _percent(x: float) -> str:
    return f"{100 * x:.2f} %"


def _run_output_encoding(args: argparse.Namespace) -> int:
    say = args.console.result  # the table and verdicts; the progress lines are commentary
    where = sweep_settings(args)  # before loading data: --jobs and --cluster are usable
    data = load_for_command(args.data)
    training, test = data.training, data.test
    seeds = list(range(args.seeds))
    n_in = training[0].shape[1]
    print(
        f"[{n_in}, {args.hidden}, 10] vs [{n_in}, {args.hidden}, 4]: "
        f"{plural(args.epochs, 'epoch')}, mini-batch size {args.mini_batch_size}, "
        f"η = {args.eta}, seeds {seeds}",
        flush=True,
    )
    result = output_encoding.run(
        training,
        test,
        hidden=args.hidden,
        epochs=args.epochs,
        mini_batch_size=args.mini_batch_size,
        eta=args.eta,
        seeds=seeds,
        on_progress=lambda text: print("  " + text, flush=True),
        **where,
    )
    width = max(map(len, output_encoding.ENCODINGS))
    say(f"\nFinal test accuracy after {plural(args.epochs, 'epoch')}:")
    if note := sample_note(data):
        say(note)
    header = "  ".join(f"seed {s:<3}" for s in seeds)
    say(f"{'encoding':<{width}}  {header}  mean ± sd          min – max")
    for encoding in output_encoding.ENCODINGS:
        acc = result.final_accuracies(encoding)
        sd = float(np.std(acc, ddof=1)) if len(acc) > 1 else 0.0
        cells = "  ".join(f"{100 * a:6.2f} %" for a in acc)  # "95.42 %", as every other figure
        say(
            f"{encoding:<{width}}  {cells}  {_percent(acc.mean())} ± {100 * sd:.2f}   "
            f"{_percent(acc.min())} – {_percent(acc.max())}"
        )
    c = result.conversion
    say(
        f"\nHand-set bit layer on seed {seeds[0]}'s 10-output network: right 4 bits for "
        f"{c.right_bits:,} of the {c.classified_correctly:,} test digits it classifies correctly."
    )
    say(
        f"  Where the book's premise holds (the right output beats the sum of the outputs "
        f"differing in each bit): {c.premise_held_right:,} of {c.premise_held:,} right."
    )
    if not c.all_right:
        say(
            f"  Wrong bits for {len(c.wrong_indices)} unsure digits (test indices "
            f"{list(c.wrong_indices)[:20]}): one sigmoid layer cannot turn every "
            "argmax into bits."
        )
    return 0


def _run_gd_vs_sgd(args: argparse.Namespace) -> int:
    say = args.console.result  # the table and the figures' paths
    from ..book.plots import gd_vs_sgd as figure
    from ..book.plots import save_figure

    data = load_for_command(args.data)
    training, test = data.training, data.test
    sizes = (training[0].shape[1], args.hidden, 10)
    result = gd_vs_sgd.run(
        training,
        test,
        sizes=sizes,
        epochs=args.epochs,
        mini_batch_size=args.mini_batch_size,
        eta=args.eta,
        seed=args.seed,
        on_progress=lambda text: print(text, flush=True),
    )
    n = result.training_examples
    if note := sample_note(data):
        say("\n" + note)
    say(f"\n{'':<42} {'grad. evals':>12} {'seconds':>8} {'cost C':>8} {'accuracy':>9}")
    for name, p in (
        ("mini-batch SGD", result.sgd.last),
        ("gradient descent, same gradient evaluations", result.gd_same_evaluations),
        ("gradient descent, same wall time", result.gd_same_time),
    ):
        say(
            f"{name:<44} {p.gradient_evaluations / n:>8.1f} ep {p.seconds:>8.1f} "
            f"{p.cost:>8.4f} {_percent(p.accuracy):>9}"
        )
    fig = figure(result)
    for fmt in ("png", "svg"):
        say(str(save_figure(fig, Path(args.out) / f"gd_vs_sgd.{fmt}")))
    return 0
