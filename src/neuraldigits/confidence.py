"""How sure a network is of its answer, read from its output activations.

A network's answer is its most active output neuron.  Its **confidence** is how far
that neuron's activation stands above the runner-up's:

    confidence = a_top − a_second        (0 ≤ confidence < 1 for sigmoid outputs)

Near 1, one neuron is on and every other is off: a clear answer.  Near 0, two digits
are equally likely in the network's eyes (or none is: all outputs low).  Asked for a
minimum confidence P, ``digits predict --min-confidence P`` and the drawing pad's API
answer "unsure" instead of a digit when the confidence is below P.

Why the margin: on pictures from outside MNIST (benchmarks/confidence.py) and on
MNIST's validation set it separates right answers from wrong ones better than the
top activation alone or the top activation's share of the ten, for the book's
network and for the --augment one (benchmarks/README.md has the numbers).  Sigmoid
outputs are not probabilities and need not add up to 1, so neither is the
confidence: it is a score for choosing a threshold, measured per set in
benchmarks/README.md, not a chance of being right.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

MIN, MAX = 0.0, 1.0  # the range of a minimum confidence


def confidence(outputs: ArrayLike) -> float | NDArray:
    """The margin a_top − a_second of ``outputs`` (n,) — or of each row of (m, n): (m,).

    With a single output neuron there is no runner-up: its activation is the confidence.
    """
    a = np.asarray(outputs, dtype=np.float64)
    if a.shape[-1] < 2:
        margin = a[..., 0]
    else:
        top_two = np.partition(a, -2, axis=-1)[..., -2:]
        margin = top_two[..., 1] - top_two[..., 0]
    return float(margin) if margin.ndim == 0 else margin


def check_min_confidence(value: object) -> float:
    """``value`` as a minimum confidence, a number from 0 to 1; ValueError says what is wrong."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a number from {MIN:g} to {MAX:g}, got {value!r}")
    if not (math.isfinite(value) and MIN <= value <= MAX):
        raise ValueError(f"expected a number from {MIN:g} to {MAX:g}, got {value!r}")
    return float(value)


def is_unsure(confidence_value: float, min_confidence: float | None) -> bool:
    """Whether an answer this confident is "unsure" under ``min_confidence`` (None: never)."""
    return min_confidence is not None and confidence_value < min_confidence
