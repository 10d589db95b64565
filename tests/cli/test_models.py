"""The shipped reader, and how commands choose a model (cli.common.resolve_model)."""

from pathlib import Path

import pytest
from PIL import Image

from neuraldigits import models
from neuraldigits.cli import main
from neuraldigits.errors import ModelFileError
from neuraldigits.modelfile import load
from neuraldigits.models import shipped_model


@pytest.fixture
def seven(tmp_path) -> Path:
    """A dark 7 drawn on light paper."""
    image = Image.new("L", (120, 160), 230)
    for x in range(20, 100):
        for y in range(20, 30):
            image.putpixel((x, y), 20)  # the bar
    for k in range(110):
        x, y = 95 - k * 0.45, 30 + k
        for dx in range(-5, 6):
            image.putpixel((int(x) + dx, int(y)), 20)  # the stem
    path = tmp_path / "seven.png"
    image.save(path)
    return path


def test_the_reader_ships_with_its_recipe_and_seed():
    reader = load(shipped_model("reader"))
    assert reader.sizes == [784, 800, 10] and reader.cost.name == "cross-entropy"
    training = reader.metadata["training"]
    assert training["recipe"] == "reader" and isinstance(training["seed"], int)
    assert Path(shipped_model("reader")).stat().st_size < 5_000_000


def test_predict_without_a_model_of_yours_uses_the_reader(seven, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NEURALDIGITS_MODEL", str(tmp_path / "none.npz"))
    assert main(["predict", str(seven)]) == 0
    captured = capsys.readouterr()
    assert "digits predict: using the shipped reader (no model of yours at" in captured.err
    assert captured.out.startswith(f"{seven}: 7 ")


def test_reader_can_be_named_where_a_model_goes(seven, tiny_mnist_dir, capsys):
    assert main(["predict", "reader", str(seven)]) == 0
    assert capsys.readouterr().out.startswith(f"{seven}: 7 ")
    assert main(["evaluate", "reader", "--data", str(tiny_mnist_dir)]) == 0
    assert " / 200" in capsys.readouterr().out


def test_unknown_or_missing_shipped_models_are_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(ModelFileError, match="no shipped model named 'writer'; shipped: reader"):
        shipped_model("writer")
    monkeypatch.setattr(models.resources, "files", lambda package: tmp_path)
    with pytest.raises(ModelFileError, match="missing from this installation.*--recipe reader"):
        shipped_model("reader")
