"""`digits bench`: a quick side-by-side timing of one training epoch, ours against its peers."""

from __future__ import annotations

import argparse
from dataclasses import asdict

import numpy as np

from ..errors import NeuralDigitsError
from ..extras import install_hint
from ..training.bench import (
    PEERS,
    Recipe,
    available,
    format_table,
    machine,
    matmul_gflops,
    run_peers,
)
from ..wording import plural
from .common import add_data_argument, positive_int
from .console import add_json_argument
from .data import load_for_command, sample_note

HELP = "time one SGD epoch of the book's recipe: our trainer next to its peers"
DESCRIPTION = (
    HELP + ".\n\nA quick form of benchmarks/bench_epoch.py: by default 10,000 training images\n"
    "and the peers that are installed (PyTorch, JAX, scikit-learn: the bench extra).\n"
    "Ratios are what to read: absolute times depend on the machine "
    "and its load,\nwhich the 'load gauge' (matrix-multiply GFLOP/s) shows."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_argument(parser)
    parser.add_argument(
        "--examples", type=positive_int, default=10_000, help="training images per epoch"
    )
    parser.add_argument("--hidden", type=positive_int, default=30, help="hidden neurons")
    parser.add_argument("--epochs", type=positive_int, default=1, help="timed epochs per peer")
    parser.add_argument(
        "--peers",
        default=",".join(PEERS),
        metavar="NAME,...",
        help="peers to time, from: " + ", ".join(PEERS),
    )
    add_json_argument(parser)


def run(args: argparse.Namespace) -> int:
    peers = [p for p in args.peers.split(",") if p]
    unknown = [p for p in peers if p not in PEERS]
    if unknown or not peers:
        raise NeuralDigitsError(
            f"--peers: unknown peer(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(PEERS)}"
        )
    console = args.console
    data = load_for_command(args.data, dtype=np.uint8, console=console)
    training, test = data.training, data.test
    training = (training[0][: args.examples], training[1][: args.examples])
    recipe = Recipe(sizes=(training[0].shape[1], args.hidden, 10), epochs=args.epochs)
    where, gauge = machine(), matmul_gflops()
    console.result(f"machine: {where}; load gauge {gauge:.0f} GFLOP/s")
    print(
        f"{list(recipe.sizes)}, m = {recipe.mini_batch_size}, eta = {recipe.eta}, "
        f"{len(training[1]):,} training images, {plural(recipe.epochs, 'timed epoch')}",
        flush=True,
    )
    timings, skipped = run_peers(training, test, recipe, [p for p in peers if available(p)])
    if note := sample_note(data):
        console.result(note)
    console.result(format_table(timings))
    missing = [p for p in peers if not available(p)] + skipped
    if missing:
        console.note(
            f'skipped, not installed: {", ".join(missing)} ({install_hint("bench")})'
        )
    if console.json_mode:
        console.json(
            {
                "machine": where,
                "gflops": gauge,
                "data": data.source,
                "sample": data.is_sample,
                "sizes": list(recipe.sizes),
                "mini_batch_size": recipe.mini_batch_size,
                "eta": recipe.eta,
                "training_examples": len(training[1]),
                "epochs": recipe.epochs,
                "timings": [asdict(t) for t in timings],
                "skipped": missing,
            }
        )
    return 0
