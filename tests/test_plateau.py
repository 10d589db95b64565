"""Chapter 3's stopping rules (plateau.py) and how sgd applies them."""

import numpy as np
import pytest
from support.data import digits

from neuraldigits.network import Network
from neuraldigits.plateau import Plateau


def feed(plateau, accuracies):
    for epoch, accuracy in enumerate(accuracies):
        reason = plateau.update(epoch, accuracy)
        if reason:
            return epoch, reason
    return None


def test_early_stopping_waits_n_epochs_without_improvement():
    assert feed(Plateau(1.0, early_stop=3), [0.5, 0.6, 0.6, 0.59, 0.6, 0.7]) == (
        4,
        "no validation improvement in 3 epochs",
    )
    assert feed(Plateau(1.0, early_stop=3), [0.5, 0.6, 0.6, 0.61, 0.6, 0.6]) is None


def test_the_schedule_halves_eta_and_stops_at_a_128th():
    plateau = Plateau(3.0, eta_schedule=2)
    etas = []
    for epoch in range(40):
        reason = plateau.update(epoch, 0.5)  # never improves after epoch 0
        etas.append(plateau.eta)
        if reason:
            break
    assert etas[:5] == [3.0, 3.0, 1.5, 1.5, 0.75]
    assert plateau.eta == 3.0 / 128 and epoch == 14 and reason.startswith("η fell to η₀/128")


@pytest.mark.parametrize("bad", [0, -1, 2.5])
def test_patience_must_be_a_whole_number_of_epochs(bad):
    with pytest.raises(ValueError, match="whole number of epochs"):
        Plateau(1.0, early_stop=bad)


def test_sgd_stops_early_records_eta_and_keeps_the_best_weights():
    training, validation = digits(300, seed=1), digits(100, seed=2)
    net = Network([784, 10, 10], seed=0)
    best = {}

    def remember(result):
        best[result.epoch] = [w.copy() for w in net.weights]

    # η = 1000 saturates everything at once: accuracy stalls, the rules must act.
    history = net.sgd(training, 50, 10, 1000.0, validation_data=validation, early_stop=2,
                      keep_best=True, callback=remember, method="reference")  # fmt: skip
    assert history.stopped == "no validation improvement in 2 epochs"
    assert len(history) < 50 and history.best_epoch is not None
    for w, kept in zip(net.weights, best[history.best_epoch]):
        np.testing.assert_array_equal(w, kept)
    assert all(result.eta == 1000.0 for result in history)


def test_sgd_lowers_eta_on_schedule_and_monitors_training():
    training, validation = digits(200, seed=1), digits(50, seed=2)
    net = Network([784, 5, 10], seed=0)
    history = net.sgd(training, 30, 10, 1000.0, validation_data=validation, eta_schedule=1,
                      monitor_training=True, method="reference")  # fmt: skip
    etas = [result.eta for result in history]
    assert etas[0] == 1000.0 and min(etas) < 1000.0 and etas == sorted(etas, reverse=True)
    assert all(result.training.total == 200 for result in history)


def test_the_rules_need_a_validation_set():
    with pytest.raises(ValueError, match="watch validation_data"):
        Network([784, 5, 10]).sgd(digits(20), 1, 10, 3.0, early_stop=3)


def test_a_stream_gives_each_epoch_its_own_training_set():
    class Stream:
        def __init__(self):
            self.asked = []

        def for_epoch(self, epoch):
            self.asked.append(epoch)
            return digits(50 + 10 * epoch, seed=epoch)

    stream = Stream()
    net, twin = Network([784, 6, 10], seed=0), Network([784, 6, 10], seed=0)
    history = net.sgd(stream, 3, 10, 3.0, monitor_training=True, rng=np.random.default_rng(1))
    assert stream.asked == [0, 1, 2]
    assert [r.training.total for r in history] == [50, 60, 70]
    rng = np.random.default_rng(1)
    for epoch in range(3):  # the same as one call per epoch on each set
        twin.sgd(digits(50 + 10 * epoch, seed=epoch), 1, 10, 3.0, rng=rng)
    for a, b in zip(net.weights, twin.weights):
        np.testing.assert_array_equal(a, b)
