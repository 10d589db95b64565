"""What the network sees and what it concludes, for one 28×28 input.

The drawing pad shows more than the answer: the input pixels, every output
neuron's activation and the first hidden layer's activations, plus each hidden
neuron's incoming weights as a picture.  This module computes those from a
:class:`~neuraldigits.network.Network`; it only reads the network, so one
network can serve many requests at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..network import Network

# Enough digits for bars and pictures; keeps the JSON small.
_DECIMALS = 4


@dataclass(frozen=True)
class Reading:
    """One forward pass, layer by layer.

    ``input`` (n_in,) the pixels fed in; ``hidden`` (n_1,) the first hidden
    layer's activations, empty for a network without hidden layers;
    ``outputs`` (n_out,) the output activations a^L; ``digit`` argmax a^L.
    """

    digit: int
    outputs: NDArray
    hidden: NDArray
    input: NDArray

    def to_dict(self) -> dict[str, Any]:
        return {
            "digit": self.digit,
            "outputs": _rounded(self.outputs),
            "hidden": _rounded(self.hidden),
            "input": _rounded(self.input),
        }


def read(net: Network, pixels: ArrayLike) -> Reading:
    """Feed ``pixels`` (n_in,) forward through ``net``, keeping every layer.

    Uses :meth:`Network.activations`, so the first hidden layer's activations
    are kept for display.
    """
    x = np.asarray(pixels, dtype=net.dtype)
    if x.shape != (net.sizes[0],):
        raise ValueError(f"expected {net.sizes[0]} pixels, got an array of shape {x.shape}")
    layers = net.activations(x[:, None])
    outputs = layers[-1][:, 0]
    hidden = layers[1][:, 0] if net.num_layers > 2 else np.empty(0, dtype=net.dtype)
    return Reading(digit=int(np.argmax(outputs)), outputs=outputs, hidden=hidden, input=x)


def weight_picture(net: Network, neuron: int) -> dict[str, Any]:
    """The incoming weights of first-layer neuron ``neuron``: what pattern turns it on.

    Returns ``weights`` (n_in,) — for MNIST a 28×28 picture read row by row —
    with its ``bias`` and ``scale`` = max |w| (the page maps −scale…scale onto
    red…white…blue, so each picture uses its full contrast).
    """
    n = net.sizes[1]
    if not 0 <= neuron < n:
        raise IndexError(f"neuron must be 0..{n - 1} in a first layer of {n} neurons, got {neuron}")
    w = net.weights[0][neuron]
    return {
        "layer": 1,
        "neuron": neuron,
        "weights": _rounded(w),
        "bias": round(float(net.biases[0][neuron, 0]), _DECIMALS),
        "scale": round(float(np.max(np.abs(w))), _DECIMALS),
    }


def _rounded(a: NDArray) -> list[float]:
    return np.round(a.astype(np.float64), _DECIMALS).tolist()
