"""Fuzz the picture reader: ``preprocess(path)``, what ``digits predict`` runs on each file.

Seeds: a small drawn digit saved as PNG (grey, grey+alpha, RGB, RGBA, palette
with transparency, 1-bit, 16-bit, interlaced), JPEG (grey, colour, with an
EXIF orientation), GIF, BMP, TIFF (raw and LZW), WebP, PGM/PPM, TGA, ICO and
PCX.  Mutations: generic byte edits (bit flips, interesting integers,
truncation, insertion, deletion, splices); PNG chunk edits with the CRC
recomputed so that the decoder, not the checksum, meets them (IHDR width,
height, bit depth, colour type and interlace set to interesting values;
IDAT replaced by a zlib stream inflating to 32 MB, duplicated or dropped;
tEXt/zTXt/iTXt/iCCP/eXIf/sPLT chunks added, some with huge length fields or
compressed bombs; chunks reordered; IEND dropped); JPEG marker edits
(frame dimensions, component counts, restart intervals); and, in 0.3 % of the
cases, pictures at the limits (7000×7000 RGBA and palette, 5000×6000 RGB PNGs,
a 6000×6000 JPEG), whole or mutated.

    nice -n 5 python fuzz/fuzz_picture.py --cases 100000
"""

from __future__ import annotations

import io
import struct
import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness  # noqa: E402  (first: it pins BLAS to one thread before numpy loads)
import numpy as np  # noqa: E402
from PIL import Image, ImageDraw, features  # noqa: E402

from neuraldigits.images.preprocess import preprocess  # noqa: E402


def _digit(size: int = 40) -> Image.Image:
    image = Image.new("L", (size, size), 220)
    draw = ImageDraw.Draw(image)
    draw.line([(12, 10), (28, 10), (17, 30)], fill=30, width=4)
    return image


def _save(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _seeds() -> list[bytes]:
    grey = _digit()
    rgb = Image.merge("RGB", [grey, grey, grey.point(lambda v: v * 0.8)])
    rgba = rgb.convert("RGBA")
    rgba.putalpha(grey.point(lambda v: 255 - v))
    palette = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    exif = Image.Exif()
    exif[0x0112] = 6
    seeds = [
        _save(grey, "PNG"),
        _save(grey.convert("LA"), "PNG"),
        _save(rgb, "PNG"),
        _save(rgba, "PNG"),
        _save(palette, "PNG", transparency=0),
        _save(grey.convert("1"), "PNG"),
        _save(Image.fromarray(np.asarray(grey, dtype=np.uint16) * 257), "PNG"),
        _save(grey, "PNG", optimize=True),
        _save(grey, "JPEG", quality=80),
        _save(rgb, "JPEG", quality=80, exif=exif),
        _save(palette, "GIF"),
        _save(rgb, "BMP"),
        _save(rgb, "TIFF"),
        _save(grey, "TIFF", compression="tiff_lzw") if features.check("libtiff") else b"",
        _save(grey, "PPM"),
        _save(rgb, "PPM"),
        _save(rgb, "TGA"),
        _save(rgba, "ICO"),
        _save(rgb, "PCX"),
    ]
    if features.check("webp"):
        seeds.append(_save(rgb, "WEBP", quality=80))
    return [seed for seed in seeds if seed]


def _large() -> list[tuple[bytes, str]]:
    """Pictures at the size limits, made once: decoding them is what the budget is for."""
    large = []
    sizes = ((7000, 7000, 6, 4), (5000, 6000, 2, 3), (7000, 7000, 3, 1))
    for width, height, colour, channels in sizes:
        rows = bytes(height * (1 + width * channels))  # filter byte 0, then black pixels
        ihdr = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
        chunks = [(b"IHDR", ihdr)]
        if colour == 3:
            chunks.append((b"PLTE", bytes(3) + b"\xff" * 3))
        chunks += [(b"IDAT", zlib.compress(rows, 9)), (b"IEND", b"")]
        png = b"\x89PNG\r\n\x1a\n" + b"".join(_chunk(kind, data) for kind, data in chunks)
        large.append((png, f"{width}x{height} PNG, colour type {colour}"))
    big = _digit().resize((6000, 6000))
    large.append((_save(big, "JPEG", quality=50), "6000x6000 JPEG"))
    return large


SEEDS = _seeds()
PNG_SEEDS = [seed for seed in SEEDS if seed.startswith(b"\x89PNG")]
JPEG_SEEDS = [seed for seed in SEEDS if seed.startswith(b"\xff\xd8")]
# A zlib stream inflating to 32 MB, made once (compressing it per case would dominate).
ZLIB_BOMB = zlib.compress(bytes(32 << 20), 9)


def _chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    chunks, at = [], 8
    while at + 8 <= len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind = png[at + 4 : at + 8]
        chunks.append((kind, png[at + 8 : at + 8 + length]))
        at += 12 + length
    return chunks


def _chunk(kind: bytes, data: bytes, length: int | None = None) -> bytes:
    size = len(data) if length is None else length
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", size) + kind + data + struct.pack(">I", crc)


LARGE = _large()


def _png_edit(rng: np.random.Generator, png: bytes) -> tuple[bytes, str]:
    chunks = _chunks(png)
    choice = rng.random()
    if choice < 0.35:  # IHDR fields: width, height, bit depth, colour type, interlace, ...
        kind, data = chunks[0]
        fields = list(struct.unpack(">IIBBBBB", data[:13]))
        k = int(rng.integers(7))
        if k < 2:
            fields[k] = int(rng.choice([0, 1, 7000, 7072, 50_000, 1 << 16, 0x7FFFFFFF, 1 << 31]))
        else:
            fields[k] = int(rng.choice([0, 1, 2, 3, 4, 6, 8, 16, 255]))
        chunks[0] = (kind, struct.pack(">IIBBBBB", *fields))
        how = f"IHDR field {k} = {fields[k]}"
    elif choice < 0.5:  # the image data replaced by a bomb, duplicated or dropped
        idat = [i for i, (kind, _) in enumerate(chunks) if kind == b"IDAT"]
        what = int(rng.integers(3))
        if what == 0:
            chunks[idat[0]] = (b"IDAT", ZLIB_BOMB)
        elif what == 1:
            chunks.insert(idat[-1] + 1, chunks[idat[0]])
        else:
            for i in reversed(idat):
                chunks.pop(i)
        how = ("IDAT bomb", "IDAT duplicated", "IDAT dropped")[what]
    elif choice < 0.8:  # an ancillary chunk, maybe compressed, maybe lying about its length
        kind = rng.choice([b"tEXt", b"zTXt", b"iTXt", b"iCCP", b"eXIf", b"sPLT", b"pHYs", b"tRNS"])
        payloads = [
            b"Comment\x00hello",
            b"Comment\x00\x00" + ZLIB_BOMB[:4096],
            b"icc\x00\x00" + ZLIB_BOMB[:4096],
            b"MM\x00*\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00",
            rng.bytes(int(rng.integers(0, 64))),
        ]
        data = payloads[int(rng.integers(len(payloads)))]
        length = None if rng.random() < 0.8 else int(rng.choice([0, 0x7FFFFFFF, 0xFFFFFFFF]))
        chunks.insert(int(rng.integers(1, len(chunks))), (kind, data, length))
        how = f"{kind.decode()} chunk" + ("" if length is None else f" declaring {length:,} bytes")
    elif choice < 0.9:
        i, j = (int(v) for v in rng.integers(len(chunks), size=2))
        chunks[i], chunks[j] = chunks[j], chunks[i]
        how = "chunks swapped"
    else:
        chunks = [c for c in chunks if c[0] != b"IEND"]
        how = "IEND dropped"
    return b"\x89PNG\r\n\x1a\n" + b"".join(_chunk(*c) for c in chunks), how


def _jpeg_edit(rng: np.random.Generator, jpeg: bytes) -> tuple[bytes, str]:
    out = bytearray(jpeg)
    markers = [i for i in range(len(out) - 1) if out[i] == 0xFF and out[i + 1] in (0xC0, 0xC2)]
    if not markers or rng.random() < 0.3:
        at = out.find(b"\xff\xdd")  # restart interval, or anywhere in the header
        at = at if at >= 0 else int(rng.integers(2, min(len(out), 600)))
        return _harness.set_int(rng, bytes(out), at), "JPEG header int"
    at = markers[0]
    k = int(rng.integers(3))
    if k == 0:  # height, width
        spot = at + 5 + 2 * int(rng.integers(2))
        value = int(rng.choice([0, 1, 7000, 0xFFFF]))
        out[spot : spot + 2] = value.to_bytes(2, "big")
        return bytes(out), f"JPEG frame size = {value}"
    if k == 1:
        out[at + 9] = int(rng.choice([0, 2, 4, 5, 255]))
        return bytes(out), "JPEG component count"
    out[at + 4] = int(rng.choice([1, 2, 12, 16, 255]))
    return bytes(out), "JPEG precision"


def make(rng: np.random.Generator) -> _harness.Case:
    choice = rng.random()
    if choice < 0.003:  # ~1 s each: a few hundred in a run
        data, how = LARGE[int(rng.integers(len(LARGE)))]
        if rng.random() < 0.5:
            data, more = _harness.generic(rng, data, [])
            how += " + " + more
    elif choice < 0.45:
        k = int(rng.integers(len(SEEDS)))
        data, how = _harness.generic(rng, SEEDS[k], SEEDS)
        how = f"seed {k}: {how}"
    elif choice < 0.8:
        data, how = _png_edit(rng, PNG_SEEDS[int(rng.integers(len(PNG_SEEDS)))])
        if rng.random() < 0.2:
            data, more = _harness.generic(rng, data, [])
            how += " + " + more
    elif choice < 0.95:
        data, how = _jpeg_edit(rng, JPEG_SEEDS[int(rng.integers(len(JPEG_SEEDS)))])
    else:
        data, how = rng.bytes(int(rng.integers(0, 300))), "random bytes"
    return _harness.Case(data, name="fuzz-picture.png", mutation=how)


def target(case: _harness.Case, path: Path) -> object:
    prepared = preprocess(path)
    if prepared.pixels.shape != (784,) or not np.all(np.isfinite(prepared.pixels)):
        raise AssertionError("an accepted picture gave a malformed input")
    return prepared


if __name__ == "__main__":
    # The library's default limits stand (100 MB files, 50 megapixels, 200 MB
    # decoded): a 7000x7000 RGBA picture then costs ~0.4 GB, hence the budget.
    sys.exit(
        _harness.main("picture", make, target, budget_mb=512, description=__doc__.split("\n\n")[0])
    )
