"""training.prepare: a training set indexed once for many sgd calls, as a snapshot."""

import numpy as np
import pytest
from support.data import digits

from neuraldigits.network import Network
from neuraldigits.training import PreparedData, prepare, trainer


def twin_runs(data_a, data_b, method, epochs=2, dtype=np.float32):
    a, b = Network([784, 12, 10], seed=4, dtype=dtype), Network([784, 12, 10], seed=4, dtype=dtype)
    history_a = [a.sgd(data_a, 1, 10, 3.0, method=method)[0] for _ in range(epochs)]
    history_b = [b.sgd(data_b, 1, 10, 3.0, method=method)[0] for _ in range(epochs)]
    return a, b, history_a, history_b


@pytest.mark.parametrize("images_dtype", [np.uint8, np.float32, np.float64])
@pytest.mark.parametrize("method", ["fast", "numpy", "numba", "reference"])
def test_prepared_data_trains_exactly_like_the_arrays(method, images_dtype):
    if method == "numba" and trainer.compiled_kernels() is None:
        pytest.skip("numba is not installed")
    data = digits(403, seed=1, dtype=images_dtype)
    a, b, _, _ = twin_runs(data, prepare(data), method)
    for x, y in zip(a.weights + a.biases, b.weights + b.biases):
        np.testing.assert_array_equal(x, y)  # the same computation, bit for bit


def test_the_ink_pixels_are_listed_once(monkeypatch):
    data = prepare(digits(100, dtype=np.uint8))
    calls = []
    monkeypatch.setattr(trainer, "sparse_rows", lambda images: calls.append(1))
    net = Network([784, 8, 10], seed=0)
    for _ in range(3):
        net.sgd(data, 1, 10, 3.0)
    assert calls == []  # every call used the prepared listing


def test_it_is_a_snapshot_so_later_changes_are_never_half_seen():
    images, labels = digits(300, seed=2, dtype=np.uint8)
    original = (images.copy(), labels.copy())
    data = prepare((images, labels))
    images[:] = 255 - images  # the caller changes its arrays afterwards
    labels[:] = (labels + 1) % 10
    snapshot, fresh = Network([784, 8, 10], seed=1), Network([784, 8, 10], seed=1)
    snapshot.sgd(data, 2, 10, 3.0, method="c" if trainer.ckernel.available() else "numba")
    fresh.sgd(original, 2, 10, 3.0, method="c" if trainer.ckernel.available() else "numba")
    for x, y in zip(snapshot.weights + snapshot.biases, fresh.weights + fresh.biases):
        np.testing.assert_array_equal(x, y)


def test_it_unpacks_like_the_pair_and_cannot_be_changed_through():
    images, labels = digits(20, dtype=np.float32)
    data = prepare((images, labels))
    assert isinstance(data, PreparedData) and len(data) == 2
    got_images, got_labels = data
    assert got_images.shape == images.shape and got_labels.dtype == np.int64
    with pytest.raises(ValueError, match="read-only"):
        got_images[0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        got_labels[0] = 3
    assert Network([784, 5, 10]).score(data).total == 20


@pytest.mark.parametrize("bad", [None, (np.zeros((2, 784)),), (np.zeros((2, 784)), np.zeros(2))])
def test_bad_data_is_refused_with_the_reason(bad):
    with pytest.raises(ValueError, match="pair of arrays|labels must be integers"):
        prepare(bad)
