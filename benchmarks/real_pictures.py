"""How well models read real-looking pictures, with and without `digits train --augment`.

Trains three models with the `digits` CLI on full MNIST (the default recipe, and the
same with --augment and with --augment 3), then scores each on:

* the MNIST test set (10,000 prepared digits);
* MNIST test digits turned into "photos" (tests/support/photos.py: dark ink on uneven
  light paper with noise and a colour cast, scaled up 3–8×, off-centre; saved as
  PNG, JPEG or transparent RGBA), read with neuraldigits.images.preprocess — and, for
  comparison, read naively (shrunk to 28×28 as they are, the book's way);
* digits drawn with a pen from hand-made stroke paths (tests/support/photos.py, draw_digit):
  never seen in any form during training.

None of these pictures is used in training.  Usage:

    NEURALDIGITS_DATA=/path/to/mnist python benchmarks/real_pictures.py [--epochs 30]
        [--pictures 2000] [--workdir DIR]

Prints a Markdown table.  Takes a few minutes on two cores.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from neuraldigits.cli import main as digits
from neuraldigits.data.mnist import load_mnist
from neuraldigits.errors import ImageError
from neuraldigits.geometry import PIXELS, SIDE
from neuraldigits.images.preprocess import preprocess
from neuraldigits.modelfile import load

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support import photos  # noqa: E402  (the tests' picture maker: not shipped in the library)


def make_photos(test, count: int, rng: np.random.Generator) -> tuple[list[bytes], np.ndarray]:
    """``count`` test digits as PNG, JPEG and RGBA PNG files (in turn), and their labels."""
    images, labels = test
    chosen = rng.choice(len(labels), size=count, replace=False)
    files = []
    for k, i in enumerate(chosen):
        digit = images[i].reshape(SIDE, SIDE)
        kind = k % 3
        picture = photos.transparent(digit, rng) if kind == 2 else photos.photograph(digit, rng)
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG" if kind == 1 else "PNG", quality=85)
        files.append(buffer.getvalue())
    return files, labels[chosen]


def make_drawings(count: int, rng: np.random.Generator) -> tuple[list[Image.Image], np.ndarray]:
    labels = np.arange(count) % 10
    return [photos.draw_digit(int(label), rng) for label in labels], labels


def prepare(pictures) -> tuple[np.ndarray, np.ndarray]:
    """Prepared inputs (N, 784) and which were read; a refused picture counts as wrong."""
    inputs, read = [], []
    for picture in pictures:
        try:
            inputs.append(preprocess(picture).pixels)
            read.append(True)
        except ImageError:  # "no ink found": the user gets no answer
            inputs.append(np.zeros(PIXELS, dtype=np.float32))
            read.append(False)
    return np.array(inputs), np.array(read)


def naive(picture) -> np.ndarray:
    """The book's way: shrink the picture to 28×28 grey and scale to [0, 1]."""
    image = Image.open(io.BytesIO(picture)) if isinstance(picture, bytes) else picture
    return np.asarray(image.convert("L").resize((SIDE, SIDE)), dtype=np.float32).ravel() / 255


def accuracy(net, inputs: np.ndarray, labels: np.ndarray, read=True) -> float:
    return float(np.mean((net.predict(np.asarray(inputs)) == labels) & read))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--pictures", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", default=None, help="where to keep the trained models")
    args = parser.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="real-pictures-"))
    models = {"default": [], "--augment": ["--augment"], "--augment 3": ["--augment", "3"]}
    for name, extra in models.items():
        out = workdir / f"{name.strip('-').replace(' ', '')}.npz"
        if not out.exists():
            command = ["train", "--epochs", str(args.epochs), "--seed", str(args.seed)]
            if digits([*command, "--out", str(out), *extra]) != 0:
                raise SystemExit(f"training the {name} model failed")
        models[name] = out
    _, _, test = load_mnist(dtype=np.uint8)
    rng = np.random.default_rng(args.seed + 100)
    photo_files, photo_labels = make_photos(test, args.pictures, rng)
    drawings, drawing_labels = make_drawings(args.pictures, rng)
    prepared_photos, photos_read = prepare(photo_files)
    naive_photos = np.array([naive(f) for f in photo_files])
    prepared_drawings, drawings_read = prepare(drawings)
    naive_drawings = np.array([naive(d) for d in drawings])
    print(
        f"\n{args.pictures} photos of MNIST test digits ({np.sum(~photos_read)} refused as blank), "
        f"{args.pictures} pen drawings ({np.sum(~drawings_read)} refused):\n"
    )
    print("| model | MNIST test | photos | photos, naive | drawings | drawings, naive |")
    print("|---|---|---|---|---|---|")
    for name, path in models.items():
        net = load(path)
        row = [
            accuracy(net, test[0], test[1]),
            accuracy(net, prepared_photos, photo_labels, photos_read),
            accuracy(net, naive_photos, photo_labels),
            accuracy(net, prepared_drawings, drawing_labels, drawings_read),
            accuracy(net, naive_drawings, drawing_labels),
        ]
        print(f"| {name} | " + " | ".join(f"{100 * a:.2f} %" for a in row) + " |")


if __name__ == "__main__":
    main()
