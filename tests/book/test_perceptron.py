"""The perceptron, its sigmoid limit and the perceptron learning rule."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from neuraldigits.book.circuits import GATES
from neuraldigits.book.perceptron import NAND, Learning, Perceptron, learn
from neuraldigits.errors import CircuitError, NeuralDigitsError

BITS2 = np.array(list(itertools.product([0, 1], repeat=2)))  # 00, 01, 10, 11

TRUTH = {
    "and": [x & y for x, y in BITS2],
    "or": [x | y for x, y in BITS2],
    "nand": [1 - (x & y) for x, y in BITS2],
    "xor": [x ^ y for x, y in BITS2],
}


# -- the perceptron -----------------------------------------------------------------


def test_nand_perceptron_is_the_books():
    assert NAND == Perceptron([-2, -2], 3)
    assert [NAND.weighted_input(x) for x in BITS2] == [3.0, 1.0, 1.0, -1.0]
    assert [NAND(x) for x in BITS2] == TRUTH["nand"]


def test_output_is_step_of_weighted_input():
    p = Perceptron([0.5, -1.0, 2.0], -0.25)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    z = x @ np.array([0.5, -1.0, 2.0]) - 0.25
    np.testing.assert_allclose(p.weighted_input(x), z)
    np.testing.assert_array_equal(p(x), (z > 0).astype(np.uint8))
    assert p(x).dtype == np.uint8 and p(x).shape == (200,)


def test_single_input_gives_a_plain_int_and_batch_an_array():
    assert NAND([1, 1]) == 0 and isinstance(NAND([1, 1]), int)
    assert isinstance(NAND.weighted_input([0, 1]), float)
    np.testing.assert_array_equal(NAND(BITS2), [1, 1, 1, 0])
    assert NAND(np.zeros((0, 2))).shape == (0,)


def test_threshold_is_strict():
    """w·x + b = 0 gives 0: the book's rule is 'output 1 if w·x + b > 0'."""
    assert Perceptron([1, 1], -1)([1, 0]) == 0
    assert Perceptron([1, 1], -1)([1, 0.001]) == 1


@pytest.mark.parametrize(
    "x", [[1, 0, 1], [[1, 0, 1]], np.zeros((2, 2, 2)), 5, [], [["a", "b"]], [1, np.nan]]
)
def test_wrong_input_shape_or_values_name_what_was_expected(x):
    with pytest.raises(CircuitError, match="perceptron"):
        NAND(x)


@pytest.mark.parametrize(
    "weights, bias, message",
    [
        ([], 0, "non-empty 1-D"),
        ([[1, 2], [3, 4]], 0, "non-empty 1-D"),
        ([1, np.inf], 0, "finite"),
        (["a"], 0, "numbers"),
        ([1, 2], [1, 2], "one number"),
        ([1, 2], np.nan, "finite"),
        ([1, 2], "b", "numbers"),
    ],
)
def test_bad_perceptron_is_refused(weights, bias, message):
    with pytest.raises(CircuitError, match=message):
        Perceptron(weights, bias)


def test_errors_are_the_librarys_own():
    assert issubclass(CircuitError, NeuralDigitsError) and issubclass(CircuitError, ValueError)


def test_perceptron_is_a_value():
    p = Perceptron([1, 2], 3)
    assert p == Perceptron(np.array([1.0, 2.0]), 3.0) and hash(p) == hash(Perceptron([1, 2], 3))
    assert p != Perceptron([1, 2], 4) and p != Perceptron([2, 1], 3) and p != "perceptron"
    with pytest.raises(ValueError):
        p.weights[0] = 5  # read-only, so a shared NAND cannot be changed behind a circuit's back
    assert repr(NAND) == "Perceptron([-2, -2], 3)"
    assert p.n_inputs == 2 and p.bias == 3.0


# -- the sigmoid neuron as c → ∞ ---------------------------------------------------------


def test_sigmoid_neuron_is_sigma_of_scaled_weighted_input():
    z = np.array([3.0, 1.0, 1.0, -1.0])
    for c in (0.5, 1.0, 4.0):
        np.testing.assert_allclose(NAND.sigmoid(BITS2, c), 1 / (1 + np.exp(-c * z)))
    assert NAND.sigmoid([1, 1]) == pytest.approx(1 / (1 + np.e))


def test_sigmoid_neuron_tends_to_the_perceptron_where_z_is_not_zero():
    p = Perceptron([0.7, -1.3], 0.2)
    x = np.random.default_rng(1).normal(size=(500, 2))
    assert np.all(p.weighted_input(x) != 0)
    gaps = [np.max(np.abs(p.sigmoid(x, c) - p(x))) for c in (1, 10, 100, 1e4, 1e8)]
    assert all(a > b for a, b in itertools.pairwise(gaps))
    np.testing.assert_allclose(p.sigmoid(x, 1e300), p(x), rtol=0, atol=1e-300)


def test_sigmoid_neuron_is_stuck_at_one_half_where_z_is_zero():
    p = Perceptron([1, 1], -1)  # z = 0 at inputs 01 and 10
    for c in (1e-3, 1, 10, 1e6, 1e300):
        assert p.sigmoid([0, 1], c) == 0.5 and p.sigmoid([1, 0], c) == 0.5
    assert p([0, 1]) == 0  # while the perceptron says 0


@pytest.mark.parametrize("c", [0, -1.0, np.inf, np.nan, True, "2", None])
def test_bad_scale_is_refused(c):
    with pytest.raises(CircuitError, match="sigmoid scale c"):
        NAND.sigmoid([0, 1], c)


# -- the perceptron learning rule -----------------------------------------------------------


@pytest.mark.parametrize("gate", ["and", "or", "nand"])
def test_learns_linearly_separable_gates(gate):
    result = learn(BITS2, TRUTH[gate])
    assert isinstance(result, Learning)
    assert result.converged and not result.cycled
    assert result.mistakes[-1] == 0 and result.epochs == len(result.mistakes)
    assert sum(result.mistakes) > 0  # it had something to learn from all-zero weights
    np.testing.assert_array_equal(result.perceptron(BITS2), TRUTH[gate])


def test_one_step_of_the_rule_by_hand():
    """From zero weights on AND, only 11 is wrong in epoch 1: w += (1 − 0)·(1, 1), b += 1."""
    result = learn(BITS2, TRUTH["and"], max_epochs=1)
    assert result.mistakes == (1,) and not result.converged and not result.cycled
    assert result.perceptron == Perceptron([1, 1], 1)
    half = learn(BITS2, TRUTH["and"], max_epochs=1, eta=0.5)
    assert half.perceptron == Perceptron([0.5, 0.5], 0.5)


def test_starting_from_a_correct_perceptron_changes_nothing():
    result = learn(BITS2, TRUTH["nand"], initial=NAND)
    assert result.converged and result.mistakes == (0,) and result.perceptron == NAND


def test_single_perceptron_cannot_learn_xor():
    """The rule revisits an earlier state, so it cycles for ever: no perceptron fits XOR."""
    result = learn(BITS2, TRUTH["xor"], max_epochs=1000)
    assert result.cycled and not result.converged
    assert result.epochs < 1000  # stopped by the cycle, not by the epoch limit
    assert all(m > 0 for m in result.mistakes)
    assert np.any(result.perceptron(BITS2) != TRUTH["xor"])


@given(
    st.floats(-1e6, 1e6, allow_nan=False),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.floats(-1e6, 1e6, allow_nan=False),
)
def test_no_perceptron_computes_xor(w1, w2, b):
    # XOR would need b ≤ 0, w1 + b > 0, w2 + b > 0 and w1 + w2 + b ≤ 0; adding the middle
    # two gives w1 + w2 + 2b > 0, adding the outer two w1 + w2 + 2b ≤ 0.
    assert list(Perceptron([w1, w2], b)(BITS2)) != TRUTH["xor"]


def test_two_layer_nand_network_computes_xor():
    circuit = GATES["xor"]()
    assert circuit.is_nand_only and circuit.depth == 3  # two layers of hidden NANDs + output
    x, y = circuit.truth_table()
    np.testing.assert_array_equal(x, BITS2)
    np.testing.assert_array_equal(y[:, 0], TRUTH["xor"])


def test_rule_finds_a_separating_plane_in_higher_dimensions():
    """Novikoff: separable data with a margin is learned in finitely many updates."""
    rng = np.random.default_rng(3)
    normal, offset = rng.normal(size=5), 0.3
    x = rng.uniform(-1, 1, size=(400, 5))
    z = x @ normal + offset
    keep = np.abs(z) > 0.1  # a margin, so convergence is guaranteed
    targets = (z[keep] > 0).astype(int)
    result = learn(x[keep], targets, max_epochs=10_000)
    assert result.converged
    np.testing.assert_array_equal(result.perceptron(x[keep]), targets)


def test_epoch_limit_stops_learning_without_a_cycle():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(50, 3))
    t = rng.integers(0, 2, 50)  # random labels: almost surely not separable
    result = learn(x, t, max_epochs=7, eta=0.1)
    assert result.epochs <= 7 and not result.converged


@pytest.mark.parametrize(
    "inputs, targets, kwargs, message",
    [
        ([0, 1], [0, 1], {}, r"\(N, n\) array"),
        (np.zeros((0, 2)), [], {}, r"\(N, n\) array"),
        (BITS2, [0, 1, 1], {}, "expected 4 targets"),
        (BITS2, [0, 1, 2, 1], {}, "must be 0 or 1"),
        (BITS2, ["a", "b", "c", "d"], {}, "numbers"),
        (BITS2, [0, 1, 1, 0], {"eta": 0}, "eta"),
        (BITS2, [0, 1, 1, 0], {"eta": np.nan}, "eta"),
        (BITS2, [0, 1, 1, 0], {"max_epochs": 0}, "max_epochs"),
        (BITS2, [0, 1, 1, 0], {"max_epochs": 2.5}, "max_epochs"),
        (BITS2, [0, 1, 1, 0], {"initial": Perceptron([1], 0)}, "takes 1 input but"),
    ],
)
def test_bad_training_arguments_are_refused(inputs, targets, kwargs, message):
    with pytest.raises(CircuitError, match=message):
        learn(inputs, targets, **kwargs)
