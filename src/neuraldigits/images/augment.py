"""Randomly distorted copies of training digits, so a network learns to read real ones.

MNIST's digits are all prepared the same way, so a network trained on them alone
learns that exact look.  Real pictures, even after :mod:`neuraldigits.images.preprocess`,
differ a little: the digit sits a pixel or two off, leans or is sized differently,
and is written with a thinner or thicker pen.  Training on copies distorted in
those ways (Simard, Steinkraus and Platt 2003, "Best practices for convolutional
neural networks applied to visual document analysis") teaches the network that
they do not change the digit.  Each copy gets:

* an affine map: a random rotation, scaling and shift;
* an elastic distortion: a random displacement field smoothed by a Gaussian;
* sometimes a thicker or thinner stroke (grey-level dilation or erosion).

Everything is vectorised over a chunk of images: one ``map_coordinates`` call
moves every pixel of every image at once.  Images travel as uint8 to bound memory.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from ..geometry import PIXELS, SIDE

MAX_ROTATION = 12.0  # degrees either way
MAX_SCALING = 0.12  # ± fraction of the size
MAX_SHIFT = 2.0  # pixels either way
ELASTIC_SIGMA = 4.0  # pixels: smoothness of the displacement field (Simard et al.)
ELASTIC_ALPHA = 24.0  # strength of the field (Simard et al. use 34; milder keeps 2s like 2s)
THICKER, THINNER = 0.2, 0.15  # chance that a copy's strokes are thickened / thinned
CHUNK = 5_000  # images distorted at once: bounds the coordinate arrays (~100 MB)


def augment(images: NDArray[np.uint8], rng: np.random.Generator) -> NDArray[np.uint8]:
    """One randomly distorted copy of each image: (N, 784) uint8 → (N, 784) uint8."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 2 or images.shape[1] != PIXELS:
        raise ValueError(
            f"expected uint8 images of shape (N, {PIXELS}), got {images.dtype} {images.shape}"
        )
    out = np.empty_like(images)
    for k in range(0, len(images), CHUNK):
        chunk = images[k : k + CHUNK].reshape(-1, SIDE, SIDE)
        distorted = _warp(chunk.astype(np.float32), rng)
        distorted = _restroke(distorted, rng)
        out[k : k + CHUNK] = distorted.reshape(len(chunk), -1).round().clip(0, 255)
    return out


def augmented(
    data: tuple[NDArray, NDArray], copies: int, rng: np.random.Generator
) -> tuple[NDArray, NDArray]:
    """The data set ``(images (N, 784), labels (N,))`` followed by ``copies`` distorted copies.

    Images may be uint8 (0–255) or floats in [0, 1]; the result keeps their dtype.
    """
    images, labels = data
    pixels = images if images.dtype == np.uint8 else (np.asarray(images) * 255).round()
    pixels = pixels.astype(np.uint8)
    parts = [images]
    for _ in range(copies):
        copy = augment(pixels, rng)
        parts.append(copy if images.dtype == np.uint8 else copy.astype(images.dtype) / 255)
    return np.concatenate(parts), np.concatenate([labels] * (copies + 1))


def _warp(images: NDArray[np.float32], rng: np.random.Generator) -> NDArray[np.float32]:
    """Each image (N, 28, 28) moved by its own random affine map plus elastic field."""
    n = len(images)
    angle = np.radians(rng.uniform(-MAX_ROTATION, MAX_ROTATION, n))[:, None, None]
    scale = rng.uniform(1 - MAX_SCALING, 1 + MAX_SCALING, n)[:, None, None]
    shift = rng.uniform(-MAX_SHIFT, MAX_SHIFT, (2, n))[:, :, None, None]
    centre = (SIDE - 1) / 2
    y, x = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32) - centre
    # For each output pixel, where to read in the source: the inverse map.
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
    source_y = cos * (y - shift[0]) - sin * (x - shift[1]) + centre
    source_x = sin * (y - shift[0]) + cos * (x - shift[1]) + centre
    field = rng.uniform(-1, 1, (2, n, SIDE, SIDE))
    field = ELASTIC_ALPHA * ndimage.gaussian_filter(
        field, sigma=(0, 0, ELASTIC_SIGMA, ELASTIC_SIGMA)
    )
    index = np.broadcast_to(np.arange(n, dtype=np.float32)[:, None, None], (n, SIDE, SIDE))
    coordinates = np.stack([index, source_y + field[0], source_x + field[1]])
    return ndimage.map_coordinates(images, coordinates, order=1, mode="constant", cval=0.0)


def _restroke(images: NDArray[np.float32], rng: np.random.Generator) -> NDArray[np.float32]:
    """Thicken the strokes of some images (grey dilation) and thin others (erosion)."""
    roll = rng.uniform(size=len(images))
    thicker, thinner = roll < THICKER, roll > 1 - THINNER
    footprint = np.ones((1, 2, 2), dtype=bool)
    if thicker.any():
        images[thicker] = ndimage.grey_dilation(images[thicker], footprint=footprint)
    if thinner.any():
        # Full erosion would erase MNIST's thinnest strokes; go half way.
        eroded = ndimage.grey_erosion(images[thinner], footprint=footprint)
        images[thinner] = (images[thinner] + eroded) / 2
    return images
