"""The costs (costs.py) and the two initialisations: gradients, saturation, the book's draws."""

import numpy as np
import pytest
from support.gradients import numeric_gradient

from neuraldigits.costs import COSTS, CrossEntropyCost, QuadraticCost
from neuraldigits.modelfile import load, save
from neuraldigits.network import Network


@pytest.mark.parametrize("cost", list(COSTS))
@pytest.mark.parametrize("sizes", [[3, 2], [4, 5, 3], [5, 4, 3, 2]])
def test_backprop_matches_finite_differences_for_every_cost(cost, sizes):
    net = Network(sizes, seed=1, dtype=np.float64, cost=cost)
    rng = np.random.default_rng(2)
    x = rng.random((sizes[0], 7))
    y = net.one_hot(rng.integers(0, sizes[-1], 7)).T
    nabla_b, nabla_w = net.backprop(x, y)
    for layer in range(len(sizes) - 1):
        for analytic, param in (
            (nabla_w[layer], net.weights[layer]),
            (nabla_b[layer], net.biases[layer]),
        ):
            numeric = numeric_gradient(net, x, y, param)
            error = np.linalg.norm(analytic - numeric) / (
                np.linalg.norm(analytic) + np.linalg.norm(numeric)
            )
            assert error < 1e-6


def test_cross_entropy_by_hand():
    # a = (0.8, 0.1), y = (1, 0): C = −ln 0.8 − ln 0.9.  δ = a − y = (−0.2, 0.1).
    a = np.array([[0.8], [0.1]])
    y = np.array([[1.0], [0.0]])
    assert CrossEntropyCost.fn(a, y) == pytest.approx(-np.log(0.8) - np.log(0.9), rel=1e-15)
    np.testing.assert_allclose(CrossEntropyCost.delta(None, a, y), [[-0.2], [0.1]], rtol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_stays_finite_for_saturated_outputs(dtype):
    a = np.array([[1.0, 0.0, 1.0, 0.0]], dtype)
    y = np.array([[1.0, 0.0, 0.0, 1.0]], dtype)
    with np.errstate(all="raise"):
        cost = CrossEntropyCost.fn(a, y)
    assert np.isfinite(cost)
    # Right and saturated costs ~0; confidently wrong costs a lot, but finitely.
    assert CrossEntropyCost.fn(a[:, :2], y[:, :2]) < 1e-12
    assert cost > 30


def test_a_cross_entropy_net_scores_and_saves(tmp_path):
    net = Network([4, 3, 2], seed=0, cost="cross-entropy")
    data = (np.random.default_rng(0).random((5, 4)), np.array([0, 1, 1, 0, 1]))
    assert np.isfinite(net.score(data).cost)
    save(net, tmp_path / "m.npz")
    assert load(tmp_path / "m.npz").cost is CrossEntropyCost


def test_large_init_is_chapter_ones_n01_draws():
    net = Network([6, 4, 3], seed=5, dtype=np.float64)
    rng = np.random.default_rng(5)
    biases = [rng.standard_normal((4, 1)), rng.standard_normal((3, 1))]
    weights = [rng.standard_normal((4, 6)), rng.standard_normal((3, 4))]
    for got, want in zip(net.biases + net.weights, biases + weights):
        np.testing.assert_array_equal(got, want)


def test_scaled_init_divides_the_same_draws_by_root_n_in():
    large = Network([400, 50, 10], seed=3, dtype=np.float64)
    scaled = Network([400, 50, 10], seed=3, dtype=np.float64, init="scaled")
    for b_large, b_scaled in zip(large.biases, scaled.biases):
        np.testing.assert_array_equal(b_large, b_scaled)  # biases stay N(0, 1)
    for w_large, w_scaled in zip(large.weights, scaled.weights):
        np.testing.assert_allclose(w_scaled, w_large / np.sqrt(w_large.shape[1]), rtol=1e-15)
    # 20,000 draws of N(0, 1/400): the sample deviation is 1/20 within a few percent.
    assert scaled.weights[0].std() == pytest.approx(1 / 20, rel=0.03)


def test_unknown_init_is_refused():
    with pytest.raises(ValueError, match="unknown init 'xavier'; known: large, scaled"):
        Network([2, 2], init="xavier")


@pytest.mark.parametrize("cost", list(COSTS))
def test_fast_runs_chapter_3_on_a_fast_backend_never_the_book_path(cost):
    from neuraldigits.network import EPOCH_METHODS
    from neuraldigits.training import Trainer

    net = Network([784, 5, 10], cost=cost, init="scaled")
    data = (np.zeros((20, 784), np.float32), np.zeros(20, np.int64))
    assert isinstance(EPOCH_METHODS["fast"](net, data, 10, 0.5, 5.0, 0.9), Trainer)


def test_a_replaced_cost_runs_the_book_path_or_is_refused_by_name():
    class Halved(QuadraticCost):  # a user's own cost, unknown to the kernels
        @staticmethod
        def delta(z, a, y):
            return 0.5 * QuadraticCost.delta(z, a, y)

    data = (np.random.default_rng(0).random((20, 784)).astype(np.float32), np.arange(20) % 10)
    net, twin = Network([784, 5, 10], seed=1), Network([784, 5, 10], seed=1)
    net.cost = twin.cost = Halved
    net.sgd(data, 1, 10, 0.5)  # "fast": the book's path, which knows any cost
    twin.sgd(data, 1, 10, 0.5, method="reference")
    for a, b in zip(net.weights, twin.weights):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="computes the costs quadratic, cross-entropy, not"):
        net.sgd(data, 1, 10, 0.5, method="numpy")


def test_l2_step_by_hand():
    # One weight w = 1, one bias b = 0, one input x = 1, target 1, quadratic cost.
    # z = 1, a = σ(1), δ = (a − 1)σ′(1) = (a − 1)a(1 − a).  With η = 2, λ = 3, n = 6, m = 1:
    # w → (1 − ηλ/n) w − η δ x = (1 − 1)·1 − 2δ = −2δ;  b → 0 − 2δ (biases are not decayed).
    net = Network([1, 1], seed=0, dtype=np.float64)
    net.weights[0][...] = 1.0
    net.biases[0][...] = 0.0
    a = 1 / (1 + np.exp(-1.0))
    delta = (a - 1) * a * (1 - a)
    net.update_mini_batch((np.array([[1.0]]), np.array([0])), 2.0, 3.0, 6)
    assert net.weights[0][0, 0] == pytest.approx(-2 * delta, rel=1e-14)
    assert net.biases[0][0, 0] == pytest.approx(-2 * delta, rel=1e-14)


def test_momentum_steps_by_hand():
    # A gradient of constant 1 (set by hand): v1 = −η, w1 = w0 − η; v2 = −μη − η, w2 = w1 + v2.
    net = Network([1, 1], seed=0, dtype=np.float64)
    w0, b0 = float(net.weights[0][0, 0]), float(net.biases[0][0, 0])
    ones = ([np.ones((1, 1))], [np.ones((1, 1))])
    net.step(*ones, 0.5, 1, momentum=0.9)
    net.step(*ones, 0.5, 1, momentum=0.9)
    assert net.weights[0][0, 0] == pytest.approx(w0 - 0.5 - (0.9 * 0.5 + 0.5), rel=1e-14)
    assert net.biases[0][0, 0] == pytest.approx(b0 - 0.5 - (0.9 * 0.5 + 0.5), rel=1e-14)
    assert net.weight_velocities[0][0, 0] == pytest.approx(-0.95, rel=1e-14)


def test_momentum_with_l2_decays_through_the_velocity():
    # v → μv − (η/m)∇ − (ηλ/n)w, w → w + v: with a zero gradient, w = 2, η = 1, λ = 1, n = 4,
    # one step gives v = −0.5 and w = 1.5.
    net = Network([1, 1], seed=0, dtype=np.float64)
    net.weights[0][...] = 2.0
    zeros = ([np.zeros((1, 1))], [np.zeros((1, 1))])
    net.step(*zeros, 1.0, 1, 1.0, 4, momentum=0.5)
    assert net.weights[0][0, 0] == pytest.approx(1.5, rel=1e-15)


def test_l2_needs_the_training_set_size():
    net = Network([1, 1], seed=0)
    with pytest.raises(ValueError, match="needs the training set's size"):
        net.step([np.ones((1, 1))], [np.ones((1, 1))], 1.0, 1, lmbda=1.0)


def test_regularised_cost_adds_the_weights_squares():
    net = Network([2, 1], seed=0, dtype=np.float64)
    data = (np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([0, 0]))
    plain = net.score(data).cost
    assert net.score(data, lmbda=4.0).cost == pytest.approx(
        plain + 0.5 * 4.0 * np.sum(net.weights[0] ** 2) / 2
    )
