"""Randomly distorted copies of training digits, so a network learns to read real ones.

MNIST's digits are all prepared the same way, so a network trained on them alone
learns that exact look.  Real pictures, even after :mod:`neuraldigits.images.preprocess`,
differ a little: the digit sits a pixel or two off, leans, slants or is sized
differently, and is written with a thinner or thicker pen.  Training on copies
distorted in those ways (Simard, Steinkraus and Platt 2003, "Best practices for
convolutional neural networks applied to visual document analysis") teaches the
network that they do not change the digit.  Each copy gets, independently:

* an **affine map** about the frame's centre: a rotation by up to ``MAX_ROTATION``
  degrees either way, a horizontal shear (slant) of up to ``MAX_SHEAR`` pixels per
  pixel of height, a scaling by up to ``MAX_SCALING`` either way, and a shift of up
  to ``MAX_SHIFT`` pixels in each direction (all uniform);
* an **elastic distortion** (Simard et al.): every pixel is displaced by uniform
  noise in (−1, 1) in each direction, the noise field is smoothed by a Gaussian of
  width ``ELASTIC_SIGMA`` pixels and multiplied by ``ELASTIC_ALPHA``: about one pixel
  (RMS) of smooth wobble for the defaults;
* with chance ``THICKER`` a bolder stroke (a 2×2 grey-level dilation), or with
  chance ``THINNER`` a thinner one (half way to a 2×2 grey-level erosion: a full
  one would erase MNIST's thinnest strokes).

How it is fast (8–15× the straightforward SciPy version it replaced; numpy only):

* Smoothing white noise is linear, so the field need not be smoothed pixel by
  pixel: the noise is drawn on a grid of nodes ``ELASTIC_SIGMA`` apart (reaching
  1.5 σ past the frame), each node carrying the noise of the σ × σ pixels around it
  (uniform noise times σ: the same variance), and the Gaussian sums the nodes.
  Gaussians σ apart sum to a flat total to within 10⁻⁴, so the field has the
  covariance of Simard's: the same smoothness and strength.
* That sum is separable, ``K · noise · Kᵀ`` with ``K`` the 28 × nodes Gaussian
  weights, and the affine map is too (``a·y + b·x + c``): appending the columns
  ``1`` and ``y`` to ``K`` makes one matrix product per image give where every
  output pixel reads, affine and elastic together, in float32.
* Each output pixel is then read bilinearly from the four source pixels around
  that place (zeros outside the frame): four gathers from a zero-padded copy of
  the chunk and three linear interpolations, over the whole chunk at once.
* The stroke is changed on the uint8 source before the warp (the 2×2 window moves
  the ink half a pixel down and right, the half erosion part of it; the warp
  reads that much further on, so the digit does not move).

Images travel as uint8 to bound memory; chunks of ``CHUNK`` images keep the
float32 scratch (about 25 bytes per pixel) inside the CPU's caches.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from ..geometry import PIXELS, SIDE

MAX_ROTATION = 12.0  # degrees either way
MAX_SHEAR = 0.15  # horizontal shear, either way: a slant of up to ~8.5°
MAX_SCALING = 0.12  # ± fraction of the size
MAX_SHIFT = 2.0  # pixels either way, in each direction
ELASTIC_SIGMA = 4.0  # pixels: smoothness of the displacement field (Simard et al.)
ELASTIC_ALPHA = 24.0  # strength of the field (Simard et al. use 34; milder keeps 2s like 2s)
THICKER, THINNER = 0.2, 0.15  # chance that a copy's strokes are thickened / thinned
CHUNK = 1_000  # images distorted at once: their scratch (~20 MB) stays in cache

_PAD = 32  # each source image sits in a 32 × 32 frame of zeros, one row and column before
_CENTRE = (SIDE - 1) / 2


def augment(images: NDArray[np.uint8], rng: np.random.Generator) -> NDArray[np.uint8]:
    """One randomly distorted copy of each image: (N, 784) uint8 → (N, 784) uint8.

    The copies depend only on the images and the generator's state (and
    ``CHUNK``): the same generator state gives the same copies.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 2 or images.shape[1] != PIXELS:
        raise ValueError(
            f"expected uint8 images of shape (N, {PIXELS}), got {images.dtype} {images.shape}"
        )
    out = np.empty_like(images)
    for k in range(0, len(images), CHUNK):
        chunk = images[k : k + CHUNK].reshape(-1, SIDE, SIDE)
        source, offset = _restroke(chunk, rng)
        y, x = _source_coordinates(len(chunk), rng, offset)
        out[k : k + CHUNK] = _bilinear(source, y, x).reshape(len(chunk), PIXELS)
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


def _restroke(
    images: NDArray[np.uint8], rng: np.random.Generator
) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
    """Thicken the strokes of some images (2×2 grey dilation) and thin others (half erosion).

    Returns the images (a copy where any changed) and how far each one's ink moved
    (down and right, in pixels), for the warp to read that much further on.
    """
    roll = rng.uniform(size=len(images))
    thicker, thinner = roll < THICKER, roll > 1 - THINNER
    offset = np.zeros(len(images), np.float32)
    if not (thicker.any() or thinner.any()):
        return images, offset
    images = images.copy()
    if thicker.any():
        images[thicker] = _window(images[thicker], np.maximum)
        offset[thicker] = 0.5
    if thinner.any():
        chosen = images[thinner]
        eroded = _window(chosen, np.minimum)
        images[thinner] = (chosen.astype(np.uint16) + eroded + 1) >> 1
        # The eroded half of the ink moved half a pixel: the whole by its share of that.
        ink, eroded_ink = chosen.sum(axis=(1, 2)), eroded.sum(axis=(1, 2))
        offset[thinner] = 0.5 * eroded_ink / np.maximum(ink + eroded_ink, 1)
    return images, offset


def _window(images: NDArray[np.uint8], reduce) -> NDArray[np.uint8]:
    """``reduce`` (np.maximum or np.minimum) over each pixel and its up and left neighbours.

    Outside the frame counts as 0: a dilation moves ink one pixel into the frame's
    first row and column, an erosion erases ink that touches them.
    """
    rows = images.copy()
    reduce(images[:, 1:, :], images[:, :-1, :], out=rows[:, 1:, :])
    if reduce is np.minimum:
        rows[:, 0, :] = 0
    out = rows.copy()
    reduce(rows[:, :, 1:], rows[:, :, :-1], out=out[:, :, 1:])
    if reduce is np.minimum:
        out[:, :, 0] = 0
    return out


@lru_cache(maxsize=8)
def _basis(sigma: float) -> tuple[NDArray[np.float32], int]:
    """Per row (or column) of the frame: the Gaussian weights of the field's nodes, then 1, y.

    Returns the (28, nodes + 2) matrix and the number of nodes (0 without a field).
    """
    position = np.arange(SIDE, dtype=np.float64)
    if sigma > 0:
        reach = int(np.ceil((_CENTRE + 1.5 * sigma) / sigma))
        nodes = _CENTRE + sigma * np.arange(-reach, reach + 1)
        gauss = np.exp(-0.5 * ((position[:, None] - nodes) / sigma) ** 2)
        gauss /= np.sqrt(2 * np.pi) * sigma
    else:
        gauss = np.zeros((SIDE, 0))
    basis = np.column_stack([gauss, np.ones(SIDE), position])
    return basis.astype(np.float32), gauss.shape[1]


def _source_coordinates(
    n: int, rng: np.random.Generator, offset: NDArray[np.float32] | None = None
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """For each of n output images, where each pixel reads in its source: (y, x), each (n, 28, 28).

    The inverse of the distortion: the affine map's inverse plus the elastic
    field, and ``offset`` (n,) added to both (where the restroked ink moved).
    """
    angle = np.radians(rng.uniform(-MAX_ROTATION, MAX_ROTATION, n))
    shear = rng.uniform(-MAX_SHEAR, MAX_SHEAR, n)
    scale = rng.uniform(1 - MAX_SCALING, 1 + MAX_SCALING, n)
    shift_y, shift_x = rng.uniform(-MAX_SHIFT, MAX_SHIFT, (2, n))
    # Rotate and scale about the centre, then slant: source = M (output − centre − shift) + centre.
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
    m = np.array([[cos, -sin], [sin + shear * cos, cos - shear * sin]])  # (2, 2, n)
    from_y, from_x = _CENTRE + shift_y, _CENTRE + shift_x
    constant = _CENTRE - m[:, 0] * from_y - m[:, 1] * from_x  # (2, n)
    if offset is not None:
        constant += offset
    basis, nodes = _basis(float(ELASTIC_SIGMA))
    # One (nodes + 2)² matrix per image and direction: coordinates = basis · H · basisᵀ.
    h = np.zeros((n, 2, nodes + 2, nodes + 2), np.float32)
    if nodes and ELASTIC_ALPHA:
        noise = rng.random((n, 2, nodes, nodes), dtype=np.float32)
        h[:, :, :nodes, :nodes] = (2 * noise - 1) * np.float32(ELASTIC_ALPHA * ELASTIC_SIGMA)
    h[:, :, nodes, nodes] = constant.T
    h[:, :, nodes + 1, nodes] = m[:, 0].T  # times y
    h[:, :, nodes, nodes + 1] = m[:, 1].T  # times x
    coordinates = basis @ h @ basis.T
    return coordinates[:, 0], coordinates[:, 1]


def _bilinear(
    images: NDArray[np.uint8], y: NDArray[np.float32], x: NDArray[np.float32]
) -> NDArray[np.uint8]:
    """Each image (n, 28, 28) read at (y, x), bilinearly, with zeros outside the frame."""
    n = len(images)
    # The chunk in one flat run of 32 × 32 frames (one row and column of zeros
    # before each image, three after), so that every read lands in some frame.
    frames = np.zeros(n * _PAD * _PAD + _PAD + 1, np.uint8)
    frames[: n * _PAD * _PAD].reshape(n, _PAD, _PAD)[:, 1 : SIDE + 1, 1 : SIDE + 1] = images
    # Anything beyond a pixel outside the frame reads only zeros: clip it there.
    y = np.clip(y, -1, SIDE, out=y)
    x = np.clip(x, -1, SIDE, out=x)
    top, left = np.floor(y), np.floor(x)
    y -= top  # now the weight of the lower row
    x -= left  # and of the right column
    index = top * _PAD
    index += left
    index = index.astype(np.int32)
    index += (np.arange(n, dtype=np.int32) * (_PAD * _PAD) + _PAD + 1)[:, None, None]
    size = n * _PAD * _PAD
    upper_left, upper_right, lower_left, lower_right = (
        frames[start : start + size].take(index) for start in (0, 1, _PAD, _PAD + 1)
    )
    upper = np.subtract(upper_right, upper_left, dtype=np.float32)
    upper *= x
    upper += upper_left
    lower = np.subtract(lower_right, lower_left, dtype=np.float32)
    lower *= x
    lower += lower_left
    lower -= upper
    lower *= y
    lower += upper
    # A weighted mean of pixels in 0..255 stays there (to float rounding, which rint absorbs).
    return np.rint(lower, out=lower).astype(np.uint8)
