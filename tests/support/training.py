"""Training helpers shared by the fast-path tests (tests/training/).

Float32 paths are judged against :func:`exact_sgd`: the same training redone in
float64 from the same float32 start, which also bounds how far float32 rounding
can take each parameter from it.  The bound follows from float32's unit
roundoff and the sizes and magnitudes of the run's own sums (derived in
:func:`exact_sgd`), so it does not depend on which BLAS kernel, SIMD build or
summation order a float32 path happens to use — unlike another float32 path's
error, which is what the tests once measured against.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from neuraldigits.activations import sigmoid
from neuraldigits.network import Network, Score, mini_batch_steps
from neuraldigits.training import ckernel

from .data import digits

U = 2.0**-24
"""float32's unit roundoff: each rounding is fl(x) = x(1 + δ) with |δ| ≤ u."""

SIGMOID_RELATIVE = 10 * U
"""σ's relative error in float32: e^(−|z|) within 4 ulp (8u; measured: the kernels'
polynomial 1.4 ulp, numpy's expf 1.7 ulp), then 1 + e and a division (2u); e/(1 + e)
passes e's relative error on at most in full."""

SIGMOID_CLIP_ERROR = float(np.exp(-80.0))
"""float32 clips σ's |z| at 80, float64 at 700 (activations.SIGMOID_CLIP): σ moves < e^(−80)."""


def gamma(k):
    """γ_k = ku/(1 − ku): the relative error of k roundings in a row, and of a sum of k
    products (or of k − 1 products and a term) taken in any order, blocked or fused
    (Higham, *Accuracy and Stability of Numerical Algorithms*, §3.1)."""
    return k * U / (1 - k * U)


TOLERANCE = {np.float64: (1e-9, 1e-11), np.float32: (2e-4, 2e-5)}
"""rtol, atol between two float64 paths (sums taken in another order).  Not for two
float32 paths: how far those differ depends on the BLAS kernel and SIMD build that
run; tests/training judges them by :func:`exact_sgd`'s bound instead."""


def assert_same_network(a: Network, b: Network, rtol: float, atol: float) -> None:
    for wa, wb in zip(a.weights + a.biases, b.weights + b.biases):
        assert wa.dtype == wb.dtype and wa.shape == wb.shape
        np.testing.assert_allclose(wa, wb, rtol=rtol, atol=atol)


def train(
    sizes, method, *, dtype=np.float32, n=503, m=10, epochs=2, images_dtype=None,
    variant=None, snapshots=None, **kw,
):  # fmt: skip
    """Train a fresh seeded network; return it and its history.

    ``variant`` (method "c"): the C kernel's build to train with (:func:`c_build`).
    ``snapshots``: a list to which a copy of the network is added after each epoch.
    """
    data = digits(n, seed=1, dtype=images_dtype or dtype)
    test = digits(97, seed=2, dtype=dtype)
    net = Network(sizes, seed=7, dtype=dtype)
    if snapshots is not None:
        kw["callback"] = lambda result: snapshots.append(net.copy())
    with c_build(variant) if variant else contextlib.nullcontext():
        history = net.sgd(data, epochs, m, 3.0, test_data=test, method=method, **kw)
    return net, history


@contextlib.contextmanager
def c_build(variant: str):
    """Within this, training with method "c" runs the C kernel's build ``variant``.

    trainer.py's ``_c_epoch`` calls ``ckernel.sgd_batches``; this passes it
    ``variant=`` (one of :func:`ckernel.builds`) and checks that it was called,
    so that no test trains with the default build while naming another.
    """
    default, calls = ckernel.sgd_batches, []

    def chosen(*args, **kwargs):
        calls.append(variant)
        return default(*args, **kwargs, variant=variant)

    ckernel.sgd_batches = chosen
    try:
        yield
    finally:  # also after an interruption (KeyboardInterrupt) that the test expects
        ckernel.sgd_batches = default
        assert calls, f"training never called the C kernel's {variant} build"


def assert_trains_exactly(sizes, method, *, n=503, m=10, epochs=2, images_dtype=np.float32, **kw):
    """:func:`train` a float32 network by ``method`` and judge every epoch by :func:`exact_sgd`.

    After each epoch: every parameter within the rounding bound of the float64
    run, and the test score in the history that of the network the epoch left
    (to scoring's own rounding, :func:`assert_scored`) and of the float64 run (to
    what the parameters' bound can change).  Returns the network and the oracle.
    """
    snapshots = []
    net, history = train(
        sizes, method, n=n, m=m, epochs=epochs, images_dtype=images_dtype,
        snapshots=snapshots, **kw,
    )  # fmt: skip
    exact = exact_train(tuple(sizes), n=n, m=m, epochs=epochs, images_dtype=images_dtype)
    name = f"{method} {kw.get('variant') or ''}".strip()
    test = digits(97, seed=2)
    assert len(snapshots) == len(history) == epochs
    for epoch, (snapshot, result) in enumerate(zip(snapshots, history)):
        exact.assert_close(snapshot, epoch, f"{name}, epoch {epoch + 1}:")
        assert_scored(snapshot, result.test, test)
        exact.assert_same_score(result.test, epoch)
    return net, exact


@functools.lru_cache(maxsize=32)
def exact_train(sizes: tuple[int, ...], *, n=503, m=10, epochs=2, images_dtype=np.float32):
    """:func:`exact_sgd` of what :func:`train` does to a float32 network with these arguments."""
    start = Network(sizes, seed=7)  # its generator draws the orders, as net.sgd's does
    images, labels = digits(n, seed=1, dtype=images_dtype)
    orders = [start.rng.permutation(n) for _ in range(epochs)]
    return exact_sgd(start, images, labels, orders, m, 3.0, test_data=digits(97, seed=2))


# ---------------------------------------------------------------------- the float64 oracle


@dataclass
class Exact:
    """A training run redone in float64, and how far float32 rounding can take it.

    Per epoch (or the end, for a run stopped early): ``nets``, the float64
    network; ``bounds``, for each of its weights then biases (then, with
    momentum, its weight and bias velocities: ``nets`` hold them), the
    componentwise bound on |float32 − float64| (see :func:`exact_sgd`); with
    test data, ``scores`` and :func:`score_bounds`'s ``near_ties`` and ``cost_bounds``.
    """

    nets: list[Network] = field(default_factory=list)
    bounds: list[list[NDArray]] = field(default_factory=list)
    scores: list[Score] = field(default_factory=list)
    near_ties: list[int] = field(default_factory=list)
    cost_bounds: list[float] = field(default_factory=list)

    def ratios(self, net: Network, epoch: int = -1) -> list[float]:
        """max |net − float64| / bound, per parameter array: ≤ 1 is within the bound."""
        return [
            float(np.max(np.abs(p - q) / np.maximum(b, 1e-300), initial=0.0))
            for p, q, b in self._pairs(net, epoch)
        ]

    def assert_close(self, net: Network, epoch: int = -1, name: str = "") -> None:
        """Every float32 parameter of ``net`` within its rounding bound of the float64 run."""
        for k, (p, q, b) in enumerate(self._pairs(net, epoch)):
            assert p.dtype == np.float32 and p.shape == q.shape
            error = np.abs(p - q)
            assert np.all(np.isfinite(p)), f"{name} parameter array {k} is not finite"
            worst = np.unravel_index(np.argmax(error - b), error.shape)
            assert np.all(error <= b), (
                f"{name} parameter array {k}: |float32 − float64| = {error[worst]:.3g} at "
                f"{worst}, above its rounding bound {b[worst]:.3g} "
                f"(worst ratio {self.ratios(net, epoch)[k]:.3g})"
            )

    def assert_same_score(self, score: Score, epoch: int = -1) -> None:
        """A float32 network's test score as the float64 run's, to what rounding can change."""
        exact = self.scores[epoch]
        assert abs(score.correct - exact.correct) <= self.near_ties[epoch], (score, exact)
        assert abs(score.cost - exact.cost) <= self.cost_bounds[epoch], (score, exact)

    def _pairs(self, net, epoch):
        exact = self.nets[epoch]
        return zip(_parameters(net, exact), _parameters(exact), self.bounds[epoch])


def _parameters(net: Network, like: Network | None = None) -> list[NDArray]:
    """Weights and biases, then velocities when ``like`` (default: ``net``) has them."""
    arrays = net.weights + net.biases
    if (like or net).weight_velocities is not None:
        weight_velocities, bias_velocities = net.velocities()
        arrays += weight_velocities + bias_velocities
    return arrays


def exact_sgd(
    start, images, labels, orders, m, eta, *, test_data=None, stop=None, lmbda=0.0, momentum=0.0
) -> Exact:
    """SGD from the float32 network ``start`` redone in float64, with float32's error bound.

    The epochs run the mini-batches ``order[k : k + m]`` of each of ``orders``
    (the permutations net.sgd draws), stepping by η/m (η/m′ for a smaller last
    one), as every path does; ``stop`` ends the run after that many examples.
    It starts from ``start``'s float32 weights (and velocities, if it has
    any), on the images as float32 paths read them, so only float32's
    arithmetic separates the two runs.  ``start.cost`` is the cost trained;
    ``lmbda`` λ and ``momentum`` μ are chapter 3's (:meth:`Network.step`, with
    n = len(labels)).

    The bound, per parameter, is the sum over the steps of a first-order bound on
    the rounding error one float32 step adds, taken from this run's own values
    (u = 2^−24; e_q bounds float32's error in a quantity q):

    * a sum of k nonzero products, in any order, blocked or FMA-fused as any BLAS
      kernel or SIMD build takes it, is off by ≤ γ_k Σ|terms| (γ_k ≈ ku), and
      its inputs' errors add Σ|∂/∂input| e_input.  So z = w a + b (k = a's
      nonzero entries + 1) has e_z = |w| e_a + γ_k (|w||a| + |b|); uint8 or
      float64 pixels read into float32 are off by 2u|x|.
    * a = σ(z): e_a = (max σ′ on [z − e_z, z + e_z]) e_z + 10u·a + e^(−80).
    * δ^L = (a − y) a(1 − a): e = |a(1 − a) + (a − y)(1 − 2a)| e_a + γ_4 |δ^L|.
      δ^l = g ⊙ a(1 − a), g = wᵀδ^(l+1) with the old w: e_g = |w|ᵀ e_δ + γ_n |w|ᵀ|δ|
      (n = n_(l+1)), e = a(1 − a) e_g + |g| (|1 − 2a| e_a + γ_2 a(1 − a)) + u |δ^l|.
    * w −= (η/m) Σ_x δ_x a_xᵀ, grouped any way (the book sums the m terms first,
      the kernels subtract them one example at a time) adds, with
      T = (η/m) Σ_x |δ_x a_xᵀ| and P = (η/m) Σ_x (e_δ |a|ᵀ + |δ| e_aᵀ), the inputs'
      error P; the terms' own roundings γ_(m+5) T (the m-term sum, and η/m's,
      1/255's and the products' roundings: at most 5 per term); and w's roundings
      as it is stepped: u(|w| + T + P) for each example whose term is nonzero, but
      never more than the terms themselves, T + P (fl(w − t) is no further from
      w − t than w is).  Likewise for b, whose terms are δ's.

    Chapter 3 (d = ηλ/n, μ; biases have d = 0):

    * cross-entropy's δ^L = a − y: e = e_a + u|δ^L|.
    * L2 without momentum, w → (1 − d) w − terms: the step adds the above, plus
      γ_2 (1 − d)|w| for rounding 1 − d and the product (a kernel keeping
      w = s·v with s in float64 spends it instead on renormalising v and on
      copying s·v back: u|w| each, at most once a step).  Pixels are read as
      x·fl(scale·s): 2u|x| more (every path gets this allowance when λ > 0),
      and a step's terms γ_(m+6), one more rounding (step/s).
    * momentum, v → μv − terms − d w, w → w + v: with e_v, e_w the bounds
      carried, e_v ← μ e_v + f and e_w ← e_w + μ e_v + f + u(|w| + |v′|) (w + v′
      rounded; v′ the new v), where f, the step's own error in v′, is the
      terms' as above (P + γ_(m+5) T), γ_2 (μ|v| + d|w|) for rounding μ, d and
      their products, and u(μ|v| + d|w| + T + P) for each of v's at most
      count + 2 additions, in any order.  That is momentum's own map on an
      error, exactly (an error in v moves w at every later step: 1/(1 − μ)
      times in all), not the first-order omission below.

    An error one step leaves in a parameter changes later steps' sums through
    the same maps as any small change of the weights; the bound adds the steps'
    errors without that amplification (first order: the steps' Jacobian taken
    as 1, or as momentum's map).  L2's pull on an error (−d times it, into w
    or v) is part of that Jacobian, the cost's, and left out with it: it only
    shrinks errors, but taken in absolute value beside momentum's map it would
    turn the contraction into growth (≈ 3 % a step at d = 0.005, μ = 0.9).
    Worst-case γ_k leaves room for the omission: actual roundings have either
    sign and mostly cancel (~√k u, not ku).  The tests state the margins measured.

    The bound is linear in u to first order: scaled by 2^−29 (u = 2^−53) it
    bounds a float64 run's rounding instead.
    """
    weights = [w.astype(np.float64) for w in start.weights]
    biases = [b[:, 0].astype(np.float64) for b in start.biases]
    bound_w = [np.zeros_like(w) for w in weights]
    bound_b = [np.zeros_like(b) for b in biases]
    law = _Law(start.cost.name == "cross-entropy", eta * lmbda / len(labels), momentum)
    if momentum:
        weight_velocities, bias_velocities = start.copy().velocities()
        law.velocities = [v.astype(np.float64) for v in weight_velocities] + [
            v[:, 0].astype(np.float64) for v in bias_velocities
        ]
        law.velocity_bounds = [np.zeros_like(v) for v in law.velocities]
    x_all, x_error = _float32_inputs(images)
    if lmbda:  # read as x·fl(scale·s) by a kernel keeping w^1 = s·v
        x_error = x_error + 2 * U * np.abs(x_all)
    n_out = start.sizes[-1]
    exact, done = Exact(), 0
    for order in orders:
        steps = mini_batch_steps(len(order), m, eta)
        for k in range(0, len(order), m):
            if stop is not None and done >= stop:
                break
            idx = order[k : k + m]
            y = np.zeros((len(idx), n_out))
            y[np.arange(len(idx)), labels[idx]] = 1
            step = steps[len(idx) < m]
            _step(weights, biases, bound_w, bound_b, x_all[idx], x_error[idx], y, step, law)
            done += len(idx)
        net = Network(start.sizes, dtype=np.float64, cost=start.cost.name)
        net.weights = [w.copy() for w in weights]
        net.biases = [b[:, None].copy() for b in biases]
        exact.nets.append(net)
        exact.bounds.append([w.copy() for w in bound_w] + [b[:, None].copy() for b in bound_b])
        if momentum:
            layers = len(weights)
            as_arrays = [v.copy() for v in law.velocities[:layers]] + [
                v[:, None].copy() for v in law.velocities[layers:]
            ]
            net.weight_velocities, net.bias_velocities = as_arrays[:layers], as_arrays[layers:]
            exact.bounds[-1] += [v.copy() for v in law.velocity_bounds[:layers]] + [
                v[:, None].copy() for v in law.velocity_bounds[layers:]
            ]
        if test_data is not None:
            if law.cross_entropy:
                raise NotImplementedError("score_bounds bounds the quadratic cost only")
            score, ties, cost = score_bounds(net, test_data, bound_w, bound_b)
            exact.scores.append(score)
            exact.near_ties.append(ties)
            exact.cost_bounds.append(cost)
    return exact


def assert_scored(net: Network, score: Score, data) -> None:
    """``score`` is float32 ``net``'s score on ``data``, to float32 scoring's rounding:
    the score in float64 of the very same weights, up to :func:`score_bounds`."""
    exact = net.copy()
    exact.weights = [w.astype(np.float64) for w in net.weights]
    exact.biases = [b.astype(np.float64) for b in net.biases]
    exact.dtype = np.dtype(np.float64)
    truth, ties, cost = score_bounds(exact, data)
    assert abs(score.correct - truth.correct) <= ties, (score, truth, ties)
    assert abs(score.cost - truth.cost) <= cost, (score, truth, cost)


def score_bounds(net, data, bound_w=None, bound_b=None) -> tuple[Score, int, float]:
    """float64 ``net``'s score on ``data``, and how far float32 could move it.

    For a float32 network whose parameters are within ``bound_w``, ``bound_b``
    (or equal), scoring in float32: outputs off by e_a (:func:`_forward`), so
    an answer (the argmax) can change only where the top two outputs are within
    2 max e_a — the near ties counted; and C = Σ‖a − y‖²/2n by ≤ Σ(|a − y| e_a +
    e_a²/2)/n plus its own sum's rounding, γ_(size + 3) C.
    """
    images, labels = data
    x, e_x = _float32_inputs(images)
    biases = [b[:, 0] for b in net.biases]
    acts, errors = _forward(net.weights, biases, x, e_x, bound_w, bound_b)
    a, e_a = acts[-1], errors[-1]
    y = np.zeros_like(a)
    y[np.arange(len(labels)), labels] = 1
    top_two = np.sort(a, axis=1)[:, -2:]
    ties = int(np.sum(top_two[:, 1] - top_two[:, 0] <= 2 * e_a.max(axis=1)))
    score = net.score(data)
    cost = np.sum(np.abs(a - y) * e_a + e_a**2 / 2) / len(labels)
    return score, ties, float(cost + gamma(a.size + 3) * score.cost)


def _float32_inputs(images: NDArray) -> tuple[NDArray, NDArray]:
    """The images as float64, and the error of float32's reading of them: uint8 pixels
    are scaled by 1/255 (a rounded 1/255 and a product: 2u), float64 ones rounded (u,
    counted as 2u too); float32 and float16 ones are read exactly."""
    x = images / 255.0 if images.dtype == np.uint8 else images.astype(np.float64)
    exact = images.dtype in (np.float16, np.float32)
    return x, (0.0 if exact else 2 * U) * np.abs(x)


def _forward(weights, biases, x, e_x, bound_w=None, bound_b=None):
    """Every layer's activations (rows are examples), and their bounds e_a (see exact_sgd),
    for float32 parameters equal to these, or within ``bound_w``, ``bound_b`` of them."""
    acts, errors = [x], [e_x]
    for layer, (w, b) in enumerate(zip(weights, biases)):
        a, e_a = acts[-1], errors[-1]
        k = np.count_nonzero(a, axis=1)[:, None] + 1  # nonzero products, and b
        z = a @ w.T + b
        e_z = e_a @ np.abs(w).T + gamma(k) * (np.abs(a) @ np.abs(w).T + np.abs(b))
        if bound_w is not None:
            e_z += np.abs(a) @ bound_w[layer].T + bound_b[layer]
        # σ′ peaks at 0 and falls off on both sides: its largest on [z − e_z, z + e_z]
        slope = sigmoid(np.maximum(np.abs(z) - e_z, 0.0))
        slope *= 1 - slope
        acts.append(sigmoid(z))
        errors.append(slope * e_z + SIGMOID_RELATIVE * acts[-1] + SIGMOID_CLIP_ERROR)
    return acts, errors


@dataclass
class _Law:
    """Chapter 3's step for :func:`_step`: cross-entropy's δ^L, L2's d = ηλ/n and momentum
    μ, with the velocities (weights' then biases', float64) and their bounds."""

    cross_entropy: bool = False
    decay: float = 0.0
    momentum: float = 0.0
    velocities: list[NDArray] = field(default_factory=list)
    velocity_bounds: list[NDArray] = field(default_factory=list)


def _step(weights, biases, bound_w, bound_b, x, e_x, y, step, law=None) -> None:
    """One mini-batch in float64 (the book's maths), adding its float32 rounding to the bounds."""
    law = law or _Law()
    acts, errors = _forward(weights, biases, x, e_x)
    a, e_a = acts[-1], errors[-1]
    if law.cross_entropy:
        delta = a - y  # (BP1), the book's eq. 66
        e_delta = e_a + U * np.abs(delta)
    else:
        delta = (a - y) * a * (1 - a)  # (BP1)
        e_delta = np.abs(a * (1 - a) + (a - y) * (1 - 2 * a)) * e_a + gamma(4) * np.abs(delta)
    examples, layers, mu = len(x), len(weights), law.momentum
    roundings = examples + (6 if law.decay else 5)  # per term, and the m-term sum
    for layer in range(layers - 1, -1, -1):
        w, b, a_in, e_in = weights[layer], biases[layer], acts[layer], errors[layer]
        steps = (
            (w, bound_w[layer], step * np.abs(delta).T @ np.abs(a_in),
             step * (e_delta.T @ np.abs(a_in) + np.abs(delta).T @ e_in),
             np.count_nonzero(a_in, axis=0), delta.T @ a_in, law.decay, layer),  # (BP4)
            (b, bound_b[layer], step * np.abs(delta).sum(axis=0), step * e_delta.sum(axis=0),
             examples, delta.sum(axis=0), 0.0, layers + layer),  # (BP3)
        )  # fmt: skip
        if layer:  # (BP2), with the old w
            delta, e_delta = backward_error(delta, e_delta, w, a_in, e_in)
        for param, bound, terms, inherited, count, gradient, decay, which in steps:
            reach = terms + inherited
            if mu:
                _momentum_step(law, which, param, bound, terms, inherited, count, gradient,
                               step, decay, roundings)  # fmt: skip
                continue
            if decay:
                bound += gamma(2) * (1 - decay) * np.abs(param)
            bound += inherited + gamma(roundings) * terms
            bound += np.minimum(count * U * ((1 - decay) * np.abs(param) + reach), reach)
            if decay:
                param *= 1 - decay
            param -= step * gradient


def _momentum_step(law, which, p, bound, terms, inherited, count, gradient, step, decay, roundings):
    """v → μv − (η/m) gradient − d p, p → p + v for the parameter array ``p``, and the bounds
    (exact_sgd): e_v ← μ e_v + f, e_p ← e_p + μ e_v + f + u(|p| + |v′|)."""
    mu, v, v_bound = law.momentum, law.velocities[which], law.velocity_bounds[which]
    reach = terms + inherited
    pulled = mu * np.abs(v) + decay * np.abs(p)
    fresh = inherited + gamma(roundings) * terms + gamma(2) * pulled
    fresh += (count + 2) * U * (pulled + reach)
    bound += mu * v_bound + fresh
    v_bound *= mu
    v_bound += fresh
    rounding = np.abs(p)
    v *= mu
    v -= step * gradient + decay * p
    p += v
    bound += U * (rounding + np.abs(v))


def stop_after(limit: int):
    """An ``on_batch`` that raises KeyboardInterrupt (Ctrl-C) once ``limit`` examples are done."""
    done = []

    def on_batch(count):
        done.append(count)
        if sum(done) >= limit:
            raise KeyboardInterrupt

    return on_batch


def backward_error(delta, e_delta, w, a_in, e_in):
    """(BP2) δ^(l−1) = (δ^l w) ⊙ a(1 − a) for rows of examples, and a first-order bound on its
    float32 error from δ^l's (``e_delta``), a^(l−1)'s (``e_in``) and the sums' own rounding."""
    g = delta @ w
    e_g = e_delta @ np.abs(w) + gamma(w.shape[0]) * (np.abs(delta) @ np.abs(w))
    slope = a_in * (1 - a_in)
    e_slope = np.abs(1 - 2 * a_in) * e_in + gamma(2) * slope
    delta, e_delta = g * slope, slope * e_g + np.abs(g) * e_slope
    return delta, e_delta + U * np.abs(delta)
