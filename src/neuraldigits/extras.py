"""How to install an optional part of neuraldigits, as a command that works for this copy.

neuraldigits is installed from a checkout, not from PyPI, so the usual hint,
``pip install "neuraldigits[web]"``, fails.  :func:`install_hint` builds one
that works from how this copy was installed:

* from a checkout, whose directory pip records (PEP 610's ``direct_url.json``):
  ``pip install "/path/to/checkout[web]"`` (``-e`` for an editable install);
* otherwise the extra's own requirements, read from the installed metadata:
  ``pip install "fastapi>=0.100" "uvicorn>=0.23" ...``;
* and, with no metadata at all (running from a source tree), the checkout form
  ``pip install ".[web]"``, run in the checkout.
"""

from __future__ import annotations

import json
import re
import shlex
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

DISTRIBUTION = "neuraldigits"
_EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")
_SELF = re.compile(rf"^{DISTRIBUTION}\[([^\]]+)\]")


def install_hint(extra: str) -> str:
    """A pip command that installs the ``extra`` of this neuraldigits, e.g. for "web"."""
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return f'pip install ".[{extra}]" (in a checkout of {DISTRIBUTION})'
    checkout = _checkout(dist)
    if checkout is not None:
        directory, editable = checkout
        return "pip install " + ("-e " if editable else "") + shlex.quote(f"{directory}[{extra}]")
    requirements = _requirements(dist.requires or [], extra)
    if requirements:
        return "pip install " + " ".join(shlex.quote(r) for r in requirements)
    return f'pip install ".[{extra}]" (in a checkout of {DISTRIBUTION})'


def _checkout(dist: metadata.Distribution) -> tuple[str, bool] | None:
    """The directory this copy was installed from, and whether editably; None if unknown."""
    try:
        record = json.loads(dist.read_text("direct_url.json") or "null")
    except json.JSONDecodeError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("dir_info"), dict):
        return None  # installed from an archive or a VCS URL, not a directory
    url = urlparse(str(record.get("url", "")))
    directory = Path(unquote(url.path))
    if url.scheme != "file" or not (directory / "pyproject.toml").is_file():
        return None  # the checkout has moved or gone
    return str(directory), bool(record["dir_info"].get("editable"))


def _requirements(requires: list[str], extra: str, seen: frozenset[str] = frozenset()) -> list[str]:
    """The requirements ``extra`` adds, with extras it names (``neuraldigits[numba]``) expanded."""
    found: list[str] = []
    for line in requires:
        requirement, _, marker = line.partition(";")
        match = _EXTRA_MARKER.search(marker)
        if not match or match.group(1) != extra:
            continue
        requirement = requirement.strip()
        nested = _SELF.match(requirement)
        if nested:
            for name in nested.group(1).split(","):
                if name.strip() not in seen | {extra}:
                    found += _requirements(requires, name.strip(), seen | {extra})
        elif requirement not in found:
            found.append(requirement)
    return list(dict.fromkeys(found))
