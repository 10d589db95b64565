"""A picture of what the network saw: each original beside its prepared 28×28 input."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..atomic import atomic_write
from ..errors import ImageError
from ..geometry import SIDE
from .preprocess import Prepared

CELL = 140  # each panel is CELL × CELL pixels; the 28×28 input is magnified 5×
GAP = 10
TEXT_WIDTH = 220


def comparison(items: Sequence[tuple[Prepared, str]]) -> Image.Image:
    """One row per picture: the original (grey, as read), the 28×28 input, and a caption.

    The input is magnified with nearest-neighbour sampling so its pixels stay visible,
    and drawn as MNIST stores it: ink white on black.
    """
    width = 2 * CELL + 3 * GAP + TEXT_WIDTH
    sheet = Image.new("L", (width, len(items) * (CELL + GAP) + GAP), 128)
    draw = ImageDraw.Draw(sheet)
    for row, (prepared, caption) in enumerate(items):
        top = GAP + row * (CELL + GAP)
        original = _fit(_grey_image(prepared.picture))
        sheet.paste(original, (GAP + (CELL - original.width) // 2, top))
        seen = _grey_image(prepared.pixels.reshape(SIDE, SIDE))
        sheet.paste(seen.resize((CELL, CELL), Image.Resampling.NEAREST), (2 * GAP + CELL, top))
        draw.text((3 * GAP + 2 * CELL, top + CELL // 2 - 6), caption, fill=255)
    return sheet


def save_comparison(path: str | os.PathLike[str], items: Sequence[tuple[Prepared, str]]) -> Path:
    """Write :func:`comparison` to ``path`` atomically, in the format its suffix names."""
    path = Path(path)
    kind = Image.registered_extensions().get(path.suffix.lower())
    if kind is None:
        raise ImageError(f"{path}: unknown picture format {path.suffix!r}; use a .png name")
    sheet = comparison(items)
    with atomic_write(path) as f:
        sheet.save(f, format=kind)
    return path


def _grey_image(values: np.ndarray | None) -> Image.Image:
    if values is None:
        return Image.new("L", (SIDE, SIDE), 0)
    return Image.fromarray((np.clip(values, 0, 1) * 255).round().astype(np.uint8), "L")


def _fit(image: Image.Image) -> Image.Image:
    scale = CELL / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)
