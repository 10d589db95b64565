"""Canvas-like PNG drawings for the load scripts: what the pad's page sends."""

from __future__ import annotations

import io
import math

from PIL import Image, ImageDraw


def drawings(count: int = 50) -> list[bytes]:
    """``count`` different canvas-like drawings: strokes of the pad's default brush (22 px)."""
    pictures = []
    for i in range(count):
        image = Image.new("RGBA", (280, 280), (255, 255, 255, 255))
        pen = ImageDraw.Draw(image)
        # A loop (0, 6, 8, 9) or a bent stroke (1, 2, 7), its size and place varying with i.
        cx, cy, r = 120 + 5 * (i % 9), 130 + 4 * (i % 7), 45 + 3 * (i % 11)
        if i % 2:
            points = [
                (cx + r * math.cos(t / 10 * math.tau), cy + 1.6 * r * math.sin(t / 10 * math.tau))
                for t in range(11)
            ]
        else:
            points = [(cx - r, cy - 80), (cx + r, cy - 80), (cx - r // 3, cy + 100)]
        pen.line(points, fill=(0, 0, 0, 255), width=22, joint="curve")
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        pictures.append(buffer.getvalue())
    return pictures
