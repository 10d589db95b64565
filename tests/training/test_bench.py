"""`digits bench` and neuraldigits.training.bench: peers are timed, compared and reported."""

from __future__ import annotations

import numpy as np
import pytest
from support.data import synthetic_digits

from neuraldigits.cli import main
from neuraldigits.training import ckernel
from neuraldigits.training.bench import PEERS, Recipe, available, format_table, run_peers


def small_sets():
    images, labels = synthetic_digits(400, seed=1)
    test_images, test_labels = synthetic_digits(100, seed=2)
    return (images.reshape(400, -1), labels.astype(np.int64)), (
        test_images.reshape(100, -1),
        test_labels.astype(np.int64),
    )


def test_our_paths_and_the_book_learn_the_same():
    training, test = small_sets()
    fast = "ours-c-float32" if available("ours-c-float32") else "ours-numba-float32"
    peers = [fast, "ours-numpy-float32", "ours-reference-float64", "book"]
    timings, skipped = run_peers(training, test, Recipe(epochs=2), peers)
    assert skipped == [] and [t.epochs for t in timings] == [2] * 4
    accuracies = [t.test_accuracy for t in timings]
    assert min(accuracies) > 0.5  # the synthetic digits are learnable in two epochs
    # Same recipe, same initial weights and shuffling: the same answers, to rounding.
    assert max(accuracies) - min(accuracies) <= 0.02
    table = format_table(timings)
    assert table.count("\n") == 1 + len(timings) and "| 1.0 |" in table


def test_every_peer_is_registered_with_what_it_needs():
    for name, (needs, runner) in PEERS.items():
        known = (None, "neuraldigits.training._ckernel", "numba", "torch", "jax", "sklearn")
        assert needs in known and callable(runner), name
        if needs == "neuraldigits.training._ckernel":  # ours: found wherever the kernel loads
            assert available(name) == ckernel.available(), name


def test_digits_bench_prints_a_table(tiny_mnist_dir, capsys):
    peers = "ours-c-float32,ours-reference-float32"
    assert (
        main(["bench", "--data", str(tiny_mnist_dir), "--examples", "300", "--peers", peers]) == 0
    )
    out = capsys.readouterr().out
    assert "load gauge" in out
    if available("ours-c-float32"):
        assert "| ours, fast (C, " in out
    assert "| ours, reference, float32 |" in out


@pytest.mark.parametrize("peers", ["nope", "ours-c-float32,torchy", ","])
def test_digits_bench_rejects_unknown_peers(tiny_mnist_dir, capsys, peers):
    assert main(["bench", "--data", str(tiny_mnist_dir), "--peers", peers]) == 1
    err = capsys.readouterr().err
    assert "--peers" in err and "choose from ours-c-float32" in err
