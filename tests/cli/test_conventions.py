"""Command-line conventions: python -m, -q/-v, completion, info, the default model's guard,
plurals, settings checked first, download failures said once."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from neuraldigits.cli import main
from neuraldigits.cli.completion import SHELLS
from neuraldigits.locations import MODEL_ENV
from neuraldigits.modelfile import load
from neuraldigits.wording import plural


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def train(capsys, data, *argv):
    return run(capsys, "train", "--data", str(data), "--sizes", "784,10,10", "--seed", "1", *argv)


def test_python_dash_m_neuraldigits_is_the_digits_command():
    result = subprocess.run(
        [sys.executable, "-m", "neuraldigits", "--help"], capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: digits ") and "completion" in result.stdout


@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_prints_only_the_results(tiny_mnist_dir, tmp_path, capsys, where):
    argv = ["train", "--data", str(tiny_mnist_dir), "--out", str(tmp_path / "m.npz")]
    argv += ["--epochs", "2", "--seed", "1"]
    argv = ["-q", *argv] if where == "before" else [*argv, "--quiet"]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 2 and err == ""
    assert lines[0].startswith("Best test accuracy: ") and lines[1].startswith("Saved the model")


def test_verbose_adds_details_on_stderr(tiny_mnist_dir, capsys):
    code, out, err = run(capsys, "evaluate", "reader", "--data", str(tiny_mnist_dir), "-v")
    assert code == 0
    assert "digits evaluate: model " in err and "digits evaluate: data: IDX files in" in err
    assert re.search(r"finished in \d+\.\d s", err)
    assert re.fullmatch(r"\d+ / 200  \(\d+\.\d\d %\)\n", out)


def test_quiet_after_a_nested_action_keeps_the_results(capsys):
    code, out, err = run(capsys, "data", "info", "-q")
    assert code == 0 and out.startswith("Data is looked for in these places") and err == ""


def test_quiet_and_verbose_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as e:
        main(["evaluate", "-q", "-v"])
    assert e.value.code == 2 and "not allowed with" in capsys.readouterr().err


@pytest.mark.parametrize("shell", SHELLS)
def test_completion_script_for_each_shell(shell, capsys):
    code, out, _ = run(capsys, "completion", shell)
    assert code == 0
    for word in ("train", "evaluate", "predict", "mini-batch-size", "recursive"):
        assert word in out, (shell, word)


def test_info_describes_a_trained_model(tiny_mnist_dir, tmp_path, capsys):
    model = tmp_path / "m.npz"
    assert train(capsys, tiny_mnist_dir, "--epochs", "1", "--out", str(model))[0] == 0
    code, out, _ = run(capsys, "info", str(model))
    assert code == 0
    assert "Network: [784, 10, 10], 7,960 parameters (7,940 weights, 20 biases)" in out
    assert "quadratic cost, large init" in out
    assert f"Data: IDX files in {tiny_mnist_dir}" in out
    assert "History: 1 epoch (ran to the end)" in out and "Saved epoch 0: validation" in out


def test_info_without_a_model_describes_the_shipped_reader(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(MODEL_ENV, str(tmp_path / "none.npz"))
    code, out, err = run(capsys, "info")
    assert code == 0 and "using the shipped reader" in err
    assert "(the shipped reader)" in out and "recipe reader" in out


def test_train_keeps_a_better_default_model_unless_forced(
    tiny_mnist_dir, tmp_path, monkeypatch, capsys
):
    default = tmp_path / "model.npz"
    monkeypatch.setenv(MODEL_ENV, str(default))
    code, out, _ = train(capsys, tiny_mnist_dir, "--epochs", "3")
    assert code == 0 and f"to {default}" in out and "Replaced" not in out
    good = load(default).metadata["history"]

    # η = 100 ruins the network: the good model stays, the new one goes beside it.
    code, out, _ = train(capsys, tiny_mnist_dir, "--epochs", "1", "--eta", "100")
    assert code == 0
    assert load(default).metadata["history"] == good
    beside = [p for p in tmp_path.iterdir() if re.fullmatch(r"model-\d{8}-\d{6}\.npz", p.name)]
    assert len(beside) == 1 and load(beside[0]).metadata["training"]["eta"] == 100
    assert out.splitlines()[-1].startswith(f"Kept your model {default} (validation ")
    assert "--force replaces it" in out and f"to {beside[0]}" in out

    code, out, _ = train(capsys, tiny_mnist_dir, "--epochs", "1", "--eta", "100", "--force")
    assert code == 0 and out.splitlines()[-1].startswith(f"Replaced your model {default}")
    assert load(default).metadata["training"]["eta"] == 100

    code, out, _ = train(capsys, tiny_mnist_dir, "--epochs", "3")  # better again: replaces
    assert "this run's" in out.splitlines()[-1] and "as good or better" in out


def test_interrupted_after_one_epoch_is_singular(tiny_mnist_dir, tmp_path, monkeypatch, capsys):
    from neuraldigits.cli import train as train_module

    real = train_module._Tracker.after_epoch

    def stop_after_first(self, r):
        real(self, r)
        raise KeyboardInterrupt

    monkeypatch.setattr(train_module._Tracker, "after_epoch", stop_after_first)
    code, _, err = train(capsys, tiny_mnist_dir, "--epochs", "3", "--out", str(tmp_path / "m.npz"))
    assert code == 130 and "Interrupted after 1 epoch;" in err
    code, out, _ = train(capsys, tiny_mnist_dir, "--epochs", "3", "--out", str(tmp_path / "m.npz"),
                         "--json")  # fmt: skip
    document = json.loads(out)  # an interrupted run still reports what it saved
    assert code == 130 and document["interrupted"] is True and len(document["epochs"]) == 1


def test_plural():
    assert plural(1, "epoch") == "1 epoch" and plural(2, "epoch") == "2 epochs"
    assert plural(0, "mirror") == "0 mirrors" and plural(1_000, "image") == "1,000 images"
    assert plural(1, "distorted copy", "distorted copies") == "1 distorted copy"
    assert plural(3, "distorted copy", "distorted copies") == "3 distorted copies"


def test_a_bad_thread_setting_is_reported_before_any_data_loads(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NEURALDIGITS_THREADS", "two")
    code, _, err = run(capsys, "train", "--data", str(tmp_path / "nowhere"))
    assert code == 1 and "NEURALDIGITS_THREADS must be a whole number" in err
    assert "not found" not in err  # the data was never looked for


def test_download_failures_are_printed_once(tmp_path, capsys):
    code, out, err = run(
        capsys, "data", "download", "--dir", str(tmp_path), "--mirror", "http://127.0.0.1:9/",
        "--timeout", "5",
    )  # fmt: skip
    assert code == 1 and out == ""
    assert err.count("127.0.0.1:9/train-images-idx3-ubyte.gz") == 1
    assert "from any of 1 mirror (each attempt is listed above)" in err
