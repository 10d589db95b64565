"""Opening a file that may come from anywhere: a regular file, of a bounded size, or nothing.

A path given as a model, a data file or a picture may name a FIFO (opening it
for reading waits for a writer: forever), ``/dev/zero`` (endless bytes), a
directory, or a sparse file of 30 GB.  :func:`open_regular` opens without
blocking, checks what it opened with ``fstat`` (so nothing can swap the file
between check and use) and refuses, with the caller's error class and a
message naming the file, anything but a regular file of at most ``max_bytes``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from .errors import NeuralDigitsError


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "is a directory"
    if stat.S_ISFIFO(mode):
        return "is a FIFO (named pipe), not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a regular file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file"
    return "is not a regular file"


def open_regular(
    path: str | os.PathLike[str],
    what: str,
    error: type[NeuralDigitsError],
    max_bytes: int | None = None,
    not_found: str = "file not found",
) -> BinaryIO:
    """``path`` opened for binary reading, if it is a regular file of at most ``max_bytes``.

    ``what`` says what was expected ("a .npz model file"); ``error`` is the
    exception class to raise (``ModelFileError``, ``DataError``, ``ImageError``);
    ``not_found`` what to say when there is no such file.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise error(f"{path}: {not_found}") from None
    except IsADirectoryError:
        raise error(f"{path}: is a directory, expected {what}") from None
    except OSError as e:
        raise error(f"{path}: cannot open the file ({e.strerror or e})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{path}: {_kind(info.st_mode)}, expected {what}")
        if max_bytes is not None and info.st_size > max_bytes:
            raise error(
                f"{path}: {info.st_size:,} bytes, over the limit of {max_bytes:,} for {what}"
            )
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)  # an ordinary file from here on
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
