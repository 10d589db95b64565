"""Choosing the data for a run: the user's, else the cache, else a download, else the sample.

``load_data()`` is what ``digits train`` calls.  Its order, first match wins:

1. an explicit path: a directory with the four IDX files, or the book's
   ``mnist.pkl.gz`` — used exactly, never silently replaced;
2. ``$NEURALDIGITS_DATA``, then the per-user cache: the places of
   :func:`~neuraldigits.locations.data_search_path`, walked by
   :func:`~.mnist.search` (as :func:`~.mnist.locate` and ``digits data info``
   walk them), so a new place is added there and only there;
3. a verified download into the cache (when ``download`` is true);
4. the offline 5,000-digit sample (:mod:`sample`), with a ``notice`` saying so
   and how to get the full set.

It returns the data together with a one-line description of where it came
from, so the caller can tell the user.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from ..locations import default_data_dir
from ..network import Dataset
from .bookpickle import load_book_pickle
from .download import DownloadError, Log, Progress, download_mnist
from .mnist import load_mnist, locate_place, search
from .sample import load_sample, locate_sample


@dataclass(frozen=True)
class LoadedData:
    """The three data sets and where they came from.

    ``source`` describes the data in one line; ``notice`` is set when the data
    is not what the user would expect (the small sample) and says why and how
    to get the full set.
    """

    training: Dataset
    validation: Dataset
    test: Dataset
    source: str
    is_sample: bool = False
    notice: str | None = None


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
    in one line, that a download is starting (its failures end up in ``notice``).
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
        if log:
            log(f"no MNIST found; downloading it into {cache}")
        try:
            download_mnist(cache, progress=progress)
        except DownloadError as e:
            reason = f"no MNIST in {cache} and the download failed ({_first_line(e)})"
        else:
            return _load_directory(cache, "downloaded into the per-user cache", dtype)
    return _load_sample(reason, dtype)


def _load_explicit(path: Path, dtype: Any) -> LoadedData:
    if path.is_file():
        sets = load_book_pickle(path, dtype=dtype)
        return _described(sets, f"the book's pickle {path}")
    place = locate_place(path)  # only ``path``; refused, saying what is missing, if incomplete
    return _load_directory(place.directory, place.why, dtype)


def _load_directory(directory: Path, why: str, dtype: Any) -> LoadedData:
    sets = load_mnist(directory, dtype=dtype)
    return _described(sets, f"IDX files in {directory} ({why})")


def _load_sample(reason: str, dtype: Any) -> LoadedData:
    try:
        path = locate_sample()
    except DataError as e:
        raise DataError(
            f"{reason}, and the offline sample is not available either: {e}. "
            "Get MNIST with `digits data download` or point --data at a copy"
        ) from None
    sets = load_sample(path, dtype=dtype)
    loaded = _described(sets, f"the 5,000-digit MNIST sample {path}")
    sizes = " / ".join(f"{len(labels):,}" for _, labels in sets)
    notice = (
        f"{reason}; using the 5,000-digit offline MNIST sample instead ({sizes} "
        "training / validation / test; expect lower accuracy). For the full 70,000 digits "
        "run `digits data download` when online, or use --data DIR"
    )
    return LoadedData(*sets, source=loaded.source, is_sample=True, notice=notice)


def _described(sets: tuple[Dataset, Dataset, Dataset], where: str) -> LoadedData:
    sizes = " / ".join(f"{len(labels):,}" for _, labels in sets)
    return LoadedData(*sets, source=f"{where}: {sizes} training / validation / test images")


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0].rstrip(";: ")
