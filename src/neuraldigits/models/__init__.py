"""Models that ship inside the package, by name.

* ``reader``: the digit reader, trained by ``digits train --recipe reader``
  (:mod:`neuraldigits.recipes`); its metadata records the recipe, the seed and
  its scores.  ``digits predict`` and ``digits serve`` use it when you have not
  trained a model of your own, and any command takes ``reader`` where a MODEL
  file goes.

Package data only: this module finds the files; :func:`neuraldigits.modelfile.load`
reads them like any model file (and checks them as strictly).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..errors import ModelFileError

SHIPPED = ("reader",)


def _location(name: str) -> Path:
    return Path(str(resources.files(__package__) / f"{name}.npz"))


def shipped_name(path: str | Path) -> str | None:
    """The name of the shipped model at ``path``, or None if it is not one."""
    for name in SHIPPED:
        if Path(path).resolve() == _location(name).resolve():
            return name
    return None


def shipped_model(name: str) -> Path:
    """The path of the shipped model ``name`` (one of :data:`SHIPPED`)."""
    if name not in SHIPPED:
        raise ModelFileError(f"no shipped model named {name!r}; shipped: {', '.join(SHIPPED)}")
    path = _location(name)
    if not path.is_file():
        raise ModelFileError(
            f"the shipped model {name!r} is missing from this installation ({path}); "
            "reinstall neuraldigits, or train one: digits train --recipe reader"
        )
    return path
