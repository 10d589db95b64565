"""Atomic file writes: a reader sees the old file or the new one, never half of one.

The new contents go to a temporary file beside the destination, named
``.NAME.XXXXXXXX.tmp``, which is renamed over it once complete.  A writer
killed mid-write (kill -9, power loss) leaves that temporary file behind, so
every write first removes the stale ones of its destination: on POSIX each
writer holds an ``fcntl.flock`` on its temporary file for as long as it writes,
and a temporary file is stale only when nobody holds its lock (its writer is
dead) and it has not been touched for :data:`STALE_SECONDS`.  Another process's
file being written at that moment is never removed.  Without ``fcntl``
(Windows) nobody can tell a live writer's file from a dead one's, so nothing is
removed.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, so no cleanup (see above)
    fcntl = None  # type: ignore[assignment]

# A temporary file untouched for this long, and unlocked, belongs to a dead writer.
# The age closes the moment between a writer creating its file and locking it.
STALE_SECONDS = 10.0

_SUFFIX = ".tmp"


def _read_umask() -> int:
    # Linux shows the umask; elsewhere it can only be read by setting it, which for an
    # instant gives every other thread's new files a umask of 0.
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp creates files readable by their owner only; a saved model or plot should
# get the permissions of any other new file (0666 less the umask).  Read once, at import.
_NEW_FILE_MODE = 0o666 & ~_read_umask()


def _prefix(path: Path) -> str:
    return f".{path.name}."


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success rename it over ``path``.

    The temporary file lives in the same directory so that ``os.replace`` is a
    rename on one file system (atomic on POSIX and Windows).  If the body raises,
    the temporary file is removed and ``path`` is untouched.  Stale temporary
    files of ``path`` left by dead writers are removed first
    (:func:`remove_stale_temporaries`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=_prefix(path), suffix=_SUFFIX, dir=path.parent)
    try:
        try:
            if fcntl is not None:
                # Held until the file is renamed into place (or removed): while it is,
                # other writers' cleanup leaves this file alone.
                fcntl.flock(fd, fcntl.LOCK_EX)
            os.chmod(tmp, _NEW_FILE_MODE)
            f = os.fdopen(fd, mode)
        except BaseException:
            os.close(fd)  # not yet owned by a file object that would close it
            raise
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
            if fcntl is not None:
                os.replace(tmp, path)  # still open, so still locked
        if fcntl is None:
            os.replace(tmp, path)  # Windows cannot rename a file that is open
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable, so that a power cut cannot undo it (POSIX only:
    Windows cannot open a directory, and its renames need no such step)."""
    if fcntl is None:
        return
    with contextlib.suppress(OSError):  # a file system that cannot sync a directory
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def temporaries(path: str | os.PathLike[str]) -> list[Path]:
    """The temporary files of writes to ``path`` now present (live or stale), by name."""
    path = Path(path)
    prefix = _prefix(path)
    try:
        names = os.listdir(path.parent)
    except OSError:  # no such directory yet, or not readable: nothing of ours there
        return []
    return sorted(
        path.parent / name
        for name in names
        if name.startswith(prefix)
        and name.endswith(_SUFFIX)
        and len(name) > len(prefix) + len(_SUFFIX)
    )


def remove_stale_temporaries(
    path: str | os.PathLike[str], older_than: float = STALE_SECONDS
) -> list[Path]:
    """Remove the temporary files that dead writers left beside ``path``; return them.

    A file is removed only when its lock can be taken (no live process is
    writing it) and it was last modified more than ``older_than`` seconds ago.
    Without ``fcntl`` nothing is removed.  Files that cannot be opened, or that
    vanish meanwhile, are left to their owner.
    """
    if fcntl is None:
        return []
    removed = []
    for tmp in temporaries(path):
        with contextlib.suppress(OSError):
            if _remove_if_stale(tmp, older_than):
                removed.append(tmp)
    return removed


def _remove_if_stale(tmp: Path, older_than: float) -> bool:
    fd = os.open(tmp, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode) or time.time() - opened.st_mtime < older_than:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a live writer holds it
        # Still the file we locked, not a new one that took a dead one's name?
        current = os.stat(tmp, follow_symlinks=False)
        if (current.st_dev, current.st_ino) != (opened.st_dev, opened.st_ino):
            return False
        os.unlink(tmp)
        return True
    finally:
        os.close(fd)  # releases the lock
