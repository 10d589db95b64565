"""Training helpers shared by the fast-path tests (tests/training/)."""

from __future__ import annotations

import numpy as np

from neuraldigits.network import Network

from .data import digits


def train(sizes, method, *, dtype=np.float32, n=503, m=10, epochs=2, images_dtype=None, **kw):
    """Train a fresh seeded network; return it and its history."""
    data = digits(n, seed=1, dtype=images_dtype or dtype)
    test = digits(97, seed=2, dtype=dtype)
    net = Network(sizes, seed=7, dtype=dtype)
    history = net.sgd(data, epochs, m, 3.0, test_data=test, method=method, **kw)
    return net, history


def assert_same_network(a: Network, b: Network, rtol: float, atol: float) -> None:
    for wa, wb in zip(a.weights + a.biases, b.weights + b.biases):
        assert wa.dtype == wb.dtype and wa.shape == wb.shape
        np.testing.assert_allclose(wa, wb, rtol=rtol, atol=atol)


TOLERANCE = {np.float64: (1e-9, 1e-11), np.float32: (2e-4, 2e-5)}
