"""load_mnist and read_idx: the book's split, and one clear error for each way data goes wrong."""

import gzip
import os
import struct

import numpy as np
import pytest
from support.data import write_mnist_dir

from neuraldigits.data.idx import read_idx, write_idx
from neuraldigits.data.mnist import FILES, load_mnist, locate, search
from neuraldigits.errors import DataError


def test_synthetic_directory_loads_with_a_proportional_split(tiny_mnist_dir):
    (tx, ty), (vx, vy), (sx, sy) = load_mnist(tiny_mnist_dir)
    assert tx.shape == (1000, 784) and vx.shape == (200, 784) and sx.shape == (200, 784)
    assert tx.dtype == np.float32 and tx.min() >= 0 and tx.max() == 1.0
    assert ty.dtype == np.int64 and set(np.unique(ty)) <= set(range(10))


def test_raw_and_gzipped_files_are_detected_by_content_not_name(tmp_path):
    raw = write_mnist_dir(tmp_path / "raw", compress=False)
    gz = write_mnist_dir(tmp_path / "gz", compress=True)
    a, b = load_mnist(raw), load_mnist(gz)
    np.testing.assert_array_equal(a[0][0], b[0][0])
    # A gzipped file under a raw name, and a raw file under a .gz name, both load.
    swapped = tmp_path / "swapped"
    swapped.mkdir()
    for name in FILES.values():
        (swapped / name).write_bytes((gz / (name + ".gz")).read_bytes())
    (swapped / FILES["test_labels"]).unlink()
    (swapped / (FILES["test_labels"] + ".gz")).write_bytes(
        (raw / FILES["test_labels"]).read_bytes()
    )
    np.testing.assert_array_equal(load_mnist(swapped)[2][1], a[2][1])


def test_uint8_dtype_keeps_raw_bytes(tiny_mnist_dir):
    (tx, _), _, _ = load_mnist(tiny_mnist_dir, dtype=np.uint8)
    assert tx.dtype == np.uint8 and tx.max() == 255


def test_missing_files_are_listed(tmp_path):
    d = write_mnist_dir(tmp_path / "d")
    (
        d / (FILES["t10k_images"] if "t10k_images" in FILES else FILES["test_images"] + ".gz")
    ).unlink()
    with pytest.raises(DataError) as e:
        load_mnist(d)
    text = str(e.value)
    assert "missing t10k-images-idx3-ubyte[.gz]" in text and str(d) in text
    assert "--data DIR" in text and "NEURALDIGITS_DATA" in text


def test_nothing_found_lists_every_place_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURALDIGITS_DATA", str(tmp_path / "env-dir"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(DataError) as e:
        locate()
    text = str(e.value)
    assert str(tmp_path / "env-dir") in text and "$NEURALDIGITS_DATA" in text
    assert str(tmp_path / "cache" / "neuraldigits" / "mnist") in text and "per-user cache" in text


def test_environment_variable_is_used(tiny_mnist_dir, monkeypatch):
    monkeypatch.setenv("NEURALDIGITS_DATA", str(tiny_mnist_dir))
    assert locate()["train_images"].parent == tiny_mnist_dir


def test_search_walks_the_places_in_order_and_says_what_each_holds(tmp_path, monkeypatch):
    partial = write_mnist_dir(tmp_path / "env-dir")
    (partial / (FILES["test_labels"] + ".gz")).unlink()
    monkeypatch.setenv("NEURALDIGITS_DATA", str(partial))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    env, cache = search()
    assert (env.directory, env.why, env.exists, env.complete) == (
        partial,
        "$NEURALDIGITS_DATA",
        True,
        False,
    )
    assert list(env.found) == ["train_images", "train_labels", "test_images"]
    assert env.missing == ["t10k-labels-idx1-ubyte[.gz]"]
    assert env.shortfall == "missing t10k-labels-idx1-ubyte[.gz]"
    assert cache.why == "per-user cache" and not cache.exists and not cache.complete
    assert cache.shortfall == "no such directory"


def test_search_of_an_explicit_path_looks_nowhere_else(tiny_mnist_dir, monkeypatch):
    monkeypatch.setenv("NEURALDIGITS_DATA", "/nonexistent")
    [place] = search(tiny_mnist_dir)
    assert place.why == "given explicitly" and place.complete
    assert locate(tiny_mnist_dir) == place.found


def idx_bytes(array, magic=None):
    dims = array.ndim
    header = struct.pack(">I", magic if magic is not None else 0x0800 | dims)
    return header + struct.pack(f">{dims}I", *array.shape) + array.astype(np.uint8).tobytes()


def test_read_idx_round_trip(tmp_path):
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "a", a), ndim=3), a)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "b.gz", a, compress=True)), a)


def test_truncated_file_reports_expected_and_actual_bytes(tmp_path):
    p = tmp_path / "images"
    p.write_bytes(idx_bytes(np.zeros((3, 28, 28)))[:-100])
    with pytest.raises(
        DataError, match=r"truncated.*needing 2,368 bytes, but the file holds 2,268"
    ):
        read_idx(p, ndim=3)


def test_truncated_gzip_is_refused(tmp_path):
    p = tmp_path / "images.gz"
    p.write_bytes(gzip.compress(idx_bytes(np.ones((3, 28, 28))))[:-20])
    with pytest.raises(DataError, match=str(p)):
        read_idx(p, ndim=3)


def test_wrong_magic_is_refused(tmp_path):
    p = tmp_path / "labels"
    p.write_bytes(idx_bytes(np.zeros(5), magic=0x00000803))
    with pytest.raises(DataError, match=r"wrong magic number 0x00000803, expected 0x00000801"):
        read_idx(p, ndim=1)
    p.write_bytes(b"PK\x03\x04" + bytes(20))
    with pytest.raises(DataError, match="wrong magic number"):
        read_idx(p, ndim=1)


def test_trailing_bytes_are_refused(tmp_path):
    p = tmp_path / "labels"
    p.write_bytes(idx_bytes(np.zeros(5)) + b"extra")
    with pytest.raises(DataError, match="longer than its header declares"):
        read_idx(p, ndim=1)


def test_lying_header_does_not_allocate_what_it_claims(tmp_path):
    p = tmp_path / "images"
    p.write_bytes(struct.pack(">IIII", 0x0803, 4_000_000_000, 28, 28) + bytes(100))
    with pytest.raises(DataError, match="absurd size"):
        read_idx(p, ndim=3)
    p.write_bytes(struct.pack(">IIII", 0x0803, 1_000_000, 28, 28) + bytes(100))
    with pytest.raises(DataError, match="truncated"):
        read_idx(p, ndim=3)


def test_git_lfs_pointer_is_recognised(tmp_path):
    p = tmp_path / "train-images-idx3-ubyte.gz"
    p.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:440fcabf\nsize 9912422\n")
    with pytest.raises(DataError, match="Git LFS pointer"):
        read_idx(p)


def test_count_mismatch_between_images_and_labels(tmp_path):
    d = write_mnist_dir(tmp_path / "d", compress=False)
    write_idx(d / FILES["train_labels"], np.zeros(7, dtype=np.uint8))
    with pytest.raises(DataError, match=r"holds 1,200 images but .* holds 7 labels"):
        load_mnist(d)


def test_labels_out_of_range(tmp_path):
    d = write_mnist_dir(tmp_path / "d", compress=False)
    write_idx(d / FILES["test_labels"], np.full(200, 12, dtype=np.uint8))
    with pytest.raises(DataError, match=r"labels must be 0\.\.9, found 12"):
        load_mnist(d)


def test_a_directory_where_a_file_should_be(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(DataError, match="is a directory"):
        read_idx(tmp_path / "x")


def test_real_mnist_split_and_scaling(mnist):
    (tx, ty), (vx, vy), (sx, sy) = mnist
    assert (len(ty), len(vy), len(sy)) == (50_000, 10_000, 10_000)
    assert tx.shape == (50_000, 784) and tx.dtype == np.float32
    assert float(tx.min()) == 0.0 and float(tx.max()) == 1.0
    # Pixel statistics of the full training set as published (mean 0.1307).
    assert abs(np.concatenate([tx, vx]).mean() - 0.1307) < 1e-3
    assert np.bincount(sy).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert ty[:5].tolist() == [5, 0, 4, 1, 9]  # the first training digits, as the book shows


# ---------------------------------------------------------------------- memory budget (issue 15)


def _header_only(directory, n_train, n_test):
    """The four files as gzipped headers alone: any attempt to read the data says "truncated"."""
    directory.mkdir()
    for name, header in (
        ("train-images-idx3-ubyte.gz", struct.pack(">IIII", 0x0803, n_train, 28, 28)),
        ("train-labels-idx1-ubyte.gz", struct.pack(">II", 0x0801, n_train)),
        ("t10k-images-idx3-ubyte.gz", struct.pack(">IIII", 0x0803, n_test, 28, 28)),
        ("t10k-labels-idx1-ubyte.gz", struct.pack(">II", 0x0801, n_test)),
    ):
        (directory / name).write_bytes(gzip.compress(header, mtime=0))
    return directory


def test_data_that_cannot_fit_is_refused_from_the_headers_before_reading(tmp_path):
    # The 2.1 MB .gz declared 2,739,128 images: 2.1 GB of bytes, 10.7 GB once
    # scaled to float32.  Refused by the headers alone (no "truncated": nothing was read).
    directory = _header_only(tmp_path / "big", 2_739_128, 10_000)
    with pytest.raises(DataError, match=r"declare 2,749,128 images, needing about 10\.8 GB"):
        load_mnist(directory)  # the default budget is at most 4 GiB


def test_the_budget_counts_the_scaled_copy(tiny_mnist_dir):
    # 1,400 images of 784 pixels: 1.1 MB of bytes, 5.5 MB with their float32 copy.
    with pytest.raises(DataError, match="over the memory budget of 2.0 MB"):
        load_mnist(tiny_mnist_dir, memory_budget=2_000_000)
    training, _, _ = load_mnist(tiny_mnist_dir, memory_budget=2_000_000, dtype=np.uint8)
    assert training[0].dtype == np.uint8
    with pytest.raises(DataError, match="over the memory budget"):
        read_idx(next(tiny_mnist_dir.glob("train-images*")), 3, max_bytes=1000)


def test_a_fifo_is_refused_without_hanging(tmp_path):
    os.mkfifo(tmp_path / "images")
    with pytest.raises(DataError, match="is a FIFO"):
        read_idx(tmp_path / "images", 3)
