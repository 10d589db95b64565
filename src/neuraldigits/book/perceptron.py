"""The perceptron: a device that makes decisions by weighing up evidence.

Chapter 1 starts here.  A perceptron with weights w and bias b outputs

    1 if w·x + b > 0,   0 otherwise,

for real inputs x.  With weights (−2, −2) and bias 3 it is a NAND gate (see
:data:`NAND`), and NAND is universal, so networks of perceptrons can compute any
logical function (:mod:`neuraldigits.book.circuits`).

Replacing the step by σ gives the sigmoid neuron, σ(w·x + b); multiplying w and b
by c > 0 and letting c → ∞ turns it back into the perceptron wherever
w·x + b ≠ 0 (:meth:`Perceptron.sigmoid`).

The perceptron learning rule (:func:`learn`) finds weights from examples whenever
some perceptron can separate them, and cycles for ever when none can (XOR).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..activations import sigmoid
from ..errors import CircuitError
from ..wording import plural


def _finite_floats(value: ArrayLike, what: str) -> NDArray[np.float64]:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise CircuitError(f"{what} must be numbers, got {value!r}") from None
    if not np.all(np.isfinite(array)):
        raise CircuitError(f"{what} must be finite numbers, got {value!r}")
    return array


def positive_number(value: float, what: str) -> float:
    """``value`` as a float, or CircuitError naming ``what`` unless it is positive and finite."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise CircuitError(f"{what} must be a number, got {value!r}")
    if not (0 < value < np.inf):
        raise CircuitError(f"{what} must be a positive finite number, got {value}")
    return float(value)


def scaled_sigmoid(z: NDArray[np.float64], c: float) -> NDArray[np.float64]:
    """σ(c·z), elementwise; c·z may overflow to ±∞, which σ maps to 1 and 0 as it should."""
    with np.errstate(over="ignore"):
        return sigmoid(c * z)


class Perceptron:
    """A perceptron: ``weights`` (n,) and a ``bias``; output 1 if w·x + b > 0 else 0.

    Call it on one input x of shape (n,) to get 0 or 1, or on a batch of shape
    (N, n), one input per row, to get an (N,) array of 0s and 1s (uint8).
    """

    def __init__(self, weights: ArrayLike, bias: float) -> None:
        w = _finite_floats(weights, "perceptron weights")
        if w.ndim != 1 or w.size == 0:
            raise CircuitError(
                f"perceptron weights must be a non-empty 1-D list of numbers, got shape {w.shape}"
            )
        b = _finite_floats(bias, "perceptron bias")
        if b.ndim != 0:
            raise CircuitError(f"perceptron bias must be one number, got shape {b.shape}")
        w.flags.writeable = False  # a perceptron is a value: equal ones stay equal
        self._weights = w
        self._bias = float(b)

    @property
    def weights(self) -> NDArray[np.float64]:
        """The weights, shape (n,), read-only."""
        return self._weights

    @property
    def bias(self) -> float:
        return self._bias

    @property
    def n_inputs(self) -> int:
        return self._weights.size

    def _inputs(self, x: ArrayLike) -> tuple[NDArray[np.float64], bool]:
        """``x`` as a (N, n) batch, and whether it was a single (n,) input."""
        a = _finite_floats(x, "perceptron inputs")
        n = self.n_inputs
        if a.ndim == 1 and a.shape[0] == n:
            return a[np.newaxis, :], True
        if a.ndim == 2 and a.shape[1] == n:
            return a, False
        raise CircuitError(
            f"this perceptron takes {plural(n, 'input')}: expected shape ({n},) or (N, {n}), "
            f"got {a.shape}"
        )

    def weighted_input(self, x: ArrayLike) -> float | NDArray[np.float64]:
        """z = w·x + b: a float for one input (n,), an (N,) array for a batch (N, n)."""
        batch, single = self._inputs(x)
        z = batch @ self._weights + self._bias
        return float(z[0]) if single else z

    def __call__(self, x: ArrayLike) -> int | NDArray[np.uint8]:
        """The perceptron's output: 1 where w·x + b > 0, else 0."""
        z = self.weighted_input(x)
        if isinstance(z, float):
            return int(z > 0)
        return (z > 0).astype(np.uint8)

    def sigmoid(self, x: ArrayLike, c: float = 1.0) -> float | NDArray[np.float64]:
        """The sigmoid neuron with weights c·w and bias c·b: σ(c(w·x + b)).

        As c → ∞ this tends to the perceptron's output wherever w·x + b ≠ 0, and
        stays exactly 1/2 for every c where w·x + b = 0.
        """
        c = positive_number(c, "the sigmoid scale c")
        z = self.weighted_input(x)
        out = scaled_sigmoid(np.asarray(z, dtype=np.float64), c)
        return float(out) if isinstance(z, float) else out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Perceptron):
            return NotImplemented
        return self._bias == other._bias and np.array_equal(self._weights, other._weights)

    def __hash__(self) -> int:
        return hash((self._bias, self._weights.tobytes()))

    def __repr__(self) -> str:
        weights = ", ".join(f"{w:g}" for w in self._weights)
        return f"Perceptron([{weights}], {self._bias:g})"


NAND = Perceptron([-2, -2], 3)
"""The book's NAND perceptron: w·x + b is 3, 1, 1, −1 for inputs 00, 01, 10, 11."""


@dataclass(frozen=True)
class Learning:
    """What the perceptron learning rule did.

    ``converged``: the last epoch made no mistake, so ``perceptron`` classifies
    every example.  ``cycled``: the weights at the start of an epoch repeated an
    earlier epoch's; the rule is deterministic, so it would repeat that cycle for
    ever and can never converge — the examples are not linearly separable.
    ``mistakes[e]`` counts the updates made in epoch e.
    """

    perceptron: Perceptron
    epochs: int
    converged: bool
    cycled: bool
    mistakes: tuple[int, ...]


def _examples(inputs: ArrayLike, targets: ArrayLike) -> tuple[NDArray, NDArray]:
    x = _finite_floats(inputs, "training inputs")
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise CircuitError(
            f"training inputs must be a non-empty (N, n) array, one example per row, "
            f"got shape {x.shape}"
        )
    t = _finite_floats(targets, "training targets")
    if t.shape != (x.shape[0],):
        raise CircuitError(f"expected {x.shape[0]} targets, shape ({x.shape[0]},), got {t.shape}")
    if not np.all((t == 0) | (t == 1)):
        raise CircuitError(f"training targets must be 0 or 1, got {np.unique(t).tolist()}")
    return x, t


def learn(
    inputs: ArrayLike,
    targets: ArrayLike,
    *,
    eta: float = 1.0,
    max_epochs: int = 100,
    initial: Perceptron | None = None,
) -> Learning:
    """Rosenblatt's perceptron learning rule.

    ``inputs`` (N, n), one example per row; ``targets`` (N,) of 0s and 1s.  The
    examples are visited in order, epoch after epoch; each mistake moves the
    weights towards the right answer,

        w → w + η(t − y)x,   b → b + η(t − y),

    where y is the current output.  Starts from ``initial`` (default: all zeros)
    and stops once an epoch makes no mistake, once the weights cycle, or after
    ``max_epochs`` epochs.  If the examples are linearly separable the rule
    converges (Novikoff's theorem).
    """
    x, t = _examples(inputs, targets)
    eta = positive_number(eta, "the learning rate eta")
    if (
        isinstance(max_epochs, bool)
        or not isinstance(max_epochs, (int, np.integer))
        or max_epochs < 1
    ):
        raise CircuitError(f"max_epochs must be a positive whole number, got {max_epochs!r}")
    if initial is None:
        w, b = np.zeros(x.shape[1]), 0.0
    elif initial.n_inputs != x.shape[1]:
        raise CircuitError(
            f"the initial perceptron takes {plural(initial.n_inputs, 'input')} but the examples "
            f"have {x.shape[1]}"
        )
    else:
        w, b = initial.weights.copy(), initial.bias

    seen: set[tuple[bytes, float]] = set()
    mistakes: list[int] = []
    converged = cycled = False
    while len(mistakes) < max_epochs:
        state = (w.tobytes(), b)
        if state in seen:
            cycled = True
            break
        seen.add(state)
        count = 0
        for xi, ti in zip(x, t):
            y = 1.0 if xi @ w + b > 0 else 0.0
            if y != ti:
                w = w + eta * (ti - y) * xi
                b = b + eta * (ti - y)
                count += 1
        mistakes.append(count)
        if count == 0:
            converged = True
            break
    return Learning(Perceptron(w, b), len(mistakes), converged, cycled, tuple(mistakes))
