"""What `digits train` reaches on the shipped offline sample, and how honest its test score is.

    python benchmarks/sample_accuracy.py [--data /path/to/mnist] [--seeds 10]

Part 1 trains the book's network ([784, 30, 10], 30 epochs, m = 10, η = 3.0,
quadratic cost: `digits train`'s defaults) on the sample's 5,000 training
digits, once per seed, keeping the epoch of best validation accuracy as
`digits train` does.  Per seed it gives the "Best test accuracy" line's figure
(the best epoch on the sample's 1,000 test digits), the saved model's score on
them (what `digits evaluate` prints offline) and, with ``--data``, the saved
model's score on all 10,000 of MNIST's test digits.

Part 2 (needs ``--data``) trains the same network on full MNIST (50,000 digits)
and scores the saved model on MNIST's test set and on the sample's test digits:
since those are MNIST test digits too, the two agree to within the sampling
error of 1,000 digits (±1 point) — where the old sample's "test" digits, drawn
from MNIST's training set, read 97.20 % for a model scoring 94.87 %.

Prints Markdown tables; docs/data.md quotes them.  About 2 s per seed for part
1, 5 s for part 2, on one core.
"""

from __future__ import annotations

import argparse
import statistics
import time

from threadpoolctl import threadpool_limits

from neuraldigits.data.mnist import load_mnist
from neuraldigits.data.sample import load_sample
from neuraldigits.network import Dataset, EpochResult, Network
from neuraldigits.recipes import RECIPES, fit


def train_like_digits_train(
    training: Dataset, validation: Dataset, test: Dataset, seed: int
) -> tuple[Network, int]:
    """The book's recipe as `digits train` runs it: (best-validation network, best test correct)."""
    net = Network([784, 30, 10], seed=seed)
    best: dict = {"net": None, "validation": -1}

    def keep(r: EpochResult) -> None:
        if r.validation.correct > best["validation"]:
            best.update(net=net.copy(), validation=r.validation.correct)

    history = fit(net, RECIPES["book"], training, validation, seed, test=test, callback=keep)
    return best["net"], max(r.test.correct for r in history)


def pct(correct: int, total: int) -> str:
    return f"{100 * correct / total:.2f} %"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None, help="directory of the four MNIST files")
    parser.add_argument("--seeds", type=int, default=10, help="seeds 1..N")
    args = parser.parse_args()
    training, validation, test = load_sample()
    mnist = load_mnist(args.data) if args.data else None
    started = time.perf_counter()
    print("### Part 1: the book's network trained on the sample\n")
    print("| seed | best test epoch, sample | saved model, sample | saved model, MNIST test |")
    print("|---|---|---|---|")
    best_tests, saved, full = [], [], []
    for seed in range(1, args.seeds + 1):
        net, best_test = train_like_digits_train(training, validation, test, seed)
        score = net.score(test)
        on_mnist = net.score(mnist[2]) if mnist else None
        best_tests.append(best_test / len(test[1]))
        saved.append(score.accuracy)
        if on_mnist:
            full.append(on_mnist.accuracy)
        print(
            f"| {seed} | {best_test} / {len(test[1])} ({pct(best_test, len(test[1]))}) "
            f"| {score.correct} / {score.total} ({pct(score.correct, score.total)}) "
            f"| {pct(on_mnist.correct, on_mnist.total) if on_mnist else 'n/a'} |"
        )
    print(
        f"| **mean (min–max)** | {_summary(best_tests)} | {_summary(saved)} "
        f"| {_summary(full) if full else 'n/a'} |"
    )
    if mnist:
        print("\n### Part 2: the book's network trained on full MNIST, scored on both\n")
        print("| seed | MNIST test (10,000) | the sample's test digits (1,000) | difference |")
        print("|---|---|---|---|")
        for seed in range(1, 4):
            net, _ = train_like_digits_train(*mnist, seed)
            a, b = net.score(mnist[2]), net.score(test)
            print(
                f"| {seed} | {a.correct} / {a.total} ({pct(a.correct, a.total)}) "
                f"| {b.correct} / {b.total} ({pct(b.correct, b.total)}) "
                f"| {100 * (b.accuracy - a.accuracy):+.2f} points |"
            )
    print(f"\n({time.perf_counter() - started:.0f} s in all)")


def _summary(values: list[float]) -> str:
    return (
        f"{100 * statistics.mean(values):.1f} % ({100 * min(values):.1f}–{100 * max(values):.1f} %)"
    )


if __name__ == "__main__":
    with threadpool_limits(1):
        main()
