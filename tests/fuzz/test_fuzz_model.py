"""Model files, fuzzed fast: every mutation is loaded or refused with a ModelFileError naming it."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from support.fuzzing import FAST, check_reader, mutated

from neuraldigits.errors import ModelFileError
from neuraldigits.modelfile import load, save
from neuraldigits.network import Network


def _seeds() -> list[bytes]:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as directory:
        return [
            save(Network(sizes, seed=0, dtype=dtype), Path(directory) / "m.npz").read_bytes()
            for sizes, dtype in (([4, 3, 2], np.float32), ([5, 4, 3, 2], np.float64))
        ]


SEEDS = _seeds()
MEMBERS = [
    {i.filename: z.read(i) for i in z.infolist()}
    for z in (zipfile.ZipFile(io.BytesIO(seed)) for seed in SEEDS)
]


def _load(path):
    net = load(path, memory_budget=16 << 20)
    assert np.all(np.isfinite(net.feedforward(np.ones(net.sizes[0]))))
    return net


@FAST
@given(mutated(SEEDS))
def test_mutated_model_files(data):
    check_reader(_load, data, "fuzz.npz", ModelFileError)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
FIELDS = st.sampled_from(["format", "format_version", "sizes", "cost", "dtype", "history"])


@FAST
@given(st.sampled_from([0, 1]), st.dictionaries(FIELDS, JSON, max_size=3), st.integers(0, 3))
def test_metadata_with_any_json_values(seed, changes, nesting):
    members = dict(MEMBERS[seed])
    raw = members["metadata.npy"]
    meta = json.loads(raw[raw.find(b"\n") + 1 :])
    meta.update(changes)
    text = json.dumps(meta)
    if nesting:
        depth = (10, 1000, 100_000)[nesting - 1]
        text = text[:-1] + ', "deep": ' + "[" * depth + "]" * depth + "}"
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.frombuffer(text.encode(), dtype=np.uint8))
    members["metadata.npy"] = buffer.getvalue()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    check_reader(_load, archive.getvalue(), "fuzz.npz", ModelFileError)


@FAST
@given(
    st.sampled_from([0, 1]),
    st.sampled_from([8, 10, 16, 20, 24, 28, 30, 42]),
    st.sampled_from([0, 1, 0x41, 8, 12, 99, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF]),
    st.integers(0, 8),
)
def test_zip_directory_edits(seed, field, value, entry):
    data = bytearray(SEEDS[seed])
    entries = [i for i in range(len(data)) if data[i : i + 4] == b"PK\x01\x02"]
    at = entries[entry % len(entries)] + field
    width = 2 if field in (8, 10, 28, 30) else 4
    data[at : at + width] = (value % (1 << (8 * width))).to_bytes(width, "little")
    result = check_reader(_load, bytes(data), "fuzz.npz", ModelFileError)
    assert result is None or isinstance(result, Network)
