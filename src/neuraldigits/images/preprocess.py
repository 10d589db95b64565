"""Turn a picture of one handwritten digit into the 28×28 input an MNIST network expects.

A network trained on MNIST has only ever seen digits prepared one particular way
(LeCun et al.): ink bright (1.0) on a black background (0.0), cropped to the ink,
scaled to fit a 20×20 box keeping the aspect ratio, with anti-aliased grey edges,
then placed in a 28×28 frame so that the centre of mass of the ink lies at the
centre of the frame.  Real pictures are nothing like that: dark ink on light
paper, of any size, off-centre, on uneven paper, with noise, colour and alpha.
:func:`preprocess` repeats MNIST's preparation on any picture:

1. read it as grey levels, compositing any transparency (:func:`load_image`);
2. decide which way round the ink is: paper is what fills the picture's border;
3. flatten uneven paper by removing a smooth estimate of its shading;
4. separate ink from paper with Otsu's threshold, refusing pictures whose "ink"
   is no stronger than the paper's own noise ("no ink found");
5. drop specks, and count the separate blobs of ink that remain;
6. crop to the ink, fit it into 20×20 (Pillow's area-averaging resize gives the
   anti-aliased edges), and centre it by mass in 28×28.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps
from scipy import ndimage

from ..errors import ImageError
from ..geometry import PIXELS, SIDE
from ..untrusted import open_regular

FRAME = SIDE  # the MNIST image is FRAME × FRAME pixels (geometry.SIDE; the tests import it) ...
BOX = 20  # ... and the digit is scaled to fit a BOX × BOX square inside it
MAX_PIXELS = 50_000_000  # larger images are refused: decompression bombs, not digits
WORK_SIZE = 1024  # larger pictures are first shrunk to this (longer side): plenty for a digit
BACKGROUND_SIZE = 64  # the paper's shading is estimated on a picture this small
MIN_CONTRAST = 0.1  # ink must differ from paper by 10 % of the full grey scale ...
NOISE_MARGIN = 4.0  # ... and by four times the paper's noise (pure noise gives ~1.4)
SPECK_FRACTION = 0.04  # ink blobs smaller than this fraction of the largest are specks
FULL_INK_PERCENTILE = 50  # ink this strong or stronger counts as full ink, 1.0

Source = Any
"""A path (str or PathLike), the bytes of an image file, a ``PIL.Image.Image`` or an array."""


@dataclass(frozen=True)
class Prepared:
    """A picture prepared the MNIST way, ready for ``Network.feedforward``."""

    pixels: (
        np.ndarray
    )  # (784,) float32 in [0, 1], ink = 1.0, MNIST-style (20x20 box, centred by mass in 28x28)
    blobs: int  # number of separate ink blobs found (>1 means: warn, one digit per image)
    inverted: bool  # True if the source was dark ink on light paper
    # The picture as read: grey (H, W) float32 in [0, 1], 0 = black, at most WORK_SIZE on a
    # side; for showing beside ``pixels``.
    picture: np.ndarray | None = field(default=None, repr=False, compare=False)


def preprocess(source: Source) -> Prepared:
    """The 28×28 network input (flattened to 784) for the digit pictured in ``source``.

    ``source`` is a path, the bytes of an image file, a ``PIL.Image.Image``, or an
    array (H, W), (H, W, 1|2|3|4) of uint8, uint16, bool or floats in [0, 1]; a
    trailing 2 or 4 channels are grey/colour plus alpha.  Raises
    :class:`ImageError` for non-images, truncated files, decompression bombs, bad
    arrays, and pictures with no ink ("no ink found").
    """
    name = describe(source)
    grey = _shrink(load_image(source), WORK_SIZE)
    ink, inverted = _ink_bright(grey)
    ink = _flatten(ink, inverted)
    mask, paper, full = _ink_mask(ink, name)
    mask, blobs = _drop_specks(mask)
    around = _around(mask)  # the ink and a pixel more: all the later steps need
    digit = _soft_ink(ink[around], mask[around], paper, full)
    box = _fit_box(_crop(digit))
    pixels = _centre_by_mass(box).reshape(PIXELS)
    return Prepared(pixels=pixels, blobs=blobs, inverted=inverted, picture=grey)


def describe(source: Source) -> str:
    """How error messages name ``source``."""
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "image data"
    if isinstance(source, Image.Image):
        return getattr(source, "filename", "") or "image"
    return "image array"


# ---------------------------------------------------------------------- reading


def load_image(source: Source) -> NDArray[np.float32]:
    """Grey levels (H, W) float32 in [0, 1], 0 = black, of any supported ``source``.

    Transparency is composited onto a background that keeps the ink visible: onto
    the paper's own grey when the picture is mostly opaque, else (a drawing on a
    transparent background) onto white under dark ink or black under light ink.
    A picture far larger than :data:`WORK_SIZE` is reduced while (JPEG) or just
    after decoding, so its cost is bounded by :data:`MAX_DECODED_BYTES`.
    """
    name = describe(source)
    if isinstance(source, np.ndarray):
        return _array_grey(source, name)
    image = _open(source)
    try:
        # Converting can still meet the file's faults (a transparency table longer
        # than the palette, say): they too are the file's, not a bug here.
        pixels = _pil_array(image, name)
    except ImageError:
        raise
    except Exception as e:
        raise ImageError(f"{name}: corrupt image data ({e})") from None
    return _array_grey(pixels, name)


# What a picture of a digit may come as.  Pillow knows more formats, some of
# which hand the file to other programs (EPS to Ghostscript): those are never tried.
# (Phones' multi-picture JPEGs, MPO, come through the JPEG opener.)
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "DIB", "TIFF", "WEBP", "PPM", "TGA", "ICO", "PCX")
_FORMAT_NAMES = "PNG, JPEG, GIF, BMP, TIFF, WebP, PNM, TGA, ICO or PCX"


def _open(source: Source) -> Image.Image:
    """A decoded Pillow image, no larger than needed, or one clear ImageError."""
    name = describe(source)
    if isinstance(source, Image.Image):
        return _decode(source, name, "cannot decode the image")
    if isinstance(source, (str, os.PathLike)):
        # Identified before it is read: a regular file of bounded size, opened
        # without blocking (a FIFO named .png would otherwise hang), decoded from
        # the file rather than from a copy of all its bytes.
        with open_regular(
            source, "an image file", ImageError, max_bytes=MAX_FILE_BYTES, not_found="no such file"
        ) as f:
            return _decode(_identify(_Sized(f), name), name)
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) > MAX_FILE_BYTES:
            raise ImageError(
                f"{name}: {len(source):,} bytes, over the limit of {MAX_FILE_BYTES:,} for an image"
            )
        return _decode(_identify(io.BytesIO(bytes(source)), name), name)
    raise ImageError(
        f"cannot read a picture from a {type(source).__name__}; expected a path, image "
        "file bytes, a PIL image or a numpy array"
    )


class _Sized:
    """A file whose ``read(n)`` never asks for more than the file has left.

    Decoders read lengths from the file (a PNG chunk may declare 2 GB), and a
    buffered ``read(n)`` allocates n bytes before reading what is there.
    """

    def __init__(self, f: Any) -> None:
        self._f, self._size = f, os.fstat(f.fileno()).st_size

    def read(self, n: int | None = -1) -> bytes:
        left = max(0, self._size - self._f.tell())
        return self._f.read(left if n is None or n < 0 else min(n, left))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)


def _identify(f: Any, name: str) -> Image.Image:
    """The image in ``f``, its header read (format, size, mode) but nothing decoded yet."""
    try:
        return Image.open(f, formats=FORMATS)
    except Image.DecompressionBombError:
        raise ImageError(
            f"{name}: refusing an image of over {MAX_PIXELS:,} pixels "
            "(a decompression bomb, or far larger than a picture of a digit needs)"
        ) from None
    except Image.UnidentifiedImageError:
        raise ImageError(
            f"{name}: not an image (expected {_FORMAT_NAMES}; other formats are not read)"
        ) from None
    except Exception as e:  # a recognised format whose header is cut short or corrupt
        raise ImageError(f"{name}: corrupt or truncated image file ({e})") from None


def _decode(image: Image.Image, name: str, failure: str = "corrupt or truncated image file"):
    """``image`` decoded within :data:`MAX_DECODED_BYTES`, reduced if far larger than needed."""
    _check_size(image.size, name)
    try:
        # Decoding a foreign file can fail in many ways (truncated data, corrupt
        # chunks, bad headers); each is the file's fault, not a bug here.
        if image.format in ("JPEG", "MPO") and max(image.size) > 2 * WORK_SIZE:
            # JPEG decodes at 1/2, 1/4 or 1/8 scale for the asking.
            scale = 2 * WORK_SIZE / max(image.size)
            image.draft(image.mode, (round(image.width * scale), round(image.height * scale)))
        _check_memory(image, name)
        image.load()
        if max(image.size) > 2 * WORK_SIZE:
            return _reduced(image)
        return ImageOps.exif_transpose(image)
    except ImageError:
        raise
    except Exception as e:
        raise ImageError(f"{name}: {failure} ({e})") from None


MAX_FILE_BYTES = 100_000_000  # a larger file is refused before it is read
MAX_DECODED_BYTES = 4 * MAX_PIXELS  # the decoded picture, as Pillow holds it
# Bytes per pixel as Pillow holds a decoded image: 1 for 8-bit grey and palettes,
# 2 for 16-bit grey, else 4 (RGB is padded to 4 bytes; I and F are 32-bit).
_PIXEL_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}


def _check_memory(image: Image.Image, name: str) -> None:
    width, height = image.size
    need = width * height * _PIXEL_BYTES.get(image.mode, 4)
    if need > MAX_DECODED_BYTES:
        raise ImageError(
            f"{name}: refusing a {width}×{height} {image.mode} image: decoding it takes "
            f"{need:,} bytes, over the limit of {MAX_DECODED_BYTES:,} (far larger than a "
            "picture of a digit needs)"
        )


# EXIF orientation → the transposition that shows the picture upright (as ImageOps does).
_ORIENTATIONS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _reduced(image: Image.Image) -> Image.Image:
    """A large decoded ``image`` box-reduced by a whole factor to WORK_SIZE..2·WORK_SIZE, upright.

    Reducing before the pixels become float arrays keeps a 7000×7000 RGBA
    picture from costing gigabytes; :func:`_shrink` then brings it to WORK_SIZE
    as for any picture.
    """
    orientation = image.getexif().get(0x0112)
    if image.mode == "1":
        image = image.convert("L")
    elif image.mode in ("P", "PA"):
        has_alpha = image.mode == "PA" or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
    elif image.mode.startswith("I;16"):
        image = image.convert("I")
    image = image.reduce(max(image.size) // WORK_SIZE)
    method = _ORIENTATIONS.get(orientation)
    return image.transpose(method) if method is not None else image


def _check_size(size: tuple[int, int], name: str) -> None:
    width, height = size
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"{name}: refusing an image of {width}×{height} pixels, over the limit of "
            f"{MAX_PIXELS:,} (a decompression bomb, or far larger than a digit needs)"
        )
    if width < 1 or height < 1:
        raise ImageError(f"{name}: empty image ({width}×{height} pixels)")


def _pil_array(image: Image.Image, name: str) -> np.ndarray:
    """The image's pixels as an (H, W) or (H, W, C) array in a mode _array_grey knows."""
    mode = image.mode
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
    elif mode == "1":
        image = image.convert("L")
    elif mode in ("RGBa", "La"):  # premultiplied alpha
        image = image.convert("RGBA" if mode == "RGBa" else "LA")
    elif mode not in ("L", "LA", "RGB", "RGBA", "F") and not mode.startswith("I"):
        image = image.convert("RGB")  # CMYK, YCbCr, LAB, HSV, ...
    array = np.asarray(image)
    if image.mode.startswith("I"):
        # 16- or 32-bit grey, usually 16-bit (0–65535); a 32-bit one may hold 0–255.
        array = array.astype(np.int64).clip(0, 65535)
        full = 255 if image.mode == "I" and array.max() <= 255 else 65535
        return (array / full).astype(np.float32)
    if image.mode == "F":
        array = array.astype(np.float32)
        if not np.all(np.isfinite(array)):
            raise ImageError(f"{name}: floating-point image holds NaN or infinity")
        low, high = float(array.min()), float(array.max())
        return (array - low) / (high - low) if high > low else np.zeros_like(array)
    return array


def _array_grey(array: np.ndarray, name: str) -> NDArray[np.float32]:
    """Grey (H, W) float32 in [0, 1] from an (H, W) or (H, W, 1|2|3|4) array named ``name``."""
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 2, 3, 4):
        raise ImageError(
            f"{name}: expected shape (H, W) or (H, W, C) with C = 1, 2, 3 or 4 channels "
            f"(grey, grey+alpha, RGB, RGBA), got {array.shape}"
        )
    height, width, channels = array.shape
    _check_size((width, height), name)
    values = _unit_range(array, name)
    colour = values[:, :, : 3 if channels >= 3 else 1]
    grey = colour @ np.array([0.299, 0.587, 0.114]) if channels >= 3 else colour[:, :, 0]
    if channels in (2, 4):
        grey = _composite(grey, values[:, :, -1], name)
    return grey.astype(np.float32)


def _unit_range(array: np.ndarray, name: str) -> NDArray[np.float64]:
    """Pixel values scaled to [0, 1] by their type's range: uint8 /255, uint16 /65535."""
    if array.dtype == np.bool_:
        return array.astype(np.float64)
    if array.dtype == np.uint8:
        return array / 255.0
    if array.dtype == np.uint16:
        return array / 65535.0
    if np.issubdtype(array.dtype, np.integer):
        if array.size and (array.min() < 0 or array.max() > 255):
            raise ImageError(
                f"{name}: integer pixels must lie in 0..255 (use uint16 for 16-bit pictures), "
                f"found {array.min()}..{array.max()}"
            )
        return array / 255.0
    if np.issubdtype(array.dtype, np.floating):
        values = array.astype(np.float64)
        if not np.all(np.isfinite(values)):
            raise ImageError(f"{name}: pixels hold NaN or infinite values")
        if values.min() < 0 or values.max() > 1:
            raise ImageError(
                f"{name}: floating-point pixels must lie in [0, 1], found "
                f"{values.min():g}..{values.max():g} (divide 0–255 values by 255)"
            )
        return values
    raise ImageError(f"{name}: unsupported pixel type {array.dtype}; expected numbers")


def _composite(grey: NDArray, alpha: NDArray, name: str) -> NDArray:
    """Grey levels with transparency flattened onto a background that keeps the ink visible."""
    if alpha.min() >= 1:
        return grey
    opaque = alpha >= 0.5
    if not opaque.any():
        raise ImageError(f"{name}: no ink found (the picture is entirely transparent)")
    if opaque.mean() >= 0.5:
        # Mostly opaque: a picture of paper with transparent bits; fill them with paper.
        background = float(np.median(grey[opaque]))
    else:
        # A drawing on a transparent background: its opaque pixels are the ink.
        ink = float(np.sum(alpha * grey) / np.sum(alpha))
        background = 1.0 if ink < 0.5 else 0.0
    return alpha * grey + (1 - alpha) * background


def _shrink(grey: NDArray[np.float32], size: int) -> NDArray[np.float32]:
    """``grey`` shrunk by area-averaging so its longer side is at most ``size``."""
    height, width = grey.shape
    scale = size / max(height, width)
    if scale >= 1:
        return grey
    new = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(grey, "F").resize(new, Image.Resampling.BOX))


# ---------------------------------------------------------------------- finding the ink


def _ink_bright(grey: NDArray[np.float32]) -> tuple[NDArray[np.float32], bool]:
    """The picture with ink bright, and whether that meant inverting it.

    The paper is what fills the border of the picture (a digit rarely runs all
    round the edge), so the picture is inverted when its border is light.
    """
    height, width = grey.shape
    ring = max(1, min(height, width) // 20)
    border = np.concatenate(
        [
            grey[:ring].ravel(),
            grey[-ring:].ravel(),
            grey[:, :ring].ravel(),
            grey[:, -ring:].ravel(),
        ]
    )
    middle = (float(grey.min()) + float(grey.max())) / 2
    inverted = bool(np.median(border) > middle)
    return (1 - grey if inverted else grey), inverted


def _flatten(ink: NDArray[np.float32], inverted: bool) -> NDArray[np.float32]:
    """Ink strength over flat, black paper: the paper's shading estimated and removed.

    Light paper reflects the light falling on it; ink reflects a fixed fraction
    of that.  So shade *divides* a photo's grey levels, and dividing by the paper
    brightness undoes it: in ink-bright terms, (ink − paper) / (1 − paper).  Light
    ink on dark paper (chalk, or MNIST itself) only has the paper subtracted.
    """
    paper = _background(ink)
    if not inverted:
        return ink - paper
    return (ink - paper) / np.maximum(1 - paper, 0.05)


def _background(ink: NDArray[np.float32]) -> NDArray[np.float32]:
    """A smooth estimate (H, W) of the paper under the ink: uneven lighting, stains, shadows.

    A grey-level opening (erosion then dilation) erases bright features narrower
    than its window, the ink strokes, and keeps the slowly varying paper.  It runs
    on a small copy of the picture, which also averages away the paper's noise.
    """
    height, width = ink.shape
    small = _shrink(ink, BACKGROUND_SIZE)
    window = max(3, round(0.3 * min(small.shape)))
    paper = ndimage.grey_opening(small, size=(window, window), mode="nearest")
    paper = ndimage.uniform_filter(paper, size=window, mode="nearest")
    if paper.shape == ink.shape:
        return paper
    return np.asarray(
        Image.fromarray(paper, "F").resize((width, height), Image.Resampling.BILINEAR)
    )


def _ink_mask(ink: NDArray[np.float32], name: str) -> tuple[NDArray[np.bool_], float, float]:
    """Which pixels are ink (Otsu's threshold), and the typical paper and ink levels.

    Refuses a picture whose "ink" does not stand out from the paper's noise.
    """
    threshold = _otsu(ink)
    mask = ink > threshold if threshold is not None else np.zeros(ink.shape, dtype=bool)
    if not mask.any() or mask.all():
        raise ImageError(f"{name}: no ink found (the picture is blank)")
    # Robust statistics on at most ~20,000 pixels: medians of large pictures are slow.
    step = max(1, ink.size // 20_000)
    sample, sample_mask = ink.ravel()[::step], mask.ravel()[::step]
    paper = float(np.median(sample[~sample_mask])) if (~sample_mask).any() else 0.0
    full = float(np.percentile(ink[mask][::step], FULL_INK_PERCENTILE))
    noise = 1.4826 * float(np.median(np.abs(sample - np.median(sample))))  # the paper's std
    contrast = full - paper
    if contrast < MIN_CONTRAST or contrast < NOISE_MARGIN * noise:
        raise ImageError(
            f"{name}: no ink found (nothing stands out from the paper: contrast "
            f"{contrast:.3f} against noise {noise:.3f})"
        )
    return mask, paper, full


def _otsu(values: NDArray, bins: int = 256) -> float | None:
    """Otsu's threshold: the cut that best separates ``values`` into two classes.

    It maximises the between-class variance ω₀ω₁(μ₀ − μ₁)² over a histogram of
    the values; returns None when all values are equal.
    """
    low, high = float(values.min()), float(values.max())
    if not high > low:
        return None
    # np.histogram, but faster for equal-width bins; in place, as the pad runs it per
    # request.  values - low >= 0 exactly, and only the maximum lands on bin `bins`.
    scaled = values.ravel() - low
    scaled *= bins / (high - low)
    which = scaled.astype(np.intp)
    np.minimum(which, bins - 1, out=which)
    counts = np.bincount(which, minlength=bins)
    edges = np.linspace(low, high, bins + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    weight0 = np.cumsum(counts)[:-1]
    weight1 = values.size - weight0
    sum0 = np.cumsum(counts * centres)[:-1]
    mean0 = sum0 / np.maximum(weight0, 1)
    mean1 = (sum0[-1] + counts[-1] * centres[-1] - sum0) / np.maximum(weight1, 1)
    between = weight0 * weight1 * (mean0 - mean1) ** 2
    return float(edges[1:-1][np.argmax(between)])


def _drop_specks(mask: NDArray[np.bool_]) -> tuple[NDArray[np.bool_], int]:
    """The mask without specks (noise, dust), and the number of blobs of ink left."""
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    if count == 1:  # one blob, the usual drawing: no speck to drop (and the pad saves 0.3 ms)
        return mask, 1
    areas = np.bincount(labels.ravel())[1:]
    keep = areas >= SPECK_FRACTION * areas.max()
    return keep[labels - 1] & mask, int(keep.sum())


def _around(mask: NDArray[np.bool_]) -> tuple[slice, slice]:
    """The rectangle holding the ink, grown by a pixel on each side where there is room."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return (
        slice(max(rows[0] - 1, 0), rows[-1] + 2),
        slice(max(cols[0] - 1, 0), cols[-1] + 2),
    )


def _soft_ink(
    ink: NDArray[np.float32], mask: NDArray[np.bool_], paper: float, full: float
) -> NDArray[np.float32]:
    """Ink strength (H, W) in [0, 1]: 1 in the strokes, grey at their soft edges, 0 elsewhere.

    ``paper`` maps to 0 and ``full`` (the strokes' typical brightness) to 1; the
    mask, grown by one pixel to keep the anti-aliased edges, silences the paper's noise.
    """
    strength = np.clip((ink - paper) / (full - paper), 0, 1)
    # A 3×3 dilation; as a maximum filter (the same mask: off the edge, "nearest"
    # repeats a pixel already in the window) it is twice as fast, once per request.
    near = ndimage.maximum_filter(mask, size=3, mode="nearest")
    return (strength * near).astype(np.float32)


# ---------------------------------------------------------------------- MNIST's framing


def _crop(digit: NDArray[np.float32]) -> NDArray[np.float32]:
    """The smallest rectangle holding all the ink."""
    rows = np.flatnonzero(digit.any(axis=1))
    cols = np.flatnonzero(digit.any(axis=0))
    return digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _fit_box(digit: NDArray[np.float32]) -> NDArray[np.float32]:
    """``digit`` scaled, keeping its aspect ratio, so its longer side is BOX pixels.

    Shrinking averages areas (Pillow's box filter), which gives MNIST's
    anti-aliased grey edges; the strongest ink is then full ink, 1.0.
    """
    height, width = digit.shape
    scale = BOX / max(height, width)
    new = (max(1, round(width * scale)), max(1, round(height * scale)))
    method = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    box = np.asarray(Image.fromarray(digit, "F").resize(new, method)).clip(0, 1)
    return box / box.max()


def _centre_by_mass(box: NDArray[np.float32]) -> NDArray[np.float32]:
    """``box`` placed in a SIDE × SIDE image with its centre of mass at the centre.

    Like MNIST, the shift is whole pixels, so the centre of mass lands within half
    a pixel of (14, 14); it is limited so that no ink falls off the frame.
    """
    height, width = box.shape
    cy, cx = ndimage.center_of_mass(box)
    top = int(np.clip(round(SIDE / 2 - cy), 0, SIDE - height))
    left = int(np.clip(round(SIDE / 2 - cx), 0, SIDE - width))
    frame = np.zeros((SIDE, SIDE), dtype=np.float32)
    frame[top : top + height, left : left + width] = box
    return frame
