"""recipes.py: training settings by name, and `digits train --recipe`."""

import numpy as np
import pytest
from support.data import digits

from neuraldigits.cli import build_parser, main
from neuraldigits.modelfile import load
from neuraldigits.recipes import RECIPES, fit, network, train


def test_the_book_recipe_is_digits_trains_default():
    """`digits train` with no options is chapter 1's recipe: the parser's defaults are it."""
    args = build_parser().parse_args(["train"])
    book = RECIPES["book"]
    assert args.sizes[1:-1] == list(book.hidden) and args.recipe == "book"
    for option in ("epochs", "mini_batch_size", "eta", "cost", "init", "lmbda", "momentum",
                   "early_stop", "eta_schedule"):  # fmt: skip
        assert getattr(args, option) == getattr(book, option), option
    assert not book.distort


def test_the_reader_recipe_uses_chapter_3_and_fresh_distortions():
    reader = RECIPES["reader"]
    assert reader.cost == "cross-entropy" and reader.init == "scaled" and reader.distort
    assert reader.lmbda > 0 and 0 < reader.momentum < 1 and reader.eta_schedule
    parameters = sum((a + 1) * b for a, b in zip(reader.sizes[:-1], reader.sizes[1:]))
    assert parameters * 4 < 5_000_000  # float32 weights: the model file stays under 5 MB


def test_fit_with_distortions_trains_on_a_fresh_set_every_epoch():
    training, validation = digits(200, seed=1, dtype=np.uint8), digits(50, seed=2)
    recipe = RECIPES["reader"].__class__(**{**RECIPES["reader"].to_dict(), "hidden": (12,),
                                            "epochs": 2})  # fmt: skip
    net, history = train(recipe, training, validation, seed=3)
    twin = network(recipe, 3)
    again = fit(twin, recipe, training, validation, seed=3)
    assert [r.validation.correct for r in history] == [r.validation.correct for r in again]
    for a, b in zip(net.weights, twin.weights):
        np.testing.assert_array_equal(a, b)  # distortions drawn from the seed alone


def test_digits_train_recipe_reader_with_overrides(tiny_mnist_dir, tmp_path, capsys):
    model = tmp_path / "reader.npz"
    argv = ["train", "--recipe", "reader", "--data", str(tiny_mnist_dir), "--sizes", "784,16,10",
            "--epochs", "2", "--seed", "4", "--out", str(model)]  # fmt: skip
    assert main(argv) == 0
    first = capsys.readouterr().out.splitlines()[1]
    reader = RECIPES["reader"]
    assert first.startswith("Training [784, 16, 10] on 1,000 images: 2 epochs, mini-batch size ")
    assert f"eta {reader.eta}, seed 4, cross-entropy cost, scaled init" in first
    assert first.endswith("fresh distortions every epoch (recipe reader)")
    training = load(model).metadata["training"]
    assert training["recipe"] == "reader" and training["distort"] is True
    assert training["lmbda"] == reader.lmbda and training["momentum"] == reader.momentum


def test_an_option_given_at_the_book_value_still_overrides_the_recipe():
    """`--recipe reader --epochs 30 --mini-batch-size 10 --sizes 784,30,10` means those values,
    though they equal the parser's defaults; options not given take the recipe's."""
    from neuraldigits.cli.train import _recipe

    argv = ["train", "--recipe", "reader", "--epochs", "30", "--sizes", "784,30,10",
            "--cost", "quadratic"]  # fmt: skip
    recipe = _recipe(build_parser().parse_args(argv))
    reader = RECIPES["reader"]
    assert recipe.epochs == 30 and recipe.hidden == (30,) and recipe.cost == "quadratic"
    assert recipe.eta == reader.eta and recipe.momentum == reader.momentum
    assert recipe.eta_schedule == reader.eta_schedule and recipe.distort
    untouched = _recipe(build_parser().parse_args(["train", "--recipe", "reader"]))
    assert untouched == reader


def test_augment_is_refused_with_the_reader_recipe(tiny_mnist_dir, capsys):
    argv = ["train", "--recipe", "reader", "--augment", "--data", str(tiny_mnist_dir)]
    assert main(argv) == 1
    assert "already trains on fresh distortions" in capsys.readouterr().err


def test_unknown_recipe_is_refused(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--recipe", "best"])
    assert "invalid choice: 'best'" in capsys.readouterr().err
