"""What the fast fuzz tests (tests/fuzz/) share: byte mutations as strategies, and the rule.

The rule, for every reader of files: whatever the bytes, it returns a valid
result or raises one of the library's own errors naming the file — never any
other exception.  ``fuzz/`` runs the same idea at scale (100,000 cases a
reader, by hand); these run a few hundred examples each in CI.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from neuraldigits.errors import NeuralDigitsError

FAST = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)

INTERESTING = [0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 2_739_128]


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """One of ``seeds`` after one to four byte-level edits."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["flip", "set", "int", "truncate", "insert", "delete"]))
        if kind == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and at < len(data):
            data[at] = draw(st.sampled_from([0, 0xFF, 0x7F, 0x80]))
        elif kind == "int":
            width = draw(st.sampled_from([1, 2, 4]))
            value = draw(st.sampled_from(INTERESTING)) % (1 << (8 * width))
            order = draw(st.sampled_from(["big", "little"]))
            data[at : at + width] = value.to_bytes(width, order)
        elif kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=32))
        else:
            del data[at : at + draw(st.integers(1, 64))]
    return bytes(data)


def check_reader(
    read: Callable[[Path], object],
    data: bytes,
    name: str,
    error: type[NeuralDigitsError] = NeuralDigitsError,
) -> object:
    """``read(path)`` of a file holding ``data``: its result, or None after a library error.

    Any exception that is not an ``error`` (the reader's own subclass of
    :class:`NeuralDigitsError`) fails the test, and so does one whose message
    does not name the file.
    """
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / name
        path.write_bytes(data)
        try:
            return read(path)
        except error as e:
            assert name in str(e), f"the message does not name the file: {e}"
            return None
