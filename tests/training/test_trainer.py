"""The fast trainer computes exactly what the book's reference path computes.

float64 paths are compared with the float64 reference (TOLERANCE: sums in another
order); float32 ones with the float64 oracle :func:`support.training.exact_sgd`,
within the bound on float32 rounding derived there, which does not depend on which
BLAS kernel runs (the numpy and reference paths' sums are BLAS's).
"""

from __future__ import annotations

import numpy as np
import pytest
from support.data import digits
from support.training import (
    TOLERANCE,
    U,
    assert_same_network,
    assert_trains_exactly,
    exact_sgd,
    exact_train,
    stop_after,
    train,
)

from neuraldigits.network import Network
from neuraldigits.training import trainer as fastpath

numba = pytest.importorskip("numba", reason="the compiled path needs the `fast` extra (numba)")


ARCHITECTURES = [[784, 30, 10], [784, 10], [784, 40, 20, 15, 10]]


@pytest.mark.parametrize("sizes", ARCHITECTURES, ids=lambda s: "-".join(map(str, s)))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("method", ["numba", "numpy"])
def test_fast_equals_reference(sizes, dtype, method):
    """float64: the reference path's weights to TOLERANCE, its scores to 10× its rtol.

    float32: every epoch within exact_sgd's bound of the float64 run (u = 2^−24 and
    the run's sums), its scores too but for near ties.  Measured, every
    OPENBLAS_CORETYPE: the worst parameter at 0.02–0.16 of the bound; η × 1.001
    exceeds it 3–42× (0.75× in the 4-layer net), one example trained in place of
    another 52–1,100×.
    """
    # 503 examples in mini-batches of 10: the last one has 3, and steps by η/3.
    if dtype == np.float32:
        assert_trains_exactly(sizes, method)
        return
    fast, fast_history = train(sizes, method, dtype=dtype)
    ref, ref_history = train(sizes, "reference", dtype=dtype)
    assert_same_network(fast, ref, *TOLERANCE[dtype])
    assert [r.test.correct for r in fast_history] == [r.test.correct for r in ref_history]
    costs = [(f.test.cost, r.test.cost) for f, r in zip(fast_history, ref_history)]
    np.testing.assert_allclose(*zip(*costs), rtol=TOLERANCE[dtype][0] * 10)


@pytest.mark.parametrize("method", ["numba", "numpy"])
def test_uint8_images_equal_float_images(method):
    """uint8 pixels are scaled by 1/255 on the fly, never copied into floats."""
    from_bytes, _ = train([784, 20, 10], method, dtype=np.float64, images_dtype=np.uint8)
    from_floats, _ = train([784, 20, 10], "reference", dtype=np.float64)
    assert_same_network(from_bytes, from_floats, *TOLERANCE[np.float64])


@pytest.mark.parametrize("method", ["fast", "numba", "numpy"])  # fast: C where it is built
def test_memory_mapped_images(tmp_path, method):
    """Within exact_sgd's bound (float32 rounding, uint8 scaling included) of float64.

    Measured: ≤ 0.12 of it; η × 1.001 exceeds it 1.9×, one example swapped 290×."""
    images, labels = digits(300, dtype=np.uint8)
    path = tmp_path / "images.u8"
    images.tofile(path)
    mapped = np.memmap(path, dtype=np.uint8, mode="r", shape=images.shape)
    net, start = Network([784, 12, 10], seed=3), Network([784, 12, 10], seed=3)
    exact = exact_sgd(start, images, labels, [start.rng.permutation(300)], 7, 2.0)
    net.sgd((mapped, labels), 1, 7, 2.0, method=method)
    exact.assert_close(net, name=method)


def test_mini_batch_larger_than_the_data():
    fast, _ = train([784, 8, 10], "numba", n=23, m=50, dtype=np.float64)
    ref, _ = train([784, 8, 10], "reference", n=23, m=50, dtype=np.float64)
    assert_same_network(fast, ref, *TOLERANCE[np.float64])


def test_fast_is_numba_for_float64():
    default, _ = train([784, 10, 10], "fast", dtype=np.float64)
    compiled, _ = train([784, 10, 10], "numba", dtype=np.float64)
    for a, b in zip(default.weights, compiled.weights):
        np.testing.assert_array_equal(a, b)  # the very same computation


def test_falls_back_to_numpy_without_numba_or_c(monkeypatch):
    monkeypatch.setattr(fastpath, "compiled_kernels", lambda: None)
    monkeypatch.setattr(fastpath.ckernel, "_library", lambda: None)
    assert fastpath.backend_for(np.zeros((1, 784), np.float32)) == "numpy"
    fallback, _ = train([784, 16, 10], "fast", dtype=np.float64)
    ref, _ = train([784, 16, 10], "reference", dtype=np.float64)
    assert_same_network(fallback, ref, *TOLERANCE[np.float64])
    with pytest.raises(RuntimeError, match="needs numba, the numba extra: pip install"):
        train([784, 16, 10], "numba")


def test_other_image_dtypes_use_numpy():
    images, labels = digits(50, dtype=np.float32)
    half = images.astype(np.float16)
    assert fastpath.backend_for(half) == "numpy"
    net = Network([784, 5, 10], seed=0)
    with pytest.raises(ValueError, match="float16"):
        net.sgd((half, labels), 1, 10, 3.0, method="numba")
    exact = exact_sgd(net, half, labels, [np.random.default_rng(0).permutation(50)], 10, 3.0)
    net.sgd((half, labels), 1, 10, 3.0, rng=np.random.default_rng(0))
    exact.assert_close(net, name="numpy")  # float16 pixels are exact in float32 and float64


def test_unknown_method_is_refused():
    net = Network([784, 5, 10], seed=0)
    with pytest.raises(ValueError, match="unknown method 'fastest'.*reference"):
        net.sgd(digits(20), 1, 10, 3.0, method="fastest")


@pytest.mark.parametrize("method", ["numba", "numpy"])
def test_on_batch_counts_every_example(method):
    counts = []
    train([784, 6, 10], method, n=12_345, epochs=2, on_batch=counts.append)
    assert sum(counts) == 2 * 12_345
    assert len(counts) > 2  # reported during the epoch, not only at its end


def test_interrupt_leaves_a_consistent_network():
    """Ctrl-C between chunks: every layer holds the weights after the same mini-batch."""

    nets = {}
    for method in ("numba", "reference"):
        nets[method] = Network([784, 9, 10], seed=5, dtype=np.float64)
        with pytest.raises(KeyboardInterrupt):
            nets[method].sgd(digits(12_000), 1, 10, 3.0, on_batch=stop_after(5_000), method=method)
    assert_same_network(nets["numba"], nets["reference"], *TOLERANCE[np.float64])
    assert not np.allclose(nets["numba"].weights[0], Network([784, 9, 10], seed=5).weights[0])


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_sparse_rows_lists_every_nonzero_pixel(monkeypatch, dtype):
    from neuraldigits.training import sparse

    monkeypatch.setattr(sparse, "_CHUNK_ROWS", 7)  # rows split over several chunks
    images, _ = digits(40, dtype=dtype)
    images[5] = 0  # an empty row
    indptr, indices, values = sparse.sparse_rows(images)
    assert indices.dtype == np.uint16 and values.dtype == dtype and indptr.dtype == np.int64
    rebuilt = np.zeros_like(images)
    for r in range(len(images)):
        columns = indices[indptr[r] : indptr[r + 1]]
        assert np.all(np.diff(columns.astype(int)) > 0)  # ascending, as the kernels expect
        rebuilt[r, columns] = values[indptr[r] : indptr[r + 1]]
    np.testing.assert_array_equal(rebuilt, images)
    assert indptr[-1] == np.count_nonzero(images) and indptr[6] == indptr[5]


def test_real_mnist_one_epoch_fast_equals_reference(mnist):
    """One epoch of the book's recipe on real MNIST (float64): same weights, same score.

    5,000 SGD steps at η = 3 amplify float64 rounding differences (sums taken in
    another order) to ~1e-5 at most; a wrong gradient would be off by far more.
    """
    training, _, test = mnist
    fast = Network([784, 30, 10], seed=0, dtype=np.float64)
    ref = fast.copy()
    fast_history = fast.sgd(training, 1, 10, 3.0, test_data=test, rng=np.random.default_rng(1))
    ref_history = ref.sgd(
        training, 1, 10, 3.0, test_data=test, rng=np.random.default_rng(1), method="reference"
    )
    assert_same_network(fast, ref, rtol=0, atol=1e-4)
    assert fast_history[0].test.correct == ref_history[0].test.correct
    assert fast_history[0].test.correct > 9_000  # it learned: the book gets ~9,100 after one


def test_a_custom_step_is_respected():
    """A subclass that changes update_mini_batch gets its own step, not the kernel's."""

    class Frozen(Network):
        def update_mini_batch(self, mini_batch, eta):
            pass  # e.g. a later chapter's step; here: learn nothing

    net = Frozen([784, 5, 10], seed=0)
    before = [w.copy() for w in net.weights]
    net.sgd(digits(30), 1, 10, 3.0)
    for a, b in zip(before, net.weights):
        np.testing.assert_array_equal(a, b)


def test_float32_exp_and_sigmoid_layer_are_accurate():
    """The kernel's own float32 e^(−u) (vectorisable, no libm) matches the true value.

    e^(−u) within 1.5 ulp (3u, u = 2^−24) of float64's; σ then adds 1 + e and a
    division (2u), and e/(1 + e) passes e's error on at most in full: σ within 5u
    (≈ 3.0e-7) of float64's σ, clipped at 80 as float32's is.
    """
    from neuraldigits.activations import sigmoid
    from neuraldigits.training.numba_kernel import _sigmoid_layer, exp_neg

    @numba.njit
    def exp_neg_all(u, out):
        for i in range(u.shape[0]):
            out[i] = exp_neg(u[i])

    u = np.linspace(0, 80, 100_001, dtype=np.float32)
    e = np.empty_like(u)
    exp_neg_all(u, e)
    np.testing.assert_allclose(e, np.exp(-u.astype(np.float64)), rtol=1.5 * 2.0**-23, atol=0)
    z = np.linspace(-100, 100, 10_000, dtype=np.float32)
    row = np.concatenate([z, np.zeros(16, np.float32)])  # 16 entries of padding
    _sigmoid_layer(row, len(z), np.float32(1), np.float32(80))
    assert row.dtype == np.float32 and not row[len(z) :].any()  # the padding stays zero
    exact = sigmoid(np.clip(z.astype(np.float64), -80, 80))
    np.testing.assert_allclose(row[: len(z)], exact, rtol=5 * U, atol=0)


@pytest.mark.parametrize("sizes", [[784, 30, 10], [784, 40, 20, 15, 10]])
def test_the_float64_oracle_is_the_reference_path(sizes):
    """exact_sgd, which judges the float32 paths, is the book's training: the reference
    path in float64 from the same float32 start, to float64 rounding."""
    exact = exact_train(tuple(sizes))
    net = Network(sizes, seed=7)  # the same start and generator as exact_train's
    reference = Network(sizes, dtype=np.float64)
    reference.weights = [w.astype(np.float64) for w in net.weights]
    reference.biases = [b.astype(np.float64) for b in net.biases]
    history = reference.sgd(
        digits(503, seed=1), 2, 10, 3.0, test_data=digits(97, seed=2), rng=net.rng,
        method="reference",
    )  # fmt: skip
    assert_same_network(reference, exact.nets[-1], *TOLERANCE[np.float64])
    assert [r.test.correct for r in history] == [s.correct for s in exact.scores]
    costs = [r.test.cost for r in history], [s.cost for s in exact.scores]
    np.testing.assert_allclose(*costs, rtol=TOLERANCE[np.float64][0])
