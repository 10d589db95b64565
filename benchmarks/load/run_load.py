"""Load figures for the drawing pad: `digits serve` on one core, Locust on the other.

    python benchmarks/load/run_load.py [--users 100] [--pictures 50] [--model MODEL]

Starts ``digits serve`` pinned to ``--server-cpu`` (taskset) and Locust, headless,
pinned to ``--load-cpu``: ``--users`` users at once, each posting ``--pictures``
PNG drawings back to back (see ``locustfile.py``).  Prints the requests, errors,
p50, p90, p99 and max latency, requests per second, the server's own time per
picture (its Server-Timing header), and how busy the machine was (load average
before and after, and the CPU the server used); ``--json FILE`` also writes them.
Needs the ``load`` extra (``pip install -e '.[load]'``) and Linux's ``taskset``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) by the nearest-rank method."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n q / 100), at least 1
    return ordered[int(rank) - 1]


def start_server(args, cpu: str, niceness: int = 0) -> tuple[subprocess.Popen, str]:
    """`digits serve --port 0 ARGS` pinned to ``cpu``; returns it and its URL (no trailing /)."""
    command = [sys.executable, "-m", "neuraldigits.cli", "serve", "--port", "0", *args]
    server = subprocess.Popen(
        [*pinned(cpu, niceness), *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(60, server.kill)  # a server that never says where it is
    watchdog.start()
    try:
        for line in server.stdout:  # a note on the connection limit may come first
            match = re.search(r"http://[^ ]+/", line)
            if match:
                return server, match.group(0).rstrip("/")
    finally:
        watchdog.cancel()
    server.kill()
    raise SystemExit(f"digits serve did not start: {server.stderr.read()}")


def pinned(cpu: str, niceness: int) -> list[str]:
    """The command prefix that runs a program on ``cpu`` at ``niceness``."""
    return ["taskset", "-c", cpu, *(["nice", "-n", str(niceness)] if niceness else [])]


def run_queue_seconds(pid: int) -> float:
    """Seconds process ``pid``'s threads spent ready to run but waiting for a CPU (schedstat)."""
    return sum(
        int(task.joinpath("schedstat").read_text().split()[1]) / 1e9
        for task in Path(f"/proc/{pid}/task").iterdir()
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` and its threads so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--pictures", type=int, default=50, help="PNGs each user posts")
    parser.add_argument("--model", help="MODEL for digits serve (default: its own default)")
    parser.add_argument("--server-cpu", default="0")
    parser.add_argument("--load-cpu", default="1")
    parser.add_argument("--serve-option", action="append", default=[], help="passed on")
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="niceness of the server and Locust (negative, as root, keeps other jobs on a "
        "shared machine from taking their cores)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    locust = shutil.which("locust") or str(Path(sys.executable).with_name("locust"))
    serve_args = ([args.model] if args.model else []) + args.serve_option
    before = os.getloadavg()
    server, url = start_server(serve_args, args.server_cpu, args.nice)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            result = Path(scratch) / "answers.json"
            env = {
                **os.environ,
                "LOAD_PICTURES": str(args.pictures),
                "LOAD_USERS": str(args.users),
                "LOAD_RESULT": str(result),
            }
            cpu_before, start = cpu_seconds(server.pid), time.perf_counter()
            waited_before = run_queue_seconds(server.pid)
            subprocess.run(
                [
                    *pinned(args.load_cpu, args.nice),
                    locust,
                    "-f",
                    str(HERE / "locustfile.py"),
                    "--headless",
                    "-u",
                    str(args.users),
                    "-r",
                    str(args.users),
                    "--host",
                    url,
                    "--run-time",
                    "10m",
                    "--only-summary",
                    "--loglevel",
                    "WARNING",
                ],
                env=env,
                check=False,
                stdout=subprocess.DEVNULL,
            )
            wall = time.perf_counter() - start
            server_cpu = cpu_seconds(server.pid) - cpu_before
            server_waited = run_queue_seconds(server.pid) - waited_before
            answers = json.loads(result.read_text())
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
    after = os.getloadavg()
    seconds = [a["seconds"] for a in answers]
    ok = [a for a in answers if a["status"] == 200]
    server_ms = [a["server_ms"] for a in ok if a["server_ms"] is not None]
    figures = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "load": f"{args.users} users x {args.pictures} PNGs, server on CPU {args.server_cpu}, "
        f"Locust on CPU {args.load_cpu}, niceness {args.nice}",
        "requests": len(answers),
        "errors": len(answers) - len(ok),
        "p50_s": round(percentile(seconds, 50), 4),
        "p90_s": round(percentile(seconds, 90), 4),
        "p99_s": round(percentile(seconds, 99), 4),
        "max_s": round(max(seconds), 4),
        "requests_per_s": round(len(answers) / wall, 1),
        "server_ms_per_picture": round(sum(server_ms) / len(server_ms), 2) if server_ms else None,
        "server_cpu_share": round(server_cpu / wall, 2),
        # The machine's other jobs: the share of the run the server was ready but not running.
        "server_waiting_for_cpu_share": round(server_waited / wall, 2),
        "load_average_before": [round(x, 2) for x in before],
        "load_average_after": [round(x, 2) for x in after],
    }
    for name, value in figures.items():
        print(f"{name:>24}: {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0 if figures["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
