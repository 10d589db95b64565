"""Atomic writes, and the safe removal of temporary files that dead writers left behind."""

import os
import signal
import subprocess
import sys
import time

import pytest

from neuraldigits import atomic
from neuraldigits.atomic import atomic_write, remove_stale_temporaries, temporaries

needs_flock = pytest.mark.skipif(atomic.fcntl is None, reason="no fcntl: cleanup is off")

# A writer in another process: it opens its temporary file, writes, says so, then waits
# for its stdin to close before finishing the write (or is killed meanwhile).
WRITER = """
import sys
from neuraldigits.atomic import atomic_write
with atomic_write(sys.argv[1]) as f:
    f.write(b"from the other process")
    f.flush()
    print("writing", flush=True)
    sys.stdin.read()
"""


def writer(path):
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdout.readline() == "writing\n"  # its temporary file exists and is locked
    return child


def age(path, seconds=3600):
    """Make ``path`` look untouched for ``seconds``, so that only its lock can protect it."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "m.npz"
    for text in (b"old", b"new"):
        with atomic_write(path) as f:
            f.write(text)
    assert path.read_bytes() == b"new" and temporaries(path) == []


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "m.npz"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_write(path) as f:
        f.write(b"half")
        raise RuntimeError
    assert path.read_bytes() == b"old" and temporaries(path) == []


@needs_flock
def test_a_write_failing_before_its_body_closes_the_temporary_file(tmp_path, monkeypatch):
    opened = []
    real_mkstemp = atomic.tempfile.mkstemp

    def mkstemp(**kwargs):
        fd, name = real_mkstemp(**kwargs)
        opened.append(fd)
        return fd, name

    def chmod(path, mode):
        raise PermissionError(1, "Operation not permitted")  # e.g. a file system without modes

    monkeypatch.setattr(atomic.tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(atomic.os, "chmod", chmod)
    with pytest.raises(PermissionError), atomic_write(tmp_path / "model.npz") as f:
        f.write(b"never")
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []
    with pytest.raises(OSError):  # the descriptor was closed, not leaked
        os.fstat(opened[0])


def test_the_umask_is_read_as_set():
    previous = os.umask(0o027)
    try:
        assert atomic._read_umask() == 0o027
    finally:
        os.umask(previous)


def test_stale_temporaries_go_young_ones_and_other_files_stay(tmp_path):
    path = tmp_path / "m.npz"
    stale = tmp_path / ".m.npz.k3j9x_2a.tmp"  # as an older version, or a killed writer, left it
    young = tmp_path / ".m.npz.q8w7e6r5.tmp"  # just created: its writer may not hold the lock yet
    other = tmp_path / ".n.npz.k3j9x_2a.tmp"  # another destination's
    for name in (stale, young, other):
        name.write_bytes(b"half a model")
    age(stale)
    age(other)
    with atomic_write(path) as f:
        f.write(b"model")
    assert not stale.exists() and young.exists() and other.exists()
    assert path.read_bytes() == b"model"


@needs_flock
def test_a_live_writers_file_survives_and_a_killed_ones_is_removed(tmp_path):
    path = tmp_path / "m.npz"
    live = writer(path)
    try:
        (tmp,) = temporaries(path)
        age(tmp)  # as old as can be: only its lock says it is alive
        assert remove_stale_temporaries(path) == []
        with atomic_write(path) as f:  # another write meanwhile: ours lands, theirs goes on
            f.write(b"ours")
        assert tmp.exists() and path.read_bytes() == b"ours"
    finally:
        live.communicate("")
    assert live.returncode == 0 and path.read_bytes() == b"from the other process"
    assert temporaries(path) == []

    dead = writer(path)
    dead.send_signal(signal.SIGKILL)
    dead.communicate()  # waits, and closes its pipes (else a ResourceWarning, an error here)
    (tmp,) = temporaries(path)  # a dead writer's file, left behind
    # Too recent to be sure (an hour's threshold, so a slow machine cannot age it past it).
    assert remove_stale_temporaries(path, older_than=3600) == []
    age(tmp)
    assert remove_stale_temporaries(path) == [tmp] and not tmp.exists()
    assert path.read_bytes() == b"from the other process"


def test_without_fcntl_nothing_is_removed_and_writes_still_work(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic, "fcntl", None)
    path = tmp_path / "m.npz"
    stale = tmp_path / ".m.npz.k3j9x_2a.tmp"
    stale.write_bytes(b"half")
    age(stale)
    with atomic_write(path) as f:
        f.write(b"model")
    assert path.read_bytes() == b"model" and stale.exists()
