"""The C kernel computes exactly what the book's reference path computes, on any thread count."""

from __future__ import annotations

import platform
import shutil

import numpy as np
import pytest
from support.data import digits
from support.training import TOLERANCE, assert_same_network, train

from neuraldigits.network import Network
from neuraldigits.training import ckernel
from neuraldigits.training import trainer as fastpath

HAS_COMPILER = any(shutil.which(cc) for cc in ("cc", "gcc", "clang"))


def test_the_kernel_is_built_wherever_a_compiler_is():
    """A silent build failure would quietly leave users on the slower paths."""
    if not HAS_COMPILER:
        pytest.skip("no C compiler here, so the kernel was (rightly) not built")
    assert ckernel.available(), "setup.py should have built neuraldigits._ckernel"
    if platform.machine().lower() in ("x86_64", "amd64"):
        assert ckernel.variant() in ("AVX2+FMA", "baseline")


needs_c = pytest.mark.skipif(not ckernel.available(), reason="the C kernel was not built")

# Hidden widths that exercise every column block: 4 vectors (32), 2 and 1 (24 → 3 vectors:
# one of 2, one of 1), a width off the vector size (30 → 32, 13 → 16), and a wide layer.
ARCHITECTURES = [[784, 30, 10], [784, 10], [784, 13, 10], [784, 40, 20, 15, 10], [784, 100, 10]]


@needs_c
@pytest.mark.parametrize("sizes", ARCHITECTURES, ids=lambda s: "-".join(map(str, s)))
def test_c_equals_reference(sizes):
    # 503 examples in mini-batches of 10: the last one has 3, and steps by η/3.
    fast, fast_history = train(sizes, "c")
    ref, ref_history = train(sizes, "reference")
    assert_same_network(fast, ref, *TOLERANCE[np.float32])
    assert [r.test.correct for r in fast_history] == [r.test.correct for r in ref_history]


@needs_c
@pytest.mark.parametrize("images_dtype", [np.uint8, np.float32, np.float64])
def test_every_image_dtype(images_dtype):
    fast, _ = train([784, 20, 10], "c", images_dtype=images_dtype)
    ref, _ = train([784, 20, 10], "reference", images_dtype=images_dtype)
    assert_same_network(fast, ref, *TOLERANCE[np.float32])


@needs_c
@pytest.mark.parametrize("sizes", [[784, 30, 10], [784, 40, 20, 10], [784, 100, 10]])
def test_threads_change_nothing(sizes):
    """Each thread owns whole columns of the input layer: not one rounding differs."""
    images, labels = digits(1_000, dtype=np.uint8)
    order = np.random.default_rng(0).permutation(len(labels))
    nets = []
    for threads in (1, 2, 3, 5):
        net = Network(sizes, seed=2)
        fastpath.Trainer(net, images, labels, 10, 3.0, "c", threads=threads).epoch(order)
        nets.append(net)
    for net in nets[1:]:
        for a, b in zip(nets[0].weights + nets[0].biases, net.weights + net.biases):
            np.testing.assert_array_equal(a, b)


@needs_c
def test_c_equals_numba():
    pytest.importorskip("numba")
    c, _ = train([784, 30, 10], "c")
    compiled, _ = train([784, 30, 10], "numba")
    assert_same_network(c, compiled, *TOLERANCE[np.float32])


@needs_c
def test_saturated_neurons_and_tiny_batches():
    """Weights ×40 drive z far past σ's clip (|z| > 80) and saturate most neurons.

    Ill-conditioned: float32 rounding grows, so both float32 paths are judged
    against the float64 reference; the kernel must be as accurate as the book's.
    """

    def run(method, dtype=np.float32):
        net = Network([784, 16, 10], seed=4, dtype=dtype)
        for w in net.weights:
            w *= 40
        data = digits(57, dtype=np.float32)
        net.sgd(data, 2, 4, 3.0, rng=np.random.default_rng(3), method=method)
        return net.weights + net.biases

    exact = run("reference", np.float64)
    for name, params in (("c", run("c")), ("reference", run("reference"))):
        errors = [float(np.abs(a - b).max()) for a, b in zip(params, exact)]
        assert all(np.isfinite(errors)), name
        if name == "c":
            c_errors = errors
    for c_error, ref_error in zip(c_errors, errors):
        assert c_error <= 2 * ref_error + 1e-5


@needs_c
def test_the_kernels_sigmoid_is_accurate():
    """The kernel's float32 σ (a polynomial e^(−|z|), no libm) against numpy's, past the clip."""
    from neuraldigits.activations import sigmoid

    z = np.linspace(-100, 100, 100_003, dtype=np.float32)
    np.testing.assert_allclose(ckernel.sigmoid(z), sigmoid(z), rtol=3e-7, atol=0)
    special = np.array([0.0, -0.0, 80.0, -80.0, 1e30, -1e30, np.inf, -np.inf], np.float32)
    np.testing.assert_allclose(ckernel.sigmoid(special), sigmoid(special), rtol=3e-7, atol=0)
    assert ckernel.sigmoid(special)[[0, 1, 2, 4, 6]].tolist() == [0.5, 0.5, 1.0, 1.0, 1.0]
    assert np.isnan(ckernel.sigmoid(np.array([np.nan], np.float32)))[0]


@needs_c
def test_mini_batch_larger_than_the_data():
    fast, _ = train([784, 8, 10], "c", n=23, m=50)
    ref, _ = train([784, 8, 10], "reference", n=23, m=50)
    assert_same_network(fast, ref, *TOLERANCE[np.float32])


@needs_c
def test_c_is_the_default_for_float32_and_numba_for_float64():
    assert fastpath.backend_for(np.zeros((1, 784), np.uint8)) == "c"
    expected = "numba" if fastpath.compiled_kernels() else "numpy"
    assert fastpath.backend_for(np.zeros((1, 784), np.uint8), np.float64) == expected
    assert fastpath.backend_for(np.zeros((1, 70_000), np.uint8)) in ("numpy", expected)


@needs_c
def test_progress_and_interrupt():
    counts = []
    train([784, 6, 10], "c", n=12_345, epochs=2, on_batch=counts.append)
    assert sum(counts) == 2 * 12_345 and len(counts) > 2

    def stop_at_5000():
        done = []

        def on_batch(count):
            done.append(count)
            if sum(done) >= 5_000:
                raise KeyboardInterrupt

        return on_batch

    nets = {}
    for method in ("c", "reference"):
        nets[method] = Network([784, 9, 10], seed=5)
        with pytest.raises(KeyboardInterrupt):
            nets[method].sgd(digits(12_000), 1, 10, 3.0, on_batch=stop_at_5000(), method=method)
    # every layer stopped after the same mini-batch
    assert_same_network(nets["c"], nets["reference"], 2e-3, 2e-4)


def test_refusals_name_the_reason(monkeypatch):
    images, labels = digits(20)
    if ckernel.available():
        with pytest.raises(ValueError, match='"c" trains float32 networks'):
            Network([784, 5, 10], dtype=np.float64).sgd((images, labels), 1, 10, 3.0, method="c")
        with pytest.raises(ValueError, match="float16"):
            Network([784, 5, 10]).sgd((images.astype(np.float16), labels), 1, 10, 3.0, method="c")
    monkeypatch.setattr(ckernel, "_library", lambda: None)
    assert fastpath.backend_for(images) != "c"
    with pytest.raises(RuntimeError, match="reinstall with a C compiler"):
        Network([784, 5, 10]).sgd((images, labels), 1, 10, 3.0, method="c")
    with pytest.raises(RuntimeError, match="not built"):
        ckernel.sgd_batches(*[None] * 15)


@needs_c
def test_bad_arguments_are_refused_before_the_c_code_runs():
    images, labels = digits(30, dtype=np.uint8)
    net = Network([784, 8, 10], seed=0)
    sparse = fastpath.sparse_rows(images)
    layout = fastpath._kernel_layout(net, ckernel.padded, ckernel.aligned_zeros)
    labels = labels.astype(np.int64)
    order = np.arange(30, dtype=np.int64)

    def call(labels=labels, order=order, start=0, stop=30):
        ckernel.sgd_batches(sparse, labels, order, start, stop, 10, 0.3, 0.3, 1 / 255, 80.0,
                            *layout)  # fmt: skip

    call()  # well-formed: runs
    with pytest.raises(ValueError, match="a label per image"):
        call(labels=labels[:5])
    with pytest.raises(ValueError, match="start ≤ stop ≤ len"):
        call(stop=31)
    with pytest.raises(ValueError, match="outside 0…29"):
        call(order=np.arange(1, 31, dtype=np.int64))
    with pytest.raises(TypeError, match="C-contiguous int64"):
        call(order=order.astype(np.float64))
    with pytest.raises(TypeError, match="C-contiguous int64"):
        call(order=np.arange(30, dtype=np.int64)[::-1])  # not contiguous


def test_aligned_zeros_start_on_a_cache_line():
    for shape in [(3,), (784, 32), (7, 5)]:
        a = ckernel.aligned_zeros(shape)
        assert a.shape == shape and a.dtype == np.float32 and a.ctypes.data % 64 == 0
        assert a.flags.c_contiguous and not a.any()


def test_default_threads(monkeypatch):
    monkeypatch.delenv("NEURALDIGITS_THREADS", raising=False)
    assert ckernel.default_threads(30) == 1
    monkeypatch.setenv("NEURALDIGITS_THREADS", "2")
    assert ckernel.default_threads(30) == 2
    assert ckernel.default_threads(5) == 1  # one 8-float vector: nothing to split
    monkeypatch.setenv("NEURALDIGITS_THREADS", "64")
    assert ckernel.default_threads(1000) == 8
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("NEURALDIGITS_THREADS", bad)
        with pytest.raises(ValueError, match="NEURALDIGITS_THREADS must be a whole number"):
            ckernel.default_threads(30)


@needs_c
def test_the_thread_setting_reaches_training(monkeypatch):
    monkeypatch.setenv("NEURALDIGITS_THREADS", "2")
    images, labels = digits(40, dtype=np.uint8)
    assert fastpath.Trainer(Network([784, 30, 10]), images, labels, 10, 3.0).threads == 2


@needs_c
def test_a_bad_thread_setting_is_one_line_in_the_cli(tiny_mnist_dir, tmp_path, monkeypatch, capsys):
    from neuraldigits.cli import main

    monkeypatch.setenv("NEURALDIGITS_THREADS", "many")
    args = ["train", "--data", str(tiny_mnist_dir), "--epochs", "1", "--out", str(tmp_path / "m")]
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert err == "digits train: error: NEURALDIGITS_THREADS must be a whole number ≥ 1, not 'many'"


def test_real_mnist_c_matches_float64_reference(mnist):
    """Real MNIST, the book's recipe: the C kernel in float32 against the book's path in float64.

    500 steps on 5,000 images agree to ~5e-5 (float32 rounding, sums taken in
    another order); over a whole epoch of 5,000 steps at η = 3 every float32
    path, the book's included, drifts ~0.3 from float64 (chaotic amplification
    of rounding), so the full epoch is judged by what it learned.
    """
    if not ckernel.available():
        pytest.skip("the C kernel was not built")
    training, _, test = mnist
    part = (training[0][:5_000], training[1][:5_000])
    fast = Network([784, 30, 10], seed=0)
    exact = Network([784, 30, 10], seed=0, dtype=np.float64)
    fast.sgd(part, 1, 10, 3.0, rng=np.random.default_rng(1), method="c")
    exact.sgd(part, 1, 10, 3.0, rng=np.random.default_rng(1), method="reference")
    for a, b in zip(fast.weights + fast.biases, exact.weights + exact.biases):
        np.testing.assert_allclose(a, b, rtol=0, atol=3e-4)
    history = Network([784, 30, 10], seed=0).sgd(training, 1, 10, 3.0, test_data=test, method="c")
    assert history[0].test.correct > 9_000  # the book gets ~9,100 after one epoch
