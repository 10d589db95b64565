"""Real-looking pictures of digits, made from scratch, to test how a model copes off MNIST.

Three kinds, all the opposite of MNIST's careful preparation:

* :func:`photograph` turns a 28×28 MNIST digit into something like a phone photo
  of ink on paper: dark ink on light grey, uneven paper with noise, a tinted
  colour cast, scaled up 3–8× and placed off-centre;
* :func:`transparent` turns it into a drawing-app export: dark ink on a fully
  transparent background whose hidden colour is black (so a naive conversion to
  grey sees black on black);
* :func:`draw_digit` draws a digit with a pen: hand-made stroke paths for 0–9,
  randomly slanted, squashed, rotated and wobbled, with strokes from hairline to
  marker width.  These never came from MNIST, so they test what a model learnt
  rather than what it saw.

Everything is drawn from an explicit ``numpy.random.Generator``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFilter

Points = list[tuple[float, float]]


def _scaled_up(digit: NDArray, rng: np.random.Generator, low: float, high: float) -> NDArray:
    """The (28, 28) digit (uint8 or [0, 1]) scaled up by a random factor: ink (h, w) in [0, 1]."""
    digit = np.asarray(digit, dtype=np.float32).reshape(28, 28)
    if digit.max() > 1:
        digit = digit / 255
    size = round(28 * rng.uniform(low, high))
    big = Image.fromarray(digit, "F").resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(big).clip(0, 1)


def _place(ink: NDArray, rng: np.random.Generator) -> NDArray:
    """``ink`` on a larger blank canvas at a random, usually off-centre, position."""
    size = ink.shape[0]
    height, width = size + rng.integers(0, size // 2 + 1, size=2)
    top, left = rng.integers(0, height - size + 1), rng.integers(0, width - size + 1)
    canvas = np.zeros((height, width), dtype=np.float32)
    canvas[top : top + size, left : left + size] = ink
    return canvas


def photograph(digit: NDArray, rng: np.random.Generator) -> Image.Image:
    """An RGB "photo" of the MNIST ``digit`` (28, 28) written in dark ink on light paper."""
    ink = _place(_scaled_up(digit, rng, 3, 8), rng)
    height, width = ink.shape
    # Paper: light grey, lit unevenly (a linear ramp in a random direction), noisy.
    angle = rng.uniform(0, 2 * np.pi)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    ramp = np.cos(angle) * x + np.sin(angle) * y
    paper = rng.uniform(0.7, 0.92) + rng.uniform(0, 0.12) * (ramp - ramp.mean())
    ink_level = rng.uniform(0.05, 0.3)
    grey = paper * (1 - ink) + ink_level * ink
    tint = rng.uniform(0.9, 1.0, size=3)  # a colour cast per channel
    rgb = grey[:, :, None] * tint + rng.normal(0, 0.03, size=(height, width, 3))
    return Image.fromarray((rgb.clip(0, 1) * 255).round().astype(np.uint8), "RGB")


def transparent(digit: NDArray, rng: np.random.Generator) -> Image.Image:
    """An RGBA drawing of ``digit``: dark coloured ink, fully transparent (black) elsewhere."""
    ink = _place(_scaled_up(digit, rng, 3, 8), rng)
    rgba = np.zeros(ink.shape + (4,), dtype=np.uint8)
    rgba[:, :, :3] = rng.integers(0, 80, size=3)  # only the alpha says where the ink is
    rgba[:, :, 3] = (ink * 255).round().astype(np.uint8)
    return Image.fromarray(rgba, "RGBA")


# ---------------------------------------------------------------------- drawn digits


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, stop: float) -> Points:
    """Points along an elliptic arc; angles in degrees, clockwise on screen (y points down)."""
    t = np.radians(np.linspace(start, stop, max(8, int(abs(stop - start) / 10))))
    return list(zip(cx + rx * np.cos(t), cy + ry * np.sin(t)))


# Pen strokes for each digit in a unit box: x right, y down, (0, 0) top left.
STROKES: dict[int, list[Points]] = {
    0: [_arc(0.5, 0.5, 0.35, 0.5, -90, 270)],
    1: [[(0.3, 0.2), (0.55, 0.0), (0.55, 1.0)]],
    2: [_arc(0.5, 0.3, 0.35, 0.3, 200, 400) + [(0.1, 1.0), (0.9, 1.0)]],
    3: [_arc(0.5, 0.25, 0.33, 0.25, 200, 450) + _arc(0.5, 0.75, 0.38, 0.25, 270, 520)],
    4: [[(0.7, 1.0), (0.7, 0.0), (0.05, 0.7), (0.95, 0.7)]],
    5: [[(0.85, 0.0), (0.25, 0.0), (0.2, 0.45)] + _arc(0.5, 0.68, 0.37, 0.32, 220, 500)],
    6: [[(0.75, 0.0), (0.4, 0.3), (0.2, 0.72)] + _arc(0.5, 0.72, 0.3, 0.28, 180, 540)],
    7: [[(0.1, 0.0), (0.9, 0.0), (0.4, 1.0)]],
    8: [_arc(0.5, 0.25, 0.28, 0.25, 90, 450), _arc(0.5, 0.75, 0.34, 0.25, -90, 270)],
    9: [_arc(0.5, 0.3, 0.32, 0.28, 0, 360), [(0.82, 0.3), (0.75, 1.0)]],
}


def draw_digit(label: int, rng: np.random.Generator) -> Image.Image:
    """A grey picture of ``label`` drawn with a pen: dark ink on light paper, any size."""
    canvas = int(rng.integers(60, 400))
    height = canvas * rng.uniform(0.4, 0.85)  # the digit's height on the canvas
    pen = max(2.0, height * rng.uniform(0.03, 0.18))
    squash, slant = rng.uniform(0.5, 1.0), rng.uniform(-0.1, 0.35)
    turn = np.radians(rng.uniform(-10, 10))
    rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    centre = canvas / 2 + rng.uniform(-0.1, 0.1, size=2) * canvas
    image = Image.new("L", (canvas, canvas), int(rng.integers(200, 250)))
    draw = ImageDraw.Draw(image)
    ink = int(rng.integers(0, 90))
    for stroke in STROKES[label]:
        unit = np.array(stroke) + rng.normal(0, 0.015, size=(len(stroke), 2))
        x = (unit[:, 0] - 0.5) * squash + slant * (0.5 - unit[:, 1])
        y = unit[:, 1] - 0.5
        points = (np.stack([x, y], axis=1) @ rotation.T) * height + centre
        draw.line([tuple(p) for p in points], fill=ink, width=round(pen), joint="curve")
        r = pen / 2  # round pen tips
        for px, py in (points[0], points[-1]):
            draw.ellipse([px - r, py - r, px + r, py + r], fill=ink)
    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.5)))
    noisy = np.asarray(image, dtype=np.float32) + rng.normal(0, 6, size=(canvas, canvas))
    return Image.fromarray(noisy.clip(0, 255).round().astype(np.uint8), "L")
