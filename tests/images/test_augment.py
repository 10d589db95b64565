"""neuraldigits.images.augment and `digits train --augment`."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from neuraldigits.cli import main
from neuraldigits.images import augment as aug
from neuraldigits.modelfile import load


def digits(n: int = 40, seed: int = 0) -> np.ndarray:
    """``n`` uint8 (n, 784) images: a bar of random length and place, like a crude "1"."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    for image in images:
        top, left = rng.integers(4, 9), rng.integers(10, 16)
        image[top : top + 16, left : left + 3] = 255
    return images.reshape(n, -1)


def test_copies_are_distorted_but_keep_shape_type_and_ink():
    images = digits()
    out = aug.augment(images, np.random.default_rng(1))
    assert out.shape == images.shape and out.dtype == np.uint8
    assert not np.array_equal(out, images)
    ratio = out.sum(axis=1) / images.sum(axis=1)
    assert 0.5 < ratio.min() and ratio.max() < 2.2  # scaling by ±12 %, thinner or thicker pen
    # Still near where it was: a shift of at most 2 pixels, plus what rotating and
    # scaling about the frame's centre and the elastic field add.
    for before, after in zip(images, out):
        y0, x0 = ndimage.center_of_mass(before.reshape(28, 28))
        y1, x1 = ndimage.center_of_mass(after.reshape(28, 28))
        assert abs(y1 - y0) < 5 and abs(x1 - x0) < 5


def test_no_distortion_is_the_identity(monkeypatch):
    # With every random amount set to zero, the coordinate maps must read each
    # pixel from exactly where it was: no off-by-one, no blur.
    for name in ("MAX_ROTATION", "MAX_SCALING", "MAX_SHIFT", "ELASTIC_ALPHA", "THICKER", "THINNER"):
        monkeypatch.setattr(aug, name, 0.0)
    images = digits()
    assert np.array_equal(aug.augment(images, np.random.default_rng(0)), images)


def test_same_generator_state_same_copies():
    images = digits()
    a = aug.augment(images, np.random.default_rng(5))
    b = aug.augment(images, np.random.default_rng(5))
    assert np.array_equal(a, b)


def test_chunks_do_not_change_the_shapes(monkeypatch):
    monkeypatch.setattr(aug, "CHUNK", 7)
    images = digits(20)
    assert aug.augment(images, np.random.default_rng(0)).shape == images.shape


def test_augmented_data_set_keeps_dtype_and_labels():
    images = digits(10)
    labels = np.arange(10)
    floats = images.astype(np.float32) / 255
    for data in ((images, labels), (floats, labels)):
        out_images, out_labels = aug.augmented(data, 2, np.random.default_rng(0))
        assert out_images.shape == (30, 784) and out_images.dtype == data[0].dtype
        assert np.array_equal(out_images[:10], data[0])
        assert np.array_equal(out_labels, np.tile(labels, 3))
    assert floats.max() <= 1 and out_images.max() <= 1


def test_bad_images_are_refused():
    with pytest.raises(ValueError, match="expected uint8 images of shape"):
        aug.augment(np.zeros((3, 100), dtype=np.uint8), np.random.default_rng(0))


def test_train_with_augment(tiny_mnist_dir, tmp_path, capsys):
    out = tmp_path / "m.npz"
    command = ["train", "--data", str(tiny_mnist_dir), "--epochs", "2", "--seed", "4"]
    assert main([*command, "--augment", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Adding 2 distorted copies" in printed
    training = load(out).metadata["training"]
    assert training["augment"] == 2
    assert training["training_examples"] == 3 * 1000  # 1,200 minus 200 for validation
    plain = tmp_path / "p.npz"
    assert main([*command, "--out", str(plain)]) == 0
    assert load(plain).metadata["training"]["augment"] == 0
