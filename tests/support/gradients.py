"""Finite differences, to check backprop's gradients (tests/test_network.py, test_costs.py)."""

import numpy as np


def numeric_gradient(net, x, y, param, eps=1e-6):
    """Central differences of Σ_x C_x (the net's own cost) with respect to every entry of param."""
    grad = np.zeros_like(param)
    for i in np.ndindex(param.shape):
        old = param[i]
        param[i] = old + eps
        plus = net.cost.fn(net._feedforward_columns(x), y)
        param[i] = old - eps
        minus = net.cost.fn(net._feedforward_columns(x), y)
        param[i] = old
        grad[i] = (plus - minus) / (2 * eps)
    return grad


def relative_error(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)
