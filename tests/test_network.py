"""The maths of network.py: gradients, the SGD step, shapes, seeded learning."""

import numpy as np
import pytest
from support.gradients import numeric_gradient, relative_error

from neuraldigits.network import Network


@pytest.mark.parametrize("sizes", [[3, 2], [4, 5, 3], [5, 4, 3, 2], [3, 6, 5, 4, 2]])
def test_backprop_matches_finite_differences(sizes):
    net = Network(sizes, seed=1, dtype=np.float64)
    rng = np.random.default_rng(2)
    m = 7
    x = rng.random((sizes[0], m))
    y = net.one_hot(rng.integers(0, sizes[-1], m)).T
    nabla_b, nabla_w = net.backprop(x, y)
    for layer in range(len(sizes) - 1):
        for analytic, param in (
            (nabla_w[layer], net.weights[layer]),
            (nabla_b[layer], net.biases[layer]),
        ):
            assert analytic.shape == param.shape
            assert relative_error(analytic, numeric_gradient(net, x, y, param)) < 1e-6


def test_batch_gradient_is_the_sum_of_per_example_gradients():
    net = Network([6, 5, 4, 3], seed=3, dtype=np.float64)
    rng = np.random.default_rng(4)
    x = rng.random((6, 9))
    y = net.one_hot(rng.integers(0, 3, 9)).T
    nabla_b, nabla_w = net.backprop(x, y)
    singles = [net.backprop(x[:, [j]], y[:, [j]]) for j in range(9)]
    for layer in range(3):
        np.testing.assert_allclose(nabla_b[layer], sum(s[0][layer] for s in singles), rtol=1e-12)
        np.testing.assert_allclose(nabla_w[layer], sum(s[1][layer] for s in singles), rtol=1e-12)


def test_one_sgd_step_by_hand():
    # One input, one sigmoid output neuron, w = b = 0, target y = 1 (label 0 of one class).
    # For x = 1 and x = 2: z = 0, a = σ(0) = ½, σ′(0) = ¼, so δ = (a − y)σ′(z) = −⅛.
    # ∂C/∂b = δ for each: sum −¼.  ∂C/∂w = δ·x: −⅛ and −¼, sum −⅜.
    # With η = 2 and m = 2:  w → 0 − (2/2)(−⅜) = ⅜,  b → 0 − (2/2)(−¼) = ¼.
    net = Network([1, 1], seed=0, dtype=np.float64)
    net.weights[0][:] = 0.0
    net.biases[0][:] = 0.0
    net.update_mini_batch((np.array([[1.0], [2.0]]), np.array([0, 0])), eta=2.0)
    assert net.weights[0][0, 0] == pytest.approx(0.375, abs=1e-15)
    assert net.biases[0][0, 0] == pytest.approx(0.25, abs=1e-15)


def test_weights_start_as_standard_normal_draws_from_the_seed():
    net = Network([784, 30, 10], seed=5, dtype=np.float64)
    assert [w.shape for w in net.weights] == [(30, 784), (10, 30)]
    assert [b.shape for b in net.biases] == [(30, 1), (10, 1)]
    w = net.weights[0].ravel()
    assert abs(w.mean()) < 0.02 and abs(w.std() - 1) < 0.02
    rng = np.random.default_rng(5)
    np.testing.assert_array_equal(net.biases[0], rng.standard_normal((30, 1)))
    f32 = Network([784, 30, 10], seed=5, dtype=np.float32)
    np.testing.assert_array_equal(f32.weights[1], net.weights[1].astype(np.float32))


def test_feedforward_shapes_and_the_broadcast_trap():
    net = Network([4, 3, 2], seed=0)
    assert net.feedforward(np.zeros(4)).shape == (2,)
    assert net.feedforward(np.zeros((4, 1))).shape == (2, 1)
    assert net.feedforward(np.zeros((5, 4))).shape == (5, 2)
    batch = np.random.default_rng(0).random((5, 4))
    out = net.feedforward(batch)
    for i in range(5):
        np.testing.assert_allclose(out[i], net.feedforward(batch[i]), rtol=1e-6)
    for bad in [np.zeros((10, 10)), np.zeros(5), np.zeros((1, 4, 1)), np.zeros((4, 2, 1))]:
        with pytest.raises(ValueError, match=r"expected an input of shape \(4,\)"):
            net.feedforward(bad)


def test_network_rejects_bad_construction():
    for sizes in ([784], [784, 0, 10], []):
        with pytest.raises(ValueError, match="sizes"):
            Network(sizes)
    with pytest.raises(ValueError, match="dtype"):
        Network([2, 2], dtype=np.int32)
    with pytest.raises(ValueError, match="unknown cost"):
        Network([2, 2], cost="hinge")


def xor_data(copies=50):
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    labels = np.array([0, 1, 1, 0])
    return np.tile(x, (copies, 1)), np.tile(labels, copies)


def test_seeded_learning_of_xor():
    net = Network([2, 3, 2], seed=0, dtype=np.float64)
    history = net.sgd(xor_data(), epochs=300, mini_batch_size=4, eta=3.0, test_data=xor_data(1))
    assert history[-1].test.correct == 4
    np.testing.assert_array_equal(net.predict(xor_data(1)[0]), [0, 1, 1, 0])
    assert history[-1].test.cost < history[0].test.cost


def test_same_seed_gives_the_same_history_and_weights():
    def run(seed):
        net = Network([2, 3, 2], seed=seed)
        hist = net.sgd(xor_data(), 5, 3, 3.0, test_data=xor_data(1), validation_data=xor_data(2))
        return [(r.test, r.validation) for r in hist], net

    (h1, n1), (h2, n2), (h3, _) = run(7), run(7), run(8)
    assert h1 == h2 and h1 != h3
    for a, b in zip(n1.weights + n1.biases, n2.weights + n2.biases):
        np.testing.assert_array_equal(a, b)


def test_each_example_is_used_once_per_epoch_with_a_smaller_last_batch(monkeypatch):
    net = Network([2, 3, 2], seed=0)
    images = np.arange(50, dtype=np.float32).reshape(25, 2)
    seen, sizes = [], []
    monkeypatch.setattr(
        net, "update_mini_batch", lambda batch, eta: seen.extend(batch[0][:, 0].tolist())
    )
    net.sgd((images, np.zeros(25, dtype=int)), 2, 10, 1.0, on_batch=sizes.append)
    assert sizes == [10, 10, 5, 10, 10, 5]
    assert sorted(seen[:25]) == sorted(seen[25:]) == list(range(0, 50, 2))
    assert seen[:25] != seen[25:]  # reshuffled between epochs


def test_deeper_networks_train(tiny_mnist_dir):
    from neuraldigits.data.mnist import load_mnist

    training, validation, test = load_mnist(tiny_mnist_dir)
    net = Network([784, 100, 30, 10], seed=0)
    before = net.evaluate(test)
    history = net.sgd(training, 5, 10, 3.0, test_data=test)
    assert history[-1].test.correct > max(before, 0.5 * len(test[1]))


def test_uint8_images_train_like_scaled_floats():
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 256, (30, 4)).astype(np.uint8)
    labels = rng.integers(0, 2, 30)
    a, b = (
        Network([4, 3, 2], seed=1, dtype=np.float64),
        Network([4, 3, 2], seed=1, dtype=np.float64),
    )
    a.sgd((raw, labels), 2, 5, 1.0)
    b.sgd((raw / 255.0, labels), 2, 5, 1.0)
    for p, q in zip(a.weights, b.weights):
        np.testing.assert_allclose(p, q, rtol=1e-12)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ((np.zeros((5, 3)), np.zeros(5, dtype=int)), r"images of shape \(N, 4\)"),
        ((np.zeros((5, 4)), np.zeros(4, dtype=int)), r"labels of shape \(5,\)"),
        ((np.zeros((5, 4)), np.zeros(5)), "labels must be integers"),
        ((np.zeros((5, 4)), np.full(5, 2)), r"labels must lie in 0\.\.1"),
        ((np.zeros((5, 4)),), r"\(images, labels\) pair"),
    ],
)
def test_sgd_rejects_malformed_data(data, message):
    net = Network([4, 3, 2], seed=0)
    with pytest.raises(ValueError, match=message):
        net.sgd(data, 1, 2, 1.0)


def test_sgd_rejects_bad_hyperparameters():
    net = Network([2, 2], seed=0)
    for args in [(-1, 2, 1.0), (1, 0, 1.0), (1, 2, 0.0), (1, 2, float("nan"))]:
        with pytest.raises(ValueError, match="need epochs"):
            net.sgd(xor_data(1), *args)


def test_activations_lists_every_layer_and_ends_in_the_output():
    net = Network([4, 5, 3, 2], seed=0, dtype=np.float64)
    x = np.random.default_rng(1).random((4, 6))
    layers = net.activations(x)
    assert [a.shape for a in layers] == [(4, 6), (5, 6), (3, 6), (2, 6)]
    np.testing.assert_array_equal(layers[-1], net.feedforward(x.T).T)
    np.testing.assert_allclose(
        layers[1], 1 / (1 + np.exp(-(net.weights[0] @ x + net.biases[0]))), rtol=1e-12
    )


def test_sgd_stops_with_a_clear_error_when_the_weights_overflow():
    from neuraldigits.errors import TrainingError

    rng = np.random.default_rng(0)
    data = (rng.random((200, 784)).astype(np.float32), rng.integers(0, 10, 200))
    assert len(Network([784, 30, 10], seed=0).sgd(data, 2, 10, 100.0)) == 2  # bad, not an error
    with pytest.raises(TrainingError, match="diverged in epoch 0: layer 1's weights") as caught:
        Network([784, 30, 10], seed=0).sgd(data, 3, 10, 1e38, method="reference")
    assert caught.value.history == []
