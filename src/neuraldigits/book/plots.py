"""Pictures of a trained network: what it learnt, where it fails, how it got there.

Every function returns a :class:`matplotlib.figure.Figure` built directly,
never through ``pyplot``: no global figure registry, no GUI backend, nothing
left behind between calls.  In a notebook the figure a cell returns shows as a
picture, inline, without ``%matplotlib`` or pyplot.  :func:`save_figure` writes
one atomically as PNG or SVG.  Needs the ``plot`` extra (matplotlib).

* :func:`learning_curve` — test/validation accuracy and cost per epoch;
* :func:`hidden_weights` — each hidden neuron's weights as a 28×28 picture,
  the book's "a way to think about the hidden layer";
* :func:`misclassified` — test digits the network gets wrong;
* :func:`confusion_matrix` — which digits it mistakes for which;
* :func:`gd_vs_sgd` — the curves of :mod:`neuraldigits.book.experiments.gd_vs_sgd`.
"""

from __future__ import annotations

import functools
import io
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..atomic import atomic_write
from ..errors import NeuralDigitsError
from ..extras import install_hint
from ..geometry import PIXELS, SIDE
from ..network import Dataset
from ..wording import plural

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..network import Network
    from .experiments.gd_vs_sgd import GdVsSgdResult

DPI = 100
# Figure sizes in inches; at DPI they give the pixel sizes the tests check.
SIZES = {
    "learning_curve": (10.0, 4.5),
    "hidden_weights": (10.0, 8.0),
    "misclassified": (10.0, 8.0),
    "confusion_matrix": (7.5, 6.5),
    "gd_vs_sgd": (10.0, 8.0),
}
FORMATS = ("png", "svg")
DIVERGING = "RdBu_r"  # red for positive weights, blue for negative, white at 0


def require_matplotlib() -> None:
    """Raise a clear error now, rather than after a long run, if matplotlib is missing."""
    try:
        import matplotlib.figure  # noqa: F401
    except ImportError:
        raise NeuralDigitsError(
            f"plotting needs matplotlib, the plot extra: {install_hint('plot')}"
        ) from None


def _new_figure(kind: str) -> Figure:
    require_matplotlib()
    # A bare Figure renders with the Agg canvas (or SVG on save) and is not
    # registered with pyplot, so it is freed like any other object.
    return _inline_figure_class()(figsize=SIZES[kind], dpi=DPI, layout="constrained")


@functools.cache
def _inline_figure_class() -> type[Figure]:
    """A Figure that IPython shows as a PNG (a bare Figure, never given to pyplot, shows
    as ``<Figure size 1000x450 with 2 Axes>``); made on first use, as matplotlib is optional."""
    from matplotlib.figure import Figure

    class InlineFigure(Figure):
        def _repr_png_(self) -> bytes:
            buffer = io.BytesIO()
            self.savefig(buffer, format="png", dpi=DPI, metadata=_metadata("png"))
            return buffer.getvalue()

    return InlineFigure


def pixel_size(kind: str) -> tuple[int, int]:
    """(width, height) in pixels of a saved PNG of figure ``kind``."""
    width, height = SIZES[kind]
    return round(width * DPI), round(height * DPI)


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Write ``fig`` to ``path`` atomically, as PNG or SVG by the file's suffix."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise NeuralDigitsError(f"{path}: can only save {' or '.join(FORMATS)} figures")
    # SVG text stays text (searchable, small) rather than paths.
    rc = {"svg.fonttype": "none", "svg.hashsalt": "neuraldigits"}
    from matplotlib import rc_context

    with rc_context(rc), atomic_write(path) as f:
        fig.savefig(f, format=fmt, dpi=DPI, metadata=_metadata(fmt))
    return path


def _metadata(fmt: str) -> dict[str, Any]:
    # No creation dates, so regenerating an unchanged figure gives identical bytes.
    return {"Software": None} if fmt == "png" else {"Date": None, "Creator": None}


# ---------------------------------------------------------------------- learning curve


def learning_curve(history: Sequence[Any], title: str = "Learning curve") -> Figure:
    """Accuracy and cost per epoch from a training history.

    ``history``: per-epoch records as saved in a model's metadata (dicts with
    ``epoch``, ``test`` and ``validation`` each ``{correct, total, cost}``) or
    :class:`~neuraldigits.network.EpochResult` objects.
    """
    records = [r.to_dict() if hasattr(r, "to_dict") else r for r in history]
    if not records:
        raise NeuralDigitsError("the model has no training history to plot")
    fig = _new_figure("learning_curve")
    acc_ax, cost_ax = fig.subplots(1, 2)
    for key, style in (("test", "-o"), ("validation", "--s")):
        points = [(r["epoch"], r[key]) for r in records if r.get(key)]
        if not points:
            continue
        epochs = [e for e, _ in points]
        acc_ax.plot(
            epochs, [100 * s["correct"] / s["total"] for _, s in points], style, ms=3, label=key
        )
        cost_ax.plot(epochs, [s["cost"] for _, s in points], style, ms=3, label=key)
    acc_ax.set(title="Classification accuracy", xlabel="epoch", ylabel="accuracy (%)")
    cost_ax.set(title="Quadratic cost C", xlabel="epoch", ylabel="mean cost per image")
    for ax in (acc_ax, cost_ax):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    return fig


# ---------------------------------------------------------------------- hidden weights


def hidden_weights(net: Network, max_neurons: int = 100) -> Figure:
    """The first layer's weights, one 28×28 picture per hidden neuron.

    Each picture shows which pixels push that neuron on (red) or off (blue);
    one symmetric colour scale for all, centred at 0, so white is "no opinion".
    """
    weights = np.asarray(net.weights[0], dtype=np.float64)[:max_neurons]
    side = math.isqrt(weights.shape[1])
    if side * side != weights.shape[1]:
        raise NeuralDigitsError(
            f"cannot draw {weights.shape[1]} input weights as a square image; "
            f"expected a square number of pixels such as {PIXELS} = {SIDE}×{SIDE}"
        )
    limit = float(np.percentile(np.abs(weights), 99)) or 1.0
    fig = _new_figure("hidden_weights")
    axes = _grid(fig, len(weights))
    image = None
    for k, ax in enumerate(axes):
        image = ax.imshow(weights[k].reshape(side, side), cmap=DIVERGING, vmin=-limit, vmax=limit)
        ax.set_title(f"neuron {k}", fontsize=7, pad=2)
    fig.colorbar(image, ax=axes, shrink=0.6, label="weight (colours clipped at the 99th %ile)")
    layer = "hidden" if len(net.sizes) > 2 else "output"
    fig.suptitle(
        f"What the {net.sizes[1]} {layer} neurons look for: input weights of each, "
        "red = ink here excites, blue = ink here inhibits"
    )
    return fig


def _grid(fig: Figure, n: int) -> list:
    """n axes in a near-square grid, without ticks."""
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    axes = list(np.atleast_1d(fig.subplots(rows, cols)).ravel())
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[n:]:
        ax.set_visible(False)
    return axes[:n]


# ---------------------------------------------------------------------- mistakes


def misclassified(
    net: Network, test: Dataset, max_digits: int = 36, test_name: str = "test digits"
) -> Figure:
    """A grid of the first ``max_digits`` test digits the network gets wrong.

    ``test_name`` names the digits in the title (e.g. the offline sample's).
    """
    images, labels = test
    predicted = net.predict(images)
    wrong = np.flatnonzero(predicted != labels)
    fig = _new_figure("misclassified")
    side = math.isqrt(images.shape[1])
    shown = wrong[:max_digits]
    for ax, i in zip(_grid(fig, max(len(shown), 1)), shown):
        ax.imshow(np.asarray(images[i]).reshape(side, side), cmap="gray_r")
        ax.set_title(f"#{i}: true {labels[i]}, said {predicted[i]}", fontsize=8, pad=2)
    fig.suptitle(
        f"Misclassified {test_name}: {len(wrong):,} of {len(labels):,} wrong "
        f"({100 * len(wrong) / max(len(labels), 1):.2f} %); the first {len(shown)} shown"
    )
    return fig


def confusion_counts(labels: NDArray, predicted: NDArray, num_classes: int = 10) -> NDArray:
    """counts[t, p] = how many digits of true class t were predicted as p: (C, C) ints."""
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(labels), np.asarray(predicted)), 1)
    return counts


def confusion_matrix(net: Network, test: Dataset, test_name: str = "test digits") -> Figure:
    """Rows the true digit, columns the network's answer, each cell a count."""
    images, labels = test
    n_classes = net.sizes[-1]
    counts = confusion_counts(labels, net.predict(images), n_classes)
    fig = _new_figure("confusion_matrix")
    ax = fig.subplots()
    # Log colours so the mistakes (tens) show beside the diagonal (thousands).
    shown = ax.imshow(np.log1p(counts), cmap="Blues")
    for (t, p), count in np.ndenumerate(counts):
        if count:
            dark = shown.norm(np.log1p(count)) > 0.6
            ax.text(
                p,
                t,
                str(count),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if dark else "black",
            )
    ticks = range(n_classes)
    ax.set(xticks=ticks, yticks=ticks, xlabel="predicted digit", ylabel="true digit")
    correct = int(np.trace(counts))
    ax.set_title(
        f"Confusion matrix on {len(labels):,} {test_name} ({correct:,} right); "
        "off-diagonal cells are mistakes",
        fontsize=10,
    )
    return fig


# ---------------------------------------------------------------------- GD vs SGD


def gd_vs_sgd(result: GdVsSgdResult) -> Figure:
    """Cost and accuracy against gradient evaluations and against training time."""
    fig = _new_figure("gd_vs_sgd")
    axes = fig.subplots(2, 2)
    n = result.training_examples
    for curve, style in ((result.sgd, "-"), (result.gd, "-o")):
        pts = curve.points
        epochs = [p.gradient_evaluations / n for p in pts]
        seconds = [p.seconds for p in pts]
        for row, values in ((0, [p.cost for p in pts]), (1, [100 * p.accuracy for p in pts])):
            axes[row][0].plot(epochs, values, style, ms=3, label=curve.name)
            axes[row][1].plot(seconds, values, style, ms=3, label=curve.name)
    for col, xlabel in enumerate(
        ("gradient evaluations (in epochs: units of n training examples)", "training time (s)")
    ):
        axes[0][col].set(ylabel="training cost C", xlabel=xlabel)
        axes[1][col].set(ylabel="test accuracy (%)", xlabel=xlabel)
    axes[0][0].set_title("Same number of gradient evaluations")
    axes[0][1].set_title("Same wall time")
    for ax in np.ravel(axes):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    sizes = ",".join(map(str, result.sizes))
    fig.suptitle(
        f"Full-batch gradient descent vs mini-batch SGD: [{sizes}], η = {result.eta}, "
        f"{plural(result.epochs, 'epoch')} of {n:,} examples"
    )
    return fig


# ---------------------------------------------------------------------- all of a model


def plot_model(
    net: Network,
    test: Dataset,
    out_dir: str | os.PathLike[str],
    formats: Iterable[str] = FORMATS,
    test_name: str = "test digits",
) -> list[Path]:
    """Save every picture of ``net`` into ``out_dir``; return the paths written.

    The learning curve needs the training history in ``net.metadata`` and is
    skipped without one (a model saved by other means).  ``test_name`` names
    ``test`` in the titles, so a figure of the offline sample says so.
    """
    out_dir = Path(out_dir)
    figures = {}
    history = net.metadata.get("history")
    if history:
        figures["learning_curve"] = learning_curve(history, _title(net))
    figures["hidden_weights"] = hidden_weights(net)
    figures["misclassified"] = misclassified(net, test, test_name=test_name)
    figures["confusion_matrix"] = confusion_matrix(net, test, test_name=test_name)
    written = []
    for name, fig in figures.items():
        for fmt in formats:
            written.append(save_figure(fig, out_dir / f"{name}.{fmt}"))
    return written


def _title(net: Network) -> str:
    settings = net.metadata.get("training") or {}
    parts = [f"Learning curve of [{', '.join(map(str, net.sizes))}]"]
    if "eta" in settings:
        parts.append(f"η = {settings['eta']}")
    if "mini_batch_size" in settings:
        parts.append(f"mini-batch size {settings['mini_batch_size']}")
    return ", ".join(parts)
