"""Which images a data set holds, so a model is never silently scored on what it trained on.

An *origin* is a small JSON-ready dict describing one set (training, validation
or test) of a run's data.  A model file keeps its training set's origin
(``training.images`` in its metadata), and ``digits evaluate``/``plot`` compare it
with the origin of the images they score on:

* ``{"source": "mnist", "file": "train", "start": 0, "stop": 50000}`` — a range
  of the official MNIST training (``"train"``) or test (``"test"``) file;
* ``{"source": "sample", "file": "train", "split": "training", "fingerprint": …}``
  — a split of the shipped offline sample (:mod:`.sample`), whose digits' places
  in the official files the sample records;
* ``{"source": "book pickle" | "idx", "fingerprint": …}`` — other data, known only
  by its content.

:func:`overlap` says how many images two origins share, when that can be known.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import DataError
from ..wording import plural
from .sample import SOURCE_FILE, Sample, read_sample

Origin = dict[str, Any]
FILE_NAMES = {"train": "training", "test": "test"}


def mnist_origin(file: str, start: int, stop: int) -> Origin:
    """Images ``start``..``stop - 1`` of the official MNIST ``file`` ("train" or "test")."""
    return {"source": "mnist", "file": file, "start": start, "stop": stop}


def sample_origin(sample: Sample, split: str) -> Origin:
    """One split of the offline sample."""
    return {
        "source": "sample",
        "file": SOURCE_FILE[split],
        "split": split,
        "fingerprint": sample.fingerprint(split),
    }


def mnist_images(origin: Origin | None) -> tuple[str, NDArray[np.int64]] | None:
    """``(file, indices)``: the official MNIST images ``origin`` holds, or None if unknown."""
    if not isinstance(origin, dict):
        return None
    if origin.get("source") == "mnist":
        start, stop = origin.get("start"), origin.get("stop")
        if origin.get("file") in FILE_NAMES and isinstance(start, int) and isinstance(stop, int):
            return origin["file"], np.arange(start, stop)
    if origin.get("source") == "sample" and origin.get("split") in SOURCE_FILE:
        try:
            sample = read_sample()
        except DataError:
            return None
        if sample.fingerprint(origin["split"]) == origin.get("fingerprint"):
            return SOURCE_FILE[origin["split"]], sample.indices[origin["split"]]
    return None


def overlap(trained_on: Origin | None, scored_on: Origin | None) -> str | None:
    """Why a score is not on held-out images, in a sentence; None when it is, or is unknown.

    ``trained_on`` is a model's training-set origin, ``scored_on`` the origin of
    the images it is scored on.
    """
    trained, scored = mnist_images(trained_on), mnist_images(scored_on)
    if trained and scored:
        if trained[0] != scored[0]:
            return None
        shared = np.intersect1d(trained[1], scored[1], assume_unique=True)
        if len(shared) == 0:
            return None
        return (
            f"the model was trained on {len(shared):,} of these {len(scored[1]):,} images "
            f"({describe(trained_on)} and {describe(scored_on)} share MNIST "
            f"{FILE_NAMES[scored[0]]} digits {_ranges(shared)}), so this score overstates "
            "its accuracy on new digits"
        )
    fingerprints = [o.get("fingerprint") if isinstance(o, dict) else None
                    for o in (trained_on, scored_on)]  # fmt: skip
    if fingerprints[0] and fingerprints[0] == fingerprints[1]:
        return (
            f"the model was trained on exactly these images ({describe(scored_on)}), so this "
            "score overstates its accuracy on new digits"
        )
    return None


def describe(origin: Origin | None) -> str:
    """An origin in a few words, e.g. "MNIST training digits 0–49,999"."""
    if not isinstance(origin, dict):
        return "unknown images"
    source = origin.get("source")
    if source == "mnist" and mnist_images(origin):
        return (
            f"MNIST {FILE_NAMES[origin['file']]} digits {origin['start']:,}–{origin['stop'] - 1:,}"
        )
    if source == "sample":
        return f"the offline sample's {origin.get('split')} digits"
    return f"images from {source or 'an unknown source'}"


def _ranges(indices: NDArray[np.int64], most: int = 3) -> str:
    """Sorted indices as a few ranges: "0–4,999" or "12, 40–45, 90 and 17 more"."""
    breaks = np.flatnonzero(np.diff(indices) != 1) + 1
    runs = [(int(run[0]), int(run[-1])) for run in np.split(indices, breaks)]
    shown = [f"{a:,}" if a == b else f"{a:,}–{b:,}" for a, b in runs[:most]]
    more = len(runs) - most
    return ", ".join(shown) + (f" and {plural(more, 'more run')}" if more > 0 else "")
