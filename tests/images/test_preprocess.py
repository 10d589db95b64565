"""neuraldigits.images.preprocess: any picture of a digit → the MNIST-style 28×28 input."""

from __future__ import annotations

import contextlib
import io
import json
import os
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image, ImageDraw
from scipy import ndimage
from support import photos

from neuraldigits.cli import main
from neuraldigits.errors import ImageError
from neuraldigits.images.preprocess import BOX, FRAME, MAX_PIXELS, Prepared, load_image, preprocess
from neuraldigits.modelfile import save
from neuraldigits.network import Network


def seven(size: int = 200, *, ink: int = 30, paper: int = 220, offset=(0, 0), width=None):
    """A grey picture of a 7, dark on light, drawn at ``offset`` from the middle."""
    image = Image.new("L", (size, size), paper)
    draw = ImageDraw.Draw(image)
    s, (dx, dy) = size / 200, offset
    points = [(60 * s + dx, 50 * s + dy), (140 * s + dx, 50 * s + dy), (90 * s + dx, 150 * s + dy)]
    draw.line(points, fill=ink, width=width or round(12 * s), joint="curve")
    return image


def png_bytes(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **options)
    return buffer.getvalue()


def check_mnist_style(prepared: Prepared) -> None:
    """The invariants of MNIST's preparation."""
    pixels = prepared.pixels
    assert pixels.shape == (FRAME * FRAME,) and pixels.dtype == np.float32
    assert pixels.min() >= 0 and pixels.max() == pytest.approx(1.0)
    image = pixels.reshape(FRAME, FRAME)
    rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 == BOX
    # Centred by mass to within half a pixel, unless that would push ink off the frame.
    cy, cx = ndimage.center_of_mass(image)
    for centre, ink in ((cy, rows), (cx, cols)):
        assert abs(centre - FRAME / 2) <= 0.5 + 1e-6 or ink[0] == 0 or ink[-1] == FRAME - 1


def close(a: Prepared, b: Prepared, tolerance: float = 0.03) -> bool:
    """The same 28×28 picture, give or take a pixel of centring."""
    a_image, b_image = a.pixels.reshape(FRAME, FRAME), b.pixels.reshape(FRAME, FRAME)
    return any(
        float(np.abs(a_image - np.roll(b_image, (dy, dx), axis=(0, 1))).mean()) < tolerance
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
    )


# ---------------------------------------------------------------------- the preparation


def test_mnist_digits_come_back_almost_unchanged(mnist):
    # An MNIST digit is already prepared: preparing it again must barely change it.
    images = mnist[2][0][:200]
    prepared = [preprocess(image.reshape(28, 28)) for image in images]
    for p in prepared[:20]:
        check_mnist_style(p)
    assert not any(p.inverted for p in prepared)
    difference = np.abs(np.array([p.pixels for p in prepared]) - images).mean(axis=1)
    assert difference.mean() < 0.01
    assert np.median(difference) < 0.005


def test_dark_ink_on_light_paper_is_inverted_to_mnist_polarity():
    dark_on_light = preprocess(seven())
    light_on_dark = preprocess(seven(ink=220, paper=30))
    assert dark_on_light.inverted and not light_on_dark.inverted
    check_mnist_style(dark_on_light)
    assert close(dark_on_light, light_on_dark, 0.01)


def test_position_and_size_do_not_matter():
    centred = preprocess(seven(200))
    assert close(centred, preprocess(seven(200, offset=(-50, 40))))
    assert close(centred, preprocess(seven(600, offset=(100, -120))), 0.04)
    check_mnist_style(preprocess(seven(600, offset=(100, -120))))


def test_aspect_ratio_is_kept():
    image = Image.new("L", (300, 300), 255)
    ImageDraw.Draw(image).rectangle([50, 100, 250, 150], fill=0)  # 201 × 51: a wide bar
    box = preprocess(image).pixels.reshape(FRAME, FRAME) > 0.5
    rows, cols = np.flatnonzero(box.any(axis=1)), np.flatnonzero(box.any(axis=0))
    assert cols[-1] - cols[0] + 1 == BOX
    assert rows[-1] - rows[0] + 1 == pytest.approx(BOX * 51 / 201, abs=1)


def test_uneven_paper_is_flattened():
    # Light falling off across the page: the paper's far side is darker than the
    # ink on its bright side, so a single global threshold cannot work.
    evenly_lit = preprocess(seven(300))
    picture = np.asarray(seven(300), dtype=np.float32) / 255
    light = np.linspace(1.0, 0.35, 300)[None, :]
    shaded = preprocess(picture * light)
    assert np.percentile(picture * light, 99) - np.percentile(picture * light, 1) > 0.5
    assert close(evenly_lit, shaded, 0.04)


def test_noise_and_specks_are_ignored():
    rng = np.random.default_rng(1)
    picture = np.asarray(seven(300), dtype=np.float32) / 255
    noisy = (picture + rng.normal(0, 0.05, picture.shape)).clip(0, 1)
    noisy[10:13, 280:283] = 0.1  # dust far from the digit
    prepared = preprocess(noisy)
    assert prepared.blobs == 1
    assert close(preprocess(seven(300)), prepared, 0.04)


def test_separate_blobs_are_counted():
    image = seven(300)
    ImageDraw.Draw(image).ellipse([200, 200, 260, 260], fill=30)  # a second mark
    assert preprocess(image).blobs == 2
    assert preprocess(seven(300)).blobs == 1


def test_thin_pen_on_a_large_page_still_gives_full_strokes():
    prepared = preprocess(seven(1500, width=4))
    check_mnist_style(prepared)
    assert (prepared.pixels > 0.5).sum() >= 25  # a visible stroke, not a faint ghost


# ---------------------------------------------------------------------- sources and formats


def test_every_kind_of_source_gives_the_same_input(tmp_path):
    image = seven()
    path = tmp_path / "seven.png"
    image.save(path)
    expected = preprocess(image)
    for source in (path, str(path), png_bytes(image), np.asarray(image)):
        assert np.array_equal(preprocess(source).pixels, expected.pixels)


def test_colour_16_bit_palette_and_jpeg_pictures(tmp_path):
    grey = seven()
    expected = preprocess(grey)
    rgb = Image.merge("RGB", [grey.point(lambda v: v * 0.9), grey, grey.point(lambda v: v * 0.8)])
    sixteen = Image.fromarray(np.asarray(grey, dtype=np.uint16) * 257)
    assert sixteen.mode.startswith("I")
    palette = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    thirty_two = Image.fromarray(np.asarray(grey, dtype=np.int32))  # mode I, values 0–255
    assert thirty_two.mode == "I"
    for picture in (rgb, sixteen, thirty_two, palette, Image.open(io.BytesIO(png_bytes(sixteen)))):
        assert close(preprocess(picture), expected, 0.02), picture.mode
    jpeg = io.BytesIO()
    rgb.save(jpeg, "JPEG", quality=70)
    assert close(preprocess(jpeg.getvalue()), expected, 0.04)


def test_transparent_backgrounds_hide_black_or_white():
    ink = np.asarray(seven(ink=0, paper=255), dtype=np.float32) < 128
    expected = preprocess(seven(ink=0, paper=255))
    for hidden, colour in ((0, 0), (255, 0), (0, 255)):  # RGB under the transparent pixels
        rgba = np.zeros(ink.shape + (4,), dtype=np.uint8)
        rgba[..., :3] = np.where(ink[..., None], colour, hidden)
        rgba[..., 3] = np.where(ink, 255, 0)
        prepared = preprocess(Image.fromarray(rgba, "RGBA"))
        assert close(prepared, expected, 0.02), (hidden, colour)
    grey_alpha = np.stack([np.zeros(ink.shape), ink.astype(float)], axis=-1)  # LA, floats
    assert close(preprocess(grey_alpha), expected, 0.02)


def test_transparent_corners_on_paper_are_paper():
    rgba = np.asarray(seven().convert("RGBA")).copy()
    rgba[:40, :40, 3] = 0  # a transparent corner; its hidden colour is black
    rgba[:40, :40, :3] = 0
    assert close(preprocess(rgba), preprocess(seven()), 0.02)


def test_load_image_gives_grey_in_unit_range():
    grey = load_image(np.full((5, 7, 3), 255, dtype=np.uint8))
    assert grey.shape == (5, 7) and grey.dtype == np.float32
    assert np.allclose(grey, 1.0)


# ---------------------------------------------------------------------- refusals


def blank(colour=240, size=(120, 90)):
    return Image.new("L", size, colour)


@pytest.mark.parametrize(
    "picture",
    [
        blank(),
        blank(0),
        np.full((50, 50), 0.5),
        np.random.default_rng(0).normal(0.8, 0.03, (200, 200)).clip(0, 1),  # paper grain only
        Image.new("RGBA", (60, 60), (0, 0, 0, 0)),
    ],
    ids=["white", "black", "grey array", "noisy paper", "transparent"],
)
def test_no_ink_is_reported(picture):
    with pytest.raises(ImageError, match="no ink found"):
        preprocess(picture)


def test_faint_mark_on_noisy_paper_is_not_ink():
    rng = np.random.default_rng(2)
    picture = rng.normal(0.8, 0.05, (200, 200))
    picture[90:110, 90:110] -= 0.04  # fainter than the paper's grain
    with pytest.raises(ImageError, match="no ink found"):
        preprocess(picture.clip(0, 1))


def test_not_an_image(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is not a picture\n")
    with pytest.raises(ImageError, match=r"notes\.png: not an image"):
        preprocess(path)
    with pytest.raises(ImageError, match="image data: not an image"):
        preprocess(b"")


def test_truncated_file(tmp_path):
    data = png_bytes(photos.draw_digit(3, np.random.default_rng(0)))
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match=r"cut\.png: corrupt or truncated"):
        preprocess(path)
    jpeg = io.BytesIO()
    seven().save(jpeg, "JPEG")
    with pytest.raises(ImageError, match="corrupt or truncated"):
        preprocess(jpeg.getvalue()[:300])


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    # A tiny PNG whose header claims 100,000 × 100,000 pixels.
    data = bytearray(png_bytes(blank(size=(8, 8))))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", 100_000, 100_000)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path = tmp_path / "bomb.png"
    path.write_bytes(bytes(data))
    with pytest.raises(ImageError, match=r"bomb\.png: refusing an image of"):
        preprocess(path)
    assert 100_000 * 100_000 > MAX_PIXELS


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ImageError, match=r"nowhere\.png: no such file"):
        preprocess(tmp_path / "nowhere.png")
    with pytest.raises(ImageError, match="is a directory"):
        preprocess(tmp_path)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros(784), r"expected shape \(H, W\)"),
        (np.zeros((28, 28, 5)), r"expected shape \(H, W\)"),
        (np.zeros((0, 28)), "empty image"),
        (np.full((28, 28), np.nan), "NaN"),
        (np.full((28, 28), 255.0), r"must lie in \[0, 1\]"),
        (np.full((28, 28), -3), r"must lie in 0\.\.255"),
        (np.full((28, 28), "x"), "unsupported pixel type"),
    ],
)
def test_bad_arrays(array, message):
    with pytest.raises(ImageError, match=message):
        preprocess(array)


def test_unknown_source_type():
    with pytest.raises(ImageError, match="cannot read a picture from a int"):
        preprocess(5)


@settings(max_examples=60, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 40), st.integers(1, 40))))
def test_any_array_gives_mnist_style_input_or_one_clear_error(array):
    try:
        prepared = preprocess(array)
    except ImageError as e:
        assert str(e)
        return
    assert prepared.pixels.shape == (784,)
    assert prepared.pixels.min() >= 0 and prepared.pixels.max() == pytest.approx(1.0)
    assert prepared.blobs >= 1


# ---------------------------------------------------------------------- real digits


# One test per kind of picture, so that they can run on different cores.
@pytest.mark.parametrize(("kind", "encoding"), [("png", "PNG"), ("jpeg", "JPEG"), ("rgba", "PNG")])
def test_photos_of_mnist_digits_read_like_the_digits(mnist, tmp_path, kind, encoding):
    """500 test digits the model gets right, photographed (3 ways): ≥ 97 % same answer."""
    training, _, test = mnist
    net = Network([784, 30, 10], seed=1)
    net.sgd(training, 5, 10, 3.0)
    model = save(net, tmp_path / "model.npz")
    right = np.flatnonzero(net.predict(test[0]) == test[1])[:500]
    rng = np.random.default_rng(7)
    (tmp_path / kind).mkdir()
    for i in right:
        digit = test[0][i].reshape(28, 28)
        make = photos.transparent if kind == "rgba" else photos.photograph
        suffix = "jpg" if kind == "jpeg" else "png"
        path = tmp_path / kind / f"{i:05d}.{suffix}"
        make(digit, rng).save(path, encoding, quality=85, compress_level=1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["predict", str(model), str(tmp_path / kind), "--json"])
    assert status == 0
    results = json.loads(out.getvalue())
    assert len(results) == len(right)
    labels = dict(zip(right.tolist(), test[1][right].tolist()))
    same = sum(r["digit"] == labels[int(r["file"][-9:-4])] for r in results)
    assert same / len(results) >= 0.97, (kind, same)


# ------------------------------------------------------------ identified before read (issue 15)


def test_files_over_the_size_limit_are_refused_before_reading(tmp_path):
    for size in (1 << 30, 30 << 30):  # sparse: no disk space, and nothing is read
        path = tmp_path / f"huge-{size}.png"
        with open(path, "wb") as f:
            f.truncate(size)
        with pytest.raises(ImageError, match=rf"huge-{size}\.png: {size:,} bytes, over the limit"):
            preprocess(path)


def test_devices_fifos_and_directories_are_refused_without_reading(tmp_path):
    with pytest.raises(ImageError, match="/dev/zero: is a device"):
        preprocess("/dev/zero")
    os.mkfifo(tmp_path / "pipe.png")  # opening it to read would wait for a writer forever
    with pytest.raises(ImageError, match=r"pipe\.png: is a FIFO"):
        preprocess(tmp_path / "pipe.png")
    with pytest.raises(ImageError, match="is a directory"):
        preprocess(tmp_path)


def test_formats_that_run_other_programs_are_not_tried(tmp_path):
    path = tmp_path / "digit.eps"
    path.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 28 28\nshowpage\n")
    with pytest.raises(ImageError, match=r"digit\.eps: not an image"):
        preprocess(path)


def test_decoding_is_refused_over_the_memory_limit_before_it_starts(tmp_path, monkeypatch):
    from neuraldigits.images import preprocess as module

    path = tmp_path / "big.png"
    Image.new("RGBA", (300, 200)).save(path)
    monkeypatch.setattr(module, "MAX_DECODED_BYTES", 100_000)
    with pytest.raises(ImageError, match=r"big\.png: refusing a 300×200 RGBA image: decoding it"):
        preprocess(path)


def test_errors_about_a_file_name_the_file_not_an_array(tmp_path):
    path = tmp_path / "clear.png"
    Image.new("RGBA", (40, 40), (0, 0, 0, 0)).save(path)
    with pytest.raises(ImageError, match=r"clear\.png: no ink found \(the picture is entirely"):
        preprocess(path)


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "1", "I;16"])
def test_large_pictures_are_reduced_before_becoming_arrays(mode):
    # 2,400 pixels a side: reduced by 2 in Pillow, then shrunk to WORK_SIZE as before.
    big = seven(2400)
    small = seven(1024)
    if mode == "RGBA":
        big = big.convert("RGBA")
    elif mode in ("P", "1"):
        big = big.convert(mode)
        small = small.convert(mode)
    elif mode == "I;16":
        big = Image.fromarray(np.asarray(big, dtype=np.uint16) * 257)
    assert close(preprocess(png_bytes(big)), preprocess(small), 0.05), mode


def test_a_rotated_large_jpeg_is_drafted_and_turned_upright():
    picture = seven(2400).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view"
    buffer = io.BytesIO()
    picture.rotate(90, expand=True).save(buffer, "JPEG", exif=exif, quality=90)
    assert close(preprocess(buffer.getvalue()), preprocess(seven(1024)), 0.05)


def test_a_chunk_declaring_gigabytes_is_not_allocated(tmp_path):
    """A 40-byte IDAT declaring 2 GB: Pillow once asked for all 2 GB before reading 40 bytes.

    Run under a small address-space limit in a child, so that an allocation of the
    declared size would fail there (a MemoryError) instead of passing unnoticed.
    """
    import subprocess
    import sys

    png = png_bytes(seven(40))
    at = png.index(b"IDAT") - 4
    (size,) = struct.unpack(">I", png[at : at + 4])
    bad = tmp_path / "liar.png"
    bad.write_bytes(png[:at] + struct.pack(">I", 0x7FFFFFFF) + png[at + 4 :])
    script = f"""
import os, resource
from neuraldigits.errors import ImageError
from neuraldigits.images.preprocess import preprocess
pages = int(open("/proc/self/statm").read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
resource.setrlimit(resource.RLIMIT_AS, (pages + (256 << 20),) * 2)
try:
    preprocess({str(bad)!r})
    print("read")
except ImageError as e:
    context = e.__context__
    while context is not None and not isinstance(context, MemoryError):
        context = context.__context__
    print("memory error" if context else "refused:", e)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    # Pillow reads the 40 bytes that are there: the picture is read (or refused), never
    # a MemoryError from asking for what the chunk declared.
    assert done.stdout == "read\n" or done.stdout.startswith("refused: "), done.stdout


def test_a_transparency_table_longer_than_the_palette_is_an_image_error(tmp_path):
    """Found by fuzz/fuzz_picture.py: Pillow decodes it, then fails converting it to RGBA."""
    png = png_bytes(seven(40).convert("P", palette=Image.Palette.ADAPTIVE, colors=2))
    table = bytes(300)
    chunk = struct.pack(">I", len(table)) + b"tRNS" + table
    chunk += struct.pack(">I", zlib.crc32(b"tRNS" + table))
    at = png.index(b"IEND") - 4
    path = tmp_path / "palette.png"
    path.write_bytes(png[:at] + chunk + png[at:])
    with pytest.raises(ImageError, match=r"palette\.png: corrupt image data"):
        preprocess(path)
