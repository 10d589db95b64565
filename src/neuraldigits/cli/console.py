"""Where the command line's words go: one mechanism for ``-q``, ``-v`` and ``--json``.

A command says five kinds of things, and :class:`Console` sends each to its place:

========== ================================ ========= ========= ========= ===========
kind       examples                         normal    ``-q``    ``-v``    ``--json``
========== ================================ ========= ========= ========= ===========
result     "9538 / 10000 (95.38 %)"         stdout    stdout    stdout    the JSON
commentary "Data: ...", epoch lines         stdout    (none)    stdout    stderr
note       "using your model ..."           stderr    (none)    stderr    stderr
detail     data paths, trainer, timings     (none)    (none)    stderr    (with -v)
warning    "warning: ...", a NOTICE         stderr    stderr    stderr    stderr
========== ================================ ========= ========= ========= ===========

With ``--json`` the result is one JSON document on stdout (:meth:`Console.json`),
in place of the result lines.  ``-q`` and ``-v`` exclude each other.

Commentary is whatever a command ``print()``-s to stdout: :func:`redirected`
points ``sys.stdout`` at the right stream while the command runs, so a line
printed anywhere (by any subcommand, now or later) obeys ``-q`` and ``--json``,
and stdout under ``--json`` holds nothing but the document.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
from collections.abc import Iterator
from typing import IO, Any

QUIET, NORMAL, VERBOSE = -1, 0, 1


class Console:
    """The streams of one command run, chosen by its verbosity and ``--json``."""

    def __init__(
        self, command: str, verbosity: int = NORMAL, json_mode: bool = False,
        out: IO[str] | None = None, err: IO[str] | None = None,
    ) -> None:  # fmt: skip
        self.command = command
        self.verbosity = verbosity
        self.json_mode = json_mode
        self.out = out if out is not None else sys.stdout  # the real stdout, for results
        self.err = err if err is not None else sys.stderr

    @property
    def quiet(self) -> bool:
        return self.verbosity <= QUIET

    @property
    def verbose(self) -> bool:
        return self.verbosity >= VERBOSE

    def commentary_stream(self) -> IO[str] | None:
        """Where commentary goes: stdout, stderr under ``--json``, nowhere with ``-q``."""
        if self.quiet:
            return None
        return self.err if self.json_mode else self.out

    def result(self, text: str) -> None:
        """A line of the command's result (none with ``--json``: the document holds it)."""
        if not self.json_mode:
            _write(self.out, text)

    def say(self, text: str) -> None:
        """Commentary: what the command is doing (the same as a plain ``print()``)."""
        stream = self.commentary_stream()
        if stream is not None:
            _write(stream, text)

    def note(self, text: str) -> None:
        """A remark on stderr, prefixed with the command, that ``-q`` silences."""
        if not self.quiet:
            _write(self.err, f"digits {self.command}: {text}")

    def detail(self, text: str) -> None:
        """Extra detail on stderr, shown only with ``-v``."""
        if self.verbose:
            _write(self.err, f"digits {self.command}: {text}")

    def warn(self, text: str) -> None:
        """A warning on stderr, shown whatever the verbosity."""
        _write(self.err, f"digits {self.command}: warning: {text}")

    def json(self, document: Any) -> None:
        """The command's one JSON document on stdout (see docs/json.md).

        Non-finite numbers become null (JSON has no NaN), so the output always parses.
        """
        _write(self.out, dumps(document))


def dumps(document: Any) -> str:
    """``document`` as strict JSON: NaN and ±infinity become null, never bare ``NaN``."""
    return json.dumps(finite(document), indent=1, allow_nan=False, ensure_ascii=False)


def finite(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None, and numpy scalars and
    tuples made plain, recursively."""
    if isinstance(value, dict):
        return {str(k): finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # a numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _write(stream: IO[str], text: str) -> None:
    print(text, file=stream, flush=True)


@contextlib.contextmanager
def redirected(console: Console) -> Iterator[None]:
    """Point ``sys.stdout`` at the console's commentary stream while a command runs."""
    stream = console.commentary_stream()
    if stream is console.out:
        yield
        return
    with contextlib.ExitStack() as stack:
        if stream is None:
            stream = stack.enter_context(open(os.devnull, "w", encoding="utf-8"))
        stack.enter_context(contextlib.redirect_stdout(stream))
        yield


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    """``--json``: the command's result as one JSON document on stdout."""
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the result as one JSON document on stdout (fields: docs/json.md); "
        "the usual lines go to stderr",
    )
