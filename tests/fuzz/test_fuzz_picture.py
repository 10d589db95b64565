"""Pictures, fuzzed fast: preprocess(path) gives a valid input or an ImageError naming the file."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageDraw
from support.fuzzing import FAST, check_reader, mutated

from neuraldigits.errors import ImageError
from neuraldigits.images.preprocess import preprocess


def _digit() -> Image.Image:
    image = Image.new("L", (32, 32), 220)
    ImageDraw.Draw(image).line([(9, 8), (23, 8), (14, 25)], fill=30, width=3)
    return image


def _save(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


GREY = _digit()
SEEDS = [
    _save(GREY, "PNG"),
    _save(GREY.convert("RGBA"), "PNG"),
    _save(GREY.convert("P"), "PNG"),
    _save(GREY, "JPEG"),
    _save(GREY, "GIF"),
    _save(GREY, "BMP"),
    _save(GREY, "TIFF"),
    _save(GREY, "PPM"),
]


def _read(path):
    prepared = preprocess(path)
    assert prepared.pixels.shape == (784,) and np.all(np.isfinite(prepared.pixels))
    return prepared


@FAST
@given(mutated(SEEDS))
def test_mutated_pictures(data):
    check_reader(_read, data, "fuzz.png", ImageError)


def _chunk(kind: bytes, data: bytes, length: int | None = None) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return (
        struct.pack(">I", len(data) if length is None else length)
        + kind
        + data
        + struct.pack(">I", crc)
    )


@FAST
@given(
    st.sampled_from([0, 1, 7000, 50_000, 0x7FFFFFFF, 0xFFFFFFFF]),
    st.sampled_from([0, 1, 28, 7000, 0x7FFFFFFF]),
    st.sampled_from([1, 8, 16, 3]),
    st.sampled_from([0, 2, 3, 4, 6, 7]),
    st.sampled_from([None, 0, 0x7FFFFFFF, 0xFFFFFFFF]),
)
def test_png_headers_with_valid_checksums(width, height, depth, colour, idat_length):
    """PNGs whose IHDR (checksum recomputed) declares other sizes and formats."""
    png = SEEDS[0]
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    at = 8 + 12 + 13  # after the signature and the IHDR chunk
    idat_start = png.index(b"IDAT") - 4
    (idat_size,) = struct.unpack(">I", png[idat_start : idat_start + 4])
    idat = png[idat_start + 8 : idat_start + 8 + idat_size]
    data = (
        png[:8]
        + _chunk(b"IHDR", ihdr)
        + png[at:idat_start]
        + _chunk(b"IDAT", idat, idat_length)
        + _chunk(b"IEND", b"")
    )
    check_reader(_read, data, "fuzz.png", ImageError)
