"""Why 10 output neurons rather than a 4-bit binary code?

Chapter 1 asks it: four neurons are enough to encode ten digits in binary, yet
the network uses ten, one per digit.  The book's heuristic answer is that a
hidden neuron detects a *part* of a shape, and it is easy to weigh parts into
"this is a 0" but hard to weigh them into "the most significant bit is 1".
Here we measure it: train ``[784, h, 10]`` and ``[784, h, 4]`` with the same
hidden size, epochs, learning rate, initial seeds and shuffling, and compare.

The 4-output network's desired output for digit d is d's bits, least
significant first (output j is bit j); its answer is the number spelt by the
outputs above ½.  Codes 10–15 are always wrong.

The book's exercise goes the other way: a hand-set extra layer that turns the
10 outputs into 4 bits.  :func:`bit_layer` builds it and
:func:`check_conversion` verifies it on every test digit the 10-output network
gets right.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ...network import Dataset, Network
from .. import sweep

BITS = 4
NUM_CLASSES = 10
# Weight of the hand-set bit layer: with a clean one-hot input, z = ±10 gives
# outputs σ(±10) within 5·10⁻⁵ of 0 or 1.
BIT_WEIGHT = 10.0


# ---------------------------------------------------------------------- encodings


def binary_targets(labels: NDArray, dtype=np.float32) -> NDArray:
    """Desired outputs of the 4-bit network: (N,) digits → (N, 4), column j = bit j."""
    labels = np.asarray(labels)
    return ((labels[:, None] >> np.arange(BITS)) & 1).astype(dtype)


def decode_bits(outputs: NDArray) -> NDArray[np.int64]:
    """The number each row of 4 outputs spells, reading each output as 1 when > ½: (N, 4) → (N,)."""
    bits = (np.asarray(outputs) > 0.5).astype(np.int64)
    return bits @ (1 << np.arange(BITS))


def one_hot_targets(labels: NDArray, dtype=np.float32) -> NDArray:
    """Desired outputs of the 10-output network: (N,) digits → (N, 10)."""
    return np.eye(NUM_CLASSES, dtype=dtype)[np.asarray(labels)]


def predict_one_hot(net: Network, images: NDArray) -> NDArray:
    return net.predict(images)


def predict_binary(net: Network, images: NDArray) -> NDArray:
    return decode_bits(net.feedforward(images))


# Explicit registry of the two encodings: (outputs, desired outputs, decoder).
ENCODINGS: dict[str, tuple[int, Callable, Callable]] = {
    "10 outputs (one per digit)": (NUM_CLASSES, one_hot_targets, predict_one_hot),
    "4 outputs (binary code)": (BITS, binary_targets, predict_binary),
}


# ---------------------------------------------------------------------- training


def train_on_targets(
    net: Network,
    images: NDArray,
    targets: NDArray,
    epochs: int,
    mini_batch_size: int,
    eta: float,
    rng: np.random.Generator,
    after_epoch: Callable[[int], None] | None = None,
) -> None:
    """The book's mini-batch SGD, with the desired outputs given explicitly.

    ``images`` (N, n_in), ``targets`` (N, n_out).  Each epoch shuffles with
    ``rng`` and steps w → w − (η/m) Σ_x ∂C_x/∂w over each mini-batch, the
    gradients from :meth:`Network.backprop`.  Both encodings train through this
    one loop, so they differ only in their outputs.
    """
    n = len(images)
    for epoch in range(epochs):
        order = rng.permutation(n)
        for k in range(0, n, mini_batch_size):
            idx = order[k : k + mini_batch_size]
            nabla_b, nabla_w = net.backprop(images[idx].T, targets[idx].T)
            net.step(nabla_b, nabla_w, eta, len(idx))
        if after_epoch is not None:
            after_epoch(epoch)


# ---------------------------------------------------------------------- the bit layer


def bit_layer(weight: float = BIT_WEIGHT) -> tuple[NDArray, NDArray]:
    """The book's exercise: weights (4, 10) and biases (4, 1) turning digit outputs into bits.

    Bit neuron j gets +weight from every digit neuron whose digit has bit j
    set and −weight from the others, and no bias.  If the right digit's output
    is near 1 and the rest near 0 (the book's premise), z_j ≈ ±weight and the
    bit neuron outputs σ(±weight) ≈ 1 or 0: the digit's bits.

    Precisely: for digit k, bit j comes out right whenever a_k exceeds the sum
    of the outputs of the digits whose bit j differs from k's, because then
    ±z_j ≥ weight · (a_k − that sum) > 0.  (See :func:`premise_holds`.)  One
    layer of sigmoids cannot compute "the bits of the largest output" for
    every input, so where the network is unsure, the bits can be wrong.
    """
    signs = 2 * binary_targets(np.arange(NUM_CLASSES), dtype=np.float64).T - 1  # (4, 10) of ±1
    return weight * signs, np.zeros((BITS, 1))


def with_bit_layer(net: Network, weight: float = BIT_WEIGHT) -> Network:
    """A copy of a ``[..., 10]`` network with the hand-set bit layer on top: ``[..., 10, 4]``."""
    if net.sizes[-1] != NUM_CLASSES:
        raise ValueError(f"the bit layer needs a network with 10 outputs, got sizes {net.sizes}")
    w, b = bit_layer(weight)
    extended = Network([*net.sizes, BITS], seed=0, dtype=net.dtype)
    extended.weights = [x.copy() for x in net.weights] + [w.astype(net.dtype)]
    extended.biases = [x.copy() for x in net.biases] + [b.astype(net.dtype)]
    return extended


def premise_holds(outputs: NDArray, digits: NDArray) -> NDArray[np.bool_]:
    """Whether the bit layer is guaranteed to spell ``digits`` from ``outputs`` (N, 10) → (N,).

    True where, for every bit j, the digit's own output exceeds the sum of the
    outputs of the digits that differ from it in bit j.
    """
    outputs, digits = np.asarray(outputs), np.asarray(digits)
    own = outputs[np.arange(len(digits)), digits]
    codes = binary_targets(np.arange(NUM_CLASSES), dtype=bool)  # (10, 4)
    differs = codes[None, :, :] != codes[digits][:, None, :]  # (N, 10 digits, 4 bits)
    rivals = np.einsum("nd,ndj->nj", outputs, differs.astype(outputs.dtype))
    return np.all(own[:, None] > rivals, axis=1)


@dataclass(frozen=True)
class ConversionCheck:
    """How the bit layer did on the test digits the 10-output network gets right."""

    classified_correctly: int  # test digits the 10-output network gets right
    right_bits: int  # of those, how many come out of the bit layer as the right 4 bits
    wrong_indices: tuple[int, ...]  # test indices where the bits are wrong
    smallest_margin: float  # min over those digits and bits of |output − ½|
    premise_held: int  # of those, where premise_holds: the bits are then guaranteed
    premise_held_right: int  # of those, how many come out right (all, by the argument above)

    @property
    def all_right(self) -> bool:
        return self.right_bits == self.classified_correctly


def check_conversion(net: Network, test: Dataset, weight: float = BIT_WEIGHT) -> ConversionCheck:
    """Verify the bit layer on every test digit that ``net`` (10 outputs) classifies correctly."""
    images, labels = test
    right = np.flatnonzero(net.predict(images) == labels)
    bits = with_bit_layer(net, weight).feedforward(images[right])
    ok = decode_bits(bits) == labels[right]
    margin = float(np.min(np.abs(bits - 0.5))) if len(right) else 0.0
    premise = premise_holds(net.feedforward(images[right]), labels[right])
    return ConversionCheck(
        classified_correctly=len(right),
        right_bits=int(ok.sum()),
        wrong_indices=tuple(int(i) for i in right[~ok]),
        smallest_margin=margin,
        premise_held=int(premise.sum()),
        premise_held_right=int((ok & premise).sum()),
    )


# ---------------------------------------------------------------------- the experiment


@dataclass(frozen=True)
class EncodingRun:
    """One network of one encoding and one seed: test correct answers after each epoch."""

    encoding: str
    seed: int
    correct_per_epoch: tuple[int, ...]
    total: int

    @property
    def final_accuracy(self) -> float:
        return self.correct_per_epoch[-1] / self.total

    @property
    def best_accuracy(self) -> float:
        return max(self.correct_per_epoch) / self.total


@dataclass(frozen=True)
class OutputEncodingResult:
    hidden: int
    epochs: int
    mini_batch_size: int
    eta: float
    runs: tuple[EncodingRun, ...]
    conversion: ConversionCheck  # the bit layer on the first seed's 10-output network

    def final_accuracies(self, encoding: str) -> NDArray:
        """Final test accuracy of each seed's network of ``encoding``: (seeds,)."""
        return np.array([r.final_accuracy for r in self.runs if r.encoding == encoding])


def run(
    training: Dataset,
    test: Dataset,
    *,
    hidden: int = 30,
    epochs: int = 10,
    mini_batch_size: int = 10,
    eta: float = 3.0,
    seeds: Sequence[int] = (0, 1, 2),
    on_progress: Callable[[str], None] | None = None,
    workers: int = 1,
    cluster: str | None = None,
) -> OutputEncodingResult:
    """Train both encodings for every seed; score them on ``test``; check the bit layer.

    For one seed both networks start from weights drawn with that seed and see
    the training examples in the same order.  Each (seed, encoding) network is
    one job, decided by its seed: with ``workers`` > 1 the jobs run in local
    processes, with ``cluster`` on a Dask scheduler's workers (:mod:`..sweep`),
    with the same results.  ``on_progress`` hears of each as it finishes, as
    ``[done/total] ...``.
    """
    if not seeds or epochs < 1:
        raise ValueError(f"need at least one seed and one epoch, got {seeds!r} and {epochs}")
    jobs = [
        dict(seed=seed, encoding=encoding, hidden=hidden, epochs=epochs,
             mini_batch_size=mini_batch_size, eta=eta)
        for seed in seeds
        for encoding in ENCODINGS
    ]  # fmt: skip

    def done(index: int, outcome: tuple[EncodingRun, Network], count: int, total: int) -> None:
        run = outcome[0]
        if on_progress is not None:
            on_progress(
                f"[{count}/{total}] seed {run.seed}, {run.encoding}: correct after each epoch "
                f"{', '.join(map(str, run.correct_per_epoch))} / {run.total}"
            )

    outcomes = sweep.run_jobs(
        _encoding_job, jobs, data=(*training, *test), workers=workers, cluster=cluster,
        on_done=done,
    )  # fmt: skip
    first_one_hot = next(net for run, net in outcomes if net.sizes[-1] == NUM_CLASSES)
    return OutputEncodingResult(
        hidden=hidden,
        epochs=epochs,
        mini_batch_size=mini_batch_size,
        eta=eta,
        runs=tuple(run for run, _ in outcomes),
        conversion=check_conversion(first_one_hot, test),
    )


def _encoding_job(
    images: NDArray,
    labels: NDArray,
    test_images: NDArray,
    test_labels: NDArray,
    *,
    seed: int,
    encoding: str,
    hidden: int,
    epochs: int,
    mini_batch_size: int,
    eta: float,
) -> tuple[EncodingRun, Network]:
    """Train one encoding's network from ``seed``, scoring it on the test set after each
    epoch: ``(the run, the trained network)``.  The data come as four arrays, which a
    sweep can share or scatter (:func:`..sweep.run_jobs`)."""
    n_out, targets_of, predict = ENCODINGS[encoding]
    net = Network([images.shape[1], hidden, n_out], seed=seed)
    correct: list[int] = []

    def score(epoch: int) -> None:
        correct.append(int(np.sum(predict(net, test_images) == test_labels)))

    shuffle = np.random.default_rng([seed, 1])  # the same order for both encodings
    targets = targets_of(labels, dtype=net.dtype)
    train_on_targets(net, images, targets, epochs, mini_batch_size, eta, shuffle, score)
    return EncodingRun(encoding, seed, tuple(correct), len(test_labels)), net
