"""Every picture renders: a non-empty PNG of the expected size, a valid SVG, atomically."""

import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image
from support.data import synthetic_digits

from neuraldigits.book import plots
from neuraldigits.cli import main
from neuraldigits.errors import NeuralDigitsError
from neuraldigits.modelfile import save
from neuraldigits.network import Network


@pytest.fixture(scope="module")
def trained():
    """A [784, 16, 10] net trained briefly on synthetic digits, with its history."""
    images, labels = synthetic_digits(600, seed=1)
    training = (images.reshape(600, -1), labels.astype(np.int64))
    images, labels = synthetic_digits(200, seed=2)
    test = (images.reshape(200, -1), labels.astype(np.int64))
    net = Network([784, 16, 10], seed=3)
    history = net.sgd(training, 2, 10, 3.0, test_data=test, validation_data=test)
    net.metadata["history"] = [r.to_dict() for r in history]
    net.metadata["training"] = {"eta": 3.0, "mini_batch_size": 10}
    return net, test


def assert_png(path, kind):
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == plots.pixel_size(kind)
        pixels = np.asarray(image.convert("L"))
    # Not blank: plenty of ink and many grey levels, not one flat colour.
    assert (pixels < 128).mean() > 0.005
    assert len(np.unique(pixels)) > 20


def assert_svg(path):
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    assert len(list(root.iter())) > 50


def figures(net, test):
    return {
        "learning_curve": plots.learning_curve(net.metadata["history"]),
        "hidden_weights": plots.hidden_weights(net),
        "misclassified": plots.misclassified(net, test),
        "confusion_matrix": plots.confusion_matrix(net, test),
    }


@pytest.mark.parametrize(
    "kind", ["learning_curve", "hidden_weights", "misclassified", "confusion_matrix"]
)
def test_each_figure_renders_png_and_svg(kind, trained, tmp_path):
    fig = figures(*trained)[kind]
    assert_png(plots.save_figure(fig, tmp_path / f"{kind}.png"), kind)
    assert_svg(plots.save_figure(fig, tmp_path / f"{kind}.svg"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{kind}.png", f"{kind}.svg"]


def test_learning_curve_accepts_epoch_results(trained):
    net, test = trained
    fig = plots.learning_curve(net.metadata["history"])
    acc_ax = fig.axes[0]
    test_line = acc_ax.get_lines()[0]
    expected = [100 * r["test"]["correct"] / r["test"]["total"] for r in net.metadata["history"]]
    np.testing.assert_allclose(test_line.get_ydata(), expected)


def test_hidden_weights_centres_the_colour_map_at_zero(trained):
    fig = plots.hidden_weights(trained[0])
    image = fig.axes[0].get_images()[0]
    low, high = image.get_clim()
    assert low == -high and high > 0
    assert image.get_cmap().name == plots.DIVERGING
    # One picture per hidden neuron (16), plus the colour bar.
    assert sum(1 for ax in fig.axes if ax.get_images()) == 16


def test_misclassified_titles_name_true_and_predicted_digits(trained):
    net, test = trained
    fig = plots.misclassified(net, test)
    predicted = net.predict(test[0])
    wrong = np.flatnonzero(predicted != test[1])
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible() and ax.get_images()]
    assert len(titles) == min(len(wrong), 36)
    for title, i in zip(titles, wrong):
        assert title == f"#{i}: true {test[1][i]}, said {predicted[i]}"


def test_confusion_counts():
    counts = plots.confusion_counts(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 2, 0]), 3)
    np.testing.assert_array_equal(counts, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])


def test_non_square_inputs_cannot_be_drawn():
    with pytest.raises(NeuralDigitsError, match="square number of pixels"):
        plots.hidden_weights(Network([10, 3, 2], seed=0))


def test_empty_history_is_an_error():
    with pytest.raises(NeuralDigitsError, match="no training history"):
        plots.learning_curve([])


def test_unknown_format_is_an_error_and_writes_nothing(trained, tmp_path):
    fig = plots.confusion_matrix(*trained)
    with pytest.raises(NeuralDigitsError, match="png or svg"):
        plots.save_figure(fig, tmp_path / "matrix.jpg")
    assert list(tmp_path.iterdir()) == []


def test_plotting_leaves_no_pyplot_figures(trained):
    figures(*trained)
    pyplot = sys.modules.get("matplotlib.pyplot")
    assert pyplot is None or pyplot.get_fignums() == []


def test_without_matplotlib_says_which_extra_to_install(monkeypatch, trained):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(NeuralDigitsError, match="the plot extra"):
        plots.confusion_matrix(*trained)


def test_plot_model_without_history_skips_the_learning_curve(trained, tmp_path):
    net, test = trained
    bare = net.copy()
    bare.metadata = {}
    written = plots.plot_model(bare, test, tmp_path, formats=("png",))
    assert [p.name for p in written] == [
        "hidden_weights.png",
        "misclassified.png",
        "confusion_matrix.png",
    ]


def test_cli_plot_writes_every_picture(trained, tiny_mnist_dir, tmp_path, capsys):
    net, _ = trained
    model = save(net, tmp_path / "model.npz", history=net.metadata["history"])
    out = tmp_path / "pictures"
    assert main(["plot", str(model), "--data", str(tiny_mnist_dir), "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    kinds = ["confusion_matrix", "hidden_weights", "learning_curve", "misclassified"]
    assert names == sorted(f"{k}.{f}" for k in kinds for f in ("png", "svg"))
    for kind in kinds:
        assert_png(out / f"{kind}.png", kind)
    assert str(out / "learning_curve.png") in capsys.readouterr().out


def test_cli_plot_missing_model_is_one_clear_error(tmp_path, capsys):
    assert main(["plot", str(tmp_path / "none.npz"), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("digits plot: error:") and "model file not found" in err
    assert not (tmp_path / "o").exists()


def test_cli_plot_rejects_an_unknown_format(capsys):
    with pytest.raises(SystemExit) as e:
        main(["plot", "--format", "png,gif"])
    assert e.value.code == 2
    assert "expected a comma-separated list of png, svg" in capsys.readouterr().err


def test_cli_plot_model_and_data_must_fit(tiny_mnist_dir, tmp_path, capsys):
    model = save(Network([100, 5, 10], seed=0), tmp_path / "small.npz")
    assert main(["plot", str(model), "--data", str(tiny_mnist_dir), "--out", str(tmp_path)]) == 1
    assert "the model takes 100 inputs but the data's images have 784" in capsys.readouterr().err


def test_positive_weights_are_drawn_red_as_the_title_and_the_pad_say():
    from matplotlib import colormaps

    excite, inhibit = colormaps[plots.DIVERGING](1.0), colormaps[plots.DIVERGING](0.0)
    assert excite[0] > excite[2] and inhibit[2] > inhibit[0]


def test_a_notebook_shows_each_figure_inline(trained):
    """IPython shows an object by its _repr_png_ (a bare Figure only as text): each has one."""
    import io

    net, test = trained
    for kind, fig in figures(net, test).items():
        png = fig._repr_png_()
        assert_png(io.BytesIO(png), kind)
