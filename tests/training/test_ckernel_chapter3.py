"""The C kernel computes chapter 3's step exactly as the reference path's ``Network.step``.

Every combination of cost (quadratic, cross-entropy), L2's λ and momentum's μ, on
every build this CPU runs (:func:`ckernel.builds`), against the float64 oracle
:func:`kernel_sgd` below: the reference path's training redone in float64 from
the float32 start (checked against ``Network.update_mini_batch`` itself), with a
bound on how far float32 rounding can take each parameter and velocity.  The
bound is :func:`support.training.exact_sgd`'s derivation (u = 2^−24, γ_k, the
run's own sums; read its docstring first) with the roundings of the C kernel's
own order of operations, so it depends on float32 and the problem's sizes, never
on another float32 path's error.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from support.data import digits
from support.training import (
    TOLERANCE,
    Exact,
    U,
    _float32_inputs,
    _forward,
    assert_same_network,
    backward_error,
    c_build,
    gamma,
    stop_after,
)

from neuraldigits.network import BookEpochs, Network, mini_batch_steps, weight_decay
from neuraldigits.training import ckernel
from neuraldigits.training import trainer as fastpath

pytestmark = pytest.mark.skipif(not ckernel.available(), reason="the C kernel was not built")

# Every build of the kernel this CPU runs; each equality test runs on each.
BUILDS = pytest.mark.parametrize("variant", ckernel.builds())

COSTS = ("quadratic", "cross-entropy")
RULES = [(cost, lmbda, mu) for cost in COSTS for lmbda in (0.0, 5.0) for mu in (0.0, 0.9)]
ETA = 0.5  # chapter 3's η for the cross-entropy cost


# ---------------------------------------------------------------------- the float64 oracle


def kernel_sgd(start, images, labels, orders, m, eta, *, lmbda, momentum, stop=None) -> Exact:
    """SGD from float32 ``start`` (its cost) with chapter 3's step, redone in float64, with
    the bound on the C kernel's float32 rounding, as an :class:`support.training.Exact`.

    As :func:`support.training.exact_sgd` (same forward errors e_a, same δ^l
    errors, cross-entropy's e = e_a + u|δ^L|, the gradient terms T = (η/m) Σ_x
    |δ_x a_xᵀ| with inherited error P = (η/m) Σ_x (e_δ|a|ᵀ + |δ| e_aᵀ); first
    order: errors one step leaves are added up, not carried through later
    steps' gradients, and L2's pull on an error, −d times it, is left out with
    them), but counting the roundings in the kernel's order, d = ηλ/n:

    * every gradient term takes six roundings, one more than exact_sgd's five
      (the L2 mode's η/m divided by its scale s): γ_(m+6) T.
    * L2 without momentum: w → (1 − d) w − terms.  The error carried shrinks
      with w, exactly: (1 − d) e_w.  The decay's roundings (d rounded, d·w, the
      subtraction; or, in the input layer, rescaling w0t by s rounded, at most
      twice a step: past the threshold and at the end of a call) add 4u|w|; the
      terms are subtracted one example at a time, as in chapter 1.  z^1 reads
      the pixels times fl(scale·s): 2u|x| more (scale·s and x times it).
    * momentum: v → μv − d w − terms, w → w + v.  In the input layer the kernel
      adds v to w in a pass over every weight, then each example's term to v
      and to w: so not only v but w too takes up to (count + 3) roundings (μv,
      d·w, the subtraction, one per nonzero term), each ≤ u(|w| + μ|v| + d|w|
      + T + P); exact_sgd's book order rounds w once.  The errors are carried
      by momentum's map exactly: e_v' = μ e_v + new, e_w' = e_w + e_v' + new.

    ``orders`` are the epochs' permutations; ``stop`` ends the run after that
    many examples (mini-batches of m, a smaller last one stepped by η/m′).
    """
    decay = weight_decay(eta, lmbda, len(labels))
    layers = start.num_layers - 1
    params = [w.astype(np.float64) for w in start.weights]
    params += [b[:, 0].astype(np.float64) for b in start.biases]
    velocities = [np.zeros_like(p) for p in params]
    bounds = [np.zeros_like(p) for p in params]
    v_bounds = [np.zeros_like(p) for p in params]
    x_all, x_error = _float32_inputs(images)
    if decay and not momentum:
        x_error = x_error + 2 * U * np.abs(x_all)  # z^1 reads x·fl(scale·s)
    cost = start.cost.name
    exact, done = Exact(), 0

    def columns(arrays):  # biases back to (n, 1), as a network holds them
        return [a.copy() if i < layers else a[:, None].copy() for i, a in enumerate(arrays)]

    for order in orders:
        steps = mini_batch_steps(len(order), m, eta)
        for k in range(0, len(order), m):
            if stop is not None and done >= stop:
                break
            idx = order[k : k + m]
            y = np.zeros((len(idx), start.sizes[-1]))
            y[np.arange(len(idx)), labels[idx]] = 1
            state = params, velocities, bounds, v_bounds
            _step(state, layers, x_all[idx], x_error[idx], y, steps[len(idx) < m],
                  cost, decay, momentum)  # fmt: skip
            done += len(idx)
        net = Network(start.sizes, dtype=np.float64, cost=cost)
        arrays = columns(params)
        net.weights, net.biases = arrays[:layers], arrays[layers:]
        exact.bounds.append(columns(bounds))
        if momentum:
            arrays = columns(velocities)
            net.weight_velocities, net.bias_velocities = arrays[:layers], arrays[layers:]
            exact.bounds[-1] += columns(v_bounds)
        exact.nets.append(net)
    return exact


def _step(state, layers, x, e_x, y, step, cost, decay, mu) -> None:
    """One mini-batch in float64 (Network.step's maths), adding float32's rounding to the bounds."""
    params, velocities, bounds, v_bounds = state
    weights, biases = params[:layers], params[layers:]
    acts, errors = _forward(weights, biases, x, e_x)
    a, e_a = acts[-1], errors[-1]
    if cost == "cross-entropy":
        delta = a - y  # (BP1) without σ′
        e_delta = e_a + U * np.abs(delta)
    else:
        delta = (a - y) * a * (1 - a)  # (BP1)
        e_delta = np.abs(a * (1 - a) + (a - y) * (1 - 2 * a)) * e_a + gamma(4) * np.abs(delta)
    examples = len(x)
    for layer in range(layers - 1, -1, -1):
        w, a_in, e_in = weights[layer], acts[layer], errors[layer]
        moves = (  # (index, gradient term, T, P, nonzero terms, decayed?)
            (layer, step * (delta.T @ a_in), step * np.abs(delta).T @ np.abs(a_in),
             step * (e_delta.T @ np.abs(a_in) + np.abs(delta).T @ e_in),
             np.count_nonzero(a_in, axis=0), True),  # (BP4)
            (layers + layer, step * delta.sum(axis=0), step * np.abs(delta).sum(axis=0),
             step * e_delta.sum(axis=0), examples, False),  # (BP3)
        )  # fmt: skip
        if layer:  # (BP2), with the old w
            delta, e_delta = backward_error(delta, e_delta, w, a_in, e_in)
        for i, gradient, terms, inherited, count, decayed in moves:
            p, v, e_p, e_v = params[i], velocities[i], bounds[i], v_bounds[i]
            d = decay if decayed else 0.0
            from_terms = inherited + gamma(examples + 6) * terms
            if mu:
                reach = np.abs(p) + mu * np.abs(v) + d * np.abs(p) + terms + inherited
                roundings = (count + 3) * U * reach
                e_v *= mu
                e_v += from_terms + roundings
                e_p += e_v + roundings
                v *= mu
                v -= d * p + gradient
                p += v
            else:
                reach = terms + inherited
                e_p *= 1 - d
                e_p += from_terms + np.minimum(count * U * ((1 - d) * np.abs(p) + reach), reach)
                if d:
                    e_p += 4 * U * np.abs(p)
                p *= 1 - d
                p -= gradient


# ---------------------------------------------------------------------- runs to compare


def start_net(sizes, cost, seed=7) -> Network:
    return Network(sizes, seed=seed, cost=cost)


def float64_copy(net: Network) -> Network:
    """The reference path in float64, from ``net``'s float32 start (velocities too)."""
    copy = Network(net.sizes, dtype=np.float64, cost=net.cost.name)
    copy.weights = [w.astype(np.float64) for w in net.weights]
    copy.biases = [b.astype(np.float64) for b in net.biases]
    return copy


def orders_for(n, epochs, seed=3):
    rng = np.random.default_rng(seed)
    return [rng.permutation(n) for _ in range(epochs)]


def images_for(sizes) -> type:
    """uint8 images for one architecture, float32 for the other: both of the kernel's loops."""
    return np.uint8 if len(sizes) == 3 else np.float32


@functools.lru_cache(maxsize=64)
def oracle(sizes, cost, lmbda, mu, n=503, epochs=2, eta=ETA, images_dtype=np.float32):
    """:func:`kernel_sgd` of the run :func:`train_c` makes, checked against the reference
    path (``Network.update_mini_batch`` in float64, by BookEpochs) to float64 rounding."""
    images, labels = digits(n, seed=1, dtype=images_dtype)
    start, orders = start_net(sizes, cost), orders_for(n, epochs)
    exact = kernel_sgd(start, images, labels, orders, 10, eta, lmbda=lmbda, momentum=mu)
    reference = float64_copy(start)
    book = BookEpochs(reference, (images, labels), 10, eta, lmbda, mu)
    for order in orders:
        book.epoch(order)
    assert_same_network(reference, exact.nets[-1], *TOLERANCE[np.float64])
    if mu:
        for p, q in zip(sum(reference.velocities(), []), sum(exact.nets[-1].velocities(), [])):
            np.testing.assert_allclose(p, q, *TOLERANCE[np.float64])
    return exact


def train_c(sizes, cost, lmbda, mu, variant, *, n=503, epochs=2, eta=ETA, threads=1,
            images_dtype=np.float32):  # fmt: skip
    """The float32 network :func:`oracle` redoes, trained by the C kernel's build ``variant``."""
    images, labels = digits(n, seed=1, dtype=images_dtype)
    net = start_net(sizes, cost)
    trainer = fastpath.Trainer(net, images, labels, 10, eta, "c", threads, lmbda=lmbda,
                               momentum=mu)  # fmt: skip
    snapshots = []
    with c_build(variant):
        for order in orders_for(n, epochs):
            trainer.epoch(order)
            snapshots.append(net.copy())
    return snapshots


# ---------------------------------------------------------------------- the tests


@BUILDS
@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r[0]}-lmbda{r[1]:g}-mu{r[2]:g}")
@pytest.mark.parametrize(
    "sizes", [(784, 30, 10), (784, 40, 20, 10)], ids=["784-30-10", "784-40-20-10"]
)
def test_every_rule_equals_reference(sizes, rule, variant):
    """Each epoch's weights, biases and velocities within kernel_sgd's bound of the float64
    reference run (503 examples: the last mini-batch of 3 steps by η/3; 2 epochs, η = 0.5).

    Measured, both builds: the worst array at 0.02–0.17 of the bound.  It catches bugs
    (the C run against a float64 run with the bug, over the same bound): λ × 1.01 exceeds
    it 140–2,900×, μ × 1.01 980–21,000×, biases decayed too 2,000–140,000×, the other
    cost's δ^L 690–2,000,000×, η × 1.001 2.8–180× (0.54× in the 4-layer net without λ or
    μ, whose worst-case bound is loosest, as in test_ckernel).
    """
    cost, lmbda, mu = rule
    exact = oracle(sizes, cost, lmbda, mu, images_dtype=images_for(sizes))
    snapshots = train_c(sizes, cost, lmbda, mu, variant, images_dtype=images_for(sizes))
    for epoch, net in enumerate(snapshots):
        exact.assert_close(net, epoch, f"{variant} {rule}, epoch {epoch + 1}:")


@BUILDS
@pytest.mark.parametrize("rule", [("cross-entropy", 5.0, 0.0), ("cross-entropy", 5.0, 0.9),
                                  ("quadratic", 5.0, 0.9)])  # fmt: skip
@pytest.mark.parametrize("sizes", [[784, 30, 10], [784, 40, 20, 10], [784, 100, 10]])
def test_threads_change_nothing(sizes, rule, variant):
    """With λ and μ too, each thread owns whole columns of the input layer (and of its
    velocities and L2 scale): not one rounding differs, in weights or velocities."""
    cost, lmbda, mu = rule
    images, labels = digits(1_000, dtype=np.uint8)
    order = np.random.default_rng(0).permutation(len(labels))
    results = []
    for threads in (1, 2, 3, 5):
        net = Network(sizes, seed=2, cost=cost, init="scaled")
        trainer = fastpath.Trainer(net, images, labels, 10, ETA, "c", threads=threads,
                                   lmbda=lmbda, momentum=mu)  # fmt: skip
        with c_build(variant):
            trainer.epoch(order)
            trainer.epoch(order[::-1].copy(), on_batch=lambda count: None)  # several calls
        arrays = net.weights + net.biases
        results.append(arrays + (sum(net.velocities(), []) if mu else []))
    for arrays in results[1:]:
        for a, b in zip(results[0], arrays, strict=True):
            np.testing.assert_array_equal(a, b)


@BUILDS
@pytest.mark.parametrize("lmbda", [200.0, 1006.0])
def test_l2_rescaling(lmbda, variant):
    """L2 without momentum keeps the input layer's weights as s·V; V is rescaled once s
    falls below 1/16.  Here ηλ/n = 0.2 (λ = 200: s falls below 1/16 every 13 steps, four
    times an epoch of 51 steps) and exactly 1 (λ = 1006: s = 0 at every step, each step
    forgets the weights): still within kernel_sgd's bound.  Measured: ≤ 0.16 (λ = 200),
    ≤ 0.24 (λ = 1006) of it; λ × 1.01 exceeds it 1,200× (λ = 200).  The λ = 5 tests never
    reach the threshold: a kernel rescaling by the old s here fails this test alone."""
    sizes = (784, 30, 10)
    exact = oracle(sizes, "cross-entropy", lmbda, 0.0)
    for epoch, net in enumerate(train_c(sizes, "cross-entropy", lmbda, 0.0, variant)):
        exact.assert_close(net, epoch, f"{variant} λ = {lmbda}, epoch {epoch + 1}:")


@BUILDS
@pytest.mark.parametrize("mu", [0.0, 0.9])
def test_interrupt_leaves_weights_and_velocities_consistent(mu, variant):
    """After Ctrl-C (from on_batch, between the kernel's calls of 5,000 examples) every
    layer and every velocity holds its value after the same mini-batch: within
    kernel_sgd's bound of the float64 run stopped there (500 steps; λ = 5, n = 12,000,
    so the L2 scale is folded back into the weights at the end of each call).
    Measured: ≤ 0.025 (μ = 0), ≤ 0.27 (μ = 0.9) of it; λ × 1.01 exceeds it 5.6× (μ = 0),
    460× (μ = 0.9)."""

    sizes, cost, lmbda = [784, 9, 10], "cross-entropy", 5.0
    images, labels = digits(12_000, seed=1, dtype=np.uint8)
    start, order = Network(sizes, seed=5, cost=cost), orders_for(12_000, 1)[0]
    exact = kernel_sgd(start, images, labels, [order], 10, ETA, lmbda=lmbda, momentum=mu,
                       stop=5_000)  # fmt: skip
    net = Network(sizes, seed=5, cost=cost)
    trainer = fastpath.Trainer(net, images, labels, 10, ETA, "c", lmbda=lmbda, momentum=mu)
    with pytest.raises(KeyboardInterrupt), c_build(variant):
        trainer.epoch(order, on_batch=stop_after(5_000))
    exact.assert_close(net, name=variant)  # weights and velocities after the same step


@BUILDS
def test_velocities_carry_over_between_epochs(variant):
    """Momentum's velocities live on the network: a run of two one-epoch trainers equals
    one trainer's two epochs, bit for bit (the kernel starts from net.velocities())."""
    images, labels = digits(503, seed=1, dtype=np.uint8)
    orders, nets = orders_for(503, 2), []
    for split in (False, True):
        net = Network([784, 30, 10], seed=7, cost="cross-entropy", init="scaled")
        trainer = fastpath.Trainer(net, images, labels, 10, ETA, "c", lmbda=5.0, momentum=0.9)
        with c_build(variant):
            for order in orders:
                if split:
                    trainer = fastpath.Trainer(net, images, labels, 10, ETA, "c", lmbda=5.0,
                                               momentum=0.9)  # fmt: skip
                trainer.epoch(order)
        nets.append(net)
    for a, b in zip(nets[0].weights + sum(nets[0].velocities(), []),
                    nets[1].weights + sum(nets[1].velocities(), []), strict=True):  # fmt: skip
        np.testing.assert_array_equal(a, b)
    assert np.any(nets[0].weight_velocities[0])


def test_bad_rules_are_refused_before_the_c_code_runs():
    images, labels = digits(30, dtype=np.uint8)
    net = Network([784, 8, 10], seed=0)
    sparse = fastpath.sparse_rows(images)
    layout = fastpath._kernel_layout(net, ckernel.padded, ckernel.aligned_zeros, velocities=True)
    labels = labels.astype(np.int64)
    order = np.arange(30, dtype=np.int64)

    def call(**rule):
        ckernel.sgd_batches(sparse, labels, order, 0, 30, 10, 0.3, 0.3, 1 / 255, 80.0,
                            *layout[:5], **rule)  # fmt: skip

    call(cost="cross-entropy", decay=0.01, momentum=0.5, velocities=layout[5])  # well-formed
    with pytest.raises(ValueError, match="not 'log-likelihood'"):
        call(cost="log-likelihood")
    with pytest.raises(ValueError, match="0 ≤ momentum < 1"):
        call(momentum=1.0, velocities=layout[5])
    with pytest.raises(ValueError, match="decay ≥ 0"):
        call(decay=-0.1)
    with pytest.raises(ValueError, match="momentum needs the velocities"):
        call(momentum=0.5)
    v0t, v_weights, v_biases = layout[5]
    with pytest.raises(ValueError, match="a velocity of shape"):
        call(momentum=0.5, velocities=(v0t[:-1], v_weights, v_biases))
