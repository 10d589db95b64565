"""The shipped offline MNIST sample, choosing data (--data > env > cache > download > sample),
and the honesty of scores on it: labelled as the sample, never silently on training images."""

from __future__ import annotations

import io
import json
import re
import shutil
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from support.data import write_mnist_dir

from neuraldigits import Network
from neuraldigits.cli import main
from neuraldigits.data import sample
from neuraldigits.data.idx import read_idx
from neuraldigits.data.provenance import mnist_images, mnist_origin, overlap, sample_origin
from neuraldigits.data.sample import LICENCE_PATH, SAMPLE_PATH, load_sample, read_sample
from neuraldigits.data.sources import load_data
from neuraldigits.errors import DataError
from neuraldigits.modelfile import load, save

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """No data anywhere, an empty cache, and every mirror refusing connections."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.delenv("NEURALDIGITS_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("NEURALDIGITS_MIRRORS", f"http://127.0.0.1:{port}/")
    return tmp_path / "cache" / "neuraldigits" / "mnist"


def test_the_sample_is_small_disjoint_and_stratified():
    s = read_sample()
    sizes = {split: len(y) for split, (_, y) in s.sets.items()}
    assert sizes == {"training": 5000, "validation": 1000, "test": 1000}
    assert SAMPLE_PATH.stat().st_size < 2_000_000  # the wheel stays small
    # Training and validation are different digits of MNIST's training file.
    assert not set(s.indices["training"]) & set(s.indices["validation"])
    for split, (x, y) in s.sets.items():
        assert x.dtype == np.uint8 and x.shape == (sizes[split], 784)
        record = s.provenance["splits"][split]
        assert record["per_digit"] == np.bincount(y, minlength=10).tolist()
        # Stratified: within one digit of the class's share of 1/10 of the split, roughly.
        assert np.all(np.abs(np.bincount(y) - sizes[split] / 10) < sizes[split] * 0.02)
    assert {split: r["file"] for split, r in s.provenance["splits"].items()} == {
        "training": "train-images-idx3-ubyte.gz",
        "validation": "train-images-idx3-ubyte.gz",
        "test": "t10k-images-idx3-ubyte.gz",
    }
    (tx, _), _, _ = load_sample()
    assert tx.dtype == np.float32 and tx.min() == 0 and tx.max() == 1
    np.testing.assert_array_equal(np.rint(tx * 255).astype(np.uint8), s.sets["training"][0])


def test_the_licence_and_attribution_ship_beside_it():
    text = LICENCE_PATH.read_text(encoding="utf-8")
    for needed in ("CC BY-SA 3.0", "Yann LeCun", "Corinna Cortes", "Christopher J.C. Burges"):
        assert needed in text
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert "data/mnist_sample.npz" in pyproject and "data/mnist_sample_LICENSE.md" in pyproject
    assert "mlxtend" not in pyproject


def test_the_sample_is_real_mnist_test_digits_from_the_test_file(mnist_dir):
    s = read_sample()
    files = {"train": "train", "test": "t10k"}
    for split, (x, y) in s.sets.items():
        stem = files[sample.SOURCE_FILE[split]]
        images = read_idx(mnist_dir / f"{stem}-images-idx3-ubyte.gz", 3)
        labels = read_idx(mnist_dir / f"{stem}-labels-idx1-ubyte.gz", 1)
        where = s.indices[split]
        np.testing.assert_array_equal(images[where].reshape(len(where), -1), x)
        np.testing.assert_array_equal(labels[where], y)


def test_the_build_script_rebuilds_the_shipped_file_exactly(mnist_dir, tmp_path):
    out = tmp_path / "rebuilt.npz"
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "make_sample.py"), str(mnist_dir), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == SAMPLE_PATH.read_bytes()
    assert (tmp_path / LICENCE_PATH.name).read_text() == LICENCE_PATH.read_text()


def _rewritten(tmp_path, change) -> Path:
    """A copy of the shipped sample with ``change(arrays)`` applied to its arrays."""
    with np.load(SAMPLE_PATH, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    change(arrays)
    path = tmp_path / "changed.npz"
    np.savez_compressed(path, **arrays)
    return path


def _flip_a_pixel(arrays):
    arrays["test_images"] = arrays["test_images"].copy()
    arrays["test_images"][0, 300] ^= 1


def _bad_label(arrays):
    arrays["training_labels"] = arrays["training_labels"].copy()
    arrays["training_labels"][0] = 10


def _bad_format(arrays):
    record = json.loads(bytes(arrays["provenance"]))
    record["format"] = "something else"
    arrays["provenance"] = np.frombuffer(json.dumps(record).encode(), dtype=np.uint8)


@pytest.mark.parametrize(
    "change, message",
    [
        (_flip_a_pixel, "test digits do not match"),
        (_bad_label, "labels must be 0..9"),
        (lambda a: a.pop("validation_indices"), "expected"),
        (lambda a: a.update(test_images=a["test_images"][:, :100]), "shapes"),
        (lambda a: a.update(extra=np.zeros(3)), "extra"),
        (lambda a: a.pop("provenance"), "no provenance"),
        (_bad_format, "format"),
        (lambda a: a.update(test_indices=np.full(1000, 10_000, np.uint16)), "indices"),
    ],
)
def test_a_damaged_sample_is_refused(tmp_path, change, message):
    with pytest.raises(DataError, match=message):
        read_sample(_rewritten(tmp_path, change))


def test_pickles_and_truncation_are_refused(tmp_path):
    objects = tmp_path / "objects.npz"
    np.savez(objects, provenance=np.array([{"a": 1}], dtype=object))
    with pytest.raises(DataError, match="objects.npz"):
        read_sample(objects)
    cut = tmp_path / "cut.npz"
    cut.write_bytes(SAMPLE_PATH.read_bytes()[:5000])
    with pytest.raises(DataError, match="cut.npz"):
        read_sample(cut)


def test_a_zip_bomb_is_refused_before_it_is_unpacked(tmp_path):
    bomb = tmp_path / "bomb.npz"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            header, {"descr": "|u1", "fortran_order": False, "shape": (100 << 20,)}
        )
        archive.writestr("test_images.npy", header.getvalue() + bytes(100 << 20))
    with pytest.raises(DataError, match="unpacks to"):
        read_sample(bomb)


def test_offline_fallback_uses_the_sample_and_says_so(offline):
    loaded = load_data()
    assert loaded.is_sample and len(loaded.training[1]) == 5000 and len(loaded.test[1]) == 1000
    assert "downloading it failed" in loaded.notice and "digits data download" in loaded.notice
    assert "(1 mirror tried; the first: http://127.0.0.1:" in loaded.notice  # why it failed
    assert "\n" not in loaded.notice
    assert loaded.origins["test"]["source"] == "sample"
    assert mnist_images(loaded.origins["test"])[0] == "test"
    assert not offline.exists() or list(offline.iterdir()) == []  # nothing half-written


def test_offline_without_the_sample_is_one_clear_error(offline, monkeypatch, tmp_path):
    monkeypatch.setattr(sample, "SAMPLE_PATH", tmp_path / "gone.npz")
    with pytest.raises(DataError, match="downloading it failed.*sample is not available"):
        load_data()


def test_a_filled_cache_wins_over_download_and_sample(offline):
    write_mnist_dir(offline, n_train=120, n_test=20)
    loaded = load_data()
    assert not loaded.is_sample and loaded.notice is None
    assert "per-user cache" in loaded.source and len(loaded.test[1]) == 20
    # Not the official files: known by content only, never mistaken for MNIST's.
    assert loaded.origins["training"]["source"] == "idx"
    assert mnist_images(loaded.origins["training"]) is None


def test_official_mnist_is_recorded_as_ranges_of_its_files(mnist_dir):
    loaded = load_data(mnist_dir)
    assert loaded.origins == {
        "training": mnist_origin("train", 0, 50_000),
        "validation": mnist_origin("train", 50_000, 60_000),
        "test": mnist_origin("test", 0, 10_000),
    }


def test_explicit_data_is_used_exactly(tmp_path, offline):
    directory = write_mnist_dir(tmp_path / "mine", n_train=120, n_test=20)
    assert "given explicitly" in load_data(directory).source
    shutil.rmtree(directory)
    with pytest.raises(DataError, match="MNIST data not found"):
        load_data(directory)  # never silently replaced by the cache or the sample


def test_digits_train_offline_trains_on_the_sample_and_says_so_once(offline, tmp_path, capsys):
    out = tmp_path / "model.npz"
    assert main(["train", "--epochs", "2", "--seed", "1", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    # One message on stderr, the notice: not a download line, not the failure twice.
    assert len(captured.err.splitlines()) == 1 and captured.err.startswith("NOTICE: ")
    assert "offline sample shipped with neuraldigits" in captured.err
    assert "Data: the offline MNIST sample" in captured.out
    epochs = [line for line in captured.out.splitlines() if line.startswith("Epoch ")]
    assert len(epochs) == 2 and all("/ 1000" in e and "[offline sample]" in e for e in epochs)
    assert "[offline sample]" in next(
        line for line in captured.out.splitlines() if line.startswith("Best test")
    )
    training = load(out).metadata["training"]
    assert training["sample"] is True and training["images"]["split"] == "training"


def test_overlap_is_named_and_held_out_digits_are_not_flagged():
    s = read_sample()
    full_training = mnist_origin("train", 0, 50_000)
    # A model trained on MNIST's first 50,000 training digits shares some with the
    # sample's training split, none with its test split (drawn from the test file).
    message = overlap(full_training, sample_origin(s, "training"))
    shared = int(np.sum(s.indices["training"] < 50_000))
    assert message and f"trained on {shared:,} of these 5,000 images" in message
    assert "MNIST training digits" in message
    assert overlap(full_training, sample_origin(s, "test")) is None
    assert overlap(full_training, mnist_origin("test", 0, 10_000)) is None
    assert overlap(full_training, mnist_origin("train", 50_000, 60_000)) is None
    assert "exactly these images" in overlap({"fingerprint": "f"}, {"fingerprint": "f"})
    # What we cannot know, we do not claim.
    assert overlap(None, full_training) is None
    old_sample = {"source": "sample", "split": "training", "fingerprint": "old"}
    assert overlap(old_sample, full_training) is None


def _model(path: Path, images) -> Path:
    net = Network([784, 10, 10], seed=0)
    return save(net, path, training={"images": images})


def test_evaluate_offline_warns_when_the_model_trained_on_these_digits(offline, tmp_path, capsys):
    # Trained, by some other route, on MNIST's test file: the sample's test digits are among them.
    model = _model(tmp_path / "m.npz", mnist_origin("test", 0, 10_000))
    assert main(["evaluate", str(model)]) == 0
    captured = capsys.readouterr()
    assert "sample" in captured.out
    assert "warning: the model was trained on 1,000 of these 1,000 images" in captured.err


def test_a_model_trained_on_mnist_scored_offline_is_scored_on_mnist_test_digits(
    mnist_dir, offline, tmp_path, capsys
):
    model = tmp_path / "full.npz"
    args = ["train", "--data", str(mnist_dir), "--epochs", "1", "--seed", "1", "--out", str(model)]
    assert main(args) == 0
    assert load(model).metadata["training"]["images"] == mnist_origin("train", 0, 50_000)
    capsys.readouterr()
    assert main(["evaluate", str(model)]) == 0  # offline: falls back to the sample
    captured = capsys.readouterr()
    assert "/ 1000" in captured.out and "sample" in captured.out
    assert "warning" not in captured.err  # its test digits come from MNIST's test file
    assert mnist_images(sample_origin(read_sample(), "test"))[0] == "test"


def test_plot_offline_titles_its_figures_as_the_sample(offline, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from neuraldigits.book.plots import confusion_matrix, misclassified
    from neuraldigits.cli import plot

    seen = {}
    monkeypatch.setattr(plot, "plot_model", lambda *a, **k: seen.update(k) or [])
    model = _model(tmp_path / "m.npz", None)
    assert main(["plot", str(model), "--out", str(tmp_path / "plots")]) == 0
    assert seen["test_name"] == "offline sample's test digits"
    net, test = load(model), load_sample()[2]
    title = misclassified(net, test, test_name=seen["test_name"])._suptitle.get_text()
    assert title.startswith("Misclassified offline sample's test digits: ")
    axes = confusion_matrix(net, test, test_name=seen["test_name"]).axes[0]
    assert "1,000 offline sample's test digits" in axes.get_title()


def test_baselines_offline_say_they_scored_the_sample(offline, capsys):
    assert main(["baselines", "--no-svm"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all("/ 1000" in line and "offline sample" in line for line in lines)


def test_a_download_is_announced_once_bytes_arrive_and_offline_not_at_all(offline, monkeypatch):
    from neuraldigits.data import sources
    from neuraldigits.data.download import DownloadError

    calls = []

    def download(cache, *, timeout, progress):
        calls.append(timeout)
        progress("train-images-idx3-ubyte.gz", 1, 10)
        progress("train-images-idx3-ubyte.gz", 10, 10)
        write_mnist_dir(cache, n_train=120, n_test=20)

    monkeypatch.setattr(sources, "download_mnist", download)
    lines = []
    loaded = load_data(log=lines.append)
    assert lines == [f"no MNIST found; downloading it into {offline}"]
    assert calls == [sources.AUTO_DOWNLOAD_TIMEOUT] and not loaded.is_sample

    def unreachable(cache, *, timeout, progress):
        raise DownloadError("could not download", ["http://a/x: unreachable", "http://b/x: 404"])

    shutil.rmtree(offline)
    monkeypatch.setattr(sources, "download_mnist", unreachable)
    lines.clear()
    loaded = load_data(log=lines.append)
    assert lines == [] and loaded.is_sample  # offline, the notice is the only message
    assert "2 mirrors tried; the first: http://a/x: unreachable" in loaded.notice


def test_tables_of_scores_on_the_sample_are_captioned_so(offline, capsys):
    from neuraldigits.cli.data import sample_note

    assert main(["experiment", "output-encoding", "--seeds", "1", "--epochs", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    caption = out.index(sample_note(load_data()))
    assert out[caption - 1].startswith("Final test accuracy")
    assert "1,000 test digits" in out[caption]
    # Each seed's cell is written "44.90 %" like the mean beside it (it was "44.90%").
    row = next(line for line in out if line.startswith("10 outputs"))
    assert re.fullmatch(r"10 outputs \(one per digit\) +\d+\.\d\d % +\d+\.\d\d % ± .*", row), row
    assert sample_note(load_data(write_mnist_dir(offline.parent / "full", n_train=120))) is None
