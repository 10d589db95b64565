"""The book's network as a scikit-learn classifier: :class:`NetworkClassifier`.

It fits in ``Pipeline``, ``GridSearchCV`` and ``cross_val_score`` like any
scikit-learn estimator, and trains with the same :meth:`Network.sgd` (and the
same fast kernel) as the rest of the package: ``NetworkClassifier(random_state=0)``
trains exactly as ``Network(sizes, seed=0).sgd(...)`` would on the same data.

Needs the ``sklearn`` extra (:func:`neuraldigits.extras.install_hint` says how).

Inputs.  Any float features, one row per example: 784 MNIST pixels or anything
else; the input layer takes the width of ``X``.  Values are used as given
(uint8 pixels are *not* divided by 255 here, unlike :class:`Network`): sigmoid
neurons saturate on large inputs, so put features on a scale of about 0..1 or
mean 0, sd 1 first (``MinMaxScaler``, ``StandardScaler``, or ``X / 255`` for
pixels).  Labels may be any classes scikit-learn accepts (ints, strings, ...):
there is one output neuron per class in ``classes_``.
"""

from __future__ import annotations

import numbers
import weakref
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import _check_partial_fit_first_call, check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .costs import COSTS
from .network import INITS, History, Network
from .training import PreparedData, prepare

_SEED_LIMIT = 2**31 - 1  # seeds drawn from a RandomState, for Network's generator


class NetworkClassifier(ClassifierMixin, BaseEstimator):
    """Chapter 1's network of sigmoid neurons, trained by mini-batch SGD, as an estimator.

    Parameters (the book's names in brackets):

    * ``hidden_layer_sizes``: the hidden layers' sizes; ``(30,)`` is the book's
      ``[784, 30, 10]`` on MNIST, ``()`` no hidden layer.
    * ``epochs``: passes over the training data in :meth:`fit` (fewer with early
      stopping); :meth:`partial_fit` runs one.
    * ``mini_batch_size`` (m), ``eta`` (η): SGD's mini-batch size and learning rate.
    * ``cost``: ``"quadratic"`` (chapter 1) or ``"cross-entropy"`` (chapter 3).
    * ``init``: ``"large"``, weights N(0, 1) (chapter 1), or ``"scaled"``, N(0, 1/n_in).
    * ``lmbda`` (λ): L2 regularisation, weight decay ηλ/n over n training examples.
    * ``momentum`` (μ): momentum-based gradient descent, 0 ≤ μ < 1.
    * ``early_stopping``: hold out ``validation_fraction`` of the training data
      (stratified) and stop after ``n_iter_no_change`` epochs without a better
      validation accuracy, keeping the best epoch's weights.
    * ``random_state``: an int seeds the weights and the shuffling exactly as
      ``Network(..., seed=random_state)`` does; None or a ``RandomState`` draws a seed.

    Attributes after fitting: ``classes_`` (n_classes,), ``n_features_in_``,
    ``network_`` (the trained :class:`Network`, float32; save it with
    :func:`neuraldigits.save`), ``n_iter_`` (epochs run), ``loss_curve_`` (the
    training cost C after each epoch, with the L2 term when λ > 0),
    ``validation_scores_`` (validation accuracy after each epoch with early
    stopping, else None) and ``best_validation_score_``.
    """

    def __init__(
        self,
        hidden_layer_sizes: tuple[int, ...] = (30,),
        *,
        epochs: int = 30,
        mini_batch_size: int = 10,
        eta: float = 3.0,
        cost: str = "quadratic",
        init: str = "large",
        lmbda: float = 0.0,
        momentum: float = 0.0,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.epochs = epochs
        self.mini_batch_size = mini_batch_size
        self.eta = eta
        self.cost = cost
        self.init = init
        self.lmbda = lmbda
        self.momentum = momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting

    def fit(self, X: ArrayLike, y: ArrayLike) -> NetworkClassifier:
        """Train a fresh network on ``X`` (n_samples, n_features) and ``y`` (n_samples,)."""
        self._check_settings()
        X, y = validate_data(self, X, y, dtype=np.float32, reset=True)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        seed = self._seed()
        self.network_ = self._new_network(X.shape[1], seed)
        training, validation = (X, codes), None
        if self.early_stopping:
            training, validation = self._split(X, codes, seed)
        history = self.network_.sgd(
            prepare(training),
            int(self.epochs),
            int(self.mini_batch_size),
            float(self.eta),
            lmbda=float(self.lmbda),
            momentum=float(self.momentum),
            validation_data=validation,
            monitor_training=True,
            early_stop=int(self.n_iter_no_change) if validation is not None else None,
            keep_best=validation is not None,
        )
        self._record(history, fresh=True)
        return self

    def partial_fit(
        self, X: ArrayLike, y: ArrayLike, classes: ArrayLike | None = None
    ) -> NetworkClassifier:
        """One epoch of SGD on ``X``, ``y``, continuing from the current weights.

        The first call needs ``classes``, every label that will ever be seen, as
        scikit-learn's other incremental classifiers do (or follows a :meth:`fit`).
        The training set is prepared once and kept while the same ``X`` and ``y``
        objects come back, so a loop of calls on one data set pays no per-call
        indexing; changing those arrays in place between calls is not seen (pass
        new arrays).  Early stopping is :meth:`fit`'s alone.
        """
        self._check_settings()
        first = _check_partial_fit_first_call(self, classes)
        X_in, y_in = X, y
        X, y = validate_data(self, X, y, dtype=np.float32, reset=first)
        check_classification_targets(y)
        if not np.all(np.isin(y, self.classes_)):
            unknown = np.setdiff1d(y, self.classes_)
            raise ValueError(f"y holds labels {unknown.tolist()} not in classes {self.classes_}")
        if first:
            self.network_ = self._new_network(X.shape[1], self._seed())
            self.n_iter_, self.loss_curve_ = 0, []
            self.validation_scores_ = self.best_validation_score_ = None
        history = self.network_.sgd(
            self._prepared(X_in, y_in, X, y),
            1,
            int(self.mini_batch_size),
            float(self.eta),
            lmbda=float(self.lmbda),
            momentum=float(self.momentum),
            monitor_training=True,
        )
        self._record(history, fresh=False)
        return self

    def _prepared(self, X_in: Any, y_in: Any, X: NDArray, y: NDArray) -> PreparedData:
        """The prepared training set for these inputs: kept while the same objects return.

        Identity is held by weak references, so a new array that happens to reuse a
        freed one's address is never mistaken for it.
        """
        cache = getattr(self, "_prepared_cache", None)
        if cache is not None:
            x_ref, y_ref, classes, data = cache
            if (
                x_ref() is X_in
                and y_ref() is y_in
                and np.array_equal(classes, self.classes_)
                and data[0].shape == X.shape
            ):
                return data
        data = prepare((X, np.searchsorted(self.classes_, y)))
        try:
            refs = weakref.ref(X_in), weakref.ref(y_in)
        except TypeError:  # lists cannot be weakly referenced: no caching for them
            self._prepared_cache = None
        else:
            self._prepared_cache = (*refs, self.classes_.copy(), data)
        return data

    def _record(self, history: History, *, fresh: bool) -> None:
        """The per-epoch attributes from an sgd history: started afresh or continued."""
        losses = [r.training.cost for r in history]
        if fresh:
            self.n_iter_, self.loss_curve_ = len(history), losses
            scores = [r.validation.accuracy for r in history if r.validation is not None]
            self.validation_scores_ = scores if self.early_stopping else None
            self.best_validation_score_ = max(scores) if scores else None
        else:
            self.n_iter_ += len(history)
            self.loss_curve_.extend(losses)

    def _new_network(self, n_features: int, seed: int) -> Network:
        sizes = [n_features, *(int(h) for h in self.hidden_layer_sizes), len(self.classes_)]
        return Network(sizes, seed=seed, cost=self.cost, init=self.init)

    def _seed(self) -> int:
        """An int random_state is the network's seed itself; otherwise one is drawn."""
        if isinstance(self.random_state, numbers.Integral):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(_SEED_LIMIT))

    def _split(self, X: NDArray, codes: NDArray, seed: int) -> tuple[tuple, tuple]:
        """A stratified hold-out of ``validation_fraction`` for early stopping."""
        try:
            X_train, X_val, y_train, y_val = train_test_split(
                X, codes, test_size=self.validation_fraction, random_state=seed, stratify=codes
            )
        except ValueError as e:
            raise ValueError(
                f"early_stopping: cannot hold out validation_fraction="
                f"{self.validation_fraction} of {len(codes)} examples, stratified by class ({e})"
            ) from None
        return (X_train, y_train), (X_val, y_val)

    def _check_settings(self) -> None:
        """Refuse, naming the parameter, settings that cannot train (before any work)."""
        sizes = tuple(self.hidden_layer_sizes)
        if not all(isinstance(h, numbers.Integral) and h > 0 for h in sizes):
            raise ValueError(f"hidden_layer_sizes must be positive ints, got {sizes!r}")
        if self.cost not in COSTS:
            raise ValueError(f"cost must be one of {', '.join(COSTS)}, got {self.cost!r}")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {', '.join(INITS)}, got {self.init!r}")
        if not 0 < self.validation_fraction < 1:
            raise ValueError(
                f"validation_fraction must lie in (0, 1), got {self.validation_fraction}"
            )
        if int(self.n_iter_no_change) < 1:
            raise ValueError(f"n_iter_no_change must be ≥ 1, got {self.n_iter_no_change}")
        # epochs, mini_batch_size, eta, lmbda and momentum: Network.sgd names what it refuses.

    def __getstate__(self) -> dict[str, Any]:
        # The prepared-set cache holds weak references (unpicklable) and a copy of
        # the data: a pickled model carries neither.
        state = dict(super().__getstate__())  # a copy: the instance keeps its cache
        state.pop("_prepared_cache", None)
        return state

    # ------------------------------------------------------------------ predicting

    def _activations(self, X: ArrayLike) -> NDArray:
        """The output layer's activations a^L: (n_samples, n_classes)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        return self.network_.feedforward(X).reshape(len(X), len(self.classes_))

    def predict(self, X: ArrayLike) -> NDArray:
        """The class of each row of ``X``: the output neuron with the highest activation."""
        answers = np.argmax(self._activations(X), axis=1)  # checks it is fitted, first
        return self.classes_[answers]

    def decision_function(self, X: ArrayLike) -> NDArray:
        """Output activations a^L (n_samples, n_classes), each in (0, 1).

        With two classes, scikit-learn's convention of one score per sample,
        positive for ``classes_[1]``: log a₁ − log a₀ (the logit of
        :meth:`predict_proba`'s second column).
        """
        activations = self._activations(X)
        if len(self.classes_) != 2:
            return activations
        tiny = np.finfo(activations.dtype).tiny  # a saturated σ may round to 0 in float32
        logs = np.log(np.maximum(activations, tiny))
        return logs[:, 1] - logs[:, 0]

    def predict_proba(self, X: ArrayLike) -> NDArray:
        """The output activations scaled to sum to 1 per row: (n_samples, n_classes).

        Not calibrated probabilities: the network's sigmoid outputs are trained
        towards one-hot targets independently, and dividing by their sum only
        makes them look like a distribution.  Their argmax is :meth:`predict`'s
        answer.  For probabilities you can trust, wrap the estimator in
        ``sklearn.calibration.CalibratedClassifierCV``.
        """
        activations = self._activations(X).astype(np.float64)
        totals = activations.sum(axis=1, keepdims=True)
        uniform = np.full_like(activations, 1 / activations.shape[1])
        return np.divide(activations, totals, out=uniform, where=totals > 0)
