"""Chapter 3's step (cross-entropy, L2, momentum) in the numba and numpy backends: the book's.

Every combination of cost × λ × μ trains 2 epochs of 503 synthetic digits (the
last mini-batch has 3 and steps by η/3) at η = 0.5, by a :class:`Trainer` and by
the reference path (:class:`BookEpochs`, i.e. :meth:`Network.update_mini_batch`)
on the same permutations; ``training.fast_epochs`` does not yet hand chapter 3 to
these backends, so the tests build the Trainer themselves.  After each epoch:

* float32: every weight, bias and velocity within :func:`support.training.exact_sgd`'s
  bound of the float64 run from the same float32 start (u = 2^−24 and the run's own
  sums, with chapter 3's terms: see its docstring).  No other float32 path's error
  enters, so no BLAS kernel or SIMD build can move it.
* float64: within ``F64`` times that bound of the float64 reference path from the same
  start.  Both are float64 runs of the same maths, each within the bound taken with
  u = 2^−53 of exact arithmetic; the bound is linear in u to first order, so that is
  2^−29 times float32's, and twice it between the two runs.
"""

from __future__ import annotations

import functools
import importlib.util

import numpy as np
import pytest
from support.data import digits
from support.training import Exact, _parameters, exact_sgd, stop_after

from neuraldigits.network import BookEpochs, Network
from neuraldigits.training.trainer import Trainer

needs_numba = pytest.mark.skipif(
    importlib.util.find_spec("numba") is None,
    reason='backend "numba" needs numba (the numba extra)',
)
BACKENDS = [pytest.param("numba", marks=needs_numba), "numpy"]  # numpy's run without numba

F64 = 2 * 2.0**-53 / 2.0**-24
"""float64 path vs float64 reference: twice exact_sgd's float32 bound rescaled to u = 2^−53."""

ETA, M, N, EPOCHS = 0.5, 10, 503, 2
ARCHITECTURES = [(784, 30, 10), (784, 40, 20, 10)]
COSTS = ["quadratic", "cross-entropy"]
LAMBDAS = [0.0, 5.0]
MOMENTA = [0.0, 0.9]


def float64_copy(net: Network) -> Network:
    """``net`` (and its velocities) in float64, the same values: a float64 run's start."""
    copy = net.copy()
    copy.dtype = np.dtype(np.float64)
    copy.weights = [w.astype(np.float64) for w in net.weights]
    copy.biases = [b.astype(np.float64) for b in net.biases]
    if net.weight_velocities is not None:
        copy.weight_velocities = [v.astype(np.float64) for v in net.weight_velocities]
        copy.bias_velocities = [v.astype(np.float64) for v in net.bias_velocities]
    return copy


@functools.cache
def reference(sizes, cost, lmbda, momentum, images_dtype=np.float32):
    """The float32 start, the epochs' orders, exact_sgd's run and the float64 reference path's
    network after each epoch (copies), all cached: every backend and dtype is judged by them."""
    images, labels = digits(N, seed=1, dtype=images_dtype)
    start = Network(list(sizes), seed=7, cost=cost)
    orders = [start.rng.permutation(N) for _ in range(EPOCHS)]
    exact = exact_sgd(start, images, labels, orders, M, ETA, lmbda=lmbda, momentum=momentum)
    book = float64_copy(start)
    epochs = BookEpochs(book, (_as_float64(images), labels), M, ETA, lmbda, momentum)
    snapshots = []
    for order in orders:
        epochs.epoch(order)
        snapshots.append(book.copy())
    return start, (images, labels), orders, exact, snapshots


def _as_float64(images):
    """Images for a float64 network: float32 pixels exactly as a float32 one reads them."""
    return images if images.dtype == np.uint8 else images.astype(np.float64)


def assert_float64_close(net: Network, book: Network, exact: Exact, epoch: int, name: str):
    """Every float64 parameter (and velocity) within F64 × exact_sgd's bound of the book's."""
    for k, (p, q, bound) in enumerate(
        zip(_parameters(net, book), _parameters(book), exact.bounds[epoch])
    ):
        assert p.dtype == q.dtype == np.float64 and p.shape == q.shape
        error, allowed = np.abs(p - q), F64 * bound
        worst = np.unravel_index(np.argmax(error - allowed), error.shape)
        assert np.all(error <= allowed), (
            f"{name}: parameter array {k}: |float64 − book| = {error[worst]:.3g} at {worst}, "
            f"above {allowed[worst]:.3g}"
        )


def train_like_the_book(backend, dtype, sizes, cost, lmbda, momentum, images_dtype=np.float32):
    """Train ``backend`` as :func:`reference` does; judge it after every epoch."""
    start, (images, labels), orders, exact, snapshots = reference(
        sizes, cost, lmbda, momentum, images_dtype
    )
    net = start.copy() if dtype == np.float32 else float64_copy(start)
    if dtype == np.float64:
        images = _as_float64(images)
    trainer = Trainer(net, images, labels, M, ETA, backend, lmbda=lmbda, momentum=momentum)
    name = f"{backend} {np.dtype(dtype).name} {cost} λ={lmbda} μ={momentum}"
    for epoch, order in enumerate(orders):
        trainer.epoch(order)
        if dtype == np.float32:
            exact.assert_close(net, epoch, f"{name}, epoch {epoch + 1}:")
        else:
            assert_float64_close(net, snapshots[epoch], exact, epoch, f"{name}, epoch {epoch + 1}")
    assert (net.weight_velocities is not None) == (momentum > 0)
    return net


@pytest.mark.parametrize("momentum", MOMENTA, ids=lambda mu: f"mu{mu}")
@pytest.mark.parametrize("lmbda", LAMBDAS, ids=lambda lmbda: f"lmbda{lmbda}")
@pytest.mark.parametrize("cost", COSTS)
@pytest.mark.parametrize("sizes", ARCHITECTURES, ids=lambda s: "-".join(map(str, s)))
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_chapter3_step_equals_the_books(backend, dtype, sizes, cost, lmbda, momentum):
    """Measured, the worst parameter of each run against its bound (float32) or F64 × it
    (float64), both backends, both nets, every combination: float32 ≤ 0.27, float64
    ≤ 0.13; OPENBLAS_CORETYPE Haswell and SkylakeX alike.  The bound catches bugs
    (float32; the least of the runs that have the bug; float64 ≥ 5·10^10×): λ × 1.01
    exceeds it ≥ 200× (in w^1 alone too, numba's scale or momentum path), a quadratic
    δ^L in a cross-entropy net ≥ 590×, the reverse ≥ 1.6·10^4×, biases decayed like
    weights ≥ 170×, numba's L2 scale folded into w0t but not reset ≥ 7·10^4×."""
    train_like_the_book(backend, dtype, sizes, cost, lmbda, momentum)


@pytest.mark.parametrize("lmbda, momentum", [(5.0, 0.0), (5.0, 0.9)])
@pytest.mark.parametrize("backend", BACKENDS)
def test_interrupt_leaves_weights_and_velocities_consistent(backend, lmbda, momentum):
    """Ctrl-C after 5,000 of 12,000 examples: weights, biases and velocities are those after
    the same mini-batch (the book's run stopped there), with the L2 scale folded back in.
    Measured: float64 ≤ 0.07 of F64 × the bound, float32 ≤ 0.35 of it."""
    images, labels = digits(12_000, seed=3)
    start = Network([784, 9, 10], seed=5, cost="cross-entropy")
    order = start.rng.permutation(len(labels))
    exact = exact_sgd(start, images, labels, [order], M, ETA, lmbda=lmbda, momentum=momentum,
                      stop=5_000)  # fmt: skip
    nets, images = {}, _as_float64(images)
    for method in (backend, "reference"):
        nets[method] = float64_copy(start)
        if method == "reference":
            runner = BookEpochs(nets[method], (images, labels), M, ETA, lmbda, momentum)
        else:
            runner = Trainer(nets[method], images, labels, M, ETA, backend, lmbda=lmbda,
                             momentum=momentum)  # fmt: skip
        with pytest.raises(KeyboardInterrupt):
            runner.epoch(order, stop_after(5_000))
    assert_float64_close(nets[backend], nets["reference"], exact, -1, backend)
    moved = np.abs(nets[backend].weights[0] - start.weights[0]).max()
    assert moved > 1e-3  # it trained, and stopped where the book did (the comparison above)
    net = start.copy()  # float32, judged by exact_sgd's bound
    trainer = Trainer(net, images.astype(np.float32), labels, M, ETA, backend, lmbda=lmbda,
                      momentum=momentum)  # fmt: skip
    with pytest.raises(KeyboardInterrupt):
        trainer.epoch(order, stop_after(5_000))
    exact.assert_close(net, name=f"{backend}, interrupted")


@needs_numba
@pytest.mark.parametrize("rescale_below", [1.0, 0.97, 0.5])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_l2_scale_is_folded_back_exactly(monkeypatch, dtype, rescale_below):
    """numba keeps w^1 = s·w0t under L2 and folds s back into w0t when s < RESCALE_BELOW:
    here at every step (1.0), every 7th (0.97 > 0.995^7, ηλ/n = 0.00497) or never within
    an epoch (0.5 < 0.995^51: only at its end, as by default).  Each is the book's step,
    within the bound; and folding changes the rounding, so it ran.  Measured: ≤ 0.08 of
    the bound (float64: 0.06; uint8 pixels, read as x·fl(fl(1/255)·s), 0.08 too, not
    kept here: one more compiled specialisation, ~5 s, for the same code)."""
    from neuraldigits.training import numba_kernel

    nets, default = {}, numba_kernel.RESCALE_BELOW
    for folding in (rescale_below, default):
        with monkeypatch.context() as patch:
            patch.setattr(numba_kernel, "RESCALE_BELOW", folding)
            nets[folding] = train_like_the_book(
                "numba", dtype, (784, 30, 10), "quadratic", 5.0, 0.0
            )
    same = np.array_equal(nets[default].weights[0], nets[rescale_below].weights[0])
    assert same == (rescale_below == 0.5)


@needs_numba
def test_one_compiled_kernel_serves_every_chapter3_rule():
    """Compile time: every cost, λ and μ share one numba specialisation per dtype and depth
    (the rule's values are read at run time), beside chapter 1's, which has none of it."""
    import numba

    from neuraldigits.training import numba_kernel

    one = np.float32(1)
    velocities = (np.zeros((784, 32), np.float32), (np.zeros((0, 32), np.float32),) * 2,
                  (np.zeros(32, np.float32),) * 2)  # fmt: skip
    types = {
        numba.typeof(numba_kernel.chapter3(ce, decay, mu, one, 2, velocities if mu else None))
        for ce in (False, True) for decay in (0.0, 0.01) for mu in (0.0, 0.9)
    }  # fmt: skip
    assert len(types) == 1
