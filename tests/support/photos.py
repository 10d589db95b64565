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

The outside evaluation sets (issue 14) go further from MNIST.  :data:`FORMS` holds
two to four letterforms per digit, including those MNIST's writers rarely used
(crossed 7, open 4, flat-topped 3, 1 with flag and foot, European 1, looped 2, ...);
:func:`write` draws any of them with a given :class:`Hand` (size, pen width,
slant, proportions, wobble); and :data:`SETS` names five kinds of picture, each
stressing one way real digits differ from MNIST's (letterforms and pens, coarse
captures, marker and hairline, strong slants and proportions, uneven light), plus
the standard-form drawings.  :func:`picture_set` makes a balanced, deterministic
set of any of them.  benchmarks/real_pictures.py reports each set separately.

Everything is drawn from an explicit ``numpy.random.Generator``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFilter
from scipy import ndimage

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


# ---------------------------------------------------------------------- letterforms


def _line(*points: tuple[float, float]) -> Points:
    return list(points)


def _superellipse(cx: float, cy: float, rx: float, ry: float, power: float = 4) -> Points:
    """A closed, squarish oval (|x|^p + |y|^p = 1), started at the top: a boxy 0."""
    t = np.radians(np.linspace(-90, 270, 72))
    c, s = np.cos(t), np.sin(t)
    x = np.sign(c) * np.abs(c) ** (2 / power)
    y = np.sign(s) * np.abs(s) ** (2 / power)
    return list(zip(cx + rx * x, cy + ry * y))


def _spiral(cx: float, cy: float, rx: float, ry: float, start: float, stop: float) -> Points:
    """An elliptic arc whose radius shrinks by 15 % along the way: a 0 whose ends overlap."""
    t = np.radians(np.linspace(start, stop, max(8, int(abs(stop - start) / 10))))
    shrink = np.linspace(1, 0.85, len(t))
    return list(zip(cx + rx * shrink * np.cos(t), cy + ry * shrink * np.sin(t)))


def _figure_eight() -> Points:
    """An 8 in one stroke: down the top loop's left, across, round the bottom, back up."""
    t = np.linspace(0, 2 * np.pi, 60)
    return list(zip(0.5 - 0.3 * np.sin(2 * t) * (1.1 - 0.2 * (t > np.pi)), 0.5 - 0.5 * np.cos(t)))


# The ways people write each digit, STROKES' among them, including letterforms MNIST's
# writers rarely used.  Same unit box as STROKES.
FORMS: dict[int, dict[str, list[Points]]] = {
    0: {
        "oval": STROKES[0],
        "overlapping": [_spiral(0.5, 0.5, 0.38, 0.5, -40, 345)],
        "boxy": [_superellipse(0.5, 0.5, 0.38, 0.5)],
    },
    1: {
        "stick": [_line((0.5, 0.0), (0.5, 1.0))],
        "flag": STROKES[1],
        "flag and foot": [STROKES[1][0], _line((0.25, 1.0), (0.85, 1.0))],
        "European": [_line((0.28, 0.34), (0.6, 0.0), (0.6, 1.0))],
    },
    2: {
        "plain": STROKES[2],
        "looped": [
            _arc(0.5, 0.28, 0.36, 0.28, 200, 400)
            + _line((0.26, 0.8))
            + _arc(0.2, 0.86, 0.1, 0.1, 60, 400)
            + _line((0.9, 0.96))
        ],
        "angular": [
            _line((0.12, 0.18), (0.45, 0.0), (0.82, 0.12), (0.8, 0.35), (0.1, 1.0), (0.9, 1.0))
        ],
    },
    3: {
        "round": STROKES[3],
        "flat-topped": [
            _line((0.15, 0.0), (0.85, 0.0), (0.42, 0.4)) + _arc(0.5, 0.69, 0.38, 0.3, -105, 150)
        ],
        "angular": [
            _line(
                (0.15, 0.05),
                (0.55, 0.0),
                (0.8, 0.14),
                (0.74, 0.3),
                (0.38, 0.48),
                (0.8, 0.62),
                (0.86, 0.8),
                (0.62, 0.98),
                (0.35, 1.0),
                (0.14, 0.9),
            )
        ],
    },
    4: {
        "closed": [_line((0.7, 1.0), (0.7, 0.0), (0.05, 0.68), (0.95, 0.68))],
        "open": [_line((0.2, 0.0), (0.12, 0.6), (0.95, 0.6)), _line((0.7, 0.12), (0.7, 1.0))],
        "open, slanted": [
            _line((0.3, 0.0), (0.08, 0.62), (0.95, 0.62)),
            _line((0.78, 0.05), (0.62, 1.0)),
        ],
    },
    5: {
        "plain": STROKES[5],
        "two strokes": [
            _line((0.25, 0.0), (0.2, 0.45)) + _arc(0.5, 0.68, 0.37, 0.32, 220, 500),
            _line((0.27, 0.0), (0.85, -0.02)),
        ],
        "angular": [
            _line((0.85, 0.0), (0.22, 0.0), (0.2, 0.42), (0.55, 0.38))
            + _arc(0.52, 0.68, 0.35, 0.3, -80, 150)
        ],
    },
    6: {
        "curved": STROKES[6],
        "straight stem": [_line((0.72, 0.0), (0.22, 0.7)) + _arc(0.5, 0.72, 0.3, 0.27, 180, 540)],
        "small loop": [
            _arc(0.95, 0.78, 0.75, 0.78, -100, -180) + _arc(0.42, 0.8, 0.22, 0.2, 180, 540)
        ],
    },
    7: {
        "plain": STROKES[7],
        "crossed": [STROKES[7][0], _line((0.38, 0.52), (0.9, 0.5))],
        "serif": [_line((0.1, 0.2), (0.1, 0.0), (0.9, 0.0), (0.45, 1.0))],
        "curved stem": [_line((0.1, 0.0), (0.9, 0.0), (0.7, 0.35), (0.56, 0.68), (0.5, 1.0))],
    },
    8: {
        "two loops": STROKES[8],
        "one stroke": [_figure_eight()],
        "small top": [_arc(0.5, 0.2, 0.24, 0.2, 90, 450), _arc(0.5, 0.7, 0.36, 0.3, -90, 270)],
    },
    9: {
        "straight tail": STROKES[9],
        "hooked tail": [
            _arc(0.5, 0.3, 0.32, 0.28, 0, 360),
            _line((0.82, 0.3), (0.8, 0.8)) + _arc(0.55, 0.8, 0.25, 0.2, 0, 150),
        ],
        "one stroke": [_arc(0.5, 0.3, 0.32, 0.28, -10, -370) + _line((0.8, 0.65), (0.74, 1.0))],
    },
}


# ---------------------------------------------------------------------- writing a digit

SUPERSAMPLE = 4  # strokes are drawn this many times finer, then averaged: smooth edges


@dataclass(frozen=True)
class Hand:
    """How one digit is written; lengths in pixels of the finished picture."""

    height: float  # of the digit
    pen: float  # stroke width
    width: float = 0.75  # the unit box's width, in heights (1: as wide as tall)
    slant: float = 10.0  # degrees, positive leans right (a shear, as handwriting slants)
    turn: float = 0.0  # degrees of rotation, clockwise
    wobble: float = 0.02  # how far (in heights) a smooth random bend moves the path


def _dense(points: NDArray, step: float = 0.02) -> NDArray:
    """The polyline ``points`` (n, 2) with extra points so no segment is longer than ``step``."""
    out = [points[:1]]
    for a, b in zip(points[:-1], points[1:]):
        n = max(1, int(np.ceil(np.hypot(*(b - a)) / step)))
        out.append(a + (b - a) * np.linspace(0, 1, n + 1)[1:, None])
    return np.concatenate(out)


def _bend(rng: np.random.Generator, amount: float) -> Callable[[NDArray], NDArray]:
    """A smooth random displacement of the unit box (three random waves): a hand's wobble."""
    waves = [
        (rng.normal(size=2) * 1.5, rng.uniform(0, 2 * np.pi), rng.normal(0, amount, size=2))
        for _ in range(3)
    ]

    def move(points: NDArray) -> NDArray:
        return points + sum(np.sin(points @ f + phase)[:, None] * a for f, phase, a in waves)

    return move


def write(strokes: list[Points], hand: Hand, rng: np.random.Generator) -> NDArray:
    """Ink coverage (H, W) in [0, 1] of ``strokes`` written by ``hand``, with a margin of paper.

    The path is bent smoothly and each stroke shifted a little (a pen lifted and put
    down again lands nearby, not exactly), then slanted, squashed, turned and drawn
    with a round pen.  The margins are random: the digit is usually off-centre.
    """
    bend = _bend(rng, hand.wobble)
    shear = np.tan(np.radians(hand.slant))
    turn = np.radians(hand.turn)
    rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    paths = []
    for stroke in strokes:
        unit = bend(_dense(np.array(stroke, dtype=float))) + rng.normal(0, hand.wobble / 3, 2)
        x = (unit[:, 0] - 0.5) * hand.width + shear * (0.5 - unit[:, 1])
        y = unit[:, 1] - 0.5
        paths.append((np.stack([x, y], axis=1) @ rotation.T) * hand.height)
    every = np.concatenate(paths)
    margins = hand.height * rng.uniform(0.15, 0.6, size=4) + hand.pen  # left, top, right, bottom
    low = every.min(axis=0) - margins[:2]
    size = np.ceil(every.max(axis=0) + margins[2:] - low).astype(int)
    big = Image.new("L", tuple(size * SUPERSAMPLE), 0)
    draw = ImageDraw.Draw(big)
    pen = max(1.0, hand.pen * SUPERSAMPLE)
    for path in paths:
        points = (path - low) * SUPERSAMPLE
        draw.line([tuple(p) for p in points], fill=255, width=round(pen))
        for px, py in points:  # a round pen: no notches at the joints, round tips
            draw.ellipse([px - pen / 2, py - pen / 2, px + pen / 2, py + pen / 2], fill=255)
    small = big.resize(tuple(size), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32) / 255


def _grey(coverage: NDArray, ink: float, paper: float | NDArray) -> NDArray:
    """Grey levels (0 black, 1 white): paper reflects ``paper`` of the light, ink ``ink``."""
    return paper * (1 - coverage) + ink * coverage


def _finish(grey: NDArray, rng: np.random.Generator, blur: float, noise: float) -> Image.Image:
    """A grey picture: ``grey`` slightly out of focus, with sensor noise, as 8-bit."""
    if blur > 0:
        grey = ndimage.gaussian_filter(grey, blur)
    grey = grey + rng.normal(0, noise, size=grey.shape)
    return Image.fromarray((grey.clip(0, 1) * 255).round().astype(np.uint8), "L")


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    """``image`` after a round trip through JPEG at ``quality`` (blocky when low)."""
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert(image.mode)


def _form(label: int, k: int) -> list[Points]:
    """The strokes of ``label``'s form number ``k`` (cycling through FORMS[label])."""
    forms = list(FORMS[label].values())
    return forms[k % len(forms)]


def _ordinary_hand(rng: np.random.Generator, **changes: float) -> Hand:
    """A hand and pen in everyday ranges: a biro to a felt tip, a little slant."""
    height = rng.uniform(60, 300)
    values = dict(
        height=height,
        pen=height * rng.uniform(0.04, 0.12),
        width=rng.uniform(0.6, 0.9),
        slant=rng.uniform(-5, 20),
        turn=rng.uniform(-6, 6),
        wobble=rng.uniform(0.01, 0.03),
    )
    values.update(changes)
    return Hand(**values)


# ---------------------------------------------------------------------- the sets


def letterform(label: int, k: int, rng: np.random.Generator) -> Image.Image:
    """Every letterform of FORMS in turn, written with a biro, gel pen, felt tip or pencil."""
    pen = k // len(FORMS[label]) % 4  # each form meets each kind of pen
    height = rng.uniform(60, 300)
    share = [(0.03, 0.06), (0.06, 0.09), (0.09, 0.14), (0.04, 0.08)][pen]
    coverage = write(
        _form(label, k), _ordinary_hand(rng, height=height, pen=height * rng.uniform(*share)), rng
    )
    paper = rng.uniform(0.8, 0.97)
    if pen == 3:  # pencil: grey, grainy graphite
        grain = ndimage.gaussian_filter(rng.uniform(0.4, 1.0, size=coverage.shape), 0.7)
        return _finish(_grey(coverage * grain, rng.uniform(0.3, 0.5), paper), rng, 0.4, 0.015)
    return _finish(_grey(coverage, rng.uniform(0.0, 0.25), paper), rng, rng.uniform(0, 1), 0.02)


def coarse(label: int, k: int, rng: np.random.Generator) -> Image.Image:
    """A low-resolution capture: the digit 12–20 pixels tall, JPEG-compressed, maybe blown up.

    In turn: left small; blown up with square pixels (a zoomed thumbnail); blown up
    smoothly and then compressed hard.
    """
    hand = _ordinary_hand(rng)
    grey = _grey(write(_form(label, k), hand, rng), rng.uniform(0.05, 0.3), rng.uniform(0.75, 0.95))
    factor = rng.uniform(12, 20) / hand.height
    small = (max(1, round(grey.shape[1] * factor)), max(1, round(grey.shape[0] * factor)))
    tiny = Image.fromarray(grey.astype(np.float32), "F").resize(small, Image.Resampling.BOX)
    image = _finish(np.asarray(tiny), rng, 0, 0.02)
    zoom = rng.uniform(3, 8)
    large = (round(small[0] * zoom), round(small[1] * zoom))
    variant = k // len(FORMS[label]) % 3
    if variant == 0:
        return _jpeg(image, int(rng.integers(30, 60)))
    if variant == 1:
        return _jpeg(image, int(rng.integers(30, 60))).resize(large, Image.Resampling.NEAREST)
    return _jpeg(image.resize(large, Image.Resampling.BILINEAR), int(rng.integers(15, 35)))


def pen_extremes(label: int, k: int, rng: np.random.Generator) -> Image.Image:
    """In turn: a broad marker (a fifth of the digit's height) and a hairline (1–1.5 px)."""
    if k // len(FORMS[label]) % 2 == 0:
        height = rng.uniform(60, 250)
        hand = _ordinary_hand(rng, height=height, pen=height * rng.uniform(0.17, 0.23))
    else:
        hand = _ordinary_hand(rng, height=rng.uniform(150, 400), pen=rng.uniform(1, 1.5))
    coverage = write(_form(label, k), hand, rng)
    grey = _grey(coverage, rng.uniform(0.0, 0.25), rng.uniform(0.8, 0.97))
    return _finish(grey, rng, rng.uniform(0, 0.7), 0.02)


def proportions(label: int, k: int, rng: np.random.Generator) -> Image.Image:
    """In turn: slanted 25–35° right, 10–20° left (a 1 half that), condensed, wide."""
    variant = k // len(FORMS[label]) % 4
    if variant == 0:
        change = {"slant": rng.uniform(25, 35)}
    elif variant == 1:  # a flagged 1 leaning left is a caret: lean it less
        change = {"slant": -rng.uniform(10, 20) / (2 if label == 1 else 1)}
    elif variant == 2:
        change = {"width": rng.uniform(0.28, 0.4), "slant": rng.uniform(-5, 10)}
    else:
        change = {"width": rng.uniform(1.1, 1.4), "slant": rng.uniform(-5, 10)}
    coverage = write(_form(label, k), _ordinary_hand(rng, **change), rng)
    grey = _grey(coverage, rng.uniform(0.0, 0.25), rng.uniform(0.8, 0.97))
    return _finish(grey, rng, rng.uniform(0, 1), 0.02)


def uneven_light(label: int, k: int, rng: np.random.Generator) -> Image.Image:
    """A colour photo of a pen-drawn digit on mottled paper under uneven light and a shadow.

    The light falls off across the page (by 20–45 %), a shadow's soft edge (a hand, a
    phone) darkens part of it by 25–40 %, wherever that lands; then sensor noise, a
    colour cast and JPEG.
    """
    coverage = write(_form(label, k), _ordinary_hand(rng), rng)
    height, width = coverage.shape
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * x + np.sin(angle) * y
    light = 1 - rng.uniform(0.2, 0.45) * (ramp - ramp.min()) / np.ptp(ramp)
    edge = np.cos(angle + rng.uniform(-2, 2)) * x + np.sin(angle + rng.uniform(-2, 2)) * y
    cut = np.quantile(edge, rng.uniform(0.2, 0.7))
    softness = rng.uniform(0.02, 0.1)
    shadow = 1 / (1 + np.exp(-(edge - cut) / softness))  # 0 lit, 1 in shadow
    light = light * (1 - rng.uniform(0.25, 0.4) * shadow)
    blotches = Image.fromarray(rng.normal(0, 1, size=(8, 8)).astype(np.float32), "F")
    mottle = np.asarray(blotches.resize((width, height), Image.Resampling.BICUBIC))
    paper = rng.uniform(0.82, 0.95) * (1 + 0.03 * mottle)  # slightly blotchy paper
    grey = _grey(coverage, rng.uniform(0.03, 0.25), paper) * light
    rgb = grey[:, :, None] * rng.uniform(0.85, 1.0, size=3) + rng.normal(
        0, rng.uniform(0.01, 0.03), size=(height, width, 3)
    )
    image = Image.fromarray((rgb.clip(0, 1) * 255).round().astype(np.uint8), "RGB")
    return _jpeg(image, int(rng.integers(70, 92)))


def standard_drawing(label: int, k: int, rng: np.random.Generator) -> Image.Image:
    """:func:`draw_digit`: the first form of each digit only, any pen, slant and size."""
    return draw_digit(label, rng)


@dataclass(frozen=True)
class PictureSet:
    """A kind of picture: a title for tables, and ``make(label, k, rng)`` for picture ``k``."""

    title: str
    make: Callable[[int, int, np.random.Generator], Image.Image]
    number: int  # part of each picture's seed, so that the sets differ


SETS: dict[str, PictureSet] = {
    "letterforms": PictureSet(
        "every letterform in turn (crossed 7, open 4, flat-topped 3, ...), biro to pencil",
        letterform,
        1,
    ),
    "coarse": PictureSet("low resolution: 12–20 px tall, JPEG, blown up", coarse, 2),
    "pens": PictureSet("marker (a fifth of the height) or hairline (1–1.5 px)", pen_extremes, 3),
    "proportions": PictureSet(
        "slanted 25–35° right or 10–20° left, condensed or wide", proportions, 4
    ),
    "light": PictureSet("uneven paper and light, a shadow, colour cast, JPEG", uneven_light, 5),
    "drawings": PictureSet("standard forms only (the older draw_digit set)", standard_drawing, 6),
}


def picture_set(name: str, count: int, seed: int = 0) -> tuple[list[Image.Image], NDArray]:
    """``count`` pictures of set ``name`` and their labels: digits 0–9 in turn (balanced).

    Picture ``i`` shows ``i % 10`` and is drawn from its own generator, seeded by
    ``(seed, the set, i)``, so it is the same whatever ``count`` is.  The ``i // 10``-th
    picture of a digit uses its ``i // 10``-th form (cycling), so forms are balanced too.
    """
    chosen = SETS[name]
    labels = np.arange(count) % 10
    pictures = [
        chosen.make(int(label), i // 10, np.random.default_rng([seed, chosen.number, i]))
        for i, label in enumerate(labels)
    ]
    return pictures, labels
