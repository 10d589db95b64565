"""A feedforward network of sigmoid neurons, trained by stochastic gradient descent.

This is chapter 1's ``network.py``, vectorised over the mini-batch.  The names
and equations are the book's:

* layer l computes  a^l = σ(w^l a^(l−1) + b^l);
* the cost is C = 1/(2n) Σ_x ‖y(x) − a^L(x)‖²  (see :mod:`neuraldigits.costs`);
* SGD updates  w → w − (η/m) Σ_x ∂C_x/∂w  and  b → b − (η/m) Σ_x ∂C_x/∂b
  over each mini-batch of m examples, with the gradients from backprop.

Shapes.  ``weights[l]`` is (n_out, n_in) and ``biases[l]`` is (n_out, 1), as in the
book.  Inside the maths a batch of m examples is a matrix with *one column per
example*, so ``w @ a + b`` reads exactly like the book's ``np.dot(w, a) + b``.
Data sets, as users hold them, are ``(images, labels)`` pairs: images (N, n_in),
one row per example, and labels (N,) integer class numbers.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .activations import sigmoid
from .costs import COSTS
from .errors import TrainingError
from .plateau import Plateau
from .progress import TrainingBar
from .summary import Summary, summarise

Dataset = tuple[NDArray, NDArray]
"""``(images, labels)``: images (N, n_in) floats in [0, 1] (or uint8 0–255), labels (N,) ints."""

# Rows per chunk when evaluating a large set, to bound memory for wide layers.
_EVAL_CHUNK = 10_000


@dataclass(frozen=True)
class Score:
    """How a network did on one data set: correct answers and mean cost."""

    correct: int
    total: int
    cost: float

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0


@dataclass(frozen=True)
class EpochResult:
    """One line of the training history."""

    epoch: int
    seconds: float  # time spent on the SGD updates of this epoch, not on evaluation
    test: Score | None = None
    validation: Score | None = None
    training: Score | None = None  # only with sgd(..., monitor_training=True)
    eta: float | None = None  # the η this epoch stepped with (the schedule may lower it)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class History(list[EpochResult]):
    """What :meth:`Network.sgd` returns: one :class:`EpochResult` per epoch, in order.

    ``stopped``: why training ended before its last epoch (early stopping or
    the η schedule), else None.  ``best_epoch``: the epoch of the best
    validation accuracy, when there was a validation set, else None.
    """

    stopped: str | None = None
    best_epoch: int | None = None


@dataclass
class SgdState:
    """Where a run of :meth:`Network.sgd` stands between two epochs.

    With the network's weights, velocities and generator, it is all that sgd
    needs to carry on as if it had never stopped: pass it back as
    ``sgd(..., state=)`` and the run continues at epoch ``next_epoch``
    (:mod:`neuraldigits.training.checkpoint` saves and restores one).
    ``history``: the epochs so far; ``plateau``: chapter 3's stopping rules'
    counters and the η now; ``best``: ``(weights, biases)`` of the best
    validation epoch so far (what ``keep_best`` restores), when there is a
    validation set.
    """

    history: History
    plateau: Plateau
    best: tuple[list[NDArray], list[NDArray]] | None = None

    @property
    def next_epoch(self) -> int:
        return len(self.history)


# How weights start, by name: chapter 1's N(0, 1) ("large", the book's
# large_weight_initializer) or chapter 3's N(0, 1/n_in) ("scaled", its
# default_weight_initializer), which keeps z = w·x + b from saturating σ when
# a neuron has many inputs.  Biases start N(0, 1) either way.
INITS = ("large", "scaled")


class Network:
    """A feedforward network of sigmoid neurons.

    ``Network([784, 30, 10])`` has 784 inputs, one hidden layer of 30 neurons and
    10 outputs.  Weights and biases start as independent N(0, 1) draws, as in
    chapter 1 (``init="large"``; ``init="scaled"`` draws weights N(0, 1/n_in), as
    in chapter 3), from a ``numpy.random.Generator`` seeded by ``seed``; the same
    generator later shuffles the training data, so the same seed gives the same
    history.  ``dtype`` is float32 (fast) or float64 (for exact checks).  ``cost``
    names one of :data:`neuraldigits.costs.COSTS` ("quadratic", "cross-entropy").
    """

    def __init__(
        self,
        sizes: Sequence[int],
        seed: int | np.random.Generator | None = None,
        *,
        dtype: Any = np.float32,
        cost: str = "quadratic",
        init: str = "large",
    ) -> None:
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or any(s <= 0 for s in sizes):
            raise ValueError(f"sizes must list at least two positive layer sizes, got {sizes}")
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dtype}")
        if cost not in COSTS:
            raise ValueError(f"unknown cost {cost!r}; known: {', '.join(COSTS)}")
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; known: {', '.join(INITS)}")
        self.sizes = sizes
        self.num_layers = len(sizes)
        self.dtype = dtype
        self.cost = COSTS[cost]
        self.rng = np.random.default_rng(seed)
        # Drawn in float64 then cast, so float32 and float64 nets of one seed agree.
        self.biases = [self.rng.standard_normal((y, 1)).astype(dtype) for y in sizes[1:]]
        self.weights = [self.rng.standard_normal((y, x)) for x, y in zip(sizes[:-1], sizes[1:])]
        if init == "scaled":
            self.weights = [w / np.sqrt(w.shape[1]) for w in self.weights]
        self.weights = [w.astype(dtype) for w in self.weights]
        self.init = init
        self.weight_velocities: list[NDArray] | None = None  # see velocities()
        self.bias_velocities: list[NDArray] | None = None
        self.metadata: dict[str, Any] = {}

    # ------------------------------------------------------------------ feedforward

    def feedforward(self, a: ArrayLike) -> NDArray:
        """The network's output for one input or a batch.

        ``a`` of shape (n_in,) gives (n_out,); a column (n_in, 1) gives (n_out, 1);
        a batch (N, n_in), one row per example, gives (N, n_out).  Any other
        shape raises ``ValueError`` rather than broadcasting into nonsense.
        """
        a = np.asarray(a)
        n_in = self.sizes[0]
        if a.ndim == 1 and a.shape[0] == n_in:
            return self._feedforward_columns(a[:, None])[:, 0]
        if a.ndim == 2 and a.shape == (n_in, 1):
            return self._feedforward_columns(a)
        if a.ndim == 2 and a.shape[1] == n_in:
            return self._feedforward_columns(a.T).T
        raise ValueError(
            f"expected an input of shape ({n_in},), ({n_in}, 1) or (N, {n_in}); got {a.shape}"
        )

    def _feedforward_columns(self, a: NDArray) -> NDArray:
        """a: (n_in, m), one column per example → a^L: (n_out, m)."""
        return self.activations(a)[-1]

    def activations(self, a: NDArray) -> list[NDArray]:
        """Every layer's activations [a^0, a^1, ..., a^L] for inputs a: (n_in, m) columns.

        a^l = σ(w^l a^(l−1) + b^l), each (n_l, m); for showing what the hidden
        layers do (the drawing pad), where feedforward keeps only a^L.
        """
        layers = [self._as_inputs(a)]
        for b, w in zip(self.biases, self.weights):
            layers.append(sigmoid(w @ layers[-1] + b))
        return layers

    def _as_inputs(self, x: NDArray) -> NDArray:
        """Inputs in the network's dtype; uint8 pixels (0–255) are scaled to [0, 1]."""
        if x.dtype == np.uint8:
            return x.astype(self.dtype) / self.dtype.type(255)
        return np.asarray(x, dtype=self.dtype)

    # ------------------------------------------------------------------ learning

    def backprop(self, x: NDArray, y: NDArray) -> tuple[list[NDArray], list[NDArray]]:
        """Gradient of the cost, summed over a batch, by backpropagation.

        ``x``: (n_in, m) inputs, one column per example; ``y``: (n_out, m)
        desired outputs.  Returns ``(nabla_b, nabla_w)``, layer by layer shaped
        like ``biases`` and ``weights``, holding Σ_x ∂C_x/∂b and Σ_x ∂C_x/∂w.
        """
        x = self._as_inputs(x)
        # Forward pass, keeping every z^l and a^l.
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights):
            z = w @ activation + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        # Backward pass.  Each column of delta is one example's δ^l; the matrix
        # products below sum the per-example gradients over the batch.
        nabla_b: list[NDArray] = [np.empty(0)] * len(self.biases)
        nabla_w: list[NDArray] = [np.empty(0)] * len(self.weights)
        delta = self.cost.delta(zs[-1], activations[-1], y)  # (BP1)
        nabla_b[-1] = delta.sum(axis=1, keepdims=True)  # (BP3)
        nabla_w[-1] = delta @ activations[-2].T  # (BP4)
        for layer in range(2, self.num_layers):
            a = activations[-layer]
            sp = a * (1 - a)  # σ′(z^l) = σ(z^l)(1 − σ(z^l)), and σ(z^l) = a^l
            delta = (self.weights[-layer + 1].T @ delta) * sp  # (BP2)
            nabla_b[-layer] = delta.sum(axis=1, keepdims=True)
            nabla_w[-layer] = delta @ activations[-layer - 1].T
        return nabla_b, nabla_w

    def update_mini_batch(
        self,
        mini_batch: Dataset,
        eta: float,
        lmbda: float = 0.0,
        n: int | None = None,
        *,
        momentum: float = 0.0,
    ) -> None:
        """One step of gradient descent on one mini-batch ``(images (m, n_in), labels (m,))``.

        w → w − (η/m) Σ_x ∂C_x/∂w,  b → b − (η/m) Σ_x ∂C_x/∂b; with chapter 3's
        L2 regularisation (``lmbda`` = λ > 0, over a training set of ``n``
        examples) w → (1 − ηλ/n) w − (η/m) Σ_x ∂C_x/∂w.  See :meth:`step`.
        """
        images, labels = mini_batch
        nabla_b, nabla_w = self.backprop(images.T, self.one_hot(labels).T)
        self.step(nabla_b, nabla_w, eta, len(labels), lmbda, n, momentum=momentum)

    def step(
        self,
        nabla_b: list[NDArray],
        nabla_w: list[NDArray],
        eta: float,
        m: int,
        lmbda: float = 0.0,
        n: int | None = None,
        *,
        momentum: float = 0.0,
    ) -> None:
        """Gradient descent on a gradient summed over m examples (``backprop``'s output).

        w → (1 − ηλ/n) w − (η/m) nabla_w,  b → b − (η/m) nabla_b: the step is
        divided by the number of examples summed, so a smaller last mini-batch
        steps by η/m′; λ = 0 (chapter 1) leaves out the weight decay ηλ/n, and
        biases are never decayed.  With ``momentum`` μ > 0 (chapter 3's
        "variations on SGD") each parameter moves by a velocity instead:
        v → μv − (η/m) nabla_w − (ηλ/n) w,  w → w + v  (biases: no decay term).
        """
        step = self.dtype.type(step_size(eta, m))
        decay = self.dtype.type(weight_decay(eta, lmbda, n))
        if momentum:
            mu = self.dtype.type(momentum)
            weight_v, bias_v = self.velocities()
            for w, v, nw in zip(self.weights, weight_v, nabla_w):
                v *= mu
                v -= step * nw
                if decay:
                    v -= decay * w
                w += v
            for b, v, nb in zip(self.biases, bias_v, nabla_b):
                v *= mu
                v -= step * nb
                b += v
            return
        for w, nw in zip(self.weights, nabla_w):
            if decay:
                w *= 1 - decay
            w -= step * nw
        for b, nb in zip(self.biases, nabla_b):
            b -= step * nb

    def velocities(self) -> tuple[list[NDArray], list[NDArray]]:
        """Momentum's velocities ``(for weights, for biases)``, shaped like them; zero at first.

        They belong to the network, so that training resumed by another
        ``sgd`` call carries its momentum on.
        """
        if self.weight_velocities is None:
            self.weight_velocities = [np.zeros_like(w) for w in self.weights]
            self.bias_velocities = [np.zeros_like(b) for b in self.biases]
        return self.weight_velocities, self.bias_velocities

    def sgd(
        self,
        training_data: Dataset,
        epochs: int,
        mini_batch_size: int,
        eta: float,
        test_data: Dataset | None = None,
        *,
        lmbda: float = 0.0,
        momentum: float = 0.0,
        validation_data: Dataset | None = None,
        monitor_training: bool = False,
        early_stop: int | None = None,
        eta_schedule: int | None = None,
        keep_best: bool = False,
        callback: Callable[[EpochResult], None] | None = None,
        on_batch: Callable[[int], None] | None = None,
        progress: bool = False,
        rng: np.random.Generator | None = None,
        method: str = "fast",
        state: SgdState | None = None,
        on_epoch_end: Callable[[SgdState], None] | None = None,
    ) -> History:
        """Train with mini-batch stochastic gradient descent; return the history.

        Each epoch shuffles the training examples (each is used exactly once)
        and steps through them ``mini_batch_size`` at a time; when N is not a
        multiple of m the last mini-batch is smaller, and its step is still
        divided by its own size.  ``lmbda`` (λ) adds chapter 3's L2
        regularisation and ``momentum`` (μ) its momentum (see :meth:`step`).

        ``training_data`` may also be a stream of training sets, one per epoch:
        any object with ``for_epoch(k)`` returning epoch k's ``(images,
        labels)`` (fresh distortions every epoch, say); λ's n is that set's size.

        After each epoch the network is scored on ``test_data`` and
        ``validation_data`` when given (and on the training data, with
        ``monitor_training``), and ``callback`` is called with that epoch's
        result (the CLI prints it).  ``on_batch(m)`` is called after each
        mini-batch (for progress bars).  ``progress=True`` draws a bar over the
        epochs (:mod:`neuraldigits.progress`: a widget in Jupyter, text on
        stderr elsewhere).  Shuffling draws from ``rng``, by default the
        network's own generator.

        Chapter 3's stopping rules watch the validation accuracy (see
        :mod:`neuraldigits.plateau`): ``early_stop=N`` stops after N epochs
        without improvement; ``eta_schedule=N`` halves η after each N such
        epochs and stops at η₀/128.  ``keep_best`` leaves the network with the
        weights of its best validation epoch.  The history records each
        epoch's η, why training stopped and the best epoch.

        ``method`` chooses how each epoch is computed, never what: "reference"
        is :meth:`update_mini_batch` per mini-batch, as in the book; "fast" (the
        default) is :mod:`neuraldigits.training` with its fastest backend here:
        the C kernel built at install ("c", float32), else numba ("numba"),
        else vectorised numpy ("numpy").  All give the same history from the
        same seed, to float rounding; the fast paths call ``on_batch`` per
        chunk of mini-batches rather than per mini-batch.  "fast" uses the
        reference path when ``backprop``, ``update_mini_batch`` or ``step`` has
        been overridden.

        To stop and later resume a run, pass ``on_epoch_end(state)``: it is
        called after each epoch's bookkeeping with the run's :class:`SgdState`
        (to save it, say).  ``state=`` (with the network's weights, velocities
        and ``rng`` restored as they were then) carries on from it, with the
        same settings; the rest of the run is then the same to the bit as if it
        had never stopped.
        """
        if test_data is not None:
            test_data = self.check_dataset(test_data, "test_data")
        if validation_data is not None:
            validation_data = self.check_dataset(validation_data, "validation_data")
        _check_sgd_settings(epochs, mini_batch_size, eta, lmbda, momentum, method)
        if validation_data is None and (early_stop or eta_schedule or keep_best):
            raise ValueError("early_stop, eta_schedule and keep_best watch validation_data")
        # A stream of training sets (fresh distortions every epoch) has for_epoch(k).
        stream = getattr(training_data, "for_epoch", None)
        if stream is None:  # one set for every epoch, checked even for 0 epochs
            data, images, labels = self._training_set(training_data)
        rng = self.rng if rng is None else rng
        if state is None:
            state = SgdState(History(), Plateau(eta, early_stop, eta_schedule))
        _check_state(state, eta, early_stop, eta_schedule)
        history, plateau, trainer = state.history, state.plateau, None
        first = int(epochs) if history.stopped else state.next_epoch  # a stopped run stays so
        bar = None
        if progress:  # a tqdm.auto bar, fed by the same callbacks as anyone's
            n = None if stream is not None else len(labels)
            bar = TrainingBar(int(epochs), n, first_epoch=first)
            callback, on_batch = bar.callbacks(callback, on_batch)
        # The bar is closed however training ends: an open one (Ctrl-C in a notebook, a
        # callback's error) stays in tqdm's list of bars and pushes every later bar down.
        complete = False
        try:
            for epoch in range(first, int(epochs)):
                if stream is not None:
                    data, images, labels = self._training_set(stream(epoch))
                if trainer is None or stream is not None:
                    trainer = EPOCH_METHODS[method](
                        self, data, int(mini_batch_size), eta, lmbda, momentum
                    )
                trainer.eta = plateau.eta
                start = time.perf_counter()
                trainer.epoch(rng.permutation(len(labels)), on_batch)
                seconds = time.perf_counter() - start
                _check_finite(self, epoch, plateau.eta, history)
                with trainer.scoring():
                    result = EpochResult(
                        epoch=epoch,
                        seconds=seconds,
                        test=None if test_data is None else self.score(test_data, lmbda),
                        validation=None
                        if validation_data is None
                        else self.score(validation_data, lmbda),
                        training=self.score((images, labels), lmbda) if monitor_training else None,
                        eta=plateau.eta,
                    )
                history.append(result)
                if callback is not None:
                    callback(result)
                if result.validation is not None:
                    history.stopped = plateau.update(epoch, result.validation.accuracy)
                    if plateau.best_epoch == epoch:
                        state.best = (
                            [w.copy() for w in self.weights],
                            [b.copy() for b in self.biases],
                        )
                if on_epoch_end is not None:
                    on_epoch_end(state)
                if history.stopped:
                    break
            complete = True
        finally:
            if bar is not None:
                bar.close(complete)
        if validation_data is not None and history:
            history.best_epoch = plateau.best_epoch
        if keep_best and state.best is not None:
            self.weights = [w.copy() for w in state.best[0]]
            self.biases = [b.copy() for b in state.best[1]]
        return history

    def _training_set(self, data: Dataset) -> tuple[Dataset, NDArray, NDArray]:
        """``(what the trainer gets, images, labels)`` for a checked training set.

        A prepared set (:func:`neuraldigits.training.prepare`) goes to the trainer
        whole, so that the work it holds is not redone; any other, as the checked pair.
        """
        images, labels = self.check_dataset(data, "training_data")
        return (data if getattr(data, "prepared", False) else (images, labels)), images, labels

    # ------------------------------------------------------------------ evaluation

    def score(self, data: Dataset, lmbda: float = 0.0) -> Score:
        """Correct answers (argmax of the output) and mean cost C on ``data``.

        With ``lmbda`` = λ > 0 the cost includes the L2 term λ/(2n) Σ_w w² (n =
        len(data)), as the book's ``total_cost`` does.
        """
        images, labels = self.check_dataset(data, "data")
        correct = 0
        total_cost = 0.0
        for k in range(0, len(labels), _EVAL_CHUNK):
            outputs = self._feedforward_columns(images[k : k + _EVAL_CHUNK].T)
            chunk_labels = labels[k : k + _EVAL_CHUNK]
            correct += int(np.sum(np.argmax(outputs, axis=0) == chunk_labels))
            total_cost += self.cost.fn(outputs, self.one_hot(chunk_labels).T)
        n = len(labels)
        if n and lmbda:
            total_cost += (
                0.5 * lmbda * sum(float(np.sum(np.square(w, dtype=float))) for w in self.weights)
            )
        return Score(correct=correct, total=n, cost=total_cost / n if n else 0.0)

    def evaluate(self, test_data: Dataset) -> int:
        """The number of test inputs for which the output neuron with the highest
        activation is the right digit."""
        return self.score(test_data).correct

    def predict(self, images: ArrayLike) -> NDArray[np.intp]:
        """The predicted class for each row of ``images`` (N, n_in) → (N,)."""
        images = np.asarray(images)
        if images.ndim != 2 or images.shape[1] != self.sizes[0]:
            raise ValueError(f"expected images of shape (N, {self.sizes[0]}), got {images.shape}")
        return np.concatenate(
            [
                np.argmax(self._feedforward_columns(images[k : k + _EVAL_CHUNK].T), axis=0)
                for k in range(0, len(images), _EVAL_CHUNK)
            ]
            or [np.empty(0, dtype=np.intp)]
        )

    # ------------------------------------------------------------------ helpers

    def one_hot(self, labels: NDArray) -> NDArray:
        """Desired outputs y(x): (m,) class numbers → (m, n_out) rows of 0s with a 1."""
        y = np.zeros((len(labels), self.sizes[-1]), dtype=self.dtype)
        y[np.arange(len(labels)), labels] = 1
        return y

    def check_dataset(self, data: Dataset, name: str) -> Dataset:
        """Validate an ``(images, labels)`` pair against this network; return arrays."""
        try:
            images, labels = data
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be an (images, labels) pair of arrays") from None
        images = np.asarray(images)
        labels = np.asarray(labels)
        n_in, n_out = self.sizes[0], self.sizes[-1]
        if images.ndim != 2 or images.shape[1] != n_in:
            raise ValueError(f"{name}: expected images of shape (N, {n_in}), got {images.shape}")
        if labels.shape != (len(images),):
            raise ValueError(
                f"{name}: expected labels of shape ({len(images)},) to match the images, "
                f"got {labels.shape}"
            )
        if not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"{name}: labels must be integers, got dtype {labels.dtype}")
        if len(labels) and (labels.min() < 0 or labels.max() >= n_out):
            raise ValueError(
                f"{name}: labels must lie in 0..{n_out - 1} for {n_out} output neurons, "
                f"found {labels.min()}..{labels.max()}"
            )
        return images, labels

    # ------------------------------------------------------------------ describing

    def __repr__(self) -> str:
        return (
            f"Network({self.sizes}, cost={self.cost.name!r}, init={self.init!r}, "
            f"dtype={self.dtype.name})"
        )

    def summary(self) -> Summary:
        """Layers, parameter counts, cost, init, dtype, and the training a model file recorded.

        Returns a :class:`~neuraldigits.summary.Summary`; ``print(net.summary())``
        shows it as a table (a notebook shows it as is).
        """
        return summarise(self.sizes, self.cost.name, self.init, self.dtype.name, self.metadata)

    def copy(self) -> Network:
        """An independent copy of the weights, biases and metadata (not the generator)."""
        other = Network.__new__(Network)
        other.__dict__.update(self.__dict__)
        other.weights = [w.copy() for w in self.weights]
        other.biases = [b.copy() for b in self.biases]
        if self.weight_velocities is not None:
            other.weight_velocities = [v.copy() for v in self.weight_velocities]
            other.bias_velocities = [v.copy() for v in self.bias_velocities]
        other.metadata = dict(self.metadata)
        return other


# ---------------------------------------------------------------------- overflow


def overflow_reason(weights: Sequence[NDArray], biases: Sequence[NDArray]) -> str | None:
    """Why the forward pass may overflow for some input in [0, 1], or None when it cannot.

    Every activation lies in [0, 1] (the inputs, then σ of anything), so each
    weighted input obeys |z_j| ≤ Σ_k |w_jk| + |b_j|.  When that bound, summed in
    float64, stays well inside the weights' dtype, no z overflows and every
    output is finite; weights of ±3e38 (or NaN) fail it.  One pass over the
    weights: ~20 µs for [784, 30, 10], cheap enough for every epoch.
    """
    for layer, (w, b) in enumerate(zip(weights, biases)):
        # A quarter of the largest value leaves room for the dtype's own rounding.
        limit = float(np.finfo(w.dtype).max) / 4 if w.dtype.kind == "f" else np.inf
        bound = np.abs(w).sum(axis=1, dtype=np.float64) + np.abs(b.reshape(-1), dtype=np.float64)
        worst = float(bound.max()) if bound.size else 0.0
        if not worst <= limit:  # also true for NaN
            return (
                f"layer {layer + 1}'s weights are so large (Σ|w| + |b| up to {worst:.3g}) that "
                f"its weighted inputs overflow {w.dtype}"
                if np.isfinite(worst)
                else f"layer {layer + 1}'s weights or biases hold NaN or infinite values"
            )
    return None


# ---------------------------------------------------------------------- how sgd runs an epoch


def _check_finite(net: Network, epoch: int, eta: float, history: History) -> None:
    """Stop training, with the finished epochs, once the weights can overflow the outputs."""
    reason = overflow_reason(net.weights, net.biases)
    if reason is not None:
        raise TrainingError(
            f"training diverged in epoch {epoch}: {reason}, so every output would be NaN; "
            f"eta = {eta:g} is far too large for this network (the book uses 0.1 to 10)",
            history,
        )


def _check_state(state: SgdState, eta: float, early_stop, eta_schedule) -> None:
    """Refuse to resume a run whose stopping rules were not these."""
    plateau = state.plateau
    if (plateau.eta0, plateau.early_stop, plateau.eta_schedule) != (eta, early_stop, eta_schedule):
        raise ValueError(
            "state= comes from a run with eta, early_stop, eta_schedule = "
            f"{plateau.eta0}, {plateau.early_stop}, {plateau.eta_schedule}, "
            f"not {eta}, {early_stop}, {eta_schedule}"
        )


def _check_sgd_settings(epochs, mini_batch_size, eta, lmbda, momentum, method) -> None:
    """Refuse, with the reason, settings sgd cannot train with."""
    if int(epochs) < 0 or int(mini_batch_size) <= 0 or not eta > 0:
        raise ValueError(
            "need epochs ≥ 0, mini_batch_size ≥ 1 and eta > 0; got "
            f"epochs={epochs}, mini_batch_size={mini_batch_size}, eta={eta}"
        )
    if not (lmbda >= 0 and 0 <= momentum < 1):
        raise ValueError(f"need lmbda ≥ 0 and 0 ≤ momentum < 1; got {lmbda}, {momentum}")
    if method not in EPOCH_METHODS:
        raise ValueError(f"unknown method {method!r}; known: {', '.join(EPOCH_METHODS)}")


def step_size(eta: float, m: int) -> float:
    """η/m, the step for a gradient summed over m examples: the book's update rule."""
    return eta / m


def weight_decay(eta: float, lmbda: float, n: int | None) -> float:
    """ηλ/n, the fraction of every weight that L2 regularisation takes away per step.

    n is the size of the whole training set (not the mini-batch), as in the book.
    """
    if not lmbda:
        return 0.0
    if not n or n < 1:
        raise ValueError(f"L2 regularisation (lmbda={lmbda}) needs the training set's size n ≥ 1")
    return eta * lmbda / n


def mini_batch_steps(n: int, mini_batch_size: int, eta: float) -> tuple[float, float]:
    """η/m for an epoch's full mini-batches, and η/m′ for its last one.

    An epoch of n examples in mini-batches of m ends with one of m′ = n mod m
    examples when m does not divide n; every step is divided by its own
    mini-batch's size, as :meth:`Network.step` does.
    """
    last = n % mini_batch_size or mini_batch_size
    return step_size(eta, mini_batch_size), step_size(eta, last)


class EpochRunner(Protocol):
    """How :meth:`Network.sgd` computes its epochs, for one network and training set.

    ``epoch(order, on_batch)`` runs the mini-batches ``order[k : k + m]`` in turn,
    calling ``on_batch(count)`` as examples are done, with the step size ``eta``
    (an attribute sgd may lower between epochs); ``scoring()`` is the context in
    which sgd scores the network between epochs.
    """

    eta: float

    def epoch(self, order: NDArray, on_batch: Callable[[int], None] | None) -> None: ...

    def scoring(self) -> AbstractContextManager[object]: ...


EpochMethod = Callable[[Network, Dataset, int, float, float, float], EpochRunner]
"""Makes an :class:`EpochRunner` from ``(net, training_data, mini_batch_size, eta, lmbda,
momentum)``; sgd may lower the runner's ``eta`` between epochs."""


class BookEpochs:
    """The book's epoch: :meth:`Network.update_mini_batch` on each mini-batch in turn."""

    def __init__(
        self,
        net: Network,
        training_data: Dataset,
        mini_batch_size: int,
        eta: float,
        lmbda: float = 0.0,
        momentum: float = 0.0,
    ) -> None:
        self.net = net
        self.images, self.labels = training_data
        self.m, self.eta, self.lmbda, self.momentum = mini_batch_size, eta, lmbda, momentum

    def epoch(self, order: NDArray, on_batch: Callable[[int], None] | None = None) -> None:
        n = len(self.labels)  # the training set's size, for L2's ηλ/n
        for k in range(0, len(order), self.m):
            idx = order[k : k + self.m]
            # Gathering copies only these m rows, never the whole data set.
            mini_batch = (self.images[idx], self.labels[idx])
            if self.lmbda or self.momentum:
                self.net.update_mini_batch(
                    mini_batch, self.eta, self.lmbda, n, momentum=self.momentum
                )
            else:  # chapter 1's call, which a subclass's own update_mini_batch may expect
                self.net.update_mini_batch(mini_batch, self.eta)
            if on_batch is not None:
                on_batch(len(idx))

    def scoring(self) -> AbstractContextManager[object]:
        return contextlib.nullcontext()


EPOCH_METHODS: dict[str, EpochMethod] = {"reference": BookEpochs}
"""The ways sgd's ``method`` may name, by name.  This module knows only the book's;
:mod:`neuraldigits.training`, a layer above (it builds on :class:`Network`), adds
the fast ones ("fast", "c", "numba", "numpy") when the package is imported."""
