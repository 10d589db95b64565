"""Training recipes by name: chapter 1's, and the reader's.

A recipe is every setting of a training run but the data and the seed.
``digits train --recipe NAME`` runs one (:mod:`neuraldigits.cli.train`);
:func:`train` runs one from Python.

* ``book``: chapter 1's network and SGD, exactly as the book runs them.
* ``reader``: the model that ships with the package (``neuraldigits.models``),
  for reading people's digits, not only MNIST's.  Chapter 3's methods
  (cross-entropy, N(0, 1/n_in) weights, L2, momentum, the η schedule) on a
  wide hidden layer, trained on fresh distortions of the training images every
  epoch (:mod:`neuraldigits.images.stream`: elastic, affine and stroke
  thickness), so that it has seen many hands, slants and pens.  Its size and
  settings were chosen on the validation set and our pictures from outside
  MNIST (benchmarks/README.md), never on the test set, to train within 15
  minutes on a 2-core machine into a model file under 5 MB.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from .geometry import PIXELS
from .images.stream import DistortedEpochs
from .network import Dataset, EpochResult, History, Network, SgdState
from .training import prepare


@dataclass(frozen=True)
class Recipe:
    """Every setting of a training run but the data and the seed."""

    hidden: tuple[int, ...]
    epochs: int
    mini_batch_size: int
    eta: float
    cost: str = "quadratic"
    init: str = "large"
    lmbda: float = 0.0
    momentum: float = 0.0
    early_stop: int | None = None
    eta_schedule: int | None = None
    distort: bool = False  # fresh distortions of the training images every epoch

    @property
    def sizes(self) -> list[int]:
        return [PIXELS, *self.hidden, 10]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


RECIPES = {
    "book": Recipe(hidden=(30,), epochs=30, mini_batch_size=10, eta=3.0),
    "reader": Recipe(
        hidden=(800,),
        epochs=150,  # an upper bound: the η schedule ends the run at η₀/128
        mini_batch_size=10,
        eta=0.05,
        cost="cross-entropy",
        init="scaled",
        lmbda=0.5,
        momentum=0.9,
        eta_schedule=6,
        distort=True,
    ),
}


def network(recipe: Recipe, seed: int) -> Network:
    """The untrained network of ``recipe``, its weights drawn from ``seed``."""
    return Network(recipe.sizes, seed=seed, cost=recipe.cost, init=recipe.init)


def fit(
    net: Network,
    recipe: Recipe,
    training: Dataset,
    validation: Dataset,
    seed: int,
    *,
    test: Dataset | None = None,
    callback: Callable[[EpochResult], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
    state: SgdState | None = None,
    on_epoch_end: Callable[[SgdState], None] | None = None,
) -> History:
    """Train ``net`` by ``recipe``; return the history (validation, and test when given).

    With ``distort``, each epoch's training set is a fresh distortion of
    ``training`` (uint8 or float images), drawn from ``seed``, made in a
    background process; else the set is prepared once.  ``state`` and
    ``on_epoch_end`` resume a run and checkpoint it, as in ``Network.sgd``.
    """
    settings = dict(
        lmbda=recipe.lmbda, momentum=recipe.momentum, validation_data=validation,
        early_stop=recipe.early_stop, eta_schedule=recipe.eta_schedule, test_data=test,
        callback=callback, on_batch=on_batch, state=state, on_epoch_end=on_epoch_end,
    )  # fmt: skip
    m, eta = recipe.mini_batch_size, recipe.eta
    if not recipe.distort:
        return net.sgd(prepare(training), recipe.epochs, m, eta, **settings)
    first = 0 if state is None else state.next_epoch  # a resumed run's first epoch
    with DistortedEpochs(training, seed, prepare=prepare, first=first) as epochs:
        return net.sgd(epochs, recipe.epochs, m, eta, **settings)


def train(
    recipe: Recipe, training: Dataset, validation: Dataset, seed: int, **kwargs
) -> tuple[Network, History]:
    """:func:`network` then :func:`fit`: ``(trained network, history)``."""
    net = network(recipe, seed)
    return net, fit(net, recipe, training, validation, seed, **kwargs)
