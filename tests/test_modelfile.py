"""Model files: exact round trip, atomic writes, and a clear refusal of every bad file."""

import json
import os
import zipfile

import numpy as np
import pytest

from neuraldigits.errors import ModelFileError
from neuraldigits.modelfile import load, save
from neuraldigits.network import Network


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_gives_identical_outputs_and_metadata(tmp_path, dtype):
    net = Network([784, 30, 20, 10], seed=3, dtype=dtype)
    path = save(net, tmp_path / "m.npz", training={"eta": 3.0}, history=[{"epoch": 0}])
    again = load(path)
    assert again.sizes == net.sizes and again.dtype == net.dtype
    x = np.random.default_rng(0).random((5, 784))
    np.testing.assert_array_equal(again.feedforward(x), net.feedforward(x))
    assert again.metadata["training"] == {"eta": 3.0}
    assert again.metadata["history"] == [{"epoch": 0}]
    assert again.metadata["format"] == "neuraldigits-model"


def test_save_leaves_no_temporary_files_and_replaces_atomically(tmp_path):
    path = tmp_path / "m.npz"
    save(Network([4, 3, 2], seed=0), path)
    save(Network([4, 5, 2], seed=0), path)
    assert os.listdir(tmp_path) == ["m.npz"]
    assert load(path).sizes == [4, 5, 2]


def test_failed_save_keeps_the_old_file(tmp_path):
    path = tmp_path / "m.npz"
    save(Network([4, 3, 2], seed=0), path)
    before = path.read_bytes()
    with pytest.raises(ModelFileError, match="not JSON-serialisable"):
        save(Network([4, 3, 2], seed=1), path, bad=object())
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["m.npz"]


def rewrite(path, mutate):
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    mutate(arrays)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def set_meta(**changes):
    def mutate(arrays):
        meta = json.loads(bytes(arrays["metadata"]))
        meta.update(changes)
        arrays["metadata"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)

    return mutate


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda a: a.pop("metadata"), "no metadata record"),
        (lambda a: a.update(metadata=np.frombuffer(b"{not json", np.uint8)), "corrupt metadata"),
        (set_meta(format="something-else"), "format is not"),
        (set_meta(format_version=99), "version 99 is not supported"),
        (set_meta(sizes=[5, 3, 2]), "weights_0 has shape"),
        (set_meta(sizes=[4, 3]), "unexpected arrays"),
        (set_meta(sizes="784,30"), "invalid layer sizes"),
        (set_meta(cost="hinge"), "unknown cost"),
        (set_meta(dtype="int8"), "unsupported dtype"),
        (lambda a: a.pop("biases_1"), "biases_1 is missing"),
        (lambda a: a.update(weights_0=a["weights_0"].astype(np.float64)), "dtype float64"),
        (lambda a: a.update(extra=np.zeros(3)), "unexpected arrays"),
        (lambda a: a["weights_1"].__setitem__((0, 0), np.nan), "NaN or infinite"),
    ],
)
def test_inconsistent_files_are_refused(tmp_path, mutate, message):
    path = save(Network([4, 3, 2], seed=0), tmp_path / "m.npz")
    rewrite(path, mutate)
    with pytest.raises(ModelFileError, match=message):
        load(path)


def test_missing_truncated_and_foreign_files(tmp_path):
    with pytest.raises(ModelFileError, match="model file not found"):
        load(tmp_path / "nope.npz")
    path = save(Network([4, 3, 2], seed=0), tmp_path / "m.npz")
    data = path.read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="cut.npz"):
        load(tmp_path / "cut.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ModelFileError, match="text.npz"):
        load(tmp_path / "text.npz")
    np.save(tmp_path / "plain.npy", np.zeros(3))
    with pytest.raises(ModelFileError, match=r"plain.npy: not a neuraldigits model \(.npz archive"):
        load(tmp_path / "plain.npy")
    with zipfile.ZipFile(tmp_path / "empty.npz", "w"):
        pass
    with pytest.raises(ModelFileError, match="no metadata"):
        load(tmp_path / "empty.npz")


def test_pickled_content_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.npz"
    np.savez(path, metadata=np.array([Exploit()], dtype=object))
    with pytest.raises(ModelFileError, match="pickled objects"):
        load(path)
    assert not marker.exists()


def test_saved_files_get_ordinary_permissions(tmp_path):
    umask = os.umask(0)
    os.umask(umask)
    path = save(Network([4, 3, 2], seed=0), tmp_path / "m.npz")
    # Not mkstemp's owner-only 0600: the mode any new file gets (0666 less the umask).
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
