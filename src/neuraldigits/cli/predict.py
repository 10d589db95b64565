"""`digits predict`: read the digit in the user's own pictures (photos, scans, drawings)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ..confidence import MAX, MIN, check_min_confidence, confidence, is_unsure
from ..errors import ImageError, NeuralDigitsError
from ..geometry import PIXELS, SIDE
from ..locations import default_model_path
from ..modelfile import load
from ..models import SHIPPED
from .common import positive_int, resolve_model

HELP = "read the digit in your own pictures: photos, scans or drawings"
DESCRIPTION = (
    HELP + ".\n\nEach picture is prepared the way MNIST's digits were (ink bright on black, "
    "cropped,\nscaled into 20×20, centred by mass in 28×28), whatever its colours, size or "
    "position.\nPrints one line per picture, 'path: digit (output activation)'. A directory "
    "stands for\nevery picture in it.\n\n"
    "MODEL is optional: the first argument is taken as the model when it ends in .npz or is\n"
    "a .npz (zip) file, which no picture is; otherwise the model `digits train` saved by\n"
    "default is used, and its path is printed on stderr.\n\n"
    "Confidence: the strongest output activation minus the runner-up's (0 to 1). With\n"
    "--min-confidence P, a picture read with confidence below P gets 'unsure' instead of a\n"
    "digit: 'path: unsure (digit (activation); confidence C)'. --json always gives the\n"
    "confidence and an 'unsure' flag. docs/predict.md tabulates, for pictures from outside\n"
    "MNIST, how many answers each P keeps and how often those are right."
)

# Pictures taken from a directory (named files are tried whatever their suffix).
IMAGE_SUFFIXES = {
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".bmp",
    ".tif",
    ".tiff",
    ".webp",
    ".pgm",
    ".ppm",
    ".pbm",
    ".pnm",
}
ZIP_SIGNATURE = b"PK\x03\x04"  # a .npz model is a zip archive
MAX_SHOWN = 100  # rows in a --show-input picture


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.usage = (
        "%(prog)s [-h] [--json] [--top K] [--min-confidence P] [--show-input OUT.png] "
        "[MODEL] IMAGE_OR_DIR [IMAGE_OR_DIR ...]"
    )
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="[MODEL] IMAGE_OR_DIR",
        help="an optional model: a file, or reader for the shipped reader (default: your model "
        f"{default_model_path()} if you have trained one, else the shipped reader), then "
        "pictures or directories of pictures",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print a JSON list of {file, digit, outputs, top, blobs, confidence, unsure} "
        "instead of lines",
    )
    parser.add_argument(
        "--top",
        type=positive_int,
        default=1,
        metavar="K",
        help="show the K most active output neurons for each picture",
    )
    parser.add_argument(
        "--min-confidence",
        type=min_confidence,
        default=None,
        metavar="P",
        help="answer 'unsure' instead of a digit when the confidence (the strongest output "
        f"activation minus the runner-up's) is below P, a number from {MIN:g} to {MAX:g} "
        "(default: off: always answer with a digit)",
    )
    parser.add_argument(
        "--show-input",
        metavar="OUT.png",
        default=None,
        help="also write a picture showing each original beside the 28×28 input the "
        "network saw (default: none)",
    )


def min_confidence(text: str) -> float:
    """``--min-confidence P``: a number from 0 to 1."""
    try:
        return check_min_confidence(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number from {MIN:g} to {MAX:g}, got {text!r}"
        ) from None


def run(args: argparse.Namespace) -> int:
    model, inputs = split_model(args.paths)
    model_path = resolve_model(model, "predict")
    if not inputs:
        raise NeuralDigitsError(f"no pictures given after the model {model_path}")
    net = load(model_path)
    if net.sizes[0] != PIXELS:
        raise NeuralDigitsError(
            f"{model_path}: the model takes {net.sizes[0]} inputs, but pictures are prepared "
            f"as {SIDE}×{SIDE} = {PIXELS} pixels"
        )
    if args.top > net.sizes[-1]:
        raise NeuralDigitsError(f"--top {args.top}: the model has only {net.sizes[-1]} outputs")
    files = list_pictures(inputs)
    if args.show_input and len(files) > MAX_SHOWN:
        raise NeuralDigitsError(
            f"--show-input shows at most {MAX_SHOWN} pictures, but {len(files)} were given"
        )
    preprocess, save_comparison = _image_tools()
    results, shown, failures = [], [], 0
    for file in files:
        try:
            prepared = preprocess(file)
        except ImageError as e:
            print(f"digits predict: error: {e}", file=sys.stderr)
            failures += 1
            continue
        outputs = net.feedforward(prepared.pixels)
        results.append(_result(file, outputs, prepared.blobs, args.top, args.min_confidence))
        shown.append((prepared, results[-1]))
        if prepared.blobs > 1:
            print(
                f"digits predict: warning: {file}: found {prepared.blobs} separate blobs of "
                "ink; expected one digit per picture",
                file=sys.stderr,
            )
        if not args.json:
            print(_line(results[-1]), flush=True)
    if args.json:
        print(json.dumps(results, indent=1))
    if args.show_input and shown:
        captions = [f"{Path(r['file']).name}\n{_caption(r)}" for _, r in shown]
        path = save_comparison(args.show_input, [(p, c) for (p, _), c in zip(shown, captions)])
        print(f"digits predict: wrote {path}", file=sys.stderr)
    return 1 if failures else 0


def _image_tools():
    """The picture functions, which need the `images` extra (Pillow, SciPy)."""
    try:
        from ..images.preprocess import preprocess
        from ..images.showinput import save_comparison
    except ImportError as e:
        raise NeuralDigitsError(
            f"digits predict needs Pillow and SciPy ({e}); install them with "
            "pip install 'neuraldigits[images]'"
        ) from None
    return preprocess, save_comparison


def split_model(paths: list[str]) -> tuple[str | None, list[str]]:
    """``(model, pictures)``: the first path is the model iff it names a shipped model
    (``reader``), or is a .npz name or a zip file."""
    first = paths[0]
    if first in SHIPPED or Path(first).suffix.lower() == ".npz" or _starts_like_zip(Path(first)):
        return first, paths[1:]
    return None, paths


def _starts_like_zip(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(ZIP_SIGNATURE)) == ZIP_SIGNATURE
    except OSError:  # a directory, a missing file: not a model; reported later as a picture
        return False


def list_pictures(inputs: list[str]) -> list[Path]:
    """The pictures named, with each directory replaced by its pictures in name order."""
    files = []
    for name in inputs:
        path = Path(name)
        if path.is_dir():
            found = sorted(
                p
                for p in path.iterdir()
                if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
            )
            if not found:
                raise ImageError(
                    f"{path}: no pictures in this directory (looked for "
                    f"{', '.join(sorted(IMAGE_SUFFIXES))})"
                )
            files.extend(found)
        else:
            files.append(path)  # a missing or unreadable file is reported by preprocess
    return files


def _result(
    file: Path, outputs: np.ndarray, blobs: int, top: int, min_confidence: float | None
) -> dict:
    order = np.argsort(-outputs, kind="stable")[:top]
    sure = confidence(outputs)
    return {
        "file": str(file),
        "digit": int(order[0]),  # the best guess, even when unsure
        "outputs": [round(float(a), 6) for a in outputs],
        "top": [[int(k), round(float(outputs[k]), 6)] for k in order],
        "blobs": blobs,
        "confidence": round(sure, 6),
        "unsure": is_unsure(sure, min_confidence),
    }


def _line(result: dict) -> str:
    return f"{result['file']}: {_caption(result)}"


def _caption(result: dict) -> str:
    answers = ", ".join(f"{digit} ({activation:.2f})" for digit, activation in result["top"])
    if result["unsure"]:
        return f"unsure ({answers}; confidence {result['confidence']:.2f})"
    return answers
