"""Model files: exact round trip, atomic writes, and a clear refusal of every bad file."""

import io
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
    assert all(a.flags.writeable and a.flags.c_contiguous for a in again.weights + again.biases)


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


# ---------------------------------------------------------------------- hostile files (issue 15)


def npy_bytes(array=None, *, header=None, data=b""):
    """A .npy member: numpy's encoding of ``array``, or ``header`` (a dict literal) + ``data``."""
    if array is not None:
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, array, allow_pickle=False)
        return buffer.getvalue()
    text = header.encode("latin1")
    text += b" " * (-(len(text) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + data


def meta_bytes(**changes):
    meta = {"format": "neuraldigits-model", "format_version": 1, "sizes": [4, 3, 2]}
    meta.update(cost="quadratic", dtype="float32")
    meta.update(changes)
    return npy_bytes(np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))


def write_zip(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def good_members(**meta):
    net = Network([4, 3, 2], seed=0)
    members = {"metadata.npy": meta_bytes(**meta)}
    for layer, (w, b) in enumerate(zip(net.weights, net.biases)):
        members[f"weights_{layer}.npy"] = npy_bytes(w)
        members[f"biases_{layer}.npy"] = npy_bytes(b)
    return members


def test_hand_built_members_load(tmp_path):
    """The helpers below build files the loader accepts, so each refusal is the mutation's."""
    assert load(write_zip(tmp_path / "m.npz", good_members())).sizes == [4, 3, 2]
    assert load(write_zip(tmp_path / "d.npz", good_members(), zipfile.ZIP_DEFLATED)).sizes


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"cost": []}', "format is not"),
        (
            '{"format": "neuraldigits-model", "format_version": 1, "sizes": [4, 3, 2], '
            '"cost": [], "dtype": "float32"}',
            r"unknown cost \[\]",
        ),
        ("[" * 100_000 + "]" * 100_000, "nested 100000 deep"),
        ('{"a": ' + "9" * 5000 + "}", "5,000 digits"),
        ('{"a": NaN}', "NaN is not a JSON number"),
        ('{"format": "neuraldigits-model", "format_version": true}', "version True"),
        ('{"a": "\\"[[[["}' + "x", "corrupt metadata"),
    ],
)
def test_hostile_metadata_is_a_model_file_error(tmp_path, text, message):
    members = good_members()
    members["metadata.npy"] = npy_bytes(np.frombuffer(text.encode(), dtype=np.uint8))
    with pytest.raises(ModelFileError, match=message):
        load(write_zip(tmp_path / "m.npz", members))


@pytest.mark.parametrize(
    ("history", "message"),
    [
        (5, "'history' is 5, not a list"),
        (["a"], "entry 0 is 'a', not an epoch record"),
        ([{"test": "x"}], "entry 0 is .*not an epoch record"),
        ([{"epoch": 0, "test": {"correct": 9, "total": 5}}], "entry 0 is"),
        ([{"epoch": 0, "seconds": 1.0, "test": None}, {"epoch": "1"}], "entry 1 is"),
    ],
)
def test_a_history_plots_could_not_read_is_refused_at_load(tmp_path, history, message):
    """plot, reproduce and info read the history's fields: a file with others fails once, here."""
    path = save(Network([4, 3, 2], seed=0), tmp_path / "m.npz", history=history)
    with pytest.raises(ModelFileError, match=message):
        load(path)
    record = {"epoch": 0, "seconds": 0.5, "eta": 3.0, "training": None,
              "test": {"correct": 4, "total": 5, "cost": 0.1}, "validation": None}  # fmt: skip
    assert load(save(Network([4, 3, 2], seed=0), tmp_path / "ok.npz", history=[record]))


def test_a_huge_declared_shape_is_refused_before_allocating(tmp_path):
    members = good_members()
    members["weights_0.npy"] = npy_bytes(
        header="{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,), }"
    )
    with pytest.raises(ModelFileError, match=r"weights_0 has shape \(1000000000000,\)"):
        load(write_zip(tmp_path / "m.npz", members))
    members["metadata.npy"] = npy_bytes(
        header="{'descr': '|u1', 'fortran_order': False, 'shape': (1000000000000,), }"
    )
    with pytest.raises(ModelFileError, match="over the limit"):
        load(write_zip(tmp_path / "m.npz", members))


def test_sizes_are_budgeted_before_any_array_is_read(tmp_path):
    path = write_zip(tmp_path / "m.npz", good_members(sizes=[100_000, 100_000, 10]))
    with pytest.raises(ModelFileError, match="over the memory budget"):
        load(path)  # the default budget is at most 4 GiB; these are 10**10 weights
    with pytest.raises(ModelFileError, match="over the memory budget of 100 bytes"):
        load(write_zip(tmp_path / "s.npz", good_members()), memory_budget=100)


def test_an_unexpected_member_is_refused_without_decompressing_it(tmp_path):
    # Not even valid deflate data: refusing it by name means it was never inflated.
    path = write_zip(tmp_path / "m.npz", {**good_members(), "extra.npy": b"\x00" * 64})
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("extra.npy")
    data[info.header_offset + 30 + len("extra.npy") :][:64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=r"unexpected arrays \['extra.npy'\]"):
        load(path)


def test_a_member_declaring_more_bytes_than_its_shape_is_refused(tmp_path):
    members = good_members()
    members["weights_0.npy"] += b"\x00" * 4096  # a longer member than (3, 4) float32 needs
    with pytest.raises(ModelFileError, match="declares .* bytes in the archive"):
        load(write_zip(tmp_path / "m.npz", members))


@pytest.mark.parametrize(("bits", "message"), [(0x1, "encrypted"), (0x40, "encrypted")])
def test_flipped_zip_flag_bits_are_a_model_file_error(tmp_path, bits, message):
    path = write_zip(tmp_path / "m.npz", good_members())
    data = bytearray(path.read_bytes())
    directory = data.find(b"PK\x01\x02")  # first central directory entry: flags at +8
    data[directory + 8] |= bits
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=message):
        load(path)


def test_a_zip_directory_declaring_millions_of_members_is_refused(tmp_path):
    path = write_zip(tmp_path / "m.npz", good_members())
    data = bytearray(path.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    data[end + 8 : end + 12] = (65_000).to_bytes(2, "little") * 2
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="declares 65,000 members"):
        load(path)


def test_pictures_and_text_are_not_called_pickles(tmp_path):
    from PIL import Image

    Image.new("L", (8, 8)).save(tmp_path / "digit.png")
    with pytest.raises(ModelFileError, match=r"digit.png: .*it is a PNG image"):
        load(tmp_path / "digit.png")
    (tmp_path / "notes.npz").write_text("weights: lots\n")
    with pytest.raises(ModelFileError, match=r"notes.npz: .*it is text"):
        load(tmp_path / "notes.npz")


def test_a_fifo_or_directory_is_refused_without_hanging(tmp_path):
    os.mkfifo(tmp_path / "pipe.npz")
    with pytest.raises(ModelFileError, match="pipe.npz: is a FIFO"):
        load(tmp_path / "pipe.npz")
    with pytest.raises(ModelFileError, match="is a directory"):
        load(tmp_path)


def test_weights_whose_outputs_overflow_are_refused(tmp_path):
    net = Network([4, 3, 2], seed=0)
    net.weights[0][:] = 3e38  # finite, but 4 of them sum past float32's largest number
    with pytest.raises(ModelFileError, match="m.npz: layer 1's weights are so large"):
        load(save(net, tmp_path / "m.npz"))
