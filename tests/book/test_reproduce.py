"""`digits reproduce`: every experiment and baseline, chapters 1 and 3, the tables, the file."""

import numpy as np
import pytest
from support.data import synthetic_digits

from neuraldigits.book import reproduce
from neuraldigits.cli import main
from neuraldigits.extras import install_hint
from neuraldigits.network import Network


def flat(n, seed):
    images, labels = synthetic_digits(n, seed)
    return images.reshape(n, -1), labels.astype(np.int64)


# Chapter 3's runs as the book states them (chap3.html): key → sizes, cost, init, λ, η,
# and the set its figure is on.  Written out here, not read from the specs under test.
CHAPTER3_BOOK = {
    "ce30": ([784, 30, 10], "cross-entropy", "large", 0.0, 0.5, "test"),
    "ce100": ([784, 100, 10], "cross-entropy", "large", 0.0, 0.5, "test"),
    "l2-30": ([784, 30, 10], "cross-entropy", "large", 5.0, 0.5, "test"),
    "l2-100": ([784, 100, 10], "cross-entropy", "large", 5.0, 0.5, "validation"),
    "init-large": ([784, 30, 10], "cross-entropy", "large", 5.0, 0.1, "validation"),
    "init-scaled": ([784, 30, 10], "cross-entropy", "scaled", 5.0, 0.1, "validation"),
}


@pytest.fixture(scope="module")
def result():
    # 60 validation images against 100 test images, so a row shows which set it scored.
    return reproduce.run(flat(300, 1), flat(60, 3), flat(100, 2), seeds=(0, 1), epochs=2)


def test_every_experiment_and_baseline_is_measured(result):
    specs = reproduce.TRAINING_SPECS + reproduce.CHAPTER3_SPECS
    keys = [spec.key for spec in specs] + list(reproduce.BASELINE_BOOK)
    assert [row.key for row in result.rows] == keys
    for row in result.rows:
        assert row.total == (60 if row.scored_on == "validation" else 100)
        assert all(0 <= c <= row.total for c in row.correct)
        assert row.best == max(row.correct)
    by_key = {row.key: row for row in result.rows}
    for spec in specs:
        row = by_key[spec.key]
        assert len(row.correct) == 2 and len(row.final) == 2 and len(row.first) == 2
        assert all(f <= c for f, c in zip(row.final, row.correct))  # peak ≥ final
        assert all(f <= c for f, c in zip(row.first, row.correct))  # peak ≥ first
    assert len(by_key["random"].correct) == 2  # one guess per seed
    assert len(by_key["darkness"].correct) == 1  # deterministic


def test_chapter_3_rows_are_marked_and_carry_the_books_figures(result):
    by_key = {row.key: row for row in result.rows}
    assert [spec.key for spec in reproduce.CHAPTER3_SPECS] == list(CHAPTER3_BOOK)
    for key, (*_, scored_on) in CHAPTER3_BOOK.items():
        assert by_key[key].chapter == 3
        assert by_key[key].scored_on == scored_on
    for spec in reproduce.TRAINING_SPECS:
        assert by_key[spec.key].chapter == 1
    for key in reproduce.BASELINE_BOOK:
        assert by_key[key].chapter == 1
    figures = {
        "ce30": "95.49 %",
        "ce100": "96.82 %",
        "l2-30": "96.49 %",
        "l2-100": "97.92 %",
        "init-large": "under 87 % after the first epoch",
        "init-scaled": "almost 93 % after the first epoch",
    }
    for key, figure in figures.items():
        assert figure in by_key[key].book


def test_chapter_3_runs_use_the_books_settings(monkeypatch):
    """Spy on Network.sgd: each chapter-3 run trains with the book's cost, init, λ and η."""
    calls = []
    sgd = Network.sgd

    def spy(self, training, epochs, mini_batch_size, eta, test_data=None, **kwargs):
        calls.append(
            (
                self.sizes,
                self.cost.name,
                self.init,
                kwargs.get("lmbda", 0.0),
                eta,
                epochs,
                mini_batch_size,
                kwargs.get("momentum", 0.0),
            )
        )
        return sgd(self, training, epochs, mini_batch_size, eta, test_data, **kwargs)

    monkeypatch.setattr(Network, "sgd", spy)
    reproduce.run(flat(50, 1), flat(20, 3), flat(20, 2), seeds=(0,), epochs=1, svm=False)
    chapter1 = calls[: len(reproduce.TRAINING_SPECS)]
    assert {(cost, init, lmbda) for _, cost, init, lmbda, *_ in chapter1} == {
        ("quadratic", "large", 0.0)
    }
    chapter3 = calls[len(reproduce.TRAINING_SPECS) :]
    expected = [
        (sizes, cost, init, lmbda, eta, 1, 10, 0.0)
        for sizes, cost, init, lmbda, eta, _ in CHAPTER3_BOOK.values()
    ]
    assert chapter3 == expected


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
    assert len(table) == 2 + len(result.rows)  # a header per chapter
    assert "95.42 %" in text and "96.59 %" in text and "2,225" in text and "9,435" in text
    assert "11.39 %" in text and "21.42 %" in text  # chap1.html: Epoch 0: 1139, Epoch 29: 2142
    assert "9.82 % (982) at epochs 27–29" in text  # chap1.html: Epoch 27–29: 982 / 10000
    net30 = {row.key: row for row in result.rows}["net30"]
    assert f"**{100 * net30.best / 100:.2f} %** ({net30.best:,} / 100)" in text
    assert "on the first 300 MNIST training images" in text
    assert "η = 0.001: after 2 epochs the seeds reach" in text
    assert "benchmarks/eta_small.py" in text


def test_markdown_gives_chapter_3_its_own_section_after_chapter_1(result):
    text = reproduce.to_markdown(result, "digits reproduce --seeds=2")
    chapter1, chapter3 = text.split("## Chapter 1\n")[1].split("## Chapter 3\n")
    rows1 = [line for line in chapter1.splitlines() if line.startswith("| ")]
    rows3 = [line for line in chapter3.splitlines() if line.startswith("| ")]
    assert len(rows1) == 1 + len(reproduce.TRAINING_SPECS) + len(reproduce.BASELINE_BOOK)
    assert len(rows3) == 1 + len(reproduce.CHAPTER3_SPECS)
    assert "cross-entropy" not in chapter1 and "Baseline" not in chapter3
    for figure in ("95.49 %", "96.82 %", "96.49 %", "97.92 %", "almost 93 %", "under 87 %"):
        assert figure in chapter3
    assert "| validation (60) |" in chapter3 and "| test (100) |" in chapter3
    by_key = {row.key: row for row in result.rows}
    l2 = by_key["l2-100"]  # scored on the 60 validation images
    assert f"**{100 * l2.best / 60:.2f} %** ({l2.best:,} / 60)" in chapter3
    assert "after the first epoch the seeds\n  average" in chapter3
    assert "98.04 %" in chapter3  # named as left out


def test_cli_prints_each_chapter_under_its_heading(result):
    text = reproduce.tables(result)
    assert text.startswith("Chapter 1\n\n| Experiment |")
    assert "\n\nChapter 3\n\n| Experiment | Book | Scored on |" in text
    assert text.index("Baseline: average darkness") < text.index("Chapter 3")


def test_markdown_names_the_plots_directory_of_its_own_run(result):
    assert "Regenerate this file with:" in reproduce.to_markdown(result, "digits reproduce")
    text = reproduce.to_markdown(result, "digits reproduce --plots=out/pics", plots="out/pics")
    assert "Regenerate this file (and the plots in `out/pics`) with:" in text
    assert "docs/images" not in text


def test_markdown_names_the_validation_set_it_used_and_the_offline_sample(result):
    # It said "the 10,000 after the training images" and "the first N MNIST training
    # images" whatever the data; a run on the offline sample used neither.
    text = reproduce.to_markdown(result, "digits reproduce")
    assert "(the 60 after the training images)" in text and "10,000 after" not in text
    assert "on the first 300 MNIST training images" in text and "offline sample" not in text
    note = "(scores below are on the offline sample: its 100 test digits, from MNIST's test set)"
    text = reproduce.to_markdown(result, "digits reproduce", sample_note=note)
    assert "\nScores below are on the offline sample: its 100 test digits, from MNIST's" in text
    assert "trained on the offline sample's 300 training digits" in text
    assert "(the sample's 60 validation digits)" in text
    assert "MNIST training images" not in text and "after the training images" not in text


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
    assert "\nChapter 3\n" in printed and "## Chapter 3" in text
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
    assert "the plot extra" in captured.err and install_hint("plot") in captured.err
    assert captured.out == ""  # nothing was trained
    assert list(tmp_path.iterdir()) == []


def test_cli_reproduce_help_is_plain_text(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["reproduce", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    # Between the usage line (whose [-q | -v] is argparse's, not markup) and the options.
    description = out.split("\n\n", 1)[1].split("\noptions:")[0]
    assert "Chapter 1:" in description and "Chapter 3:" in description
    assert "\nChapter 3: trains" in description  # the line breaks are kept
    for markup in ("`", "**", "|", "η", "λ", "<", "##"):
        assert markup not in description, markup
