"""`digits predict`: read the digit in the user's own pictures (photos, scans, drawings)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ..confidence import MAX, MIN, check_min_confidence, confidence, is_unsure
from ..errors import ImageError, NeuralDigitsError
from ..extras import install_hint
from ..geometry import PIXELS, SIDE
from ..locations import default_model_path
from ..modelfile import load
from ..models import SHIPPED
from ..untrusted import open_regular
from ..wording import plural
from .common import positive_int, resolve_model
from .completion import FILE

HELP = "read the digit in your own pictures: photos, scans or drawings"
DESCRIPTION = (
    HELP + ".\n\nEach picture is prepared the way MNIST's digits were (ink bright on black, "
    "cropped,\nscaled into 20×20, centred by mass in 28×28), whatever its colours, size or "
    "position.\nPrints one line per picture, 'path: digit (output activation)'. A directory "
    "stands for\nthe pictures in it (with --recursive, in its subdirectories too); the files it "
    "skips\n(not pictures by their suffix, hidden, or subdirectories) are listed on stderr.\n\n"
    "MODEL is optional: the first argument is taken as the model when it is reader (the\n"
    "shipped reader), ends in .npz or is a .npz (zip) file, which no picture is; otherwise\n"
    "the model `digits train` saved by default is used if there is one, else the shipped\n"
    "reader, and stderr says which.\n\n"
    "Confidence: the strongest output activation minus the runner-up's (0 to 1). With\n"
    "--min-confidence P, a picture read with confidence below P gets 'unsure' instead of a\n"
    "digit: 'path: unsure (digit (activation); confidence C)'. --json always gives the\n"
    "confidence and an 'unsure' flag. docs/predict.md tabulates, for pictures from outside\n"
    "MNIST, how many answers each P keeps and how often those are right.\n\n"
    "--json prints one list, an entry per file in order, then the skipped files (docs/json.md):\n"
    "  file        the path\n"
    "  error       null, or why the picture could not be read (then no other fields but\n"
    "              skipped)\n"
    "  skipped     null, or why a file in a directory was not tried (not a picture, hidden,\n"
    "              a subdirectory without --recursive)\n"
    "  digit       the answer: the most active output neuron (the best guess, even if unsure)\n"
    "  outputs     the 10 output activations, digit 0 first\n"
    "  top         the K most active outputs as [digit, activation] pairs (K = --top)\n"
    "  blobs       separate blobs of ink found (one digit per picture is expected)\n"
    "  confidence  the strongest activation minus the runner-up's, 0 to 1\n"
    "  unsure      true when --min-confidence P was given and confidence < P\n"
    "The exit status is 1 when any picture could not be read."
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
        "%(prog)s [-h] [-q | -v] [--json] [--recursive] [--top K] [--min-confidence P] "
        "[--show-input OUT.png] [MODEL] IMAGE_OR_DIR [IMAGE_OR_DIR ...]"
    )
    paths = parser.add_argument(
        "paths",
        nargs="+",
        metavar="[MODEL] IMAGE_OR_DIR",
        help="an optional model: a file, or reader for the shipped reader (default: your model "
        f"{default_model_path()} if you have trained one, else the shipped reader), then "
        "pictures or directories of pictures",
    )
    paths.complete = FILE  # type: ignore[attr-defined]  # read by `digits completion`
    parser.add_argument(
        "--json",
        action="store_true",
        help="print a JSON list, one entry per file: {file, error, skipped, digit, outputs, "
        "top, blobs, confidence, unsure} (fields above) instead of lines",
    )
    parser.add_argument(
        "--recursive",
        "-r",
        action="store_true",
        help="read the pictures in a directory's subdirectories too (default: only the "
        "directory's own files)",
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
    console = args.console
    model, inputs = split_model(args.paths)
    model_path = resolve_model(model, "predict", console)
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
    files, skipped = find_pictures(inputs, recursive=args.recursive)
    if skipped:
        console.note(f"skipped {plural(len(skipped), 'file')} in the directories given:")
        for path, why in skipped:
            console.note(f"  {path}: {why}")
    if args.show_input and len(files) > MAX_SHOWN:
        raise NeuralDigitsError(
            f"--show-input shows at most {MAX_SHOWN} pictures, but {len(files)} were given"
        )
    preprocess, save_comparison = _image_tools()
    entries, shown, failures = [], [], 0
    for file in files:
        try:
            prepared = preprocess(file)
        except ImageError as e:
            print(f"digits predict: error: {e}", file=sys.stderr)
            entries.append({"file": str(file), "error": str(e), "skipped": None})
            failures += 1
            continue
        outputs = net.feedforward(prepared.pixels)
        entries.append(_result(file, outputs, prepared.blobs, args.top, args.min_confidence))
        shown.append((prepared, entries[-1]))
        if prepared.blobs > 1:
            console.warn(
                f"{file}: found {plural(prepared.blobs, 'separate blob')} of ink; expected "
                "one digit per picture"
            )
        console.result(_line(entries[-1]))
    if console.json_mode:
        entries += [{"file": str(path), "error": None, "skipped": why} for path, why in skipped]
        console.json(entries)
    if args.show_input and shown:
        captions = [f"{Path(r['file']).name}\n{_caption(r)}" for _, r in shown]
        path = save_comparison(args.show_input, [(p, c) for (p, _), c in zip(shown, captions)])
        console.note(f"wrote {path}")
    return 1 if failures else 0


def _image_tools():
    """The picture functions, which need the `images` extra (Pillow, SciPy)."""
    try:
        from ..images.preprocess import preprocess
        from ..images.showinput import save_comparison
    except ImportError as e:
        raise NeuralDigitsError(
            f"digits predict needs Pillow and SciPy ({e}), the images extra: "
            f"{install_hint('images')}"
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
    # open_regular, not open: opening a FIFO to peek at it would wait for a writer forever.
    try:
        with open_regular(path, "a model or a picture", ImageError) as f:
            return f.read(len(ZIP_SIGNATURE)) == ZIP_SIGNATURE
    except NeuralDigitsError:  # a directory, a FIFO, a missing file: reported as a picture
        return False


def list_pictures(inputs: list[str], recursive: bool = False) -> list[Path]:
    """The pictures named, with each directory replaced by its pictures in name order."""
    return find_pictures(inputs, recursive)[0]


def find_pictures(
    inputs: list[str], recursive: bool = False
) -> tuple[list[Path], list[tuple[Path, str]]]:
    """``(pictures, skipped)``: the files named, with each directory replaced by its
    pictures in name order (its subdirectories' too when ``recursive``), and the files
    in those directories that were not taken, each with the reason."""
    files: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for name in inputs:
        path = Path(name)
        if not path.is_dir():
            files.append(path)  # a missing or unreadable file is reported by preprocess
            continue
        found = _directory_pictures(path, recursive, skipped)
        if not found:
            raise ImageError(
                f"{path}: no pictures in this directory"
                + ("" if recursive else " (--recursive looks in its subdirectories too)")
                + f"; looked for {', '.join(sorted(IMAGE_SUFFIXES))}"
            )
        files.extend(found)
    return files, skipped


def _directory_pictures(
    directory: Path, recursive: bool, skipped: list[tuple[Path, str]]
) -> list[Path]:
    """The pictures in ``directory`` (walked when ``recursive``); the rest go to ``skipped``."""
    found = []
    try:
        entries = sorted(directory.iterdir())
    except OSError as e:
        skipped.append((directory, f"cannot list this directory ({e.strerror or e})"))
        return found
    for entry in entries:
        if entry.name.startswith("."):
            skipped.append((entry, "hidden"))
        elif entry.is_dir():
            if entry.is_symlink():  # could lead back up the tree: never followed
                skipped.append((entry, "a link to a directory (not followed)"))
            elif recursive:
                found.extend(_directory_pictures(entry, recursive, skipped))
            else:
                skipped.append((entry, "a subdirectory (--recursive reads it)"))
        elif not entry.is_file():
            skipped.append((entry, "not a regular file"))
        elif entry.suffix.lower() not in IMAGE_SUFFIXES:
            skipped.append((entry, f"not a picture (suffix {entry.suffix or '(none)'!r})"))
        else:
            found.append(entry)
    return found


def _result(
    file: Path, outputs: np.ndarray, blobs: int, top: int, min_confidence: float | None
) -> dict:
    order = np.argsort(-outputs, kind="stable")[:top]
    sure = confidence(outputs)
    return {
        "file": str(file),
        "error": None,
        "skipped": None,
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
