"""How well models read digits from outside MNIST, one row per kind of picture.

Trains two models with the `digits` CLI on full MNIST — the book's default ([784, 30,
10], quadratic cost, η = 3, 30 epochs, seed 1, as `digits train` makes it) and the same
with --augment — and scores them, and any model passed with --model NAME=PATH, on:

* the MNIST test set, for reference;
* MNIST test digits re-rendered as "photos" (tests/support/photos.py: dark ink on uneven
  light paper with noise and a colour cast, scaled up 3–8×, off-centre; saved as PNG,
  JPEG or transparent RGBA), read with neuraldigits.images.preprocess, and the same read
  naively (shrunk to 28×28 as they are, the book's way).  These are MNIST's own digits,
  so they measure robustness to photography only, not to other hands;
* the outside sets of tests/support/photos.py (``photos.SETS``): digits drawn with a pen
  from hand-made stroke paths, never from MNIST.  Each set stresses one way real digits
  differ from MNIST's: letterforms MNIST's writers rarely used (crossed 7, open 4,
  flat-topped 3, 1 with flag and foot, ...) with pens from biro to pencil; coarse
  low-resolution captures; marker and hairline strokes; strong slants, condensed and
  wide shapes; uneven paper and light.  Plus the older standard-form drawings.

Every set is balanced (digits 0–9 in turn) and made afresh from --seed: no picture is
stored and none is used in training.  A picture the preparation refuses ("no ink
found") counts as wrong.  Usage:

    NEURALDIGITS_DATA=/path/to/mnist python benchmarks/real_pictures.py
        [--pictures 500] [--photos 2000] [--epochs 30] [--seed 1] [--workdir DIR]
        [--model NAME=PATH ...]

Prints a Markdown table (rows: sets; columns: models).  Takes a few minutes on two cores.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from dataclasses import dataclass
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

PHOTOS_TITLE = "MNIST digits re-rendered — robustness to photography only"


@dataclass
class Prepared:
    """One set of pictures as the network sees them."""

    title: str
    inputs: np.ndarray  # (N, 784) prepared pixels; zeros where the picture was refused
    labels: np.ndarray  # (N,)
    read: np.ndarray  # (N,) bool: False where preprocess found no ink (counts as wrong)

    def scored(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What :func:`accuracy` takes: inputs, labels, read."""
        return self.inputs, self.labels, self.read


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


def prepare(title: str, pictures, labels) -> Prepared:
    """The pictures prepared MNIST-style; a refused picture counts as wrong."""
    inputs, read = [], []
    for picture in pictures:
        try:
            inputs.append(preprocess(picture).pixels)
            read.append(True)
        except ImageError:  # "no ink found": the user gets no answer
            inputs.append(np.zeros(PIXELS, dtype=np.float32))
            read.append(False)
    return Prepared(title, np.array(inputs), np.asarray(labels), np.array(read))


def naive(picture) -> np.ndarray:
    """The book's way: shrink the picture to 28×28 grey and scale to [0, 1]."""
    image = Image.open(io.BytesIO(picture)) if isinstance(picture, bytes) else picture
    return np.asarray(image.convert("L").resize((SIDE, SIDE)), dtype=np.float32).ravel() / 255


def outside_sets(count: int, seed: int) -> dict[str, Prepared]:
    """Every set of ``photos.SETS``, ``count`` pictures each, prepared."""
    sets = {}
    for name, chosen in photos.SETS.items():
        pictures, labels = photos.picture_set(name, count, seed)
        sets[name] = prepare(chosen.title, pictures, labels)
    return sets


def train_models(workdir: Path, epochs: int, seed: int) -> dict[str, Path]:
    """The default and --augment models, trained with `digits train` unless already in workdir."""
    models = {}
    for name, extra in {"default": [], "--augment": ["--augment"]}.items():
        out = workdir / f"{name.strip('-')}-e{epochs}-s{seed}.npz"
        if not out.exists():
            command = ["train", "--epochs", str(epochs), "--seed", str(seed), "--out", str(out)]
            if digits([*command, *extra]) != 0:
                raise SystemExit(f"training the {name} model failed")
        models[name] = out
    return models


def named_model(text: str) -> tuple[str, Path]:
    """``NAME=PATH`` from the command line."""
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {text!r}")
    return name, Path(path)


def arguments(description: str, photographs: bool = True) -> argparse.ArgumentParser:
    """The options this script shares with benchmarks/confidence.py."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--pictures", type=int, default=500, help="per outside set")
    if photographs:
        parser.add_argument("--photos", type=int, default=2000, help="re-rendered MNIST digits")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1, help="for training and for the pictures")
    parser.add_argument("--workdir", default=None, help="where to keep the trained models")
    parser.add_argument(
        "--model",
        type=named_model,
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="also score this model file (repeatable)",
    )
    return parser


def models_from(args) -> dict[str, Path]:
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="real-pictures-"))
    workdir.mkdir(parents=True, exist_ok=True)
    return {**train_models(workdir, args.epochs, args.seed), **dict(args.model)}


def accuracy(net, inputs: np.ndarray, labels: np.ndarray, read=True) -> float:
    return float(np.mean((net.predict(np.asarray(inputs)) == labels) & read))


def real_handwriting() -> Prepared | None:
    """Real handwriting from other writers: UCI's 8×8 digits (43 people; scikit-learn's
    ``load_digits``), each drawn dark on a white margin and blown up 8× as a PNG.
    None without scikit-learn (the svm and bench extras have it)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        return None
    digits = load_digits()
    pictures = []
    for image in digits.images:
        page = np.full((14, 14), 255, np.uint8)
        page[3:11, 3:11] = (255 - image / 16 * 255).astype(np.uint8)  # 0–16 ink levels
        buffer = io.BytesIO()
        Image.fromarray(page).resize((112, 112), Image.BILINEAR).save(buffer, "PNG")
        pictures.append(buffer.getvalue())
    return prepare(REAL_TITLE, pictures, digits.target)


REAL_TITLE = "real handwriting: UCI's 8×8 digits by 43 writers (scikit-learn), blown up"


def main() -> None:
    args = arguments(__doc__.split("\n")[0]).parse_args()
    models = {name: load(path) for name, path in models_from(args).items()}
    _, _, test = load_mnist(dtype=np.uint8)
    photo_files, photo_labels = make_photos(test, args.photos, np.random.default_rng(args.seed))
    photographed = prepare(PHOTOS_TITLE, photo_files, photo_labels)
    naive_inputs = np.array([naive(f) for f in photo_files])
    sets = outside_sets(args.pictures, args.seed)
    outside = list(sets.values())[:-1]  # the five new sets (not the standard-form drawings)

    rows = [  # (title, inputs, labels, read)
        ("MNIST test (10,000 digits, for reference)", *test, True),
        (f"{PHOTOS_TITLE} ({args.photos})", *photographed.scored()),
        (
            "… the same, read naively (the book's way: no preparation)",
            naive_inputs,
            photo_labels,
            True,
        ),
    ]
    for name, s in sets.items():
        refused = int(np.sum(~s.read))
        count = f"{len(s.labels)}" + (f", {refused} refused" if refused else "")
        rows.append((f"pen-drawn `{name}`: {s.title} ({count})", *s.scored()))
    together = [np.concatenate(parts) for parts in zip(*(s.scored() for s in outside))]
    rows.append((f"**the five new outside sets together** ({len(together[1])})", *together))
    real = real_handwriting()
    if real is not None:
        rows.append((f"{REAL_TITLE} ({len(real.labels):,})", *real.scored()))
    print(f"\nseed {args.seed}; models trained for {args.epochs} epochs\n")
    print("| pictures | " + " | ".join(f"`{name}`" for name in models) + " |")
    print("|---|" + "---|" * len(models))
    for title, *pictures in rows:
        cells = [f"{100 * accuracy(net, *pictures):.1f} %" for net in models.values()]
        print(f"| {title} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
