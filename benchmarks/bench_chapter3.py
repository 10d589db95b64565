"""Chapter 3's step at full speed: its epochs beside chapter 1's, and the cost of an sgd call.

    python benchmarks/bench_chapter3.py --data /path/to/mnist [--epochs 5]

Part 1, for [784, 30, 10] and [784, 100, 10] on the 50,000 training images,
m = 10: seconds per epoch (fastest of the timed epochs, interleaved so that a
busy moment hits every recipe alike) of chapter 1's quadratic recipe, of
cross-entropy + L2 (λ = 5, scaled initialisation, η = 0.5: chapter 3's) and of
the same with momentum μ = 0.9; each as a multiple of the quadratic epoch.

Part 2, the fixed cost around one epoch: the wall time of a one-epoch
``net.sgd(training, 1, 10, 3.0)`` call on data it has already trained on,
against that epoch's own seconds, for plain arrays (every call lists the ink
pixels again) and for ``training.prepare(...)``'d data.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from neuraldigits.data.mnist import load_mnist
from neuraldigits.network import Network
from neuraldigits.training import prepare
from neuraldigits.training.bench import machine, matmul_gflops

RECIPES = {
    "quadratic (chapter 1)": dict(cost="quadratic", init="large", eta=3.0, lmbda=0.0, momentum=0.0),
    "cross-entropy + L2": dict(
        cost="cross-entropy", init="scaled", eta=0.5, lmbda=5.0, momentum=0.0
    ),
    "cross-entropy + L2 + momentum": dict(
        cost="cross-entropy", init="scaled", eta=0.5, lmbda=5.0, momentum=0.9
    ),
}


def epoch_table(training, hidden: int, epochs: int) -> None:
    data = prepare(training)
    nets = {}
    for name, recipe in RECIPES.items():
        nets[name] = Network([784, hidden, 10], seed=0, cost=recipe["cost"], init=recipe["init"])
        nets[name].sgd(
            data, 1, 10, recipe["eta"], lmbda=recipe["lmbda"], momentum=recipe["momentum"]
        )
    seconds = {name: [] for name in RECIPES}
    for _ in range(epochs):  # interleaved: recipe by recipe, epoch by epoch
        for name, recipe in RECIPES.items():
            history = nets[name].sgd(
                data, 1, 10, recipe["eta"], lmbda=recipe["lmbda"], momentum=recipe["momentum"]
            )
            seconds[name].append(history[0].seconds)
    base = min(seconds["quadratic (chapter 1)"])
    print(f"\n[784, {hidden}, 10], fastest of {epochs} epochs each, interleaved:\n")
    print("| recipe | fastest epoch s | median s | × quadratic |")
    print("|---|---:|---:|---:|")
    for name, values in seconds.items():
        print(
            f"| {name} | {min(values):.3f} | {np.median(values):.3f} | {min(values) / base:.2f} |"
        )


def call_overhead(training, calls: int) -> None:
    print(f"\nOne-epoch sgd calls on already-seen data, [784, 30, 10], {calls} calls each:\n")
    print("| training data | wall s per call (median) | epoch s (median) | wall ÷ epoch |")
    print("|---|---:|---:|---:|")
    for name, data in (("plain arrays", training), ("prepare()'d", prepare(training))):
        net = Network([784, 30, 10], seed=0)
        net.sgd(data, 1, 10, 3.0)  # seen once
        walls, epochs = [], []
        for _ in range(calls):
            start = time.perf_counter()
            history = net.sgd(data, 1, 10, 3.0)
            walls.append(time.perf_counter() - start)
            epochs.append(history[0].seconds)
        wall, epoch = np.median(walls), np.median(epochs)
        print(f"| {name} | {wall:.3f} | {epoch:.3f} | {wall / epoch:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="MNIST directory (default: as digits)")
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs per recipe")
    parser.add_argument("--calls", type=int, default=10, help="one-epoch calls per kind of data")
    args = parser.parse_args()
    training, _, _ = load_mnist(args.data, dtype=np.uint8)
    print(f"machine: {machine()}")
    print(f"load gauge before: {matmul_gflops():.0f} GFLOP/s single-precision matmul")
    start = time.perf_counter()
    for hidden in (30, 100):
        epoch_table(training, hidden, args.epochs)
    call_overhead(training, args.calls)
    print(
        f"\nload gauge after: {matmul_gflops():.0f} GFLOP/s; whole run "
        f"{time.perf_counter() - start:.0f} s"
    )


if __name__ == "__main__":
    main()
