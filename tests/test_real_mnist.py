"""Acceptance on real MNIST: the book's recipes (chapters 1 and 3) reach the book's accuracy."""

import numpy as np

from neuraldigits.network import Network

BOOK_SEED = 0


def test_book_recipe_reaches_94_5_percent(mnist):
    """[784, 30, 10], 30 epochs, m = 10, η = 3.0 (the book reports ~95 %, peak 95.42 %)."""
    training, validation, test = mnist
    net = Network([784, 30, 10], seed=BOOK_SEED)
    history = net.sgd(training, 30, 10, 3.0, test_data=test)
    best = max(r.test.correct for r in history)
    assert best >= 9450, f"best test accuracy {best} / 10000"
    assert history[0].test.correct > 8500  # the book's first epoch is ~90 %
    # The loss falls as accuracy rises: learning, not luck.
    assert history[-1].test.cost < history[0].test.cost


def test_chapter_3_recipe_reaches_97_4_percent(mnist):
    """[784, 100, 10], cross-entropy, N(0, 1/n_in) weights, η = 0.5, λ = 5.0, 30 epochs.

    The book reports 97.92 %; ten seeds here peak at 97.66–97.94 %, so 97.4 %
    leaves room for another CPU's rounding to take another trajectory.
    """
    training, validation, test = mnist
    net = Network([784, 100, 10], seed=1, cost="cross-entropy", init="scaled")
    history = net.sgd(training, 30, 10, 0.5, lmbda=5.0, test_data=test)
    best = max(r.test.correct for r in history)
    assert best >= 9740, f"best test accuracy {best} / 10000"
    assert history[0].test.correct > 9300  # scaled weights learn fast from the start


def test_predict_agrees_with_evaluate(mnist):
    training, _, test = mnist
    net = Network([784, 30, 10], seed=1)
    net.sgd((training[0][:10_000], training[1][:10_000]), 1, 10, 3.0)
    assert int(np.sum(net.predict(test[0]) == test[1])) == net.evaluate(test)
