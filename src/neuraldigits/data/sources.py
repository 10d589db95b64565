"""Choosing the data for a run: the user's, else the cache, else a download, else the sample.

``load_data()`` is what ``digits train`` calls.  Its order, first match wins:

1. an explicit path: a directory with the four IDX files, or the book's
   ``mnist.pkl.gz`` — used exactly, never silently replaced;
2. ``$NEURALDIGITS_DATA``, then the per-user cache: the places of
   :func:`~neuraldigits.locations.data_search_path`, walked by
   :func:`~.mnist.search` (as :func:`~.mnist.locate` and ``digits data info``
   walk them), so a new place is added there and only there;
3. a verified download into the cache (when ``download`` is true);
4. the offline sample shipped in the package (:mod:`.sample`: 5,000 / 1,000 /
   1,000 MNIST digits, its test digits from MNIST's test file), with a
   ``notice`` saying so and how to get the full set.

It returns the data together with a one-line description of where it came
from, so the caller can tell the user, and each set's origin
(:mod:`.provenance`), so a model can record what it trained on and a score can
be checked against it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from ..locations import default_data_dir
from ..network import Dataset
from ..wording import plural
from .bookpickle import load_book_pickle
from .download import OFFICIAL, DownloadError, Log, Progress, download_mnist, sha256_of
from .mnist import _scale as scale
from .mnist import find_files, load_mnist, locate_place, search
from .provenance import Origin, mnist_origin, sample_origin
from .sample import read_sample

SPLITS = ("training", "validation", "test")
# The automatic download gives up on a mirror sooner than `digits data download` (30 s):
# offline, the run should fall back to the sample at once, not after minutes.
AUTO_DOWNLOAD_TIMEOUT = 10.0


@dataclass(frozen=True)
class LoadedData:
    """The three data sets and where they came from.

    ``source`` describes the data in one line; ``notice`` is set when the data
    is not what the user would expect (the small sample) and says why and how
    to get the full set.  ``origins`` maps "training", "validation" and "test" to
    each set's origin (:mod:`.provenance`).
    """

    training: Dataset
    validation: Dataset
    test: Dataset
    source: str
    is_sample: bool = False
    notice: str | None = None
    origins: dict[str, Origin] = field(default_factory=dict)


def load_data(
    path: str | os.PathLike[str] | None = None,
    *,
    dtype: Any = np.float32,
    download: bool = True,
    progress: Progress | None = None,
    log: Log | None = None,
) -> LoadedData:
    """The data for a run, chosen as the module docstring says.

    ``progress`` is passed to :func:`download.download_mnist`; ``log`` hears,
    in one line, that a download has started — only once a mirror answers, so
    that offline the sample's ``notice`` is the only message.
    """
    if path is not None:
        return _load_explicit(Path(path), dtype)
    for place in search():
        if place.complete:
            return _load_directory(place.directory, place.why, dtype)
    cache = default_data_dir()
    if not download:
        reason = f"no MNIST in {cache} and downloading was not allowed"
    else:
        try:
            download_mnist(
                cache, timeout=AUTO_DOWNLOAD_TIMEOUT, progress=_announced(progress, log, cache)
            )
        except DownloadError as e:
            reason = f"no MNIST in {cache}, and downloading it failed ({_why(e)})"
        else:
            return _load_directory(cache, "downloaded into the per-user cache", dtype)
    return _load_sample(reason, dtype)


def _announced(progress: Progress | None, log: Log | None, cache: Path) -> Progress | None:
    """``progress``, preceded by one ``log`` line when the first bytes arrive."""
    if log is None:
        return progress
    started = False

    def report(name: str, done: int, total: int) -> None:
        nonlocal started
        if not started:
            started = True
            log(f"no MNIST found; downloading it into {cache}")
        if progress:
            progress(name, done, total)

    return report


def _why(error: DownloadError) -> str:
    """Why the download failed, in a few words: the first mirror's answer."""
    if not error.failures:
        return str(error).splitlines()[0].rstrip(";: ")
    first = error.failures[0]
    return f"{plural(len(error.failures), 'mirror')} tried; the first: {first}"


def _load_explicit(path: Path, dtype: Any) -> LoadedData:
    if path.is_file():
        sets = load_book_pickle(path, dtype=dtype)
        origins = _content_origins("book pickle", sha256_of(path), sets)
        return _described(sets, f"the book's pickle {path}", origins)
    place = locate_place(path)  # only ``path``; refused, saying what is missing, if incomplete
    return _load_directory(place.directory, place.why, dtype)


def _load_directory(directory: Path, why: str, dtype: Any) -> LoadedData:
    sets = load_mnist(directory, dtype=dtype)
    return _described(
        sets, f"IDX files in {directory} ({why})", _directory_origins(directory, sets)
    )


def _directory_origins(directory: Path, sets: tuple[Dataset, ...]) -> dict[str, Origin]:
    """Ranges of the official files if all four are official MNIST, else content fingerprints.

    A file counts as official when its bytes are (gzipped or not): hashing the
    ~10 MB of a gzipped set takes a few hundredths of a second.
    """
    found, _ = find_files(directory)
    hashes = {key: sha256_of(path) for key, path in found.items()}
    if all(hashes[key] in (spec.sha256, spec.raw_sha256) for key, spec in OFFICIAL.items()):
        cut = len(sets[0][1])
        return {
            "training": mnist_origin("train", 0, cut),
            "validation": mnist_origin("train", cut, cut + len(sets[1][1])),
            "test": mnist_origin("test", 0, len(sets[2][1])),
        }
    return _content_origins("idx", "".join(hashes[key] for key in sorted(hashes)), sets)


def _content_origins(source: str, file_hash: str, sets: tuple[Dataset, ...]) -> dict[str, Origin]:
    """Origins known only by the files' hash and the split: equal sets, equal fingerprints."""
    origins = {}
    for split, (_, labels) in zip(SPLITS, sets):
        key = f"{file_hash}:{split}:{len(labels)}".encode()
        origins[split] = {"source": source, "fingerprint": hashlib.sha256(key).hexdigest()}
    return origins


def _load_sample(reason: str, dtype: Any) -> LoadedData:
    try:
        sample = read_sample()
    except DataError as e:
        raise DataError(
            f"{reason}, and the offline sample is not available either: {e}. "
            "Get MNIST with `digits data download` or point --data at a copy"
        ) from None
    sets = tuple((_scale(*sample.sets[split], dtype)) for split in SPLITS)
    origins = {split: sample_origin(sample, split) for split in SPLITS}
    loaded = _described(sets, f"the offline MNIST sample shipped in {sample.path.parent}", origins)
    sizes = " / ".join(f"{len(labels):,}" for _, labels in sets)
    notice = (
        f"{reason}. Using the offline sample shipped with neuraldigits instead: {sizes} "
        "training / validation / test digits of MNIST (its test digits from MNIST's test set; "
        "expect lower accuracy than on all 70,000). For the full set run "
        "`digits data download` when online, or use --data DIR"
    )
    return LoadedData(*sets, source=loaded.source, is_sample=True, notice=notice, origins=origins)


def _scale(images: np.ndarray, labels: np.ndarray, dtype: Any) -> Dataset:
    return scale(images, dtype), labels


def _described(sets: tuple[Dataset, ...], where: str, origins: dict[str, Origin]) -> LoadedData:
    sizes = " / ".join(f"{len(labels):,}" for _, labels in sets)
    return LoadedData(
        *sets, source=f"{where}: {sizes} training / validation / test images", origins=origins
    )
