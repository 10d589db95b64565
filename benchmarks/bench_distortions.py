"""Fresh distortions every epoch: how fast they are made, and what they cost an epoch.

    python benchmarks/bench_distortions.py --data /path/to/mnist [--epochs 4] [--rounds 2]

Two tables, every peer in one process on the same data, so that their ratios
hold even on a busy machine (the load gauge says how busy):

1. Distortion throughput in images/s on one core (BLAS on one thread): the
   first algorithm (a Gaussian filter over a 28×28 noise field per image, then
   SciPy's ``map_coordinates`` in 3-D; kept here only for comparison) beside
   :func:`neuraldigits.images.augment.augment`.  Fastest of ``--repeats``.
2. Wall time per epoch of [784, 800, 10], cross-entropy, λ = 5, μ = 0.9,
   m = 10, η = 0.1, one C-kernel thread: on the plain training set
   (``prepare()``'d once); on the very distortions the stream makes, all made
   and prepared before training (what the distorted data itself costs: it has
   more ink pixels, which the sparse kernel pays for); and on
   :class:`DistortedEpochs` (fresh distortions every epoch, made and prepared
   by the background worker on the other core).
   "Epoch wall s" is the time between the ends of successive epochs (training,
   scoring, and waiting for or receiving the next set); the first epoch, which
   also waits for the worker to start and make epoch 0, is shown apart.
   CPU seconds per epoch, of this process and of the worker (its whole life,
   start-up and the unused epoch made ahead at the end included, over the
   epochs), say what the wall times would be with a core free for each: on a
   busy machine the worker and the trainer share one.
   The three alternate, ``--rounds`` times.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import numpy as np
from scipy import ndimage
from threadpoolctl import threadpool_limits

from neuraldigits.data.mnist import load_mnist
from neuraldigits.images.augment import augment
from neuraldigits.images.stream import DistortedEpochs
from neuraldigits.network import Network
from neuraldigits.training import prepare
from neuraldigits.training.bench import machine, matmul_gflops

SIZES = [784, 800, 10]
SETTINGS = dict(lmbda=5.0, momentum=0.9)
MINI_BATCH, ETA = 10, 0.1


def first_augment(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The first algorithm, as it was (commit aa0311a), for comparison only."""
    side, chunk = 28, 5_000
    out = np.empty_like(images)
    for k in range(0, len(images), chunk):
        part = images[k : k + chunk].reshape(-1, side, side).astype(np.float32)
        n = len(part)
        angle = np.radians(rng.uniform(-12.0, 12.0, n))[:, None, None]
        scale = rng.uniform(0.88, 1.12, n)[:, None, None]
        shift = rng.uniform(-2.0, 2.0, (2, n))[:, :, None, None]
        centre = (side - 1) / 2
        y, x = np.mgrid[0:side, 0:side].astype(np.float32) - centre
        cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
        source_y = cos * (y - shift[0]) - sin * (x - shift[1]) + centre
        source_x = sin * (y - shift[0]) + cos * (x - shift[1]) + centre
        field = rng.uniform(-1, 1, (2, n, side, side))
        field = 24.0 * ndimage.gaussian_filter(field, sigma=(0, 0, 4.0, 4.0))
        index = np.broadcast_to(np.arange(n, dtype=np.float32)[:, None, None], (n, side, side))
        coordinates = np.stack([index, source_y + field[0], source_x + field[1]])
        warped = ndimage.map_coordinates(part, coordinates, order=1, mode="constant", cval=0.0)
        roll = rng.uniform(size=n)
        thicker, thinner = roll < 0.2, roll > 1 - 0.15
        footprint = np.ones((1, 2, 2), dtype=bool)
        if thicker.any():
            warped[thicker] = ndimage.grey_dilation(warped[thicker], footprint=footprint)
        if thinner.any():
            eroded = ndimage.grey_erosion(warped[thinner], footprint=footprint)
            warped[thinner] = (warped[thinner] + eroded) / 2
        out[k : k + chunk] = warped.reshape(n, -1).round().clip(0, 255)
    return out


def throughput(images: np.ndarray, repeats: int) -> list[tuple[str, float, float]]:
    """(algorithm, fastest seconds, images/s), the two algorithms interleaved."""
    peers = {"first (SciPy: Gaussian filter + 3-D map_coordinates)": first_augment}
    peers["now (coarse-grid field, one matrix product, own bilinear)"] = augment
    best = dict.fromkeys(peers, float("inf"))
    with threadpool_limits(limits=1, user_api="blas"):
        for r in range(repeats):
            for name, distort in peers.items():
                start = time.perf_counter()
                distort(images, np.random.default_rng([0, r]))
                best[name] = min(best[name], time.perf_counter() - start)
    return [(name, seconds, len(images) / seconds) for name, seconds in best.items()]


class Beforehand:
    """The stream's very epochs, distorted and prepared before training starts (all held)."""

    def __init__(self, training, seed: int, epochs: int) -> None:
        self.sets = [
            prepare((augment(training[0], np.random.default_rng([seed, k])), training[1]))
            for k in range(epochs)
        ]

    def for_epoch(self, k: int):
        return self.sets[k]


def run(training, validation, epochs: int, peer: str, seed: int) -> dict:
    """One sgd call of ``epochs`` epochs; the wall time of each epoch, and more."""
    net = Network(SIZES, seed=0, cost="cross-entropy", init="scaled")
    ends: list[tuple[float, float]] = []
    callback = lambda result: ends.append((time.perf_counter(), time.process_time()))  # noqa: E731
    data = Beforehand(training, seed, epochs) if peer == "beforehand" else prepare(training)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = (time.perf_counter(), time.process_time())
    if peer == "streamed":
        with DistortedEpochs(training, seed, prepare=prepare) as stream:
            history = net.sgd(stream, epochs, MINI_BATCH, ETA, **SETTINGS, callback=callback)
    else:
        history = net.sgd(data, epochs, MINI_BATCH, ETA, **SETTINGS, callback=callback)
    walls, cpus = np.diff([start, *ends], axis=0).T
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the worker, ended and reaped
    worker = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    return {
        "first": walls[0],
        "walls": list(walls[1:]),
        "cpu": list(cpus[1:]),
        "worker": worker / epochs,
        "train": [r.seconds for r in history][1:],
        "accuracy": net.score(validation).correct / len(validation[1]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="MNIST directory (default: as digits)")
    parser.add_argument("--images", type=int, default=50_000, help="images distorted per timing")
    parser.add_argument("--repeats", type=int, default=3, help="throughput timings per algorithm")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per sgd call")
    parser.add_argument("--rounds", type=int, default=2, help="plain/streamed pairs of calls")
    args = parser.parse_args()
    training, validation, _ = load_mnist(args.data, dtype=np.uint8)
    print(f"machine: {machine()}")
    print(f"load gauge before: {matmul_gflops():.0f} GFLOP/s single-precision matmul\n")

    images = training[0][: args.images]
    print(
        f"Distortion throughput, {len(images):,} MNIST images, one core, "
        f"fastest of {args.repeats}:\n"
    )
    rows = throughput(images, args.repeats)
    print("| algorithm | s | images/s | × first |\n|---|---:|---:|---:|")
    for name, seconds, rate in rows:
        print(f"| {name} | {seconds:.2f} | {rate:,.0f} | {rate / rows[0][2]:.1f} |")

    peers = {
        "plain": "plain, prepare()'d once",
        "beforehand": "the same distortions, made beforehand",
        "streamed": "fresh distortions (DistortedEpochs)",
    }
    results: dict[str, list[dict]] = {peer: [] for peer in peers}
    for r in range(args.rounds):
        for peer in peers:
            results[peer].append(run(training, validation, args.epochs, peer, r))
    print(
        f"\n{SIZES}, cross-entropy, λ = {SETTINGS['lmbda']}, μ = {SETTINGS['momentum']}, "
        f"m = {MINI_BATCH}, η = {ETA}, {len(training[1]):,} training images; "
        f"{args.rounds} × {args.epochs} epochs each, alternating:\n"
    )
    print(
        "| training set | epoch wall s (median) | of which training s | CPU s: ours | CPU s: "
        "worker | first epoch wall s | validation accuracy | × plain |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|"
    )
    plain = statistics.median(w for run_ in results["plain"] for w in run_["walls"])
    for peer, label in peers.items():
        runs = results[peer]
        wall = statistics.median(w for run_ in runs for w in run_["walls"])
        train = statistics.median(t for run_ in runs for t in run_["train"])
        cpu = statistics.median(c for run_ in runs for c in run_["cpu"])
        worker = statistics.median(run_["worker"] for run_ in runs)
        worker = f"{worker:.2f}" if peer == "streamed" else "–"
        first = statistics.median(run_["first"] for run_ in runs)
        accuracy = " / ".join(f"{run_['accuracy']:.2%}" for run_ in runs)
        print(
            f"| {label} | {wall:.2f} | {train:.2f} | {cpu:.2f} | {worker} | {first:.2f} "
            f"| {accuracy} | {wall / plain:.2f} |"
        )
    sample = training[0][:10_000]
    distorted = augment(sample, np.random.default_rng(0))
    print(
        f"\nink pixels (non-zero) per image: {np.count_nonzero(sample) / len(sample):.0f} "
        f"plain, {np.count_nonzero(distorted) / len(sample):.0f} distorted "
        "(the sparse kernel's work)"
    )
    print(f"\nload gauge after: {matmul_gflops():.0f} GFLOP/s")


if __name__ == "__main__":  # the worker is a spawned process: it must not rerun this
    main()
