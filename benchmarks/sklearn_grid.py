"""A grid search over η and hidden size on MNIST: NetworkClassifier beside MLPClassifier.

    python benchmarks/sklearn_grid.py --data /path/to/mnist [--train 20000] [--epochs 10]

Both estimators go through the same scikit-learn machinery on the same data:
``GridSearchCV(Pipeline([MinMaxScaler(), estimator]), grid, cv=3)`` on the first
``--train`` MNIST training images, then the best setting refitted on all of them
and scored on MNIST's 10,000 test images.  Each estimator trains ``--epochs``
passes over the data per fit:

* ``NetworkClassifier`` (the book's network: sigmoid neurons, quadratic cost,
  N(0, 1) weights, m = 10), grid η ∈ {0.5, 1, 3} × hidden ∈ {30, 100};
* the same with chapter 3's cross-entropy cost and N(0, 1/n_in) weights, grid
  η ∈ {0.1, 0.5, 1} × hidden ∈ {30, 100};
* scikit-learn's ``MLPClassifier`` with its defaults (ReLU, softmax + log-loss,
  Adam, mini-batches of 200), ``max_iter`` = epochs, grid learning_rate_init ∈
  {0.0003, 0.001, 0.003} × hidden ∈ {30, 100};
* ``MLPClassifier(solver="sgd", activation="logistic", batch_size=10,
  momentum=0)``, the book's SGD in scikit-learn's code (its loss is still
  log-loss with a softmax output), grid learning_rate_init ∈ {0.05, 0.1, 0.3}
  × hidden ∈ {30, 100}.

Prints the machine, a load gauge and a Markdown table per estimator (every grid
point's mean CV accuracy and fit seconds) and a summary; docs/sklearn.md
quotes them.  Fits run one at a time (``n_jobs=1``), so the seconds compare
the estimators, not the parallelism.  Ran 3 minutes (11 at its busiest) on the
shared 2 cores of docs/sklearn.md's table.
"""

from __future__ import annotations

import argparse
import time
import warnings

from sklearn import __version__ as sklearn_version
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler

from neuraldigits.data.mnist import load_mnist
from neuraldigits.sklearn import NetworkClassifier
from neuraldigits.training.bench import machine, matmul_gflops

HIDDEN = [(30,), (100,)]


def searches(epochs: int) -> dict[str, tuple[object, str, list[float]]]:
    """Name → (estimator, its learning-rate parameter, the values searched)."""
    return {
        "NetworkClassifier (book: sigmoid, quadratic cost, SGD m = 10)": (
            NetworkClassifier(epochs=epochs, random_state=0),
            "eta",
            [0.5, 1.0, 3.0],
        ),
        "NetworkClassifier, chapter 3 (cross-entropy, N(0, 1/n_in) weights)": (
            NetworkClassifier(epochs=epochs, cost="cross-entropy", init="scaled", random_state=0),
            "eta",
            [0.1, 0.5, 1.0],
        ),
        "MLPClassifier, defaults (ReLU, log-loss, Adam, batch 200)": (
            MLPClassifier(max_iter=epochs, random_state=0),
            "learning_rate_init",
            [0.0003, 0.001, 0.003],
        ),
        "MLPClassifier, solver='sgd', logistic, batch 10, no momentum": (
            MLPClassifier(
                solver="sgd",
                activation="logistic",
                batch_size=10,
                momentum=0.0,
                max_iter=epochs,
                random_state=0,
            ),
            "learning_rate_init",
            [0.05, 0.1, 0.3],
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="directory of the four MNIST IDX files")
    parser.add_argument("--train", type=int, default=20_000, help="training images searched on")
    parser.add_argument("--epochs", type=int, default=10, help="passes over the data per fit")
    args = parser.parse_args()
    training, _, test = load_mnist(args.data)
    X, y = training[0][: args.train], training[1][: args.train]
    print(machine())
    print(f"scikit-learn {sklearn_version}")
    print(f"load gauge before: {matmul_gflops():.0f} GFLOP/s single-precision matmul")
    print(
        f"\n{len(y):,} MNIST training images, 3-fold CV, {args.epochs} epochs per fit, "
        "MinMaxScaler in the pipeline; best refitted on all of them, scored on the 10,000 "
        "test images.\n"
    )
    summary = []
    started = time.perf_counter()
    for name, (estimator, rate, values) in searches(args.epochs).items():
        grid = GridSearchCV(
            Pipeline([("scale", MinMaxScaler()), ("net", estimator)]),
            {f"net__{rate}": values, "net__hidden_layer_sizes": HIDDEN},
            cv=3,
            n_jobs=1,
            refit=True,
        )
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter = epochs, on purpose
            grid.fit(X, y)
        seconds = time.perf_counter() - start
        accuracy = grid.score(*test)
        print(f"### {name}\n")
        print(f"| {rate} | hidden | mean CV accuracy | fit seconds (mean of 3) |")
        print("|---:|---:|---:|---:|")
        results = grid.cv_results_
        for params, score, fit_time in zip(
            results["params"], results["mean_test_score"], results["mean_fit_time"]
        ):
            print(
                f"| {params[f'net__{rate}']} | {params['net__hidden_layer_sizes'][0]} | "
                f"{100 * score:.2f} % | {fit_time:.2f} |"
            )
        best = grid.best_params_
        print()
        summary.append(
            f"| {name} | {rate} = {best[f'net__{rate}']}, hidden "
            f"{best['net__hidden_layer_sizes'][0]} | {100 * grid.best_score_:.2f} % | "
            f"{100 * accuracy:.2f} % | {seconds:.1f} |"
        )
    print("### Summary\n")
    print("| estimator | best setting | best mean CV accuracy | test accuracy (refit) "
          "| whole search, seconds (18 fits + refit) |")  # fmt: skip
    print("|---|---|---:|---:|---:|")
    print("\n".join(summary))
    print(
        f"\nload gauge after: {matmul_gflops():.0f} GFLOP/s; whole run "
        f"{time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
