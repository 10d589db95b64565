"""Full-batch gradient descent against mini-batch stochastic gradient descent.

Chapter 1 motivates SGD: computing the true gradient ∇C = (1/n) Σ_x ∇C_x takes
all n training examples for *one* step, while SGD estimates it from a mini-batch
of m and takes n/m steps for the same work.  This experiment makes the
comparison on equal terms:

* **the same number of gradient evaluations** — one per training example per
  step, so E epochs of SGD (E·n/m steps) against E steps of gradient descent;
* **the same wall time** — gradient descent keeps stepping until it has used
  as many seconds of training as SGD did.

Both use :meth:`Network.backprop` and the same update, from the same initial
weights, so the comparison is between algorithms, not implementations.  The
curves record the training cost C (on a fixed sample of the training images)
and the test accuracy; time spent on these measurements is not counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ...geometry import PIXELS
from ...network import Dataset, Network
from ...wording import plural

# Examples per backprop call in a full-batch step, to bound memory; the sum of
# the chunks' gradients is the full gradient.
GD_CHUNK = 10_000
# Training images on which the cost curve is measured.
COST_SAMPLE = 10_000


@dataclass(frozen=True)
class CurvePoint:
    gradient_evaluations: int  # per-example gradients computed so far
    seconds: float  # training time so far, measurements excluded
    cost: float  # mean quadratic cost C on the training sample
    accuracy: float  # fraction of the test set right


@dataclass(frozen=True)
class Curve:
    name: str
    points: tuple[CurvePoint, ...]

    @property
    def last(self) -> CurvePoint:
        return self.points[-1]

    def at_evaluations(self, evaluations: int) -> CurvePoint:
        """The last point with at most ``evaluations`` gradient evaluations."""
        return [p for p in self.points if p.gradient_evaluations <= evaluations][-1]


@dataclass(frozen=True)
class GdVsSgdResult:
    sizes: tuple[int, ...]
    epochs: int
    mini_batch_size: int
    eta: float
    training_examples: int
    sgd: Curve
    gd: Curve

    @property
    def gd_same_evaluations(self) -> CurvePoint:
        """Gradient descent after as many gradient evaluations as SGD made in total."""
        return self.gd.at_evaluations(self.sgd.last.gradient_evaluations)

    @property
    def gd_same_time(self) -> CurvePoint:
        """Gradient descent once it has trained as long as SGD did (its last point)."""
        return self.gd.last


class _Recorder:
    """Collects curve points, keeping the measurement time out of the clock."""

    def __init__(self, net: Network, cost_sample: Dataset, test: Dataset) -> None:
        self.net, self.cost_sample, self.test = net, cost_sample, test
        self.points: list[CurvePoint] = []

    def record(self, evaluations: int, seconds: float) -> None:
        cost = self.net.score(self.cost_sample).cost
        accuracy = self.net.score(self.test).accuracy
        self.points.append(CurvePoint(evaluations, seconds, cost, accuracy))


def full_gradient(net: Network, images: NDArray, labels: NDArray) -> tuple[list, list]:
    """Σ_x ∇C_x over all of ``images`` (N, n_in), in chunks: (nabla_b, nabla_w)."""
    total_b = [np.zeros_like(b) for b in net.biases]
    total_w = [np.zeros_like(w) for w in net.weights]
    for k in range(0, len(labels), GD_CHUNK):
        y = net.one_hot(labels[k : k + GD_CHUNK]).T
        nabla_b, nabla_w = net.backprop(images[k : k + GD_CHUNK].T, y)
        for t, n in zip(total_b + total_w, nabla_b + nabla_w):
            t += n
    return total_b, total_w


def run_sgd(
    net: Network,
    training: Dataset,
    epochs: int,
    mini_batch_size: int,
    eta: float,
    rng: np.random.Generator,
    recorder: _Recorder,
    points_per_epoch: int = 5,
) -> Curve:
    """Mini-batch SGD, recording a point ``points_per_epoch`` times an epoch."""
    images, labels = training
    n = len(labels)
    every = max(1, n // points_per_epoch)
    recorder.record(0, 0.0)
    evaluations, seconds, since = 0, 0.0, 0
    for _ in range(epochs):
        order = rng.permutation(n)
        for k in range(0, n, mini_batch_size):
            start = time.perf_counter()
            idx = order[k : k + mini_batch_size]
            net.update_mini_batch((images[idx], labels[idx]), eta)
            seconds += time.perf_counter() - start
            evaluations += len(idx)
            since += len(idx)
            if since >= every or k + mini_batch_size >= n:
                recorder.record(evaluations, seconds)
                since = 0
    return Curve(f"mini-batch SGD (m = {mini_batch_size})", tuple(recorder.points))


def run_gd(
    net: Network,
    training: Dataset,
    eta: float,
    recorder: _Recorder,
    *,
    min_steps: int,
    min_seconds: float,
) -> Curve:
    """Full-batch gradient descent until it has made ``min_steps`` steps and
    trained for ``min_seconds``, recording a point after every step."""
    images, labels = training
    n = len(labels)
    recorder.record(0, 0.0)
    steps, seconds = 0, 0.0
    while steps < min_steps or seconds < min_seconds:
        start = time.perf_counter()
        nabla_b, nabla_w = full_gradient(net, images, labels)
        net.step(nabla_b, nabla_w, eta, n)
        seconds += time.perf_counter() - start
        steps += 1
        recorder.record(steps * n, seconds)
    return Curve("full-batch gradient descent", tuple(recorder.points))


def run(
    training: Dataset,
    test: Dataset,
    *,
    sizes: Sequence[int] = (PIXELS, 30, 10),
    epochs: int = 3,
    mini_batch_size: int = 10,
    eta: float = 3.0,
    seed: int = 0,
    on_progress: Callable[[str], None] | None = None,
) -> GdVsSgdResult:
    """SGD for ``epochs`` epochs, then gradient descent from the same start for at
    least as many gradient evaluations and at least as much training time."""
    if epochs < 1:
        raise ValueError(f"need at least one epoch, got {epochs}")
    images, labels = training
    cost_sample = (images[:COST_SAMPLE], labels[:COST_SAMPLE])
    start_net = Network(list(sizes), seed=seed)

    def say(text: str) -> None:
        if on_progress is not None:
            on_progress(text)

    sgd_net = start_net.copy()
    say(f"mini-batch SGD: {plural(epochs, 'epoch')} of {len(labels):,} examples")
    sgd = run_sgd(
        sgd_net,
        training,
        epochs,
        mini_batch_size,
        eta,
        np.random.default_rng(seed),
        _Recorder(sgd_net, cost_sample, test),
    )
    say(
        f"  {sgd.last.seconds:.1f} s, cost {sgd.last.cost:.4f}, "
        f"accuracy {100 * sgd.last.accuracy:.2f} %"
    )
    gd_net = start_net.copy()
    say(
        f"full-batch gradient descent: at least {plural(epochs, 'step')} and "
        f"{sgd.last.seconds:.1f} s"
    )
    gd = run_gd(
        gd_net,
        training,
        eta,
        _Recorder(gd_net, cost_sample, test),
        min_steps=epochs,
        min_seconds=sgd.last.seconds,
    )
    say(
        f"  {plural(len(gd.points) - 1, 'step')}, {gd.last.seconds:.1f} s, "
        f"cost {gd.last.cost:.4f}, accuracy {100 * gd.last.accuracy:.2f} %"
    )
    return GdVsSgdResult(
        sizes=tuple(sizes),
        epochs=epochs,
        mini_batch_size=mini_batch_size,
        eta=eta,
        training_examples=len(labels),
        sgd=sgd,
        gd=gd,
    )
