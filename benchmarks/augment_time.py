"""What `digits train --augment [COPIES]` spends making its distorted copies.

    python benchmarks/augment_time.py --data /path/to/mnist [--copies 1 3] [--repeats 3]

Times :func:`neuraldigits.images.augment.augmented` exactly as ``digits train``
calls it (``cli/train.py``'s ``_augment``: the 50,000 float32 training images,
a generator seeded from the run's seed), on one core (BLAS on one thread), the
fastest of ``--repeats`` for each number of copies, and prints the seconds per
copy that docs/predict.md quotes; beside it, :func:`~neuraldigits.images.augment.augment`
alone on the images as bytes (the distortions without the conversions from and
to floats and the joining of the copies).  Training on the bigger set then costs
each epoch (1 + COPIES) times a plain one's, which the epoch lines show.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from neuraldigits.data.sources import load_data
from neuraldigits.images.augment import augment, augmented
from neuraldigits.training.bench import machine, matmul_gflops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="MNIST directory (default: as digits)")
    parser.add_argument("--copies", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = load_data(args.data, download=False)
    training = data.training
    print(f"machine: {machine()}")
    print(f"load gauge before: {matmul_gflops():.0f} GFLOP/s single-precision matmul")
    print(f"data: {data.source}")
    with threadpool_limits(1):
        pixels = (training[0] * 255).round().astype(np.uint8)
        alone = []
        for repeat in range(args.repeats):
            start = time.perf_counter()
            augment(pixels, np.random.default_rng([repeat, 1]))
            alone.append(time.perf_counter() - start)
        print(
            f"augment() alone: {min(alone):.2f} s for {len(pixels):,} images as bytes, "
            f"fastest of {args.repeats}"
        )
        for copies in args.copies:
            times = []
            for repeat in range(args.repeats):
                rng = np.random.default_rng([repeat, 1])  # as train: default_rng([seed, 1])
                start = time.perf_counter()
                images, _ = augmented(training, copies, rng)
                times.append(time.perf_counter() - start)
            best = min(times)
            print(
                f"--augment {copies}: {best:.2f} s for {copies} cop{'y' if copies == 1 else 'ies'} "
                f"of {len(training[1]):,} images ({best / copies:.2f} s per copy; "
                f"{len(images):,} images to train on), fastest of {args.repeats}"
            )
    print(f"load gauge after: {matmul_gflops():.0f} GFLOP/s")


if __name__ == "__main__":
    main()
