"""The sigmoid neuron's activation function and its derivative.

σ(z) = 1 / (1 + e^(−z)),   σ′(z) = σ(z)(1 − σ(z)).

Computed so that no input overflows: e^(−|z|) lies in (0, 1] for every z, and we
clip |z| where σ is already 0 or 1 to the last bit, so even
``np.errstate(all="raise")`` sees no overflow or underflow.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

# Beyond these |z| (per dtype), σ(z) is 1 to the last bit and the true σ(−|z|) is below
# e^(−80) ≈ 2e−35 (float32) or e^(−700) ≈ 1e−304 (float64); clipping there keeps
# e^(−|z|) a normal number (no underflow flag) and moves σ by less than that.
SIGMOID_CLIP = {np.dtype(np.float32): 80.0, np.dtype(np.float64): 700.0}


def _as_float(z: ArrayLike) -> NDArray[np.floating]:
    z = np.asarray(z)
    if z.dtype not in SIGMOID_CLIP:
        z = z.astype(np.float64)
    return z


def sigmoid(z: ArrayLike) -> NDArray[np.floating]:
    """σ(z), elementwise, for an array of any shape; float32 stays float32."""
    z = _as_float(z)
    e = np.exp(-np.minimum(np.abs(z), SIGMOID_CLIP[z.dtype]))  # e^(−|z|) ∈ (0, 1]
    # For z ≥ 0: 1/(1 + e^(−z)).  For z < 0: e^z/(1 + e^z), the same value
    # written so that the exponential cannot overflow.
    return np.where(z >= 0, 1.0, e) / (1.0 + e)


def sigmoid_prime(z: ArrayLike) -> NDArray[np.floating]:
    """σ′(z) = σ(z)(1 − σ(z)), elementwise."""
    s = sigmoid(z)
    return s * (1.0 - s)
