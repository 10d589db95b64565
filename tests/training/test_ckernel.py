"""The C kernel computes exactly what the book's reference path computes, on any thread count.

Every build this CPU runs is tested (:func:`ckernel.builds`: the baseline one, and
AVX2+FMA where the CPU has them), not only the one training picks; their roundings
differ (FMA contracts a·b + c).  Results are judged against the float64 oracle
:func:`support.training.exact_sgd`, within the bound on float32 rounding derived
there, which no BLAS kernel or SIMD build can move.
"""

from __future__ import annotations

import contextlib
import platform
import shutil

import numpy as np
import pytest
from support.data import digits
from support.training import U, assert_trains_exactly, c_build, exact_sgd, stop_after, train

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
    assert ckernel.builds()[0] == "baseline"  # runs anywhere
    assert ckernel.variant() == ckernel.builds()[-1]  # training takes the fastest


needs_c = pytest.mark.skipif(not ckernel.available(), reason="the C kernel was not built")

# Every build of the kernel this CPU runs; each equality test runs on each.
BUILDS = pytest.mark.parametrize("variant", ckernel.builds())


@needs_c
def test_a_build_the_cpu_cannot_run_is_refused():
    with pytest.raises(ValueError, match="no C kernel build 'AVX-1024' runs here"):
        ckernel.sigmoid(np.zeros(8, np.float32), variant="AVX-1024")


# Hidden widths that exercise every column block: 4 vectors (32), 2 and 1 (24 → 3 vectors:
# one of 2, one of 1), a width off the vector size (30 → 32, 13 → 16), and a wide layer.
ARCHITECTURES = [[784, 30, 10], [784, 10], [784, 13, 10], [784, 40, 20, 15, 10], [784, 100, 10]]


@needs_c
@BUILDS
@pytest.mark.parametrize("sizes", ARCHITECTURES, ids=lambda s: "-".join(map(str, s)))
def test_c_equals_reference(sizes, variant):
    """The book's training in float64 from the same start, to float32 rounding.

    Bound: exact_sgd's, from u = 2^−24 and this run's sums (support/training.py).
    Measured, both builds, every OPENBLAS_CORETYPE: the worst parameter at
    0.04–0.30 of it (by architecture).  It catches bugs: η × 1.001 exceeds it
    3–42× (0.75× in the 4-layer net, whose worst-case bound is loosest), one
    example trained in place of another 52–1,100×.  The test scores agree but
    for near ties (score_bounds).
    """
    # 503 examples in mini-batches of 10: the last one has 3, and steps by η/3.
    assert_trains_exactly(sizes, "c", variant=variant)


@needs_c
@BUILDS
@pytest.mark.parametrize("images_dtype", [np.uint8, np.float32, np.float64])
def test_every_image_dtype(images_dtype, variant):
    """uint8 pixels scaled in float32, float64 ones rounded: within exact_sgd's bound,
    which counts those roundings (2u|x|).  Measured: ≤ 0.08 of it; η × 1.001: 12×."""
    assert_trains_exactly([784, 20, 10], "c", images_dtype=images_dtype, variant=variant)


@needs_c
@BUILDS
@pytest.mark.parametrize("sizes", [[784, 30, 10], [784, 40, 20, 10], [784, 100, 10]])
def test_threads_change_nothing(sizes, variant):
    """Each thread owns whole columns of the input layer: not one rounding differs."""
    images, labels = digits(1_000, dtype=np.uint8)
    order = np.random.default_rng(0).permutation(len(labels))
    nets = []
    for threads in (1, 2, 3, 5):
        net = Network(sizes, seed=2)
        with c_build(variant):
            fastpath.Trainer(net, images, labels, 10, 3.0, "c", threads=threads).epoch(order)
        nets.append(net)
    for net in nets[1:]:
        for a, b in zip(nets[0].weights + nets[0].biases, net.weights + net.biases):
            np.testing.assert_array_equal(a, b)


@needs_c
@BUILDS
def test_c_equals_numba(variant):
    """The same loop in C and in numba: both within exact_sgd's bound of the float64 run
    (so within twice it of each other), whatever order each takes its sums in."""
    pytest.importorskip("numba")
    assert_trains_exactly([784, 30, 10], "c", variant=variant)
    assert_trains_exactly([784, 30, 10], "numba")


@needs_c
@BUILDS
def test_saturated_neurons_and_tiny_batches(variant):
    """Weights ×40 drive z far past σ's clip (|z| > 80) and saturate most neurons.

    Ill-conditioned: float32 rounding grows, so both float32 paths, the kernel and
    the book's, are judged against the float64 run of exact_sgd, within its bound
    (u = 2^−24 and the run's own sums; no other float32 path's error, which varies
    with the BLAS kernel: this test once failed on AVX-512 OpenBLAS).  Measured,
    both builds and the book's path: ≤ 0.94 of it where terms too small to move a
    weight of ~40 in float32 are lost (the bound allows each term once), ≤ 0.26
    elsewhere; η × 1.001 exceeds it 6.8×, one example trained in place of another 3.6×.
    """

    def start():
        net = Network([784, 16, 10], seed=4)
        for w in net.weights:
            w *= 40
        return net

    data = digits(57, dtype=np.float32)
    rng = np.random.default_rng(3)
    exact = exact_sgd(start(), *data, [rng.permutation(57) for _ in range(2)], 4, 3.0)
    for method in ("c", "reference"):
        net = start()
        with c_build(variant) if method == "c" else contextlib.nullcontext():
            net.sgd(data, 2, 4, 3.0, rng=np.random.default_rng(3), method=method)
        exact.assert_close(net, name=method)  # all finite, and within the bound


@needs_c
@BUILDS
def test_the_kernels_sigmoid_is_accurate(variant):
    """The kernel's float32 σ (a polynomial e^(−|z|), no libm) against float64 σ, past the clip.

    Bound: e^(−|z|) within 1.5 ulp (≤ 3u, u = 2^−24: Cephes' polynomial, as
    test_trainer checks numba's), then 1 + e and the division (2u), and e/(1 + e)
    passes e's error on at most in full: 5u ≈ 3.0e-7 relative.  Measured: 3.0u.
    Both clip |z| at 80, float32's SIGMOID_CLIP: that is the function computed.
    """
    from neuraldigits.activations import sigmoid

    def exact(z):
        return sigmoid(np.clip(z.astype(np.float64), -80, 80))

    z = np.linspace(-100, 100, 100_003, dtype=np.float32)
    np.testing.assert_allclose(ckernel.sigmoid(z, variant=variant), exact(z), rtol=5 * U, atol=0)
    special = np.array([0.0, -0.0, 80.0, -80.0, 1e30, -1e30, np.inf, -np.inf], np.float32)
    values = ckernel.sigmoid(special, variant=variant)
    np.testing.assert_allclose(values, exact(special), rtol=5 * U, atol=0)
    assert values[[0, 1, 2, 4, 6]].tolist() == [0.5, 0.5, 1.0, 1.0, 1.0]
    assert np.isnan(ckernel.sigmoid(np.array([np.nan], np.float32), variant=variant))[0]


@needs_c
@BUILDS
def test_mini_batch_larger_than_the_data(variant):
    """One mini-batch of 23 < m = 50 per epoch, stepped by η/23: within exact_sgd's bound.

    Measured: ≤ 0.998 of it, in weights that one or two examples moved, which end
    one float32 rounding from float64 (the bound allows u|w| per term); η × 1.001: 13×.
    """
    assert_trains_exactly([784, 8, 10], "c", n=23, m=50, variant=variant)


@needs_c
def test_c_is_the_default_for_float32_and_numba_for_float64():
    assert fastpath.backend_for(np.zeros((1, 784), np.uint8)) == "c"
    expected = "numba" if fastpath.compiled_kernels() else "numpy"
    assert fastpath.backend_for(np.zeros((1, 784), np.uint8), np.float64) == expected
    assert fastpath.backend_for(np.zeros((1, 70_000), np.uint8)) in ("numpy", expected)


@needs_c
@BUILDS
def test_progress_and_interrupt(variant):
    """Progress per chunk; after Ctrl-C every layer holds the weights after the same
    mini-batch: the kernel's and the book's both within exact_sgd's bound of the float64
    run stopped there (500 steps).  Measured: ≤ 0.045 of it; η × 1.001: 11×."""
    counts = []
    train([784, 6, 10], "c", n=12_345, epochs=2, on_batch=counts.append, variant=variant)
    assert sum(counts) == 2 * 12_345 and len(counts) > 2

    data = digits(12_000)
    start = Network([784, 9, 10], seed=5)
    exact = exact_sgd(start, *data, [start.rng.permutation(12_000)], 10, 3.0, stop=5_000)
    for method in ("c", "reference"):
        net = Network([784, 9, 10], seed=5)
        with pytest.raises(KeyboardInterrupt):
            with c_build(variant) if method == "c" else contextlib.nullcontext():
                net.sgd(data, 1, 10, 3.0, on_batch=stop_after(5_000), method=method)
        exact.assert_close(net, name=method)  # every layer stopped after the same mini-batch


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


@BUILDS
def test_real_mnist_c_matches_float64_reference(mnist, variant):
    """Real MNIST, the book's recipe: the C kernel in float32 against the book's maths in float64.

    500 steps on 5,000 images, from the same float32 start: within exact_sgd's
    bound (u = 2^−24 and the run's sums).  Measured: errors ≤ 5e-5, ≤ 0.04 of
    the bound but in edge pixels' weights that one or two examples moved, which
    end one float32 rounding from float64 (≤ 0.999; the bound allows u|w| per
    term); η × 1.001 exceeds it 45×.  Over a whole epoch of 5,000 steps at η = 3
    every float32 path, the book's included, drifts ~0.3 from float64 (chaotic
    amplification of rounding, which a first-order bound leaves out), so the
    full epoch is judged by what it learned.
    """
    if not ckernel.available():
        pytest.skip("the C kernel was not built")
    training, _, test = mnist
    part = (training[0][:5_000], training[1][:5_000])
    fast = Network([784, 30, 10], seed=0)
    rng = np.random.default_rng(1)
    exact = exact_sgd(fast, *part, [rng.permutation(5_000)], 10, 3.0)
    with c_build(variant):
        fast.sgd(part, 1, 10, 3.0, rng=np.random.default_rng(1), method="c")
    exact.assert_close(fast, name=variant)
    with c_build(variant):
        net = Network([784, 30, 10], seed=0)
        history = net.sgd(training, 1, 10, 3.0, test_data=test, method="c")
    assert history[0].test.correct > 9_000  # the book gets ~9,100 after one epoch
