"""Training at speed: the same SGD epochs as the book's ``update_mini_batch``, computed fast.

What it holds:

* :mod:`.trainer` — :class:`Trainer`, one interface over three backends, and the
  choice of the fastest one here (:func:`backend_for`);
* :mod:`.ckernel` (with ``_ckernel.c``) — the C kernel, float32, built at install
  when a C compiler is present; :mod:`.numba_kernel` — the same loop for numba,
  float64 and machines without a C compiler; :mod:`.sparse` — images as lists of
  their ink pixels, which both kernels read;
* :mod:`.bench` — our trainer timed beside the book's algorithm and its peers;
* :mod:`.checkpoint` — a run saved after every epoch (weights, velocities,
  generator, history, settings, data fingerprint), to resume it exactly.

It builds on the core (:mod:`neuraldigits.network`, :mod:`neuraldigits.activations`)
and may import nothing above it.  :class:`~neuraldigits.network.Network` cannot
import this package (it sits below it), so this module adds the fast methods to
:data:`neuraldigits.network.EPOCH_METHODS`, which ``Network.sgd`` looks its
``method`` up in; the package's ``__init__`` imports it, so they are always there.
"""

from __future__ import annotations

from ..costs import COSTS
from ..network import EPOCH_METHODS, BookEpochs, Network
from .prepared import PreparedData, prepare
from .trainer import BACKENDS, Trainer, backend_for

__all__ = ["BACKENDS", "PreparedData", "Trainer", "backend_for", "fast_epochs", "prepare"]

# The parts of Network that define its SGD step: the fast paths compute exactly these.
_BOOK_STEP = ("backprop", "update_mini_batch", "step")


def knows_the_cost(net: Network) -> bool:
    """Whether the fast paths compute this network's cost: one of :data:`COSTS`, unreplaced."""
    return COSTS.get(net.cost.name) is net.cost


def has_book_step(net: Network) -> bool:
    """True unless a subclass or instance replaced the step or the cost: the fast paths
    compute exactly :meth:`Network.step` for the costs of :data:`~neuraldigits.costs.COSTS`,
    with any λ and μ."""
    return knows_the_cost(net) and all(
        getattr(type(net), name) is getattr(Network, name) and name not in net.__dict__
        for name in _BOOK_STEP
    )


def fast_epochs(
    net: Network,
    training_data,
    mini_batch_size: int,
    eta: float,
    lmbda: float = 0.0,
    momentum: float = 0.0,
    backend: str | None = None,
):
    """The epochs of ``method="fast"`` (``backend`` None) or of a named backend.

    Every backend computes both costs with any λ and μ.  "fast" falls back to
    the book's path only for a network whose step or cost was replaced (a
    subclass's own ``update_mini_batch``, say), which the fast paths cannot
    know; a named backend refuses a replaced cost.  A :class:`PreparedData`
    brings its ink pixels along, so they are not listed again.
    """
    if backend is None and not has_book_step(net):
        return BookEpochs(net, training_data, mini_batch_size, eta, lmbda, momentum)
    if not knows_the_cost(net):
        raise ValueError(
            f'method "{backend}" computes the costs {", ".join(COSTS)}, not {net.cost!r}'
        )
    images, labels = training_data
    backend = backend or backend_for(images, net.dtype)
    sparse = None
    if isinstance(training_data, PreparedData):
        sparse = training_data.sparse(float32_values=backend == "c")
    trainer = Trainer(
        net, images, labels, mini_batch_size, eta, backend,
        lmbda=lmbda, momentum=momentum, sparse=sparse,
    )  # fmt: skip
    trainer.prepare()  # one-off work (compiling, indexing) is no epoch's time
    return trainer


def _named(backend: str):
    def epochs(net: Network, training_data, mini_batch_size, eta, lmbda=0.0, momentum=0.0):
        return fast_epochs(net, training_data, mini_batch_size, eta, lmbda, momentum, backend)

    return epochs


EPOCH_METHODS.update({"fast": fast_epochs, **{name: _named(name) for name in BACKENDS}})
