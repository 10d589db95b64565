"""Cost functions, each with the output-layer error δ^L that backprop needs.

Chapter 1 uses the quadratic cost C = 1/(2n) Σ_x ‖y(x) − a‖².  Costs live in
the COSTS registry so that a saved model can name its cost and later chapters
can add more.
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


COSTS = {QuadraticCost.name: QuadraticCost}
