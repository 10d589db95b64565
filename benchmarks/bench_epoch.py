"""One epoch of chapter 1's recipe, our trainer side by side with its peers, in one process.

    python benchmarks/bench_epoch.py --data /path/to/mnist [--epochs 3]

Prints the machine, a load gauge (matrix-multiply GFLOP/s now) and a Markdown
table: seconds per epoch (mean and fastest of the timed epochs), each peer's
fastest epoch as a multiple of ours, setup (compiling,
data conversion), test accuracy after the timed epochs, peak numpy memory, and
the process's peak RSS.  Peers needing torch, jax or scikit-learn run when
installed (`pip install -e ".[bench]"`).
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from neuraldigits.data.mnist import load_mnist
from neuraldigits.geometry import PIXELS
from neuraldigits.training.bench import (
    PEERS,
    Recipe,
    format_table,
    machine,
    matmul_gflops,
    run_peers,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="MNIST directory (default: as digits)")
    parser.add_argument("--epochs", type=int, default=1, help="timed epochs per peer")
    parser.add_argument("--examples", type=int, default=50_000, help="training examples")
    parser.add_argument("--hidden", type=int, default=30, help="hidden neurons")
    parser.add_argument("--peers", default=",".join(PEERS), help="comma-separated peers")
    args = parser.parse_args()
    peers = args.peers.split(",")
    unknown = [name for name in peers if name not in PEERS]
    if unknown:
        parser.error(f"--peers: unknown {', '.join(unknown)}; choose from {', '.join(PEERS)}")
    training, _, test = load_mnist(args.data, dtype=np.uint8)
    training = (training[0][: args.examples], training[1][: args.examples])
    recipe = Recipe(sizes=(PIXELS, args.hidden, 10), epochs=args.epochs)
    print(f"machine: {machine()}")
    print(f"load gauge before: {matmul_gflops():.0f} GFLOP/s single-precision matmul")
    print(
        f"recipe: {list(recipe.sizes)}, m = {recipe.mini_batch_size}, eta = {recipe.eta}, "
        f"{len(training[1]):,} uint8 training images, {recipe.epochs} timed epoch(s)\n"
    )
    start = time.perf_counter()
    timings, skipped = run_peers(training, test, recipe, peers)
    print(format_table(timings))
    if skipped:
        print(f"\nskipped (not installed): {', '.join(skipped)}")
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\nload gauge after: {matmul_gflops():.0f} GFLOP/s; whole run "
        f"{time.perf_counter() - start:.0f} s; peak RSS {peak_rss:.0f} MB"
    )


if __name__ == "__main__":
    main()
