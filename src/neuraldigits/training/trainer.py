"""The fast trainer: one epoch of chapter 1's SGD without the per-mini-batch overhead.

:meth:`Network.update_mini_batch` reads like the book and is the reference.  At
the book's m = 10 it spends most of its time in Python and in allocating small
arrays, not in arithmetic.  This module runs the *same* epoch — same shuffled
order, same mini-batches, same equations — in one of three ways:

* ``"c"``: a C kernel (:mod:`.ckernel`), built when the package is installed
  with a C compiler present; float32 networks.  It runs many mini-batches per
  call, skips the input's zero pixels and can share each mini-batch between
  threads.  The fastest.
* ``"numba"``: the same loop compiled by numba (:mod:`.numba_kernel`), for
  float64 networks and for machines where the C kernel could not be built.
  Needs the ``numba`` extra (:func:`neuraldigits.extras.install_hint` says how).
* ``"numpy"``: vectorised numpy over each mini-batch with preallocated buffers;
  the fallback when neither is there.

All agree with the reference path to float rounding (tests/training/).
Images may be float or uint8 (scaled by 1/255 on the fly), in memory or
memory-mapped: only the m rows of each mini-batch are ever gathered.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from types import ModuleType

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import ThreadpoolController

from ..activations import SIGMOID_CLIP, sigmoid
from ..extras import install_hint
from ..network import Network, mini_batch_steps, weight_decay
from . import ckernel
from .sparse import sparse_rows

# Examples per compiled call when someone wants progress reports (on_batch):
# small enough for a smooth progress bar, large enough that the calls are free.
_CHUNK_EXAMPLES = 5_000

# Image dtypes the compiled kernel reads directly; others go through numpy.
_KERNEL_IMAGE_DTYPES = (np.dtype(np.uint8), np.dtype(np.float32), np.dtype(np.float64))

BACKENDS = ("c", "numba", "numpy")

# The kernels store pixel positions as uint16.
_KERNEL_MAX_INPUTS = np.iinfo(np.uint16).max


@functools.cache
def compiled_kernels() -> ModuleType | None:
    """The numba kernels module, or None when numba is not installed."""
    try:
        from . import numba_kernel as kernels
    except ImportError:
        return None
    return kernels


def backend_for(images: NDArray, dtype: np.dtype | type = np.float32) -> str:
    """Which backend :class:`Trainer` uses by default for these images and a ``dtype`` network."""
    readable = images.dtype in _KERNEL_IMAGE_DTYPES and images.shape[1] <= _KERNEL_MAX_INPUTS
    if readable and np.dtype(dtype) == np.float32 and ckernel.available():
        return "c"
    if readable and compiled_kernels() is not None:
        return "numba"
    return "numpy"


def _check_backend(backend: str, images: NDArray, dtype: np.dtype) -> None:
    """Refuse, with the reason, a backend that cannot train this network on these images."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
    if backend == "c" and not ckernel.available():
        raise RuntimeError(
            'backend "c" was not built: reinstall with a C compiler (gcc or clang) present'
        )
    if backend == "numba" and compiled_kernels() is None:
        raise RuntimeError(
            f'backend "numba" needs numba, the numba extra: {install_hint("numba")}'
        )
    if backend == "c" and dtype != np.float32:
        raise ValueError(f'backend "c" trains float32 networks, not {dtype}; use "numba"')
    if backend != "numpy" and images.dtype not in _KERNEL_IMAGE_DTYPES:
        raise ValueError(
            f'backend "{backend}" reads uint8, float32 or float64 images, not {images.dtype}'
        )
    if backend != "numpy" and images.shape[1] > _KERNEL_MAX_INPUTS:
        raise ValueError(
            f'backend "{backend}" reads images of at most {_KERNEL_MAX_INPUTS} pixels, '
            f"not {images.shape[1]}"
        )


@dataclass(frozen=True)
class Rule:
    """What each SGD step computes, as :meth:`Network.step` does: every backend reads this.

    ``eta`` η; ``lmbda`` λ with ``n`` the training set's size (L2's decay ηλ/n);
    ``momentum`` μ; ``cost`` the network's cost's name ("quadratic", "cross-entropy").
    """

    eta: float
    lmbda: float = 0.0
    momentum: float = 0.0
    n: int = 1
    cost: str = "quadratic"


class Trainer:
    """SGD epochs for one network on one data set, the fast way.

    images (N, n_in) float or uint8, labels (N,) ints; each :meth:`epoch` runs
    the mini-batches ``order[k : k + m]`` of a given permutation, stepping by
    η/(the mini-batch's size) exactly as the reference path does.  ``backend``
    is "c", "numba", "numpy" or None (the fastest available).  ``threads``
    (C backend only; None: :func:`neuraldigits.training.ckernel.default_threads`) never
    changes the result.  Work that does not change between epochs (finding the
    images' ink pixels, compiling) is done once, by :meth:`prepare`.
    """

    def __init__(
        self,
        net: Network,
        images: NDArray,
        labels: NDArray,
        mini_batch_size: int,
        eta: float,
        backend: str | None = None,
        threads: int | None = None,
        *,
        lmbda: float = 0.0,
        momentum: float = 0.0,
        sparse: tuple[NDArray, NDArray, NDArray] | None = None,
    ) -> None:
        backend = backend or backend_for(images, net.dtype)
        _check_backend(backend, images, net.dtype)
        self.net, self.images, self.labels = net, images, labels
        self.m, self.eta, self.backend = int(mini_batch_size), float(eta), backend
        self.lmbda, self.momentum = float(lmbda), float(momentum)
        self.threads = 1
        if backend == "c":
            self.threads = threads or ckernel.default_threads(net.sizes[1])
        self._sparse = sparse  # the ink pixels, when the caller listed them (PreparedData)
        self._labels: NDArray | None = None
        self._blas: ThreadpoolController | None = None

    def prepare(self) -> None:
        """Do the once-per-run work now, so that no epoch's time includes it.

        Lists the ink pixels and, for numba, gets the compiled kernel ready
        (compiling it on a machine's first run, else loading it from numba's
        cache) with a call that runs no mini-batch.  :meth:`epoch` calls it if
        you do not.
        """
        if self.backend == "numpy" or self._labels is not None:
            return
        if self._sparse is None:
            self._sparse = sparse_rows(self.images)
        indptr, indices, values = self._sparse
        if self.backend == "c" and values.dtype == np.float64:
            self._sparse = indptr, indices, values.astype(np.float32)
        self._labels = np.ascontiguousarray(self.labels, dtype=np.int64)  # the kernels' type
        if self.backend == "numba":
            _numba_epoch(
                compiled_kernels(), self.net, self._sparse, self.images.dtype, self._labels,
                np.empty(0, np.int64), self.m, self.rule, None,
            )  # fmt: skip

    def scoring(self) -> AbstractContextManager[object]:
        """The context for scoring the network between epochs: BLAS on one thread.

        OpenBLAS's idle threads spin for ~0.1 s after a call, on the very cores
        the next epoch's kernel uses (measured: 0.05 s epochs became 0.10–0.14 s),
        and scoring 10,000 images is no slower on one thread.
        """
        if self._blas is None:
            self._blas = ThreadpoolController()  # finds the BLAS libraries: once per run
        return self._blas.limit(limits=1, user_api="blas")

    @property
    def rule(self) -> Rule:
        """This epoch's step rule (``eta`` may have been lowered since the last one)."""
        return Rule(self.eta, self.lmbda, self.momentum, len(self.labels), self.net.cost.name)

    def epoch(self, order: NDArray, on_batch: Callable[[int], None] | None = None) -> None:
        """One pass over the examples ``order`` (usually a permutation of range(N)).

        ``on_batch(count)`` is called after each chunk of mini-batches.
        """
        rule = self.rule
        if self.backend == "numpy":
            _numpy_epoch(self.net, self.images, self.labels, order, self.m, rule, on_batch)
            return
        self.prepare()
        if self.backend == "c":
            _c_epoch(
                self.net, self._sparse, self.images.dtype, self._labels, order, self.m,
                rule, on_batch, self.threads,
            )  # fmt: skip
            return
        _numba_epoch(
            compiled_kernels(), self.net, self._sparse, self.images.dtype, self._labels, order,
            self.m, rule, on_batch,
        )  # fmt: skip


def _chunks(n: int, m: int, on_batch) -> list[tuple[int, int]]:
    """The (start, stop) of each kernel call: one per epoch, or many for progress reports."""
    chunk = n if on_batch is None else max(m, _CHUNK_EXAMPLES // m * m)
    # With no examples, one empty call still compiles (or loads) the numba kernel.
    return [(start, min(start + chunk, n)) for start in range(0, n, chunk)] if n else [(0, 0)]


def _kernel_layout(
    net: Network, padded: Callable[[int], int], zeros: Callable, velocities: bool = False
) -> tuple:
    """Copies of the parameters in the kernels' layout: ``(widths, pads, w0t, weights, biases)``.

    Each layer is padded with zeros to ``padded(width)`` neurons (whole SIMD
    vectors); the input layer is transposed, ``w0t`` (n_in, pads[0]), so each
    pixel's weights are one contiguous row; ``weights[l]`` (n_(l+1), pads[l−1])
    for l ≥ 1 (entry 0 unused), ``biases[l]`` (pads[l],).  With ``velocities``,
    a sixth item: momentum's velocities (:meth:`Network.velocities`, zero at
    first) in the same layout, ``(v0t, v_weights, v_biases)``.
    """
    widths = np.array(net.sizes[1:], np.int64)
    pads = np.array([padded(size) for size in net.sizes[1:]], np.int64)
    w0t, weights, biases = _padded_copies(net.weights, net.biases, pads, zeros)
    if not velocities:
        return widths, pads, w0t, weights, biases
    return widths, pads, w0t, weights, biases, _padded_copies(*net.velocities(), pads, zeros)


def _padded_copies(weights: list, biases: list, pads: NDArray, zeros: Callable) -> tuple:
    """A network's weights and biases (or velocities) padded to ``pads``: ``(w0t, weights,
    biases)`` as :func:`_kernel_layout` describes them."""
    w0t = zeros((weights[0].shape[1], pads[0]))
    w0t[:, : weights[0].shape[0]] = weights[0].T
    padded_weights = [w0t[:0]]
    for layer, w in enumerate(weights[1:], 1):
        padded_weights.append(zeros((w.shape[0], pads[layer - 1])))
        padded_weights[-1][:, : w.shape[1]] = w
    padded_biases = []
    for layer, b in enumerate(biases):
        padded_biases.append(zeros((pads[layer],)))
        padded_biases[-1][: len(b)] = b[:, 0]
    return w0t, padded_weights, padded_biases


def _copy_back(
    net: Network, w0t: NDArray, weights: list, biases: list, velocities: tuple | None = None
) -> None:
    """The kernels' parameters back into ``net`` (all layers at the same step); and with
    ``velocities`` (``(v0t, v_weights, v_biases)`` from :func:`_kernel_layout`), momentum's
    velocities into :meth:`Network.velocities`."""
    _unpad(net.weights, net.biases, w0t, weights, biases)
    if velocities is not None:
        _unpad(*net.velocities(), *velocities)


def _unpad(weights: list, biases: list, w0t: NDArray, padded_weights: list, padded_biases: list):
    """The inverse of :func:`_padded_copies`: into ``weights`` and ``biases``, in place."""
    weights[0][...] = w0t[:, : weights[0].shape[0]].T
    for w, w_used in zip(weights[1:], padded_weights[1:]):
        w[...] = w_used[:, : w.shape[1]]
    for b, b_used in zip(biases, padded_biases):
        b[:, 0] = b_used[: len(b)]


def _c_epoch(net, sparse, image_dtype, labels, order, m, rule: Rule, on_batch, threads) -> None:
    """One epoch by the C kernel, with the step ``rule`` (cost, L2's ηλ/n, momentum)."""
    n = len(order)
    order = np.ascontiguousarray(order, dtype=np.int64)
    momentum = rule.momentum > 0  # the velocities go to the kernel and back
    layout = _kernel_layout(net, ckernel.padded, ckernel.aligned_zeros, velocities=momentum)
    widths, pads, w0t, weights, biases = layout[:5]
    velocities = layout[5] if momentum else None
    step, last_step = mini_batch_steps(n, m, rule.eta)
    scale = 1 / 255 if image_dtype == np.uint8 else 1.0
    rule_args = dict(
        cost=rule.cost, decay=weight_decay(rule.eta, rule.lmbda, rule.n),
        momentum=rule.momentum, velocities=velocities,
    )  # fmt: skip
    try:
        for start, stop in _chunks(n, m, on_batch):
            ckernel.sgd_batches(
                sparse, labels, order, start, stop, m, step, last_step, scale,
                float(SIGMOID_CLIP[net.dtype]), widths, pads, w0t, weights, biases, threads,
                **rule_args,
            )  # fmt: skip
            if on_batch is not None:
                on_batch(stop - start)
    finally:
        # Even when interrupted, leave the network (and its velocities) consistent.
        _copy_back(net, w0t, weights, biases, velocities)


def _numba_epoch(kernels, net, sparse, image_dtype, labels, order, m, rule: Rule, on_batch) -> None:
    """One epoch by the numba kernel: chapter 1's step compiled on its own, or the ``rule``'s
    chapter 3 step (cost, L2's ηλ/n, momentum with the network's velocities)."""
    dtype = net.dtype.type
    n = len(order)
    order = np.ascontiguousarray(order, dtype=np.int64)
    momentum = rule.momentum > 0  # the velocities go to the kernel and back
    layout = _kernel_layout(
        net, kernels.padded, lambda shape: np.zeros(shape, dtype), velocities=momentum
    )
    widths, pads, w0t, weights, biases = layout[:5]
    velocities = layout[5] if momentum else None
    chapter3 = None  # chapter 1's step
    if rule.cost != "quadratic" or rule.lmbda or momentum:
        chapter3 = kernels.chapter3(
            rule.cost == "cross-entropy", weight_decay(rule.eta, rule.lmbda, rule.n),
            rule.momentum, dtype(1), len(weights), velocities,
        )  # fmt: skip
    acts = tuple(np.zeros((m, size), dtype) for size in pads)
    deltas = tuple(np.zeros((m, size), dtype) for size in pads)
    step, last_step = mini_batch_steps(n, m, rule.eta)
    scalars = (
        dtype(step),
        dtype(last_step),
        dtype(1 / 255) if image_dtype == np.uint8 else dtype(1),
        dtype(1),
        dtype(SIGMOID_CLIP[net.dtype]),
    )
    try:
        for start, stop in _chunks(n, m, on_batch):
            kernels.sgd_batches(
                *sparse, labels, order, start, stop, m, *scalars, widths,
                w0t, tuple(weights), tuple(biases), acts, deltas, chapter3,
            )  # fmt: skip
            if on_batch is not None:
                on_batch(stop - start)
    finally:
        # Even when interrupted, leave the network (and its velocities) consistent: all
        # layers at the same step (the kernel folds its L2 scale into w0t before returning).
        _copy_back(net, w0t, weights, biases, velocities)


def _numpy_epoch(net, images, labels, order, m, rule: Rule, on_batch) -> None:
    """The reference maths with rows as examples, buffers reused across mini-batches.

    Chapter 3's step as :meth:`Network.step` takes it: the same dtype's decay ηλ/n and
    μ, and the network's own velocities, stepped in place (so an interrupt between
    mini-batches leaves them consistent with the weights).
    """
    dtype = net.dtype
    n = len(order)
    steps = mini_batch_steps(n, m, rule.eta)
    law = None  # chapter 1's step
    if rule.lmbda or rule.momentum or rule.cost != "quadratic":
        law = _NumpyLaw(
            rule.cost == "cross-entropy", dtype.type(weight_decay(rule.eta, rule.lmbda, rule.n)),
            dtype.type(rule.momentum), net.velocities() if rule.momentum else None,
        )  # fmt: skip
    raw = np.empty((m, images.shape[1]), images.dtype)  # gathered rows, as stored
    x = np.empty((m, images.shape[1]), dtype)
    y = np.empty((m, net.sizes[-1]), dtype)
    for k in range(0, n, m):
        idx = order[k : k + m]
        mb = len(idx)
        np.take(images, idx, axis=0, out=raw[:mb])
        if images.dtype == np.uint8:
            np.divide(raw[:mb], dtype.type(255), out=x[:mb])
        else:
            x[:mb] = raw[:mb]
        y[:mb] = 0
        y[np.arange(mb), labels[idx]] = 1
        _numpy_step(net, x[:mb], y[:mb], dtype.type(steps[mb < m]), law)
        if on_batch is not None:
            on_batch(mb)


@dataclass(frozen=True)
class _NumpyLaw:
    """Chapter 3's step for :func:`_numpy_step`, in the network's dtype: cross-entropy's
    δ^L, L2's decay ηλ/n, momentum μ and the velocities (:meth:`Network.velocities`)."""

    cross_entropy: bool
    decay: np.floating
    momentum: np.floating
    velocities: tuple[list[NDArray], list[NDArray]] | None


def _numpy_step(net, x: NDArray, y: NDArray, step, law: _NumpyLaw | None = None) -> None:
    """One mini-batch: x (m, n_in), y (m, n_out), one row per example; step = η/m.

    ``law`` None is chapter 1's step; else chapter 3's, as :meth:`Network.step`.
    """
    activations = [x]
    for w, b in zip(net.weights, net.biases):
        activations.append(sigmoid(activations[-1] @ w.T + b.T))
    a = activations[-1]
    if law is not None and law.cross_entropy:
        delta = a - y  # (BP1) for the cross-entropy: σ′(z) cancels
    else:
        delta = (a - y) * a * (1 - a)  # (BP1), σ′(z) = a(1 − a)
    for layer in range(len(net.weights) - 1, -1, -1):
        a_in = activations[layer]
        w = net.weights[layer]
        # (BP2) with the old w, before the step below changes it.
        delta_in = (delta @ w) * a_in * (1 - a_in) if layer else None
        if law is None:
            w -= step * (delta.T @ a_in)  # (BP4)
            net.biases[layer] -= step * delta.sum(axis=0)[:, None]  # (BP3)
        else:
            _numpy_update(net, layer, law, step, delta.T @ a_in, delta.sum(axis=0)[:, None])
        delta = delta_in


def _numpy_update(net, layer: int, law: _NumpyLaw, step, nabla_w, nabla_b) -> None:
    """Layer ``layer``'s step by chapter 3's rule, in the order :meth:`Network.step` takes it."""
    w, b = net.weights[layer], net.biases[layer]
    if law.velocities is None:
        if law.decay:
            w *= 1 - law.decay
        w -= step * nabla_w
        b -= step * nabla_b
        return
    v_w, v_b = law.velocities[0][layer], law.velocities[1][layer]
    v_w *= law.momentum
    v_w -= step * nabla_w
    if law.decay:
        v_w -= law.decay * w
    w += v_w
    v_b *= law.momentum
    v_b -= step * nabla_b
    b += v_b
