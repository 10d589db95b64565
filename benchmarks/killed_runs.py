"""`digits train` killed with SIGKILL, again and again: is any file ever corrupt, is anything lost?

    python benchmarks/killed_runs.py --data "$NEURALDIGITS_DATA" [--kills 50] [--epochs 6]

Three parts, each printing one Markdown row (benchmarks/README.md and the
README quote them):

1. **Kills inside saves.**  Each run is a real ``digits train`` in a child
   process that kills itself (SIGKILL) at a random moment of a random save —
   a checkpoint, the model or the finished mark: part way through writing the
   temporary file, at its fsync, just before or just after the rename.  After
   each kill every model and checkpoint present must load; the next run
   resumes (``--resume``) or, once a run has finished, starts afresh.  Every
   finished chain of resumed runs must end with the model of the run never
   interrupted, to the bit.  Reports the kills, the corrupt files (must be 0),
   the temporary files the kills left behind and how many remain at the end
   (the next write to a destination removes its dead writers' leftovers once
   they are 10 s old).
2. **Kills at random moments.**  An ordinary ``digits train``, killed from
   outside after a random delay (anywhere: starting, training, scoring,
   saving), then resumed, and so on until a run finishes: its model must be
   the uninterrupted run's.
3. **What a checkpoint costs**: its size and the median time to write one
   (with fsync) for the book's network and the reader's (with velocities).

[784, 30, 10] with momentum 0.5, so that checkpoints carry velocities too.
About 2 s per run on real MNIST, on one core.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from neuraldigits.atomic import temporaries
from neuraldigits.modelfile import load
from neuraldigits.network import History, Network, SgdState
from neuraldigits.plateau import Plateau
from neuraldigits.training.checkpoint import load_checkpoint, save_checkpoint

# `digits train` that SIGKILLs itself inside save number SAVES_TARGET (counting the
# renames: one per checkpoint, model and finished mark), at the moment PHASE.
CHILD = r"""
import os, signal, sys
target, phase, threshold = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
saves = 0
real_fdopen, real_fsync, real_replace = os.fdopen, os.fsync, os.replace

def die():
    os.kill(os.getpid(), signal.SIGKILL)

class Dying:  # a file that dies once `threshold` bytes of the target save are written
    def __init__(self, f):
        self.f, self.n = f, 0
    def write(self, b):
        if saves == target and phase == "write" and self.n + len(b) >= threshold:
            self.f.write(b[: max(0, threshold - self.n)])
            self.f.flush()
            die()
        self.n += len(b)
        return self.f.write(b)
    def __getattr__(self, name):
        return getattr(self.f, name)
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        return self.f.__exit__(*exc)

def fdopen(fd, mode="r", *args, **kwargs):
    f = real_fdopen(fd, mode, *args, **kwargs)
    return Dying(f) if "w" in mode else f

def fsync(fd):
    if saves == target and phase in ("write", "fsync"):
        die()  # "write" past the file's end dies here, with all of it written
    return real_fsync(fd)

def replace(a, b):
    global saves
    if saves == target and phase == "replace":
        die()
    real_replace(a, b)
    if saves == target and phase == "after-replace":
        die()
    saves += 1

os.fdopen, os.fsync, os.replace = fdopen, fsync, replace
from neuraldigits.cli import main
sys.exit(main(sys.argv[4:]))
"""

PHASES = ("write", "fsync", "replace", "after-replace")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get("NEURALDIGITS_DATA"), required=False)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1, help="for the kills' moments")
    args = parser.parse_args()
    if not args.data:
        parser.error("--data DIR (or $NEURALDIGITS_DATA) must name MNIST's IDX files")
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="killed-runs-") as work:
        run = Runs(Path(work), args.data, args.epochs)
        print("| part | kills | corrupt files | finished chains identical to the uninterrupted "
              "run | temporary files left by kills / present at the end |")  # fmt: skip
        print("|---|---|---|---|---|")
        print(kills_inside_saves(run, args.kills, rng))
        print(kills_at_random_moments(run, args.kills, rng))
    print()
    print(checkpoint_costs())


class Runs:
    """`digits train` runs to one model file, and the uninterrupted run's model to compare."""

    def __init__(self, work: Path, data: str, epochs: int) -> None:
        self.out, self.checkpoint = work / "m.npz", work / "m.ckpt.npz"
        self.argv = ["train", "--data", data, "--sizes", "784,30,10", "--momentum", "0.5",
                     "--epochs", str(epochs), "--seed", "1", "--out", str(self.out)]  # fmt: skip
        self.epochs = epochs
        start = time.monotonic()
        self.digits()
        self.seconds = time.monotonic() - start
        self.reference = load(self.out)
        self.fresh()
        self.corrupt = self.left = self.identical = self.chains = 0
        self.seen: set[Path] = set()

    def digits(self, *command: str) -> subprocess.CompletedProcess:
        command = command or (sys.executable, "-m", "neuraldigits", *self.argv)
        return subprocess.run(command, capture_output=True, text=True, env=_one_thread())

    def fresh(self) -> None:
        self.out.unlink(missing_ok=True)
        self.checkpoint.unlink(missing_ok=True)

    def resuming(self) -> bool:
        return self.checkpoint.exists() and not load_checkpoint(self.checkpoint).finished

    def check(self) -> None:
        """After a kill: every file present loads; count leftovers; close a finished chain."""
        for path, loader in ((self.out, load), (self.checkpoint, load_checkpoint)):
            if path.exists():
                try:
                    loader(path)
                except Exception as e:  # noqa: BLE001 - any failure is the finding
                    self.corrupt += 1
                    print(f"CORRUPT {path}: {e}", file=sys.stderr)
        now = set(temporaries(self.out) + temporaries(self.checkpoint))
        self.left += len(now - self.seen)
        self.seen |= now
        if self.checkpoint.exists() and load_checkpoint(self.checkpoint).finished:
            net, ref = load(self.out), self.reference
            self.chains += 1
            self.identical += all(
                a.tobytes() == b.tobytes()
                for a, b in zip(net.weights + net.biases, ref.weights + ref.biases)
            )
            self.fresh()

    def row(self, part: str, kills: int) -> str:
        present = len(temporaries(self.out) + temporaries(self.checkpoint))
        row = (f"| {part} | {kills} | {self.corrupt} | {self.identical} of {self.chains} | "
               f"{self.left} / {present} |")  # fmt: skip
        self.fresh()
        self.corrupt = self.left = self.identical = self.chains = 0
        return row


def kills_inside_saves(run: Runs, kills: int, rng: random.Random) -> str:
    for _ in range(kills):
        resume = run.resuming()
        done = load_checkpoint(run.checkpoint).next_epoch if resume else 0
        saves = run.epochs - done + 2  # its checkpoints, the model, the finished mark
        target, phase = rng.randrange(saves), rng.choice(PHASES)
        threshold = rng.randrange(1, 120_000)  # a [784, 30, 10] checkpoint is ~0.3 MB
        run.digits(sys.executable, "-c", CHILD, str(target), phase, str(threshold),
                   *run.argv, *(["--resume"] if resume else []))  # fmt: skip
        run.check()
    return run.row("inside saves", kills)


def kills_at_random_moments(run: Runs, kills: int, rng: random.Random) -> str:
    for _ in range(kills):
        command = [sys.executable, "-m", "neuraldigits", *run.argv]
        if run.resuming():
            command.append("--resume")
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 env=_one_thread())  # fmt: skip
        time.sleep(rng.uniform(0, run.seconds))
        child.kill()
        child.wait()
        run.check()
    return run.row("random moments", kills)


def checkpoint_costs() -> str:
    lines = ["| network | checkpoint | median write (fsync included) |", "|---|---|---|"]
    with tempfile.TemporaryDirectory(prefix="checkpoint-cost-") as work:
        path = Path(work) / "c.ckpt.npz"
        for sizes, momentum in (([784, 30, 10], False), ([784, 800, 10], True)):
            net = Network(sizes, seed=1)
            if momentum:
                net.velocities()
            best = ([w.copy() for w in net.weights], [b.copy() for b in net.biases])
            state = SgdState(History(), Plateau(3.0), best)
            times = []
            for _ in range(20):
                start = time.perf_counter()
                save_checkpoint(path, net, state, settings={}, data="")
                times.append(time.perf_counter() - start)
            lines.append(
                f"| {sizes}{' with velocities' if momentum else ''} | "
                f"{path.stat().st_size / 1e6:.2f} MB | {1000 * statistics.median(times):.1f} ms |"
            )
    return "\n".join(lines)


def _one_thread() -> dict[str, str]:
    return dict(os.environ, NEURALDIGITS_THREADS="1")


if __name__ == "__main__":
    main()
