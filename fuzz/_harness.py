"""The loop every fuzz script shares: seeded cases, a reused child process, and honest counts.

Each case is built, in the parent, from ``numpy.random.default_rng([seed, i, 0])``,
so case ``i`` of a run can be rebuilt alone (``--only i``); building it costs the
child nothing, so its memory is the reader's alone.  Cases run in a child process that is
reused from case to case (forking one per case would cost more than most
cases) and restarted after a crash, a hang, a case over the memory budget, and
every ``--restart-every`` cases (so that heap growth from earlier cases cannot
be blamed on later ones).  In the child:

* ``RLIMIT_AS`` is set to the address space it had after warming up plus twice
  the budget, so that a blow-up ends in MemoryError, never in the machine's
  OOM killer;
* each case's file is written to a private temporary directory and handed to
  the reader under test by path, as a user would;
* its peak RSS (``ru_maxrss``) is compared with the baseline taken after
  warming up: a case that pushes it more than ``--budget-mb`` above counts as
  **over budget**, and so does any MemoryError, even one the library wrapped in
  its own error (found through ``__context__``).

Outcomes: ``accepted`` (the reader returned), ``refused`` (one of the
library's ``NeuralDigitsError`` subclasses, whose message names the file),
``unnamed`` (a library error whose message does not name the file),
``uncaught`` (any other exception, or the child dying), ``hang`` (no answer
within ``--timeout`` seconds), ``over budget``.  The first few cases of each
failing kind are saved under ``--findings`` with their traceback.
"""

from __future__ import annotations

import os

# One thread for BLAS and friends: cases are small, and the machine is shared.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from neuraldigits.errors import NeuralDigitsError  # noqa: E402

OUTCOMES = ("accepted", "refused", "unnamed", "uncaught", "hang", "over budget")
FAILURES = ("unnamed", "uncaught", "hang", "over budget")


@dataclass
class Case:
    """One input: the file's bytes, its name, and a small integer the target may use."""

    data: bytes
    name: str = "case"
    variant: int = 0
    mutation: str = ""


Make = Callable[[np.random.Generator], Case]
Target = Callable[[Case, Path], object]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _vm_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _memory_error_in(error: BaseException | None) -> bool:
    seen = 0
    while error is not None and seen < 20:
        if isinstance(error, MemoryError):
            return True
        error, seen = error.__context__ or error.__cause__, seen + 1
    return False


def _child(connection, target: Target, budget_mb: float) -> None:
    """Run the cases that arrive on ``connection``; answer each with its outcome.

    The first few are a warm-up (imports, caches, first allocations), answered
    before the baseline RSS is taken and the address space is capped.
    """
    # Decoders' own chatter (libtiff, Pillow's warnings) would fill the log; the
    # outcome of each case comes back through the pipe, and a crash as an exit code.
    warnings.simplefilter("ignore")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    workdir = Path(tempfile.mkdtemp(prefix="neuraldigits-fuzz-"))
    for warm_up in connection.recv():
        _run_one(warm_up, target, workdir)
    baseline = _rss_mb()
    limit = _vm_bytes() + int(2 * budget_mb * 2**20)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    connection.send(("ready", baseline))
    while True:
        case = connection.recv()
        if case is None:
            break
        outcome, detail = _run_one(case, target, workdir)
        growth = _rss_mb() - baseline
        if growth > budget_mb and outcome != "over budget":
            outcome, detail = "over budget", f"peak RSS {growth:.0f} MB above baseline; {detail}"
        connection.send((outcome, detail, growth))


def _run_one(case: Case, target: Target, workdir: Path) -> tuple[str, str]:
    path = workdir / case.name
    path.write_bytes(case.data)
    try:
        target(case, path)
        return "accepted", ""
    except NeuralDigitsError as e:
        if _memory_error_in(e):
            return "over budget", f"{type(e).__name__} wrapping a MemoryError: {e}"[:2000]
        if case.name not in str(e):
            return "unnamed", f"{type(e).__name__}: {e}"[:2000]
        return "refused", type(e).__name__
    except MemoryError:
        return "over budget", traceback.format_exc()[-4000:]
    except Exception:
        return "uncaught", traceback.format_exc()[-4000:]
    finally:
        path.unlink(missing_ok=True)


def make_case(make: Make, seed: int, i: int) -> Case:
    """Case ``i`` of the run seeded ``seed`` (warm-up cases have negative numbers)."""
    return make(np.random.default_rng([seed, i & 0xFFFFFFFF, int(i < 0)]))


class _Worker:
    """The child process that runs the cases, and the pipe to it."""

    def __init__(self, make: Make, target: Target, seed: int, budget_mb: float, timeout: float):
        context = multiprocessing.get_context("fork")
        self.connection, child_end = context.Pipe()
        self.process = context.Process(
            target=_child, args=(child_end, target, budget_mb), daemon=True
        )
        self.process.start()
        child_end.close()
        self.timeout = timeout
        self.connection.send([make_case(make, seed, -1 - k) for k in range(3)])
        if not self.connection.poll(max(60.0, 3 * timeout)):
            raise RuntimeError("the fuzz worker did not start")
        _, self.baseline = self.connection.recv()
        self.done = 0

    def run(self, case: Case) -> tuple[str, str, float]:
        try:
            self.connection.send(case)
            if not self.connection.poll(self.timeout):
                return "hang", f"no answer within {self.timeout} s", 0.0
            return self.connection.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError):
            self.process.join(1)
            return "uncaught", f"the worker died (exit code {self.process.exitcode})", 0.0
        finally:
            self.done += 1

    def stop(self) -> None:
        try:
            self.connection.send(None)
        except (BrokenPipeError, OSError):
            pass
        self.process.join(2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


def main(name: str, make: Make, target: Target, *, budget_mb: float, description: str) -> int:
    """Parse the command line, run the cases, print and return the counts (exit 1 on a failure)."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=100_000, help="number of cases")
    parser.add_argument("--seed", type=int, default=0, help="seed of the case generator")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds before a hang")
    parser.add_argument(
        "--budget-mb", type=float, default=budget_mb, help="peak RSS growth allowed per case"
    )
    parser.add_argument("--restart-every", type=int, default=5000, help="cases per worker")
    parser.add_argument("--only", type=int, help="run only case number ONLY, in this process")
    parser.add_argument(
        "--findings",
        type=Path,
        default=Path(tempfile.gettempdir()) / "neuraldigits-fuzz-findings",
        help="where failing cases are saved",
    )
    parser.add_argument("--json", type=Path, help="also write the counts to this file")
    args = parser.parse_args()
    if args.only is not None:
        workdir = Path(tempfile.mkdtemp(prefix="neuraldigits-fuzz-"))
        case = make_case(make, args.seed, args.only)
        print(f"case {args.only}: {case.mutation}, {len(case.data):,} bytes")
        print(*_run_one(case, target, workdir))
        return 0
    counts: Counter[str] = Counter()
    mutations: Counter[str] = Counter()
    saved: Counter[str] = Counter()
    start, slowest, peak = time.monotonic(), (0.0, -1), (0.0, -1)
    worker = None
    for i in range(args.cases):
        if worker is None or worker.done >= args.restart_every:
            if worker is not None:
                worker.stop()
            worker = _Worker(make, target, args.seed, args.budget_mb, args.timeout)
        case = make_case(make, args.seed, i)
        began = time.monotonic()
        outcome, detail, growth = worker.run(case)
        took = time.monotonic() - began
        slowest = max(slowest, (took, i))
        if growth > peak[0]:  # ru_maxrss only grows: the case that raised it
            peak = (growth, i)
        counts[outcome] += 1
        if outcome in FAILURES:
            worker.stop()
            worker = None
            mutations[case.mutation] += 1
            if saved[outcome] < 5:
                saved[outcome] += 1
                folder = args.findings / name / outcome.replace(" ", "-")
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"{i}-{case.name}").write_bytes(case.data)
                (folder / f"{i}.txt").write_text(f"{case.mutation}\n{detail}\n")
            print(f"case {i} ({case.mutation}): {outcome}: {detail.splitlines()[-1:]}")
        if (i + 1) % 10_000 == 0:
            print(f"{i + 1:,} cases, {time.monotonic() - start:.0f} s: {dict(counts)}", flush=True)
    if worker is not None:
        worker.stop()
    seconds = time.monotonic() - start
    result = {
        "reader": name,
        "cases": args.cases,
        "seed": args.seed,
        **{outcome: counts[outcome] for outcome in OUTCOMES},
        "seconds": round(seconds, 1),
        "slowest_case_s": round(slowest[0], 3),
        "slowest_case": slowest[1],
        "peak_rss_growth_mb": round(peak[0], 1),
        "peak_case": peak[1],
        "budget_mb": args.budget_mb,
        "timeout_s": args.timeout,
        "failing_mutations": dict(mutations),
        "python": sys.version.split()[0],
    }
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 1 if any(counts[outcome] for outcome in FAILURES) else 0


# ---------------------------------------------------------------------- mutators every script uses

INTERESTING_INTS = (
    0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000,
    0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 28, 784, 10_000, 60_000, 2_739_128, 10**9,
)  # fmt: skip


def flip_bits(rng: np.random.Generator, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 9))):
        if out:
            out[int(rng.integers(len(out)))] ^= 1 << int(rng.integers(8))
    return bytes(out)


def set_bytes(rng: np.random.Generator, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 5))):
        if out:
            out[int(rng.integers(len(out)))] = int(rng.choice([0, 0xFF, 0x7F, 0x80, 0x41, 0x20]))
    return bytes(out)


def set_int(rng: np.random.Generator, data: bytes, at: int | None = None) -> bytes:
    """Overwrite 1, 2, 4 or 8 bytes with an interesting integer, either byte order."""
    width = int(rng.choice([1, 2, 4, 8]))
    if len(data) < width:
        return data
    at = int(rng.integers(len(data) - width + 1)) if at is None else at
    value = int(rng.choice(INTERESTING_INTS)) % (1 << (8 * width))
    order = "big" if rng.random() < 0.5 else "little"
    return data[:at] + value.to_bytes(width, order) + data[at + width :]


def truncate(rng: np.random.Generator, data: bytes) -> bytes:
    return data[: int(rng.integers(len(data) + 1))]


def insert(rng: np.random.Generator, data: bytes) -> bytes:
    at = int(rng.integers(len(data) + 1))
    if rng.random() < 0.5:
        piece = rng.bytes(int(rng.integers(1, 64)))
    else:  # a copy of a piece of the file itself, maybe many times
        start = int(rng.integers(len(data) + 1))
        piece = data[start : start + int(rng.integers(1, 256))] * int(rng.integers(1, 16))
    return data[:at] + piece + data[at:]


def delete(rng: np.random.Generator, data: bytes) -> bytes:
    at = int(rng.integers(len(data) + 1))
    return data[:at] + data[at + int(rng.integers(1, 256)) :]


def splice(rng: np.random.Generator, data: bytes, other: bytes) -> bytes:
    return data[: int(rng.integers(len(data) + 1))] + other[int(rng.integers(len(other) + 1)) :]


GENERIC = {
    "flip bits": flip_bits,
    "set bytes": set_bytes,
    "set an int": set_int,
    "truncate": truncate,
    "insert": insert,
    "delete": delete,
}


def generic(rng: np.random.Generator, data: bytes, others: list[bytes]) -> tuple[bytes, str]:
    """One to three generic byte-level mutations (or a splice with another seed)."""
    names = []
    for _ in range(int(rng.integers(1, 4))):
        if others and rng.random() < 0.1:
            data, name = splice(rng, data, others[int(rng.integers(len(others)))]), "splice"
        else:
            name = str(rng.choice(list(GENERIC)))
            data = GENERIC[name](rng, data)
        names.append(name)
    return data, "+".join(names)
