"""The chapter's experiments: 10 outputs vs a 4-bit code, the bit layer, GD vs SGD."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from support.data import synthetic_digits

from neuraldigits.activations import sigmoid
from neuraldigits.book.experiments import EXPERIMENTS, gd_vs_sgd, output_encoding
from neuraldigits.book.plots import pixel_size
from neuraldigits.cli import main
from neuraldigits.network import Network


def flat(n, seed):
    images, labels = synthetic_digits(n, seed)
    return images.reshape(n, -1), labels.astype(np.int64)


TRAINING, TEST = flat(500, 1), flat(200, 2)


# ---------------------------------------------------------------------- encodings


def test_binary_targets_spell_each_digit_least_significant_bit_first():
    targets = output_encoding.binary_targets(np.arange(10))
    assert targets.shape == (10, 4)
    np.testing.assert_array_equal(targets[6], [0, 1, 1, 0])
    np.testing.assert_array_equal(targets[9], [1, 0, 0, 1])
    np.testing.assert_array_equal(output_encoding.decode_bits(targets), np.arange(10))


def test_decode_bits_reads_outputs_above_a_half_as_one():
    outputs = np.array([[0.9, 0.1, 0.6, 0.2], [0.4, 0.51, 0.49, 0.99], [1, 1, 1, 1]])
    np.testing.assert_array_equal(output_encoding.decode_bits(outputs), [5, 10, 15])


@given(
    digit=st.integers(0, 9),
    others=st.lists(st.floats(0, 0.01), min_size=10, max_size=10),
    top=st.floats(0.99, 1),
)
def test_bit_layer_gives_the_right_bits_under_the_books_premise(digit, others, top):
    """Right output ≥ 0.99 and the rest ≤ 0.01 → the bit neurons spell the digit."""
    a = np.array(others)
    a[digit] = top
    w, b = output_encoding.bit_layer()
    bits = sigmoid(w @ a[:, None] + b)[:, 0]
    assert output_encoding.decode_bits(bits[None, :])[0] == digit
    assert np.all(np.abs(bits - 0.5) > 0.49)


@given(
    digit=st.integers(0, 9),
    outputs=st.lists(st.floats(0, 1), min_size=10, max_size=10),
)
def test_bit_layer_is_right_wherever_the_premise_holds(digit, outputs):
    a = np.array(outputs)
    if not output_encoding.premise_holds(a[None, :], np.array([digit]))[0]:
        return
    w, b = output_encoding.bit_layer()
    bits = sigmoid(w @ a[:, None] + b)[:, 0]
    assert output_encoding.decode_bits(bits[None, :])[0] == digit


def test_an_unsure_network_can_get_wrong_bits_from_the_bit_layer():
    """8 wins with 0.5, but 0–7 (bit 3 clear) add up to 0.8: bit 3 comes out 0."""
    a = np.array([0.1] * 8 + [0.5, 0.0])
    assert np.argmax(a) == 8
    assert not output_encoding.premise_holds(a[None, :], np.array([8]))[0]
    w, b = output_encoding.bit_layer()
    assert output_encoding.decode_bits(sigmoid(w @ a[:, None] + b).T)[0] == 0


def test_with_bit_layer_appends_a_layer_and_leaves_the_network_alone():
    net = Network([784, 8, 10], seed=0)
    before = [w.copy() for w in net.weights]
    extended = output_encoding.with_bit_layer(net)
    assert extended.sizes == [784, 8, 10, 4]
    for w, old in zip(net.weights, before):
        np.testing.assert_array_equal(w, old)
    np.testing.assert_array_equal(extended.weights[-1], output_encoding.bit_layer()[0])
    with pytest.raises(ValueError, match="10 outputs"):
        output_encoding.with_bit_layer(Network([784, 4], seed=0))


def test_train_on_targets_is_the_books_sgd():
    """With one-hot targets it steps exactly like Network.update_mini_batch."""
    a = Network([784, 5, 10], seed=1, dtype=np.float64)
    b = a.copy()
    images, labels = TRAINING[0][:95], TRAINING[1][:95]
    output_encoding.train_on_targets(
        a,
        images,
        output_encoding.one_hot_targets(labels, np.float64),
        2,
        10,
        3.0,
        np.random.default_rng(4),
    )
    rng = np.random.default_rng(4)
    for _ in range(2):
        order = rng.permutation(95)
        for k in range(0, 95, 10):
            idx = order[k : k + 10]
            b.update_mini_batch((images[idx], labels[idx]), 3.0)
    for x, y in zip(a.weights + a.biases, b.weights + b.biases):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12)


def test_output_encoding_runs_both_encodings_for_every_seed():
    result = output_encoding.run(TRAINING, TEST, hidden=10, epochs=2, seeds=(0, 1, 2))
    assert [(r.encoding, r.seed) for r in result.runs] == [
        (e, s) for s in (0, 1, 2) for e in output_encoding.ENCODINGS
    ]
    for r in result.runs:
        assert len(r.correct_per_epoch) == 2 and r.total == 200
        assert 0 <= r.final_accuracy <= r.best_accuracy <= 1
    for encoding in output_encoding.ENCODINGS:
        assert result.final_accuracies(encoding).shape == (3,)
    # The synthetic digits are easy: both encodings learn them.
    assert result.final_accuracies("4 outputs (binary code)").max() > 0.5
    assert result.final_accuracies("10 outputs (one per digit)").max() > 0.5
    c = result.conversion
    assert c.classified_correctly > 0
    assert c.right_bits + len(c.wrong_indices) == c.classified_correctly
    assert c.premise_held_right == c.premise_held


def test_bit_layer_converts_every_correctly_classified_digit_of_a_trained_net():
    net = Network([784, 20, 10], seed=0)
    targets = output_encoding.one_hot_targets(TRAINING[1])
    output_encoding.train_on_targets(
        net, TRAINING[0], targets, 5, 10, 3.0, np.random.default_rng(0)
    )
    check = output_encoding.check_conversion(net, TEST)
    assert check.classified_correctly > 150
    assert check.all_right and check.wrong_indices == ()
    assert check.smallest_margin > 0
    assert 0 < check.premise_held == check.premise_held_right <= check.classified_correctly


# ---------------------------------------------------------------------- GD vs SGD


def test_full_gradient_is_the_sum_over_all_examples():
    net = Network([784, 6, 10], seed=2, dtype=np.float64)
    images, labels = TRAINING[0][:50], TRAINING[1][:50]
    expected_b, expected_w = net.backprop(images.T, net.one_hot(labels).T)
    old = gd_vs_sgd.GD_CHUNK
    try:
        gd_vs_sgd.GD_CHUNK = 16  # several chunks, the last one short
        got_b, got_w = gd_vs_sgd.full_gradient(net, images, labels)
    finally:
        gd_vs_sgd.GD_CHUNK = old
    for got, expected in zip(got_b + got_w, expected_b + expected_w):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@pytest.fixture(scope="module")
def comparison():
    return gd_vs_sgd.run(TRAINING, TEST, sizes=(784, 10, 10), epochs=2, seed=0)


def test_gd_and_sgd_start_from_the_same_network(comparison):
    assert comparison.sgd.points[0] == comparison.gd.points[0]


def test_gd_is_compared_at_equal_gradient_evaluations_and_equal_time(comparison):
    n = comparison.training_examples
    assert comparison.sgd.last.gradient_evaluations == 2 * n
    assert comparison.gd_same_evaluations.gradient_evaluations == 2 * n
    assert comparison.gd_same_time.seconds >= comparison.sgd.last.seconds
    assert all(p.gradient_evaluations % n == 0 for p in comparison.gd.points)
    evaluations = [p.gradient_evaluations for p in comparison.sgd.points]
    assert evaluations == sorted(evaluations)


def test_sgd_learns_far_more_per_gradient_evaluation(comparison):
    """The chapter's point: n/m steps on estimates beat one step on the true gradient."""
    sgd, gd = comparison.sgd.last, comparison.gd_same_evaluations
    assert sgd.cost < gd.cost
    assert sgd.accuracy > gd.accuracy


def test_gd_vs_sgd_needs_an_epoch():
    with pytest.raises(ValueError, match="at least one epoch"):
        gd_vs_sgd.run(TRAINING, TEST, epochs=0)


# ---------------------------------------------------------------------- the CLI


def test_registry_names_the_cli_experiments():
    assert set(EXPERIMENTS) == {"output-encoding", "gd-vs-sgd"}


def test_cli_output_encoding(tiny_mnist_dir, capsys):
    args = ["experiment", "output-encoding", "--data", str(tiny_mnist_dir)]
    assert main([*args, "--epochs", "1", "--hidden", "10"]) == 0
    out = capsys.readouterr().out
    assert "[784, 10, 10] vs [784, 10, 4]" in out
    assert "10 outputs (one per digit)" in out and "4 outputs (binary code)" in out
    assert "mean ± sd" in out
    assert "Hand-set bit layer on seed 0's 10-output network: right 4 bits for" in out
    assert "Where the book's premise holds" in out


def test_cli_gd_vs_sgd_writes_its_curves(tiny_mnist_dir, tmp_path, capsys):
    args = ["experiment", "gd-vs-sgd", "--data", str(tiny_mnist_dir), "--hidden", "10"]
    assert main([*args, "--epochs", "1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "gradient descent, same wall time" in out
    with Image.open(tmp_path / "gd_vs_sgd.png") as image:
        assert image.size == pixel_size("gd_vs_sgd")
        assert len(np.unique(np.asarray(image.convert("L")))) > 20
    assert (tmp_path / "gd_vs_sgd.svg").read_text().lstrip().startswith("<?xml")


@pytest.mark.parametrize(
    "args, message",
    [
        (["experiment"], "the following arguments are required: EXPERIMENT"),
        (["experiment", "bits"], "invalid choice: 'bits'"),
        (["experiment", "output-encoding", "--seeds", "0"], "expected a positive whole number"),
        (["experiment", "gd-vs-sgd", "--eta", "-3"], "expected a positive finite number"),
    ],
)
def test_cli_experiment_rejects_bad_arguments(args, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_experiment_missing_data_is_one_clear_error(tmp_path, capsys):
    assert main(["experiment", "gd-vs-sgd", "--data", str(tmp_path), "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("digits experiment: error: MNIST data not found")
    assert not (tmp_path / "gd_vs_sgd.png").exists()


def test_output_encoding_needs_seeds_and_epochs():
    with pytest.raises(ValueError, match="at least one seed and one epoch"):
        output_encoding.run(TRAINING, TEST, epochs=0)
    with pytest.raises(ValueError, match="at least one seed and one epoch"):
        output_encoding.run(TRAINING, TEST, seeds=())
