"""The digits command line: book-style output, saved models, defaults in help, one-line errors."""

import argparse
import re
import subprocess
import sys

import pytest
from support.cli import subcommand_parsers

from neuraldigits.cli import COMMANDS, HelpFormatter, main
from neuraldigits.modelfile import load
from neuraldigits.network import Network


def train(capsys, data, *argv):
    """`digits train --data DATA ARGV...`: exit code, stdout and stderr."""
    return run(capsys, "train", "--data", str(data), *argv)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_lists_every_command_and_every_default(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out
    formatter = HelpFormatter("digits")
    for parser in subcommand_parsers():
        for action in parser._actions:
            if not action.option_strings or action.help == argparse.SUPPRESS:
                continue
            assert action.help, f"{parser.prog} {action.option_strings[0]} has no help"
            if action.default not in (None, False, argparse.SUPPRESS):
                shown = formatter._get_help_string(action)
                assert "default" in shown, f"{parser.prog} {action.option_strings[0]}: no default"


def test_train_prints_book_lines_saves_and_evaluates(tiny_mnist_dir, tmp_path, capsys):
    model = tmp_path / "m.npz"
    code, out, err = train(
        capsys,
        tiny_mnist_dir,
        "--sizes",
        "784,20,10",
        "--epochs",
        "3",
        "--seed",
        "1",
        "--out",
        str(model),
    )
    assert code == 0, err
    lines = [line for line in out.splitlines() if line.startswith("Epoch")]
    assert len(lines) == 3
    assert all(re.match(rf"Epoch {i}: \d+ / 200 ", line) for i, line in enumerate(lines))
    assert "seed 1" in out and str(model) in out
    net = load(model)
    assert net.sizes == [784, 20, 10]
    assert net.metadata["training"]["seed"] == 1 and len(net.metadata["history"]) == 3
    code, out, _ = run(capsys, "evaluate", str(model), "--data", str(tiny_mnist_dir))
    assert code == 0 and re.fullmatch(r"\d+ / 200  \(\d+\.\d\d %\)\n", out)


def test_same_seed_same_lines(tiny_mnist_dir, tmp_path, capsys):
    def epochs(out):
        return [line.rsplit(",", 1)[0] for line in out.splitlines() if line.startswith("Epoch")]

    args = [
        "train",
        "--data",
        str(tiny_mnist_dir),
        "--sizes",
        "784,10,10",
        "--epochs",
        "2",
        "--seed",
        "5",
        "--out",
        str(tmp_path / "m.npz"),
    ]
    assert epochs(run(capsys, *args)[1]) == epochs(run(capsys, *args)[1])


def test_chance_level_accuracy_warns(tiny_mnist_dir, tmp_path, capsys):
    code, _, err = train(
        capsys,
        tiny_mnist_dir,
        "--sizes",
        "784,10,10",
        "--epochs",
        "1",
        "--eta",
        "1e-9",
        "--seed",
        "0",
        "--out",
        str(tmp_path / "m.npz"),
    )
    assert code == 0 and "chance level" in err and "--eta" in err


def test_ctrl_c_keeps_the_best_model_so_far(tiny_mnist_dir, tmp_path, capsys, monkeypatch):
    real_sgd = Network.sgd

    def interrupted_sgd(self, *args, callback=None, **kwargs):
        calls = []

        def stop_after_two(result):
            callback(result)
            calls.append(result)
            if len(calls) == 2:
                raise KeyboardInterrupt

        return real_sgd(self, *args, callback=stop_after_two, **kwargs)

    monkeypatch.setattr(Network, "sgd", interrupted_sgd)
    model = tmp_path / "m.npz"
    code, out, err = train(
        capsys,
        tiny_mnist_dir,
        "--sizes",
        "784,10,10",
        "--epochs",
        "30",
        "--seed",
        "0",
        "--out",
        str(model),
    )
    assert code == 130 and "Interrupted after 2 epochs" in err
    meta = load(model).metadata
    assert meta["interrupted"] is True and len(meta["history"]) == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--sizes", "784,x,10"], "comma-separated layer sizes"),
        (["train", "--epochs", "0"], "positive whole number"),
        (["train", "--eta", "-3"], "positive finite number"),
        (["train", "--mini-batch-size", "ten"], "whole number"),
        (["train", "--momentum", "1"], "from 0 up to (not including) 1"),
        (["train", "--lmbda", "-1"], "non-negative finite number"),
        (["train", "--cost", "hinge"], "invalid choice: 'hinge'"),
        (["train", "--early-stop", "0"], "positive whole number"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_user_errors_are_one_line_without_traceback(tiny_mnist_dir, tmp_path, capsys):
    code, _, err = run(capsys, "train", "--data", str(tmp_path / "nowhere"))
    assert code == 1 and err.startswith("digits train: error: MNIST data not found")
    code, _, err = run(capsys, "train", "--data", str(tiny_mnist_dir), "--sizes", "100,10")
    assert code == 1 and "input layer must have 784" in err and len(err.splitlines()) == 1
    code, _, err = run(
        capsys, "evaluate", str(tmp_path / "none.npz"), "--data", str(tiny_mnist_dir)
    )
    assert code == 1 and "model file not found" in err and "Traceback" not in err


def test_console_script_entry_point_runs(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "neuraldigits.cli", "evaluate", str(tmp_path / "x.npz")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr


def test_train_runs_chapter_3_and_records_its_settings(tiny_mnist_dir, tmp_path, capsys):
    model = tmp_path / "ch3.npz"
    code, out, _ = train(
        capsys, tiny_mnist_dir, "--epochs", "40", "--seed", "2", "--eta", "0.5",
        "--cost", "cross-entropy", "--init", "scaled", "--lmbda", "5", "--momentum", "0.5",
        "--eta-schedule", "1", "--out", str(model),
    )  # fmt: skip
    assert code == 0
    first = out.splitlines()[1]
    assert first.endswith(
        "seed 2, cross-entropy cost, scaled init, lmbda 5.0, momentum 0.5, "
        "eta halved after 1 epoch without improvement"
    )
    assert "Stopped after epoch" in out and "η lowered to 0.25" in out
    net = load(model)
    meta = net.metadata
    assert net.cost.name == "cross-entropy"
    assert {k: meta["training"][k] for k in ("cost", "init", "lmbda", "momentum")} == {
        "cost": "cross-entropy", "init": "scaled", "lmbda": 5.0, "momentum": 0.5,
    }  # fmt: skip
    assert meta["training"]["stopped"] == "η fell to η₀/128 = 0.00390625"
    assert [epoch["eta"] for epoch in meta["history"]][:2] == [0.5, 0.5]
    assert len(meta["history"]) < 40
