"""Chapter 1's η = 0.001 run over many seeds: the book's per-example algorithm beside ours.

    python benchmarks/eta_small.py --data /path/to/mnist [--seeds 10] [--epochs 30]

The book trains [784, 100, 10] (quadratic cost, N(0, 1) weights, m = 10) with
η = 0.001 and reports 11.39 % on the test images after epoch 0, slowly climbing
to 21.42 % after epoch 29; `digits reproduce` measures near 10 %.  This runs,
for each seed, our default path (``net.sgd(..., method="fast")``, float32) and
the book's algorithm as :func:`neuraldigits.training.bench.book_trainer` has it
(backprop one example at a time, float64, ``network.py``'s loop), both starting
from the same ``Network(sizes, seed=seed)`` weights, and scores the 10,000 test
images after every epoch.  Prints a line per run as it goes, then a Markdown
table: per seed the accuracy after the first and the last epoch and the peak;
then the mean and min–max over the seeds.

The book's algorithm takes ~5–8 s an epoch here: 10 seeds × 30 epochs is most
of an hour on one core.  Run it in the background:

    nohup python benchmarks/eta_small.py --data /path/to/mnist > eta_small.log &
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from threadpoolctl import threadpool_limits

from neuraldigits.data.mnist import load_mnist
from neuraldigits.network import Dataset, Network
from neuraldigits.training.bench import Recipe, book_trainer, machine

SIZES = (784, 100, 10)
ETA = 0.001


def ours(training: Dataset, test: Dataset, seed: int, epochs: int) -> list[int]:
    """Test correct after each epoch: our default path (the fast trainer, float32)."""
    net = Network(SIZES, seed=seed)
    history = net.sgd(training, epochs, 10, ETA, test_data=test, method="fast")
    return [r.test.correct for r in history]


def book(training: Dataset, test: Dataset, seed: int, epochs: int) -> list[int]:
    """Test correct after each epoch: the book's per-example algorithm, float64."""
    net, train, _ = book_trainer(training, Recipe(sizes=SIZES, eta=ETA, seed=seed))
    correct = []
    for epoch in range(epochs):
        train(epoch)
        correct.append(net.evaluate(test))
    return correct


PEERS: dict[str, tuple[str, Callable[[Dataset, Dataset, int, int], list[int]]]] = {
    "ours": ("ours, fast path (float32)", ours),
    "book": ("book's algorithm, per example (float64)", book),
}


def percent(correct: float, total: int) -> str:
    return f"{100 * correct / total:.2f} %"


def table(runs: dict[str, dict[int, list[int]]], total: int) -> str:
    """Per seed: first epoch, last epoch and peak of each peer; then mean and min–max."""
    peers = list(runs)
    seeds = sorted(set.intersection(*(set(r) for r in runs.values())))
    epochs = len(runs[peers[0]][seeds[0]])
    header = ["seed"]
    for peer in peers:
        header += [f"{peer}: epoch 0", f"{peer}: epoch {epochs - 1}", f"{peer}: peak"]
    lines = ["| " + " | ".join(header) + " |", "|---" + "|---:" * (len(header) - 1) + "|"]

    def columns(peer: str, seed: int) -> list[float]:
        history = runs[peer][seed]
        return [history[0], history[-1], max(history)]

    for seed in seeds:
        cells = [str(seed)]
        for peer in peers:
            cells += [percent(c, total) for c in columns(peer, seed)]
        lines.append("| " + " | ".join(cells) + " |")
    for name, reduce in (
        ("mean", lambda v: percent(np.mean(v), total)),
        ("min – max", lambda v: f"{percent(min(v), total)} – {percent(max(v), total)}"),
    ):
        cells = [f"**{name}**"]
        for peer in peers:
            per_seed = np.array([columns(peer, s) for s in seeds], dtype=np.float64)
            cells += [reduce(per_seed[:, k]) for k in range(3)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="MNIST directory (default: as digits)")
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0 … N−1 (default 10)")
    parser.add_argument("--epochs", type=int, default=30, help="epochs per run (default 30)")
    parser.add_argument("--peers", default=",".join(PEERS), help="comma-separated: ours,book")
    args = parser.parse_args()
    peers = args.peers.split(",")
    if unknown := [p for p in peers if p not in PEERS]:
        parser.error(f"unknown peers {unknown}; known: {', '.join(PEERS)}")
    training, _, test = load_mnist(args.data, dtype=np.uint8)
    total = len(test[1])
    print(f"machine: {machine()}")
    print(
        f"{list(SIZES)}, quadratic cost, N(0, 1) weights, m = 10, η = {ETA}, "
        f"{len(training[1]):,} training images, {args.epochs} epochs, seeds 0–{args.seeds - 1}",
        flush=True,
    )
    start = time.perf_counter()
    runs: dict[str, dict[int, list[int]]] = {p: {} for p in peers}
    with threadpool_limits(limits=1):  # one core: the per-example loop gains nothing from more
        for peer in peers:  # the fast path first: minutes, where the book's takes the hour
            for seed in range(args.seeds):
                t0 = time.perf_counter()
                runs[peer][seed] = history = PEERS[peer][1](training, test, seed, args.epochs)
                print(
                    f"{PEERS[peer][0]}, seed {seed}: epoch 0 {percent(history[0], total)}, "
                    f"epoch {len(history) - 1} {percent(history[-1], total)}, "
                    f"peak {percent(max(history), total)} "
                    f"({time.perf_counter() - t0:.0f} s); every epoch: {history}",
                    flush=True,
                )
    print()
    print("; ".join(f"{p} = {PEERS[p][0]}" for p in peers))
    print()
    print(table(runs, total))
    print(f"\nwhole run {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
