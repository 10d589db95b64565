"""Where neuraldigits looks for data and keeps its default model.

Following the XDG base-directory convention (and its usual fallbacks), so a
user can move everything with environment variables:

* data: ``--data DIR`` / ``path`` argument, else ``$NEURALDIGITS_DATA``, else the
  cache directory ``$XDG_CACHE_HOME/neuraldigits/mnist`` (``~/.cache/...``).
* default model: ``$NEURALDIGITS_MODEL``, else
  ``$XDG_DATA_HOME/neuraldigits/model.npz`` (``~/.local/share/...``).
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "NEURALDIGITS_DATA"
MODEL_ENV = "NEURALDIGITS_MODEL"


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    # The XDG spec says relative values are invalid and must be ignored.
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / fallback


def cache_dir() -> Path:
    """The per-user cache directory for neuraldigits (downloads live here)."""
    return _xdg("XDG_CACHE_HOME", ".cache") / "neuraldigits"


def default_data_dir() -> Path:
    """Where downloaded MNIST files are cached."""
    return cache_dir() / "mnist"


def data_search_path(path: str | os.PathLike[str] | None = None) -> list[tuple[str, Path]]:
    """The places to look for data, in order, each with a note saying why.

    An explicit ``path`` wins outright: if the user named a directory we must
    not silently read a different one.
    """
    if path is not None:
        return [("given explicitly", Path(path))]
    places = []
    env = os.environ.get(DATA_ENV)
    if env:
        places.append((f"${DATA_ENV}", Path(env)))
    places.append(("per-user cache", default_data_dir()))
    return places


def default_model_path() -> Path:
    """The model `digits train` saves and other commands load by default."""
    env = os.environ.get(MODEL_ENV)
    if env:
        return Path(env)
    return _xdg("XDG_DATA_HOME", ".local/share") / "neuraldigits" / "model.npz"
