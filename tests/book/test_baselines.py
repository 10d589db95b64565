"""The book's baselines: random guessing, average darkness (exactly 2,225), the SVM."""

import sys

import numpy as np
import pytest
from support.data import synthetic_digits

from neuraldigits.book import baselines
from neuraldigits.cli import main
from neuraldigits.errors import NeuralDigitsError


def flat(n, seed):
    images, labels = synthetic_digits(n, seed)
    return images.reshape(n, -1), labels.astype(np.int64)


def test_average_darkness_matches_the_book_exactly_on_mnist(mnist_dir):
    from neuraldigits.data.mnist import load_mnist

    # Raw bytes (exact integer sums) and the usual float32 pixels agree.
    for dtype in (np.uint8, np.float32):
        training, _, test = load_mnist(mnist_dir, dtype=dtype)
        result = baselines.average_darkness(training, test)
        assert (result.correct, result.total) == (2225, 10_000)


def test_average_darknesses_are_per_digit_means_of_total_ink():
    images = np.array([[1, 2], [3, 4], [10, 10], [0, 0]], dtype=np.uint8)
    labels = np.array([0, 0, 1, 1])
    images = np.vstack([images] + [np.full((1, 2), k, np.uint8) for k in range(2, 10)])
    labels = np.concatenate([labels, np.arange(2, 10)])
    averages = baselines.average_darknesses((images, labels))
    # digit 0: (3 + 7) / 2; digit 1: (20 + 0) / 2; digit k ≥ 2: 2k.
    np.testing.assert_allclose(averages, [5, 10, 4, 6, 8, 10, 12, 14, 16, 18])


def test_guess_by_darkness_picks_the_closest_and_breaks_ties_to_the_smaller_digit():
    averages = np.array([10.0, 20, 30, 40, 50, 60, 70, 80, 90, 100])
    images = np.array([[12, 0], [15, 0], [56, 0], [200, 0]], dtype=np.uint8)
    # 15 is as close to 10 (digit 0) as to 20 (digit 1): the book's min() gives 0.
    np.testing.assert_array_equal(baselines.guess_by_darkness(images, averages), [0, 0, 5, 9])


def test_float_and_byte_pixels_give_the_same_guesses():
    training, test = flat(600, 1), flat(200, 2)
    as_float = lambda d: (d[0].astype(np.float32) / 255, d[1])  # noqa: E731
    exact = baselines.average_darkness(training, test)
    scaled = baselines.average_darkness(as_float(training), as_float(test))
    assert exact.correct == scaled.correct


def test_darkness_needs_every_digit_in_the_training_data():
    images, labels = flat(100, 1)
    with pytest.raises(NeuralDigitsError, match=r"no images of digit\(s\) \[3\]"):
        baselines.average_darknesses((images[labels != 3], labels[labels != 3]))


def test_random_guessing_is_seeded_and_near_chance():
    test = (np.zeros((10_000, 4), np.uint8), np.arange(10_000) % 10)
    a = baselines.random_guessing(test, seed=5)
    assert a.correct == baselines.random_guessing(test, seed=5).correct
    assert a.correct != baselines.random_guessing(test, seed=6).correct
    assert a.total == 10_000
    assert 800 < a.correct < 1200  # binomial(10000, 0.1): sd 30


def test_svm_learns_the_synthetic_digits():
    result = baselines.svm(flat(500, 1), flat(200, 2))
    assert result.total == 200
    assert result.correct >= 190
    assert "defaults" in result.name
    assert baselines.svm(flat(300, 1), flat(100, 2), gamma="auto").name == "SVM (gamma='auto')"


def test_svm_without_scikit_learn_says_which_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.svm", None)
    with pytest.raises(NeuralDigitsError, match="the svm extra"):
        baselines.svm(flat(50, 1), flat(10, 2))


def test_cli_baselines(tiny_mnist_dir, capsys):
    assert main(["baselines", "--data", str(tiny_mnist_dir), "--svm-gamma", "auto"]) == 0
    out = capsys.readouterr().out
    assert "random guessing:" in out
    assert "average darkness:" in out
    assert "takes several minutes" in out
    assert "SVM (gamma='auto'): " in out


def test_cli_baselines_without_svm(tiny_mnist_dir, capsys):
    assert main(["baselines", "--data", str(tiny_mnist_dir), "--no-svm"]) == 0
    assert "SVM" not in capsys.readouterr().out


@pytest.mark.parametrize("bad", ["0", "-1", "wide", "inf"])
def test_cli_baselines_rejects_a_bad_gamma(bad, capsys):
    with pytest.raises(SystemExit) as e:
        main(["baselines", "--svm-gamma", bad])
    assert e.value.code == 2
    assert "expected 'scale', 'auto' or a positive number" in capsys.readouterr().err


def test_cli_baselines_missing_data_is_one_clear_error(tmp_path, capsys):
    assert main(["baselines", "--data", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("digits baselines: error: MNIST data not found")
    assert "Traceback" not in err
