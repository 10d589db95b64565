"""Cost functions, each with the output-layer error δ^L that backprop needs.

Chapter 1 uses the quadratic cost C = 1/(2n) Σ_x ‖y(x) − a‖²; chapter 3 the
cross-entropy C = −1/n Σ_x Σ_j [y_j ln a_j + (1 − y_j) ln(1 − a_j)], whose δ^L
has no σ′(z) factor, so saturated output neurons still learn fast.  Costs live
in the COSTS registry so that a saved model can name its cost.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .activations import sigmoid_prime


class QuadraticCost:
    """C_x = ½‖y − a‖² for one example x; C is its mean over the examples."""

    name = "quadratic"

    @staticmethod
    def fn(a: NDArray, y: NDArray) -> float:
        """Σ_x ½‖y(x) − a(x)‖² for outputs ``a`` and targets ``y`` of equal shape.

        Returns the *sum* over the examples; divide by n for the book's C.
        """
        return 0.5 * float(np.sum((a - y) ** 2))

    @staticmethod
    def delta(z: NDArray, a: NDArray, y: NDArray) -> NDArray:
        """δ^L = ∇_a C ⊙ σ′(z^L) = (a − y) ⊙ σ′(z^L), any shape."""
        return (a - y) * sigmoid_prime(z)


class CrossEntropyCost:
    """C_x = −Σ_j [y_j ln a_j + (1 − y_j) ln(1 − a_j)], the book's ``CrossEntropyCost``."""

    name = "cross-entropy"

    @staticmethod
    def fn(a: NDArray, y: NDArray) -> float:
        """Σ_x C_x for outputs ``a`` and targets ``y`` of equal shape (divide by n for C).

        Finite for saturated outputs: an output of exactly 0 or 1 (σ rounds there
        once |z| ≳ 17 in float32) is taken as the nearest representable value
        inside (0, 1), so a confidently wrong output costs a large finite amount,
        where the book's ``np.nan_to_num`` gives 1.8e308.
        """
        a = np.asarray(a, dtype=np.float64)
        tiny = np.finfo(np.float64).tiny
        a = np.clip(a, tiny, 1 - np.finfo(np.float64).epsneg)
        return -float(np.sum(y * np.log(a) + (1 - y) * np.log1p(-a)))

    @staticmethod
    def delta(z: NDArray, a: NDArray, y: NDArray) -> NDArray:
        """δ^L = a − y: the σ′(z^L) of ∇_a C ⊙ σ′(z^L) cancels (the book's eq. 66)."""
        return a - y


COSTS = {cost.name: cost for cost in (QuadraticCost, CrossEntropyCost)}
