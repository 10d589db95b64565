"""`digits reproduce`: every experiment and baseline, the table, the results file."""

import numpy as np
import pytest
from support.data import synthetic_digits

from neuraldigits.book import reproduce
from neuraldigits.cli import main


def flat(n, seed):
    images, labels = synthetic_digits(n, seed)
    return images.reshape(n, -1), labels.astype(np.int64)


@pytest.fixture(scope="module")
def result():
    return reproduce.run(flat(300, 1), flat(100, 3), flat(100, 2), seeds=(0, 1), epochs=2)


def test_every_experiment_and_baseline_is_measured(result):
    keys = [spec.key for spec in reproduce.TRAINING_SPECS] + list(reproduce.BASELINE_BOOK)
    assert [row.key for row in result.rows] == keys
    for row in result.rows:
        assert row.total == 100
        assert all(0 <= c <= 100 for c in row.correct)
        assert row.best == max(row.correct)
    by_key = {row.key: row for row in result.rows}
    for spec in reproduce.TRAINING_SPECS:
        row = by_key[spec.key]
        assert len(row.correct) == 2 and len(row.final) == 2
        assert all(f <= c for f, c in zip(row.final, row.correct))  # peak ≥ final
    assert len(by_key["random"].correct) == 2  # one guess per seed
    assert len(by_key["darkness"].correct) == 1  # deterministic


def test_the_best_30_neuron_run_is_kept_with_its_history(result):
    net = result.best_net30
    assert net.sizes == [784, 30, 10]
    history = net.metadata["history"]
    assert len(history) == 2
    best = max(r["test"]["correct"] for r in history)
    assert best == {row.key: row for row in result.rows}["net30"].best


def test_markdown_puts_the_book_beside_the_measurement(result):
    text = reproduce.to_markdown(result, "digits reproduce --seeds=2")
    assert "digits reproduce --seeds=2" in text
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(table) == 1 + len(result.rows)
    assert "95.42 %" in text and "96.59 %" in text and "2,225" in text and "9,435" in text
    net30 = {row.key: row for row in result.rows}["net30"]
    assert f"**{100 * net30.best / 100:.2f} %** ({net30.best:,} / 100)" in text
    assert "on the first 300 MNIST training images" in text
    assert "η = 0.001: after 2 epochs the seeds reach" in text


def test_darkness_note_claims_the_books_figure_only_when_it_is_met(result):
    text = reproduce.to_markdown(result, "digits reproduce")
    assert "the book's 2,225 exactly" not in text
    assert "(the book: 2,225 of 10,000 on MNIST)" in text


def test_run_needs_seeds_and_epochs():
    with pytest.raises(ValueError, match="at least one seed"):
        reproduce.run(flat(30, 1), flat(10, 2), flat(10, 3), seeds=(), epochs=1)


def test_cli_reproduce_writes_the_table_and_the_plots(tiny_mnist_dir, tmp_path, capsys):
    out, pictures = tmp_path / "results.md", tmp_path / "images"
    args = ["reproduce", "--seeds", "1", "--epochs", "1", "--no-svm"]
    args += ["--data", str(tiny_mnist_dir), "--out", str(out), "--plots", str(pictures)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    text = out.read_text()
    assert "| Experiment | Book |" in printed and "| Experiment | Book |" in text
    assert f"digits reproduce --seeds=1 --epochs=1 --no-svm --data={tiny_mnist_dir}" in text
    assert "SVM" not in text.split("Notes.")[0]
    assert sorted(p.name for p in pictures.iterdir()) == [
        "confusion_matrix.png",
        "hidden_weights.png",
        "learning_curve.png",
        "misclassified.png",
    ]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_cli_reproduce_missing_data_writes_nothing(tmp_path, capsys):
    out = tmp_path / "results.md"
    assert main(["reproduce", "--data", str(tmp_path / "no"), "--out", str(out)]) == 1
    assert capsys.readouterr().err.startswith("digits reproduce: error: MNIST data not found")
    assert not out.exists()


def test_cli_reproduce_without_matplotlib_fails_before_training(
    tiny_mnist_dir, tmp_path, monkeypatch, capsys
):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    args = ["reproduce", "--data", str(tiny_mnist_dir), "--plots", str(tmp_path / "images")]
    assert main(args) == 1
    captured = capsys.readouterr()
    assert "neuraldigits[plot]" in captured.err
    assert captured.out == ""  # nothing was trained
    assert list(tmp_path.iterdir()) == []
