"""The pad's HTTP API, fuzzed fast: fuzz/fuzz_http.py's own mutators and raw HTTP, in CI.

The full run (100,000+ cases, schemathesis included) is ``fuzz/fuzz_http.py``; these
draw a few hundred of the same cases: every answer below 500, with the security
headers, and strict JSON when it says JSON; nothing escapes the app, nothing hangs.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("fastapi", reason="the web extra is not installed: pip install -e '.[web]'")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fuzz"))
import fuzz_http  # noqa: E402

APP = fuzz_http.pad_app()


@settings(max_examples=300, deadline=None, database=None)
@given(seed=st.integers(0, 2**63 - 1))
def test_no_fuzzed_request_gets_a_5xx_or_invalid_json(seed):
    request = fuzz_http.make_request(np.random.default_rng(seed))
    reply = asyncio.run(fuzz_http.call(APP, request, timeout=60))
    assert fuzz_http.problems(reply) == [], request.describe()


@pytest.mark.parametrize("depth", [10, 1000, 200_000])
def test_the_mutators_reach_deep_nesting(depth):
    body = b"[" * depth + b"0" + b"]" * depth
    request = fuzz_http.Request(
        headers=[(b"host", b"localhost"), (b"content-type", b"application/json")], chunks=[body]
    )
    reply = asyncio.run(fuzz_http.call(APP, request, timeout=60))
    assert reply.status in (400, 422) and fuzz_http.problems(reply) == []


def test_malformed_http_on_a_socket_gets_no_5xx_no_hang_and_no_app_error():
    tally = fuzz_http.run_raw(150, seed=1, timeout=20, clients=8)
    assert tally.cases == 150
    assert sum(tally.failures.values()) == 0, tally.examples
