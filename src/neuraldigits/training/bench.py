"""Timing one SGD epoch of chapter 1's recipe, ours side by side with its peers.

Every peer trains the same [784, n, 10] sigmoid network with the quadratic cost
(except scikit-learn, which only offers log-loss) by plain mini-batch SGD on
the same images, starting from the same weights, and is timed on its epochs
alone: compiling (numba, JAX) and data conversion are timed separately as
``setup``.  Peers whose library is not installed are skipped, not faked.

Used by ``benchmarks/bench_epoch.py`` (the full table) and ``digits bench``
(a quick form); this module returns results and prints nothing.
"""

from __future__ import annotations

import importlib.util
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from ..network import Dataset, Network, step_size
from . import trainer as fastpath


@dataclass(frozen=True)
class Timing:
    """One peer's result: seconds per timed epoch and what it learned."""

    peer: str
    seconds_per_epoch: float  # mean over the timed epochs
    epochs: int
    setup_seconds: float
    test_accuracy: float
    traced_peak_mb: float | None  # numpy/Python allocations during training (tracemalloc)
    fastest_epoch_seconds: float | None = None  # the least disturbed epoch on a shared machine


@dataclass(frozen=True)
class Recipe:
    """The run every peer does: the book's recipe by default."""

    sizes: tuple[int, ...] = (784, 30, 10)
    mini_batch_size: int = 10
    eta: float = 3.0
    epochs: int = 1
    seed: int = 0


# OpenBLAS's idle threads spin for ~0.1 s after each multi-threaded call, on the cores
# whatever is timed next needs; nothing untimed here may leave them spinning.
_BLAS_SETTLE_SECONDS = 0.2


def _accuracy(predict: Callable[[NDArray], NDArray], test: Dataset) -> float:
    """Test accuracy, computed with one BLAS thread (untimed, and no spinning threads after)."""
    with threadpool_limits(limits=1, user_api="blas"):
        return float(np.mean(predict(test[0]) == test[1]))


def _timed(peer: str, recipe: Recipe, setup: float, train, predict, test) -> Timing:
    """Time ``train(epoch)`` for each epoch, score ``predict`` on test, then measure memory.

    tracemalloc hooks every allocation and slows allocation-heavy code several
    times over, so it must not run while the clock does: the peak memory comes
    from one more, untimed epoch (after the accuracy is taken).
    """
    times = []
    for epoch in range(recipe.epochs):
        start = time.perf_counter()
        train(epoch)
        times.append(time.perf_counter() - start)
    accuracy = _accuracy(predict, test)
    tracemalloc.start()
    train(recipe.epochs)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    mean = sum(times) / len(times)
    return Timing(peer, mean, recipe.epochs, setup, accuracy, peak, min(times))


# ---------------------------------------------------------------------- our trainer


def ours(
    method: str, dtype, threads: int | None = None
) -> Callable[[Dataset, Dataset, Recipe], Timing]:
    """Our Network.sgd with ``method`` ("c", "numba", "numpy", "reference") in ``dtype``;
    ``threads`` for the C kernel (None: its default)."""

    def run(training: Dataset, test: Dataset, recipe: Recipe) -> Timing:
        net = Network(recipe.sizes, seed=recipe.seed, dtype=dtype)
        rng = np.random.default_rng(recipe.seed)
        m, eta = recipe.mini_batch_size, recipe.eta
        start = time.perf_counter()
        if method == "reference":
            trainer = None
        else:
            # Compiling (or loading the cached kernel) and listing the ink pixels happen
            # once per training run, in prepare(); they are setup, not epoch time.
            backend = None if method == "fast" else method
            trainer = fastpath.Trainer(net, *training, m, eta, backend=backend, threads=threads)
            trainer.prepare()
        setup = time.perf_counter() - start

        def train(epoch: int) -> None:
            if trainer is None:
                net.sgd(training, 1, m, eta, rng=rng, method="reference")
            else:
                trainer.epoch(rng.permutation(len(training[1])))

        if trainer is None:
            name = "ours, reference, "
        elif trainer.backend == "c":
            count = trainer.threads
            name = f"ours, fast (C, {count} thread{'s' if count > 1 else ''}), "
        else:
            name = f"ours, fast ({trainer.backend}), "
        return _timed(name + np.dtype(dtype).name, recipe, setup, train, net.predict, test)

    return run


# ---------------------------------------------------------------------- the book's algorithm


def book(training: Dataset, test: Dataset, recipe: Recipe) -> Timing:
    """The book's network.py algorithm: backprop one example at a time, float64."""
    net, train, setup = book_trainer(training, recipe)
    return _timed("book's algorithm, per example, float64", recipe, setup, train,
                  net.predict, test)  # fmt: skip


def book_trainer(training: Dataset, recipe: Recipe) -> tuple[Network, Callable[[int], None], float]:
    """The book's network.py algorithm, ready to run: ``(net, train, setup_seconds)``.

    ``train(epoch)`` runs one epoch of per-example backprop in float64 on
    ``net``'s own weight arrays (updated in place), so ``net.evaluate`` scores
    it between epochs.  The net starts from ``Network(recipe.sizes,
    seed=recipe.seed)``'s weights (chapter 1's N(0, 1)); the shuffles come from
    a generator seeded with ``recipe.seed``.
    """
    net = Network(recipe.sizes, seed=recipe.seed, dtype=np.float64)
    weights, biases = net.weights, net.biases
    rng = np.random.default_rng(recipe.seed)
    images, labels = training
    start = time.perf_counter()
    columns = [np.asarray(x, np.float64).reshape(-1, 1) / (255 if x.dtype == np.uint8 else 1)
               for x in images]  # fmt: skip
    targets = np.eye(recipe.sizes[-1])[:, :, None][labels]
    setup = time.perf_counter() - start

    def sigmoid(z):
        return 1.0 / (1.0 + np.exp(-z))

    def backprop(x, y):
        nabla_b = [np.zeros(b.shape) for b in biases]
        nabla_w = [np.zeros(w.shape) for w in weights]
        activation, activations, zs = x, [x], []
        for b, w in zip(biases, weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        delta = (activations[-1] - y) * sigmoid(zs[-1]) * (1 - sigmoid(zs[-1]))
        nabla_b[-1], nabla_w[-1] = delta, np.dot(delta, activations[-2].T)
        for layer in range(2, len(recipe.sizes)):
            sp = sigmoid(zs[-layer]) * (1 - sigmoid(zs[-layer]))
            delta = np.dot(weights[-layer + 1].T, delta) * sp
            nabla_b[-layer], nabla_w[-layer] = delta, np.dot(delta, activations[-layer - 1].T)
        return nabla_b, nabla_w

    def train(epoch: int) -> None:
        m, eta = recipe.mini_batch_size, recipe.eta
        order = rng.permutation(len(labels))
        for k in range(0, len(order), m):
            batch = order[k : k + m]
            nabla_b = [np.zeros(b.shape) for b in biases]
            nabla_w = [np.zeros(w.shape) for w in weights]
            for i in batch:
                delta_b, delta_w = backprop(columns[i], targets[i])
                nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_b)]
                nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_w)]
            step = step_size(eta, len(batch))
            for w, nw in zip(weights, nabla_w):
                w -= step * nw
            for b, nb in zip(biases, nabla_b):
                b -= step * nb

    return net, train, setup


# ---------------------------------------------------------------------- PyTorch


def pytorch(training: Dataset, test: Dataset, recipe: Recipe) -> Timing:
    """PyTorch eager on the CPU: Linear + sigmoid layers, quadratic cost, torch.optim.SGD."""
    import torch

    start = time.perf_counter()
    net = Network(recipe.sizes, seed=recipe.seed, dtype=np.float32)
    layers = []
    for w, b in zip(net.weights, net.biases):
        linear = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w))
            linear.bias.copy_(torch.from_numpy(b[:, 0]))
        layers += [linear, torch.nn.Sigmoid()]
    model = torch.nn.Sequential(*layers)
    x = torch.from_numpy(_floats(training[0]))
    y = torch.nn.functional.one_hot(torch.from_numpy(training[1]), recipe.sizes[-1]).float()
    optimiser = torch.optim.SGD(model.parameters(), lr=recipe.eta)
    generator = torch.Generator().manual_seed(recipe.seed)
    setup = time.perf_counter() - start

    def train(epoch: int) -> None:
        order = torch.randperm(len(x), generator=generator)
        for k in range(0, len(order), recipe.mini_batch_size):
            batch = order[k : k + recipe.mini_batch_size]
            optimiser.zero_grad()
            # C = (1/2m) Σ‖a − y‖², so the step is (η/m) Σ ∇C_x as in the book.
            loss = 0.5 * ((model(x[batch]) - y[batch]) ** 2).sum() / len(batch)
            loss.backward()
            optimiser.step()

    def predict(images):
        with torch.no_grad():
            return model(torch.from_numpy(_floats(images))).argmax(1).numpy()

    return _timed("PyTorch eager (CPU), float32", recipe, setup, train, predict, test)


# ---------------------------------------------------------------------- JAX


def jax_scan(training: Dataset, test: Dataset, recipe: Recipe) -> Timing:
    """JAX: the whole epoch (shuffle, gather, every step) jit-compiled as one lax.scan."""
    import jax
    import jax.numpy as jnp

    net = Network(recipe.sizes, seed=recipe.seed, dtype=np.float32)
    m, eta = recipe.mini_batch_size, recipe.eta
    x = jnp.asarray(_floats(training[0]))
    y = jax.nn.one_hot(jnp.asarray(training[1]), recipe.sizes[-1])
    n_batches = len(training[1]) // m  # JAX needs equal batches: the book's 50,000 / 10 is

    def forward(params, a):
        for w, b in params:
            a = jax.nn.sigmoid(a @ w.T + b)
        return a

    def cost(params, xb, yb):
        return 0.5 * jnp.sum((forward(params, xb) - yb) ** 2) / m

    def step(params, batch):
        grads = jax.grad(cost)(params, *batch)
        return [(w - eta * gw, b - eta * gb) for (w, b), (gw, gb) in zip(params, grads)], None

    @jax.jit
    def epoch(params, key):
        order = jax.random.permutation(key, n_batches * m).reshape(n_batches, m)
        params, _ = jax.lax.scan(step, params, (x[order], y[order]))
        return params

    params = [(jnp.asarray(w), jnp.asarray(b[:, 0])) for w, b in zip(net.weights, net.biases)]
    key = jax.random.PRNGKey(recipe.seed)
    start = time.perf_counter()
    jax.block_until_ready(epoch.lower(params, key).compile())
    setup = time.perf_counter() - start
    state = {"params": params, "key": key}

    def train(_: int) -> None:
        state["key"], sub = jax.random.split(state["key"])
        state["params"] = jax.block_until_ready(epoch(state["params"], sub))

    def predict(images):
        return np.asarray(forward(state["params"], jnp.asarray(_floats(images))).argmax(1))

    return _timed("JAX, epoch jit-compiled as lax.scan, float32", recipe, setup, train,
                  predict, test)  # fmt: skip


# ---------------------------------------------------------------------- scikit-learn


def sklearn_mlp(training: Dataset, test: Dataset, recipe: Recipe) -> Timing:
    """scikit-learn MLPClassifier, plain SGD, m = 10 — but log-loss and softmax outputs."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    start = time.perf_counter()
    x = _floats(training[0])
    model = MLPClassifier(
        hidden_layer_sizes=recipe.sizes[1:-1],
        activation="logistic",
        solver="sgd",
        batch_size=recipe.mini_batch_size,
        learning_rate_init=0.5,  # η = 3 diverges with log-loss
        momentum=0.0,
        alpha=0.0,
        max_iter=1,
        random_state=recipe.seed,
    )
    setup = time.perf_counter() - start

    def train(epoch: int) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.partial_fit(x, training[1], classes=np.arange(recipe.sizes[-1]))

    return _timed("scikit-learn MLPClassifier (log-loss), float64", recipe, setup, train,
                  lambda images: model.predict(_floats(images)), test)  # fmt: skip


def _floats(images: NDArray) -> NDArray[np.float32]:
    if images.dtype == np.uint8:
        return images.astype(np.float32) / np.float32(255)
    return np.asarray(images, np.float32)


# Explicit registry: name → (module it needs or None, runner).  Order = table order.
PEERS: dict[str, tuple[str | None, Callable[[Dataset, Dataset, Recipe], Timing]]] = {
    "ours-c-float32": ("neuraldigits.training._ckernel", ours("c", np.float32)),
    "ours-c-float32-2-threads": (
        "neuraldigits.training._ckernel",
        ours("c", np.float32, threads=2),
    ),
    "ours-numba-float32": ("numba", ours("numba", np.float32)),
    "ours-numba-float64": ("numba", ours("numba", np.float64)),
    "ours-numpy-float32": (None, ours("numpy", np.float32)),
    "ours-reference-float32": (None, ours("reference", np.float32)),
    "ours-reference-float64": (None, ours("reference", np.float64)),
    "book": (None, book),
    "pytorch": ("torch", pytorch),
    "jax": ("jax", jax_scan),
    "sklearn": ("sklearn", sklearn_mlp),
}


def available(peer: str) -> bool:
    needs = PEERS[peer][0]
    return needs is None or importlib.util.find_spec(needs) is not None


def run_peers(
    training: Dataset, test: Dataset, recipe: Recipe, peers: list[str] | None = None
) -> tuple[list[Timing], list[str]]:
    """Time each installed peer; return the timings and the names of peers skipped."""
    timings, skipped = [], []
    for name in peers or list(PEERS):
        if not available(name):
            skipped.append(name)
            continue
        timings.append(PEERS[name][1](training, test, recipe))
    return timings, skipped


def matmul_gflops(size: int = 512, repeats: int = 20) -> float:
    """This machine's single-precision matrix-multiply rate now: a load gauge for the table."""
    a = np.random.default_rng(0).random((size, size), dtype=np.float32)
    a @ a
    start = time.perf_counter()
    for _ in range(repeats):
        a @ a
    rate = 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9
    time.sleep(_BLAS_SETTLE_SECONDS)  # let BLAS's threads stop spinning before anything is timed
    return rate


def machine() -> str:
    """One line describing this machine: CPU model, cores, numpy's BLAS."""
    import os
    import platform

    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        model = names[0] if names else model
    except OSError:
        pass
    python = platform.python_version()
    return f"{model}, {os.cpu_count()} cores, Python {python}, numpy {np.__version__}"


def format_table(timings: list[Timing], baseline: str | None = None) -> str:
    """A Markdown table: s/epoch (mean and fastest) and each peer as a multiple of ours.

    The multiple compares fastest epochs: on a shared machine a slow epoch is
    usually someone else's load, and every peer gets the same benefit of the doubt.
    """

    def fastest(t: Timing) -> float:
        return t.seconds_per_epoch if t.fastest_epoch_seconds is None else t.fastest_epoch_seconds

    base = fastest(next((t for t in timings if t.peer == baseline), timings[0]))
    lines = [
        "| peer | s/epoch (mean) | fastest epoch s | × ours | setup s | test accuracy "
        "| traced peak MB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for t in timings:
        peak = "–" if t.traced_peak_mb is None else f"{t.traced_peak_mb:.1f}"
        lines.append(
            f"| {t.peer} | {t.seconds_per_epoch:.3f} | {fastest(t):.3f} | "
            f"{fastest(t) / base:.1f} | {t.setup_seconds:.2f} | "
            f"{100 * t.test_accuracy:.2f} % | {peak} |"
        )
    return "\n".join(lines)
