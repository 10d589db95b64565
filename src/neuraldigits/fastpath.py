"""The fast trainer: one epoch of chapter 1's SGD without the per-mini-batch overhead.

:meth:`Network.update_mini_batch` reads like the book and is the reference.  At
the book's m = 10 it spends most of its time in Python and in allocating small
arrays, not in arithmetic.  This module runs the *same* epoch — same shuffled
order, same mini-batches, same equations — in one of two ways:

* ``"numba"``: a compiled kernel (:mod:`neuraldigits.kernels`) that runs many
  mini-batches per call and skips the input's zero pixels.  Needs the ``fast``
  extra (``pip install "neuraldigits[fast]"``).
* ``"numpy"``: vectorised numpy over each mini-batch with preallocated buffers;
  the fallback when numba is not installed.

Both agree with the reference path to float rounding (tests/test_fastpath.py).
Images may be float or uint8 (scaled by 1/255 on the fly), in memory or
memory-mapped: only the m rows of each mini-batch are ever gathered.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from .activations import _CLIP, sigmoid

if TYPE_CHECKING:
    from .network import Network

# Examples per compiled call when someone wants progress reports (on_batch):
# small enough for a smooth progress bar, large enough that the calls are free.
_CHUNK_EXAMPLES = 5_000

# Image dtypes the compiled kernel reads directly; others go through numpy.
_KERNEL_IMAGE_DTYPES = (np.dtype(np.uint8), np.dtype(np.float32), np.dtype(np.float64))

BACKENDS = ("numba", "numpy")


@functools.cache
def compiled_kernels() -> ModuleType | None:
    """The numba kernels module, or None when numba is not installed."""
    try:
        from . import kernels
    except ImportError:
        return None
    return kernels


def backend_for(images: NDArray) -> str:
    """Which backend :class:`Trainer` uses by default for these images."""
    if compiled_kernels() is not None and images.dtype in _KERNEL_IMAGE_DTYPES:
        return "numba"
    return "numpy"


class Trainer:
    """SGD epochs for one network on one data set, the fast way.

    images (N, n_in) float or uint8, labels (N,) ints; each :meth:`epoch` runs
    the mini-batches ``order[k : k + m]`` of a given permutation, stepping by
    η/(the mini-batch's size) exactly as the reference path does.  ``backend``
    is "numba", "numpy" or None (the fastest available).  Work that does not
    change between epochs (finding the images' ink pixels) is done once, in
    the first epoch.
    """

    def __init__(
        self,
        net: Network,
        images: NDArray,
        labels: NDArray,
        mini_batch_size: int,
        eta: float,
        backend: str | None = None,
    ) -> None:
        backend = backend or backend_for(images)
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
        if backend == "numba" and compiled_kernels() is None:
            raise RuntimeError('backend "numba" needs numba: pip install "neuraldigits[fast]"')
        if backend == "numba" and images.dtype not in _KERNEL_IMAGE_DTYPES:
            raise ValueError(
                f'backend "numba" reads uint8, float32 or float64 images, not {images.dtype}'
            )
        self.net, self.images, self.labels = net, images, labels
        self.m, self.eta, self.backend = int(mini_batch_size), float(eta), backend
        self._sparse: tuple[NDArray, NDArray, NDArray] | None = None

    def prepare(self) -> None:
        """Do the once-per-run work now, so that no epoch's time includes it.

        Lists the ink pixels and gets the compiled kernel ready (compiling it
        on a machine's first run, else loading it from numba's cache) with a
        call that runs no mini-batch.  :meth:`epoch` calls it if you do not.
        """
        if self.backend == "numba" and self._sparse is None:
            self._sparse = compiled_kernels().sparse_rows(np.asarray(self.images))
            no_examples = np.empty(0, np.int64)
            _numba_epoch(
                compiled_kernels(), self.net, self._sparse, self.images.dtype, self.labels,
                no_examples, self.m, self.eta, None,
            )  # fmt: skip

    def epoch(self, order: NDArray, on_batch: Callable[[int], None] | None = None) -> None:
        """One pass over the examples ``order`` (usually a permutation of range(N)).

        ``on_batch(count)`` is called after each chunk of mini-batches.
        """
        if self.backend == "numpy":
            _numpy_epoch(self.net, self.images, self.labels, order, self.m, self.eta, on_batch)
            return
        self.prepare()
        _numba_epoch(
            compiled_kernels(), self.net, self._sparse, self.images.dtype, self.labels, order,
            self.m, self.eta, on_batch,
        )  # fmt: skip


def _numba_epoch(kernels, net, sparse, image_dtype, labels, order, m, eta, on_batch) -> None:
    dtype = net.dtype.type
    n = len(order)
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    order = np.ascontiguousarray(order, dtype=np.int64)
    # Copies of the parameters in the kernel's layout: each layer padded with zeros to
    # whole SIMD vectors, the input layer transposed so each pixel's weights are one
    # contiguous vector.  Copied back in `finally`.
    widths = np.array(net.sizes[1:], np.int64)
    pad = [net.sizes[0]] + [kernels.padded(size) for size in net.sizes[1:]]
    w0t = np.zeros((net.sizes[0], pad[1]), dtype)
    w0t[:, : net.sizes[1]] = net.weights[0].T
    weights = [w0t[:0]]  # entry 0 unused (w0t holds layer 0)
    for layer, w in enumerate(net.weights[1:], 1):
        weights.append(np.zeros((w.shape[0], pad[layer]), dtype))
        weights[-1][:, : w.shape[1]] = w
    biases = []
    for layer, b in enumerate(net.biases):
        biases.append(np.zeros(pad[layer + 1], dtype))
        biases[-1][: len(b)] = b[:, 0]
    acts = tuple(np.zeros((m, size), dtype) for size in pad[1:])
    deltas = tuple(np.zeros((m, size), dtype) for size in pad[1:])
    scalars = (
        dtype(eta / m),
        dtype(eta / (n % m or m)),  # the last mini-batch may be smaller
        dtype(1 / 255) if image_dtype == np.uint8 else dtype(1),
        dtype(1),
        dtype(_CLIP[net.dtype]),
    )
    chunk = n if on_batch is None else max(m, _CHUNK_EXAMPLES // m * m)
    # With no examples, one empty call still compiles (or loads) the kernel.
    starts = range(0, n, chunk) if n else [0]
    try:
        for start in starts:
            stop = min(start + chunk, n)
            kernels.sgd_batches(
                *sparse, labels, order, start, stop, m, *scalars, widths,
                w0t, tuple(weights), tuple(biases), acts, deltas,
            )  # fmt: skip
            if on_batch is not None:
                on_batch(stop - start)
    finally:
        # Even when interrupted, leave the network consistent (all layers at the same step).
        net.weights[0][...] = w0t[:, : net.sizes[1]].T
        for w, w_used in zip(net.weights[1:], weights[1:]):
            w[...] = w_used[:, : w.shape[1]]
        for b, b_used in zip(net.biases, biases):
            b[:, 0] = b_used[: len(b)]


def _numpy_epoch(net, images, labels, order, m, eta, on_batch) -> None:
    """The reference maths with rows as examples, buffers reused across mini-batches."""
    dtype = net.dtype
    n = len(order)
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
        _numpy_step(net, x[:mb], y[:mb], dtype.type(eta / mb))
        if on_batch is not None:
            on_batch(mb)


def _numpy_step(net, x: NDArray, y: NDArray, step) -> None:
    """One mini-batch: x (m, n_in), y (m, n_out), one row per example; step = η/m."""
    activations = [x]
    for w, b in zip(net.weights, net.biases):
        activations.append(sigmoid(activations[-1] @ w.T + b.T))
    a = activations[-1]
    delta = (a - y) * a * (1 - a)  # (BP1), σ′(z) = a(1 − a)
    for layer in range(len(net.weights) - 1, -1, -1):
        a_in = activations[layer]
        w = net.weights[layer]
        # (BP2) with the old w, before the step below changes it.
        delta_in = (delta @ w) * a_in * (1 - a_in) if layer else None
        w -= step * (delta.T @ a_in)  # (BP4)
        net.biases[layer] -= step * delta.sum(axis=0)[:, None]  # (BP3)
        delta = delta_in
