"""`digits train` killed any way at all: kill -9 loses at most the epoch in progress, --resume
ends exactly as the run never interrupted, SIGTERM saves like Ctrl-C, and no file is corrupt."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from support.data import write_mnist_dir

from neuraldigits.atomic import temporaries
from neuraldigits.cli import main
from neuraldigits.modelfile import load
from neuraldigits.network import Network
from neuraldigits.training.checkpoint import load_checkpoint

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

BOOK = ("--sizes", "784,16,10", "--epochs", "5")
CHAPTER_3 = ("--sizes", "784,16,10", "--epochs", "8", "--eta", "0.5", "--cost",
             "cross-entropy", "--init", "scaled", "--lmbda", "1", "--momentum", "0.5",
             "--eta-schedule", "1")  # fmt: skip

# `digits train` in a child process that blocks, forever, at a chosen point, so the test can
# kill it there: in the Nth call of Network.score (sgd scores test then validation after each
# epoch's training, so call 2k + 1 is epoch k's, after its training and before its
# checkpoint), or in the Nth checkpoint write, with its temporary file written but not
# renamed into place.  It creates MARKER once blocked.
CHILD = """
import contextlib, os, sys, time
from neuraldigits.cli import main
from neuraldigits.network import Network
import neuraldigits.training.checkpoint as checkpoint

where, n = os.environ["BLOCK_IN"], int(os.environ["BLOCK_AT"])
calls = 0

def block():
    global calls
    calls += 1
    if calls == n:
        open(os.environ["MARKER"], "w").close()
        while True:
            time.sleep(1)

score, write = Network.score, checkpoint.atomic_write

def blocking_score(self, *args, **kwargs):
    block()
    return score(self, *args, **kwargs)

@contextlib.contextmanager
def blocking_write(path, mode="wb"):
    with write(path, mode) as f:
        yield f
        f.flush()
        block()

if where == "score":
    Network.score = blocking_score
else:
    checkpoint.atomic_write = blocking_write
sys.exit(main(sys.argv[1:]))
"""


def start_blocked(tmp_path, argv, block_in, block_at):
    """The child, once blocked (generous wait: it is only slow on a busy machine)."""
    marker = tmp_path / "blocked"
    marker.unlink(missing_ok=True)
    env = dict(os.environ, BLOCK_IN=block_in, BLOCK_AT=str(block_at), MARKER=str(marker))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, *argv], env=env, cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not marker.exists():
        if child.poll() is not None or time.monotonic() > deadline:
            child.kill()
            pytest.fail(f"the child never blocked: {child.communicate()}")
        time.sleep(0.05)
    return child


def train_argv(data, out, options, *more):
    return ["train", "--data", str(data), "--out", str(out), *options, *more]


def train(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def assert_same_run(model, reference):
    """Same arrays to the bit, same history but for the timings, same settings."""
    a, b = load(model), load(reference)
    for x, y in zip(a.weights + a.biases, b.weights + b.biases):
        assert x.dtype == y.dtype and x.tobytes() == y.tobytes()

    def untimed(net):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in net.metadata["history"]]

    assert untimed(a) == untimed(b) and a.metadata["best_epoch"] == b.metadata["best_epoch"]
    assert a.metadata["training"] == b.metadata["training"]


@pytest.fixture
def reference(tiny_mnist_dir, tmp_path, capsys):
    """The uninterrupted runs' models, by options."""

    def run(options):
        out = tmp_path / f"reference-{len(options)}.npz"
        code, _, err = train(capsys, train_argv(tiny_mnist_dir, out, options, "--seed", "4"))
        assert code == 0, err
        return out

    return run


@pytest.mark.parametrize("options", [BOOK, CHAPTER_3], ids=["book", "chapter-3"])
def test_kill_9_loses_only_the_epoch_in_progress_and_resume_ends_as_never_killed(
    tiny_mnist_dir, tmp_path, capsys, reference, options
):
    expected = reference(options)
    out = tmp_path / "m.npz"
    argv = train_argv(tiny_mnist_dir, out, options, "--seed", "4")
    child = start_blocked(tmp_path, argv, "score", 2 * 3 + 1)  # epoch 3 trained, not saved
    child.send_signal(signal.SIGKILL)
    child.communicate()
    assert load_checkpoint(tmp_path / "m.ckpt.npz").next_epoch == 3  # epochs 0-2 kept
    assert not out.exists()
    # The same command with --resume; without --seed, the checkpoint's.
    code, printed, err = train(capsys, train_argv(tiny_mnist_dir, out, options, "--resume"))
    assert code == 0, err
    assert "Resuming from" in printed and "3 of" in printed and "Epoch 3:" in printed
    assert "Epoch 2:" not in printed
    assert_same_run(out, expected)
    assert load_checkpoint(tmp_path / "m.ckpt.npz").finished


def test_kill_9_while_writing_the_checkpoint_keeps_the_last_one_and_its_leftover_goes(
    tiny_mnist_dir, tmp_path, capsys, reference
):
    expected = reference(BOOK)
    out = tmp_path / "m.npz"
    argv = train_argv(tiny_mnist_dir, out, BOOK, "--seed", "4")
    child = start_blocked(tmp_path, argv, "write", 3)  # epoch 2's checkpoint, not yet in place
    child.send_signal(signal.SIGKILL)
    child.communicate()
    checkpoint = tmp_path / "m.ckpt.npz"
    assert load_checkpoint(checkpoint).next_epoch == 2
    (leftover,) = temporaries(checkpoint)  # a whole checkpoint, never renamed into place
    then = time.time() - 3600  # as if the kill were long ago: nobody holds its lock
    os.utime(leftover, (then, then))
    code, _, err = train(capsys, train_argv(tiny_mnist_dir, out, BOOK, "--resume"))
    assert code == 0, err
    assert_same_run(out, expected)
    assert temporaries(checkpoint) == [] and temporaries(out) == []


def test_sigterm_saves_like_ctrl_c_and_resume_ends_as_never_stopped(
    tiny_mnist_dir, tmp_path, capsys, reference
):
    expected = reference(BOOK)
    out = tmp_path / "m.npz"
    argv = train_argv(tiny_mnist_dir, out, BOOK, "--seed", "4")
    child = start_blocked(tmp_path, argv, "score", 2 * 2 + 1)  # in epoch 2
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 143, err
    assert "Interrupted after 2 epochs; saved the best model so far (epoch" in err
    assert "--resume" in err and "Traceback" not in err
    interrupted = load(out)
    assert interrupted.metadata["interrupted"] and len(interrupted.metadata["history"]) == 2
    code, _, err = train(capsys, train_argv(tiny_mnist_dir, out, BOOK, "--resume"))
    assert code == 0, err
    assert_same_run(out, expected)


def test_ctrl_c_keeps_the_checkpoint_and_resume_refuses_another_run_by_what_differs(
    tiny_mnist_dir, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "m.npz"
    argv = train_argv(tiny_mnist_dir, out, BOOK, "--seed", "4")
    calls = []

    def interrupted_score(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2 * 2 + 1:
            raise KeyboardInterrupt
        return score(self, *args, **kwargs)

    score = Network.score
    monkeypatch.setattr(Network, "score", interrupted_score)
    code, _, err = train(capsys, argv)
    monkeypatch.undo()
    assert code == 130 and "Interrupted after 2 epochs" in err
    checkpoint = tmp_path / "m.ckpt.npz"
    for more, why in [
        (("--eta", "0.5"), "eta: 3.0 in the checkpoint, 0.5 now"),
        (("--seed", "5", "--mini-batch-size", "20"),
         "mini_batch_size: 10 in the checkpoint, 20 now; seed: 4 in the checkpoint, 5 now"),
    ]:  # fmt: skip
        code, _, err = train(capsys, [*argv, *more, "--resume"])
        assert code == 1 and err == f"digits train: error: --resume: {checkpoint} is a " \
            f"checkpoint of another run; {why}\n"  # fmt: skip
    other = write_mnist_dir(tmp_path / "other", n_train=1100)
    code, _, err = train(capsys, train_argv(other, out, BOOK, "--resume"))
    assert code == 1 and "not the data the checkpoint was trained on" in err
    # Unharmed by the refusals, it carries on; then the run is over.
    code, _, err = train(capsys, [*argv, "--resume"])
    assert code == 0, err
    code, _, err = train(capsys, [*argv, "--resume"])
    assert code == 1 and "has already finished and saved its model to" in err


def test_missing_and_damaged_checkpoints_are_refused_in_one_line(tiny_mnist_dir, tmp_path, capsys):
    out = tmp_path / "m.npz"
    argv = train_argv(tiny_mnist_dir, out, BOOK, "--resume")
    code, _, err = train(capsys, argv)
    assert code == 1 and err.startswith("digits train: error: --resume: no checkpoint at ")
    (tmp_path / "m.ckpt.npz").write_bytes(b"PK\x03\x04 and then nothing")
    code, _, err = train(capsys, argv)
    assert code == 1 and "not a readable checkpoint" in err and err.count("\n") == 1
    assert not out.exists()

