"""Locust load for the drawing pad: each user posts PNG drawings to /api/predict, one at a time.

Every user sends ``LOAD_PICTURES`` (default 50) canvas-like PNGs (280×280, dark
ink on white, as the page's canvas sends them), back to back with no pause, then
stops; when every user has stopped, Locust quits.  Each answer's status, latency
and server time (its ``Server-Timing`` header) are written as JSON to
``LOAD_RESULT`` for :mod:`run_load` to summarise: exact percentiles, not
Locust's rounded ones.

Run through ``benchmarks/load/run_load.py``, which pins the server and Locust
to separate cores.
"""

from __future__ import annotations

import json
import os
import re

from drawings import drawings  # this directory: Locust puts it on sys.path
from locust import events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.exception import StopUser

PICTURES = int(os.environ.get("LOAD_PICTURES", "50"))
USERS = int(os.environ.get("LOAD_USERS", "100"))  # Locust quits when this many have finished
RESULT = os.environ.get("LOAD_RESULT", "load-result.json")
_TIMING = re.compile(r"predict;dur=([0-9.]+)")


PNGS = drawings()
answers: list[dict] = []
finished = {"users": 0}


class PadUser(FastHttpUser):
    """One person at the pad: a drawing is sent, answered, then the next one."""

    def on_start(self) -> None:
        self.sent = 0

    @task
    def predict(self) -> None:
        if self.sent >= PICTURES:
            raise StopUser()
        png = PNGS[self.sent % len(PNGS)]
        self.sent += 1
        with self.client.post(
            "/api/predict",
            data=png,
            headers={"Content-Type": "image/png"},
            catch_response=True,
            name="/api/predict (PNG)",
        ) as reply:
            timing = _TIMING.search(reply.headers.get("server-timing", "") or "")
            answers.append(
                {
                    "status": reply.status_code,
                    "seconds": reply.request_meta["response_time"] / 1000,
                    "server_ms": float(timing.group(1)) if timing else None,
                }
            )
            if reply.status_code != 200:
                reply.failure(f"HTTP {reply.status_code}")

    def on_stop(self) -> None:
        finished["users"] += 1
        if finished["users"] >= USERS:
            # The last user out: nothing left to measure.
            self.environment.runner.quit()


@events.quitting.add_listener
def _write_answers(environment, **kwargs) -> None:
    with open(RESULT, "w", encoding="utf-8") as out:
        json.dump(answers, out)
