"""Wall time of `digits reproduce`: one training after another, --jobs 2, and a 2-worker cluster.

    python benchmarks/bench_sweeps.py --data /path/to/mnist [--seeds 3] [--epochs 3] [--repeats 1]

Runs ``digits reproduce --seeds S --epochs E --no-svm`` as a fresh process three
ways, and times each from start to exit (loading the data, the trainings, the
baselines, the tables):

* serially (the default);
* ``--jobs 2``: two local processes (joblib's loky backend);
* ``--cluster ADDRESS``: a ``dask.distributed.LocalCluster`` of 2 worker processes
  with one thread each, started by this script before the clock starts (what
  ``dask scheduler`` plus ``dask worker --nworkers 2 --nthreads 1`` gives).

``--repeats`` runs the three in turn that many times (in rotated order), so that a
change in the machine's load falls on all of them.  Checks that the three wrote
the same tables (the seconds aside), and prints the machine, a load gauge, the load
average before and after, and a Markdown table; benchmarks/README.md quotes it.
The SVM baselines are left out: they run after the trainings, the same way in all
three, and would only add the same minutes to each.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from distributed import LocalCluster

from neuraldigits.training.bench import machine, matmul_gflops


def without_times(text: str) -> str:
    """A results file with the measured seconds, minutes and its own name taken out."""
    text = re.sub(r"\| \d+ s \|", "| s |", text)
    text = re.sub(r"in \d+ minutes", "in minutes", text)
    return re.sub(r"--out=\S+", "--out=FILE", text)


def timed_run(args: list[str], out: Path) -> float:
    """Seconds for one `digits reproduce` process, from start to exit."""
    command = [sys.executable, "-m", "neuraldigits", "reproduce", *args, "--out", str(out)]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="directory of the four MNIST IDX files")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    base = ["--seeds", str(args.seeds), "--epochs", str(args.epochs), "--no-svm"]
    base += ["--data", args.data]
    print(machine())
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"load gauge before: {matmul_gflops():.0f} GFLOP/s single-precision matmul")
    ways = ["serial", "--jobs 2", "2-worker LocalCluster"]
    seconds: dict[str, list[float]] = {way: [] for way in ways}
    tables: dict[str, str] = {}
    with (
        tempfile.TemporaryDirectory() as scratch,
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address="127.0.0.1:0") as cluster,
    ):
        extra = {
            "serial": [],
            "--jobs 2": ["--jobs", "2"],
            "2-worker LocalCluster": ["--cluster", cluster.scheduler_address],
        }
        for repeat in range(args.repeats):
            order = ways[repeat % 3 :] + ways[: repeat % 3]
            for way in order:
                out = Path(scratch) / f"{len(tables)}.md"
                seconds[way].append(timed_run(base + extra[way], out))
                tables[way] = without_times(out.read_text())
                print(f"  {way}: {seconds[way][-1]:.1f} s", flush=True)
    same = len(set(tables.values())) == 1
    print(f"load gauge after: {matmul_gflops():.0f} GFLOP/s")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    trainings = 11 * args.seeds
    print(
        f"\n`digits reproduce {' '.join(base[:-2])}` ({trainings} trainings), "
        f"wall time from start to exit, {args.repeats} run(s) each:\n"
    )
    print("| how | seconds (each run) | × serial (mean) |")
    print("|---|---:|---:|")
    serial = sum(seconds["serial"]) / len(seconds["serial"])
    for way in ways:
        mean = sum(seconds[way]) / len(seconds[way])
        runs = ", ".join(f"{s:.1f}" for s in seconds[way])
        print(f"| {way} | {runs} | {mean / serial:.2f} |")
    print(f"\nThe three tables are {'identical' if same else 'DIFFERENT'} (the seconds aside).")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
