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
    only(monkeypatch)
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


def only(monkeypatch, **settings):
    """Every random amount zero except ``settings``."""
    for name in (
        "MAX_ROTATION",
        "MAX_SHEAR",
        "MAX_SCALING",
        "MAX_SHIFT",
        "ELASTIC_ALPHA",
        "THICKER",
        "THINNER",
    ):
        monkeypatch.setattr(aug, name, settings.get(name, 0.0))


def test_the_elastic_field_is_simards_smoothed_noise(monkeypatch):
    # The field is built from noise on a coarse grid; it must have the strength
    # and smoothness of Simard's: uniform noise per pixel, Gaussian-filtered, times α.
    only(monkeypatch, ELASTIC_ALPHA=aug.ELASTIC_ALPHA)
    n, inner = 600, slice(6, 22)  # away from the edges, where the reference reflects
    y, x = aug._source_coordinates(n, np.random.default_rng(0))
    grid_y, grid_x = np.mgrid[0:28, 0:28]
    ours = np.stack([y - grid_y, x - grid_x])[:, :, inner, inner]
    noise = np.random.default_rng(1).uniform(-1, 1, (2, n, 28, 28))
    sigma = (0, 0, aug.ELASTIC_SIGMA, aug.ELASTIC_SIGMA)
    simard = (aug.ELASTIC_ALPHA * ndimage.gaussian_filter(noise, sigma))[:, :, inner, inner]
    lag = int(aug.ELASTIC_SIGMA)
    for field in (ours, simard):
        field -= field.mean()
    rms = [np.sqrt(np.mean(field**2)) for field in (ours, simard)]
    assert 0.5 < rms[1] < 2  # about a pixel
    assert abs(rms[0] / rms[1] - 1) < 0.06
    for axis in (2, 3):  # neighbours σ apart are as alike as in Simard's field
        corr = [
            np.corrcoef(
                np.moveaxis(f, axis, 0)[:-lag].ravel(), np.moveaxis(f, axis, 0)[lag:].ravel()
            )[0, 1]
            for f in (ours, simard)
        ]
        assert abs(corr[0] - corr[1]) < 0.05, corr


def test_shear_slants_rows_by_their_height(monkeypatch):
    only(monkeypatch, MAX_SHEAR=aug.MAX_SHEAR)
    y, x = aug._source_coordinates(50, np.random.default_rng(0))
    grid_y, grid_x = np.mgrid[0:28, 0:28]
    np.testing.assert_allclose(y, np.broadcast_to(grid_y, y.shape), atol=1e-5)
    slope = (x - grid_x)[:, :, 0] / (grid_y[:, 0] - 13.5)  # x moves in proportion to y
    np.testing.assert_allclose(x - grid_x, slope[:, :1, None] * (grid_y - 13.5), atol=1e-4)
    k = slope[:, 0]
    assert np.abs(k).max() <= aug.MAX_SHEAR and k.min() < -0.05 and k.max() > 0.05


@pytest.mark.parametrize("pen", ["THICKER", "THINNER"])
def test_a_bolder_or_thinner_pen_leaves_the_digit_where_it_was(monkeypatch, pen):
    only(monkeypatch, **{pen: 1.0})
    images = digits()
    out = aug.augment(images, np.random.default_rng(0))
    ratio = out.sum(axis=1) / images.sum(axis=1)
    if pen == "THICKER":
        assert ratio.min() > 1.1
    else:
        assert ratio.max() < 0.95 and ratio.min() > 0.5  # thinner, never erased
    for before, after in zip(images, out):
        y0, x0 = ndimage.center_of_mass(before.reshape(28, 28))
        y1, x1 = ndimage.center_of_mass(after.reshape(28, 28))
        assert abs(y1 - y0) < 0.05 and abs(x1 - x0) < 0.05
