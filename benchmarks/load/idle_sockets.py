"""Idle sockets against the drawing pad: does it keep answering, and does it close them?

    python benchmarks/load/idle_sockets.py [--idle 20000] [--requests 200]

Starts ``digits serve`` pinned to ``--server-cpu``, then ``--processes`` client
processes open ``--idle`` TCP connections to it between them and send nothing
(each process raises its own open-file limit).  While they are held open, the
main process sends ``--requests`` real predictions (a PNG drawing each, a new
connection each, as a browser would) and times them.  Each client process
watches its sockets for the server closing them, for up to ``--watch`` seconds.

Prints: real requests answered, errors and p50/p99/max latency; idle sockets
opened, closed by the server within 30 s, and the longest one stayed open; the
lines the server logged.  ``--json FILE`` also writes them.  Linux only.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import resource
import selectors
import signal
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from drawings import drawings  # noqa: E402
from run_load import percentile, start_server  # noqa: E402

DONE_WITHIN = 30.0  # seconds: issue 15's bound for closing idle connections


def raise_open_files() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def hold_idle(port: int, count: int, watch: float, opened, results) -> None:
    """Open ``count`` idle connections, say so, then time how long each stays open."""
    raise_open_files()
    opened_at, lifetimes, failed = {}, [], 0

    def note_closed(selector: selectors.BaseSelector, timeout: float) -> None:
        for key, _ in selector.select(timeout=timeout):
            conn = key.fileobj
            try:
                data = conn.recv(4096)
            except ConnectionError:
                data = b""
            if not data:  # closed by the server
                lifetimes.append(time.monotonic() - opened_at.pop(conn))
                selector.unregister(conn)
                conn.close()

    with selectors.DefaultSelector() as selector:
        for i in range(count):
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=30)
            except OSError:
                failed += 1
                continue
            conn.setblocking(False)
            opened_at[conn] = time.monotonic()
            selector.register(conn, selectors.EVENT_READ)
            if i % 100 == 99:  # while opening, keep an eye on the earlier ones
                note_closed(selector, 0)
        opened.put((len(opened_at) + len(lifetimes), failed))
        end = time.monotonic() + watch
        while opened_at and time.monotonic() < end:
            note_closed(selector, max(0.0, end - time.monotonic()))
        still_open = len(opened_at)
        for conn in opened_at:
            conn.close()
    results.put({"lifetimes": lifetimes, "still_open": still_open})


def real_request(port: int, png: bytes) -> tuple[int, float]:
    start = time.perf_counter()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/api/predict", png, {"Content-Type": "image/png"})
        status = conn.getresponse().status
        conn.close()
    except OSError:
        status = 0
    return status, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle", type=int, default=20_000, help="idle connections to open")
    parser.add_argument("--processes", type=int, default=4, help="client processes holding them")
    parser.add_argument("--requests", type=int, default=200, help="real requests meanwhile")
    parser.add_argument("--watch", type=float, default=40.0, help="seconds to watch the sockets")
    parser.add_argument("--server-cpu", default="0")
    parser.add_argument("--serve-option", action="append", default=[], help="passed on")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    pngs = drawings()
    server, url = start_server(args.serve_option, args.server_cpu)
    port = int(url.rsplit(":", 1)[1])
    opened, results = mp.Queue(), mp.Queue()
    each, extra = divmod(args.idle, args.processes)
    share = [each + (i < extra) for i in range(args.processes)]
    holders = [
        mp.Process(target=hold_idle, args=(port, n, args.watch, opened, results)) for n in share
    ]
    try:
        start = time.monotonic()
        for holder in holders:
            holder.start()
        counts = [opened.get(timeout=300) for _ in holders]
        opening = time.monotonic() - start
        answers = [real_request(port, pngs[i % len(pngs)]) for i in range(args.requests)]
        watched = [results.get(timeout=args.watch + 300) for _ in holders]
        for holder in holders:
            holder.join()
    finally:
        server.send_signal(signal.SIGINT)
        try:
            _, log = server.communicate(timeout=30)
        except Exception:
            server.kill()
            _, log = server.communicate()
    seconds = [s for _, s in answers]
    lifetimes = [t for w in watched for t in w["lifetimes"]]
    figures = {
        "idle_opened": sum(n for n, _ in counts),
        "idle_failed_to_open": sum(f for _, f in counts),
        "seconds_to_open_them": round(opening, 1),
        "real_requests": len(answers),
        "real_errors": sum(1 for status, _ in answers if status != 200),
        "real_p50_s": round(percentile(seconds, 50), 4),
        "real_p99_s": round(percentile(seconds, 99), 4),
        "real_max_s": round(max(seconds), 4),
        "idle_closed_by_server": len(lifetimes),
        f"idle_closed_within_{DONE_WITHIN:g}_s": sum(1 for t in lifetimes if t <= DONE_WITHIN),
        "idle_longest_open_s": round(max(lifetimes), 2) if lifetimes else None,
        "idle_still_open_after_watch": sum(w["still_open"] for w in watched),
        "server_log_lines": len(log.splitlines()),
        "serve_options": " ".join(args.serve_option) or "(defaults)",
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    for name, value in figures.items():
        print(f"{name:>30}: {value}")
    if log.strip():
        print("server log (last lines):\n" + "\n".join(log.splitlines()[-5:]))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    ok = figures["real_errors"] == 0 and figures["idle_still_open_after_watch"] == 0
    return 0 if ok and len(lifetimes) == figures["idle_opened"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
