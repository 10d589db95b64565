"""`digits predict`: the user's own pictures, one answer each."""

from __future__ import annotations

import argparse
import json
import os
import re
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from support import photos
from support.cli import subcommand_parsers

from neuraldigits.cli import HelpFormatter, main
from neuraldigits.cli.predict import split_model
from neuraldigits.images.preprocess import preprocess
from neuraldigits.images.showinput import CELL, GAP
from neuraldigits.modelfile import save
from neuraldigits.network import Network

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture
def model(tmp_path):
    """A saved random network: its answers are arbitrary but fixed, which is all we need."""
    net = Network([784, 16, 10], seed=3)
    return save(net, tmp_path / "model.npz"), net


@pytest.fixture
def pictures(tmp_path):
    """A directory of three drawn digits (PNG, JPEG, RGBA PNG) and a text file to skip."""
    directory = tmp_path / "pictures"
    directory.mkdir()
    rng = np.random.default_rng(0)
    photos.draw_digit(3, rng).save(directory / "a.png")
    photos.draw_digit(7, rng).convert("RGB").save(directory / "b.jpg", quality=90)
    photos.transparent(np.eye(28, dtype=np.uint8) * 255, rng).save(directory / "c.png")
    (directory / "notes.txt").write_text("not a picture")
    return directory


def expected(net: Network, path) -> tuple[int, np.ndarray]:
    outputs = net.feedforward(preprocess(path).pixels)
    return int(np.argmax(outputs)), outputs


def test_one_line_per_picture(model, pictures, capsys):
    path, net = model
    assert main(["predict", str(path), str(pictures / "a.png"), str(pictures / "b.jpg")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    for line, name in zip(lines, ("a.png", "b.jpg")):
        digit, outputs = expected(net, pictures / name)
        match = re.fullmatch(rf"{re.escape(str(pictures / name))}: (\d) \((\d\.\d\d)\)", line)
        assert match, line
        assert int(match[1]) == digit
        assert float(match[2]) == pytest.approx(outputs[digit], abs=0.005)


def test_json_lists_file_digit_and_the_ten_outputs(model, pictures, capsys):
    path, net = model
    assert main(["predict", str(path), str(pictures), "--json", "--top", "3"]) == 0
    entries = json.loads(capsys.readouterr().out)
    results = [r for r in entries if r["skipped"] is None]
    assert [r["file"] for r in results] == [str(pictures / n) for n in ("a.png", "b.jpg", "c.png")]
    skipped = "not a picture (suffix '.txt')"
    assert entries[-1] == {"file": str(pictures / "notes.txt"), "error": None, "skipped": skipped}
    for r in results:
        assert r["error"] is None
        digit, outputs = expected(net, r["file"])
        assert set(r) >= {"file", "digit", "outputs"}
        assert r["digit"] == digit
        assert len(r["outputs"]) == 10
        assert np.allclose(r["outputs"], outputs, atol=1e-5)
        assert [d for d, _ in r["top"]] == list(np.argsort(-outputs)[:3])
        assert r["blobs"] >= 1


def test_top_k_lines(model, pictures, capsys):
    path, _ = model
    assert main(["predict", str(path), str(pictures / "a.png"), "--top", "3"]) == 0
    line = capsys.readouterr().out.strip()
    assert re.fullmatch(r".*a\.png: \d \(\d\.\d\d\), \d \(\d\.\d\d\), \d \(\d\.\d\d\)", line)


def test_default_model_is_used_and_named(model, pictures, capsys, monkeypatch):
    path, _ = model
    monkeypatch.setenv("NEURALDIGITS_MODEL", str(path))
    assert main(["predict", str(pictures / "a.png")]) == 0
    captured = capsys.readouterr()
    assert f"digits predict: using your model {path}" in captured.err
    assert captured.out.startswith(str(pictures / "a.png") + ": ")


def test_missing_default_model_falls_back_and_says_how_to_get_one(
    pictures, capsys, monkeypatch, tmp_path
):
    monkeypatch.setenv("NEURALDIGITS_MODEL", str(tmp_path / "none.npz"))
    assert main(["predict", str(pictures / "a.png")]) == 0  # the shipped reader reads it
    err = capsys.readouterr().err
    assert "using the shipped reader" in err and "`digits train` makes one" in err


def test_model_is_recognised_by_name_or_content(model, tmp_path):
    path, _ = model
    renamed = tmp_path / "mymodel"
    renamed.write_bytes(path.read_bytes())
    assert split_model([str(path), "x.png"]) == (str(path), ["x.png"])
    assert split_model([str(renamed), "x.png"]) == (str(renamed), ["x.png"])
    assert split_model(["reader", "x.png"]) == ("reader", ["x.png"])
    assert split_model(["x.png", "y.png"]) == (None, ["x.png", "y.png"])
    assert split_model([str(tmp_path), "y.png"]) == (None, [str(tmp_path), "y.png"])


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_fifo_first_is_not_waited_on(tmp_path, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    answers = []
    peek = threading.Thread(target=lambda: answers.append(split_model([str(fifo), "y.png"])))
    peek.start()
    peek.join(20)  # only a hang waits this long
    if peek.is_alive():  # free the thread: a writer arriving ends its wait
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert answers == [(None, [str(fifo), "y.png"])]
    assert main(["predict", "reader", str(fifo)]) == 1
    assert "pipe: is a FIFO (named pipe)" in capsys.readouterr().err


def test_blank_picture_no_ink_and_nonzero_exit(model, tmp_path, capsys):
    path, _ = model
    Image.new("L", (100, 100), 235).save(tmp_path / "blank.png")
    assert main(["predict", str(path), str(tmp_path / "blank.png")]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "blank.png: no ink found" in captured.err
    assert "Traceback" not in captured.err


def test_corrupt_file_is_reported_and_the_rest_still_read(model, pictures, tmp_path, capsys):
    path, _ = model
    data = (pictures / "a.png").read_bytes()
    (tmp_path / "broken.png").write_bytes(data[:200])
    status = main(["predict", str(path), str(tmp_path / "broken.png"), str(pictures / "a.png")])
    assert status == 1
    captured = capsys.readouterr()
    assert "broken.png: corrupt or truncated image file" in captured.err
    assert captured.out.startswith(str(pictures / "a.png"))


def test_several_blobs_warn(model, tmp_path, capsys):
    path, _ = model
    image = Image.new("L", (200, 100), 255)
    draw = ImageDraw.Draw(image)
    draw.line([(40, 20), (40, 80)], fill=0, width=8)
    draw.ellipse([110, 20, 170, 80], outline=0, width=8)
    image.save(tmp_path / "ten.png")
    assert main(["predict", str(path), str(tmp_path / "ten.png")]) == 0
    assert "found 2 separate blobs of ink; expected one digit" in capsys.readouterr().err


def test_show_input_writes_originals_beside_the_inputs(model, pictures, tmp_path, capsys):
    path, _ = model
    out = tmp_path / "seen.png"
    files = [str(pictures / "a.png"), str(pictures / "c.png")]
    assert main(["predict", str(path), *files, "--show-input", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().err
    sheet = np.asarray(Image.open(out))
    assert sheet.shape[0] == 2 * (CELL + GAP) + GAP
    for row, file in enumerate(files):
        top, left = GAP + row * (CELL + GAP), 2 * GAP + CELL
        seen = sheet[top : top + CELL, left : left + CELL][:: CELL // 28, :: CELL // 28]
        pixels = preprocess(file).pixels.reshape(28, 28)
        assert np.abs(seen / 255 - pixels).max() <= 1 / 255 + 1e-6
    assert list(tmp_path.glob(".seen.png.*")) == []  # written atomically


def test_show_input_needs_a_picture_format(model, pictures, tmp_path, capsys):
    path, _ = model
    out = tmp_path / "seen.xyz"
    status = main(["predict", str(path), str(pictures / "a.png"), "--show-input", str(out)])
    assert status == 1
    assert "unknown picture format" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--top", "11"], "--top 11: the model has only 10 outputs"),
        ([], None),
    ],
)
def test_argument_errors(model, pictures, capsys, arguments, message, tmp_path):
    path, _ = model
    if message is None:  # a model and nothing to read
        assert main(["predict", str(path)]) == 1
        assert "no pictures given" in capsys.readouterr().err
        return
    assert main(["predict", str(path), str(pictures / "a.png"), *arguments]) == 1
    assert message in capsys.readouterr().err


def test_empty_directory_and_missing_picture(model, tmp_path, capsys):
    path, _ = model
    (tmp_path / "empty").mkdir()
    assert main(["predict", str(path), str(tmp_path / "empty")]) == 1
    assert "no pictures in this directory" in capsys.readouterr().err
    assert main(["predict", str(path), str(tmp_path / "gone.png")]) == 1
    assert "gone.png: no such file" in capsys.readouterr().err


def test_model_with_other_input_size_is_refused(tmp_path, pictures, capsys):
    path = save(Network([100, 10], seed=0), tmp_path / "small.npz")
    assert main(["predict", str(path), str(pictures / "a.png")]) == 1
    assert "takes 100 inputs" in capsys.readouterr().err


# ---------------------------------------------------------------------- --min-confidence


def fixed_answer_model(path, activations: dict[int, float]):
    """A network whose outputs ignore the picture: ``activations`` (else 0.01) every time."""
    net = Network([784, 10], seed=0)
    net.weights[0][:] = 0
    wanted = np.full(10, 0.01)
    for digit, activation in activations.items():
        wanted[digit] = activation
    net.biases[0][:, 0] = np.log(wanted / (1 - wanted))  # σ⁻¹: the output is exactly `wanted`
    return save(net, path)


@pytest.fixture
def hesitant(tmp_path):
    """Torn between 3 (0.60) and 5 (0.55): confidence 0.05."""
    return fixed_answer_model(tmp_path / "hesitant.npz", {3: 0.60, 5: 0.55})


@pytest.fixture
def decided(tmp_path):
    """Sure it is a 3 (0.99, the rest 0.01): confidence 0.98."""
    return fixed_answer_model(tmp_path / "decided.npz", {3: 0.99})


def test_a_weak_answer_is_unsure_in_lines(hesitant, decided, pictures, capsys):
    picture = str(pictures / "a.png")
    assert main(["predict", str(hesitant), picture, "--min-confidence", "0.3"]) == 0
    assert capsys.readouterr().out == f"{picture}: unsure (3 (0.60); confidence 0.05)\n"
    assert main(["predict", str(hesitant), picture, "--min-confidence", "0.3", "--top", "2"]) == 0
    assert capsys.readouterr().out == f"{picture}: unsure (3 (0.60), 5 (0.55); confidence 0.05)\n"
    # A confident answer still gets its digit, as does any answer without the option.
    assert main(["predict", str(decided), picture, "--min-confidence", "0.3"]) == 0
    assert capsys.readouterr().out == f"{picture}: 3 (0.99)\n"
    assert main(["predict", str(hesitant), picture]) == 0
    assert capsys.readouterr().out == f"{picture}: 3 (0.60)\n"


def test_unsure_below_the_threshold_zero_never_one_always(hesitant, pictures, capsys):
    picture = str(pictures / "a.png")
    for level, unsure in (("0", False), ("0.04", False), ("0.06", True), ("1", True)):
        assert main(["predict", str(hesitant), picture, "--json", "--min-confidence", level]) == 0
        assert json.loads(capsys.readouterr().out)[0]["unsure"] is unsure, level


def test_json_gives_the_confidence_and_the_unsure_flag(hesitant, decided, pictures, capsys):
    picture = str(pictures / "a.png")
    for model, unsure, sure in ((hesitant, True, 0.05), (decided, False, 0.98)):
        assert main(["predict", str(model), picture, "--json", "--min-confidence", "0.3"]) == 0
        [result] = json.loads(capsys.readouterr().out)
        assert result["digit"] == 3  # still the best guess: the existing fields are unchanged
        assert set(result) == {
            "file", "error", "skipped", "digit", "outputs", "top", "blobs", "confidence", "unsure",
        }  # fmt: skip
        assert result["confidence"] == pytest.approx(sure, abs=1e-5)
        assert result["unsure"] is unsure
    # Without the option: the confidence is still given, and nothing is unsure.
    assert main(["predict", str(hesitant), picture, "--json"]) == 0
    [result] = json.loads(capsys.readouterr().out)
    assert result["unsure"] is False and result["confidence"] == pytest.approx(0.05, abs=1e-5)


def test_confidence_is_the_margin_between_the_two_strongest_outputs(model, pictures, capsys):
    path, net = model
    assert main(["predict", str(path), str(pictures), "--json"]) == 0
    for result in json.loads(capsys.readouterr().out)[:-1]:  # the last is notes.txt, skipped
        outputs = np.sort(expected(net, result["file"])[1])
        assert result["confidence"] == pytest.approx(outputs[-1] - outputs[-2], abs=1e-5)


def test_show_input_captions_say_unsure(hesitant, pictures, tmp_path, capsys):
    out = tmp_path / "seen.png"
    picture = str(pictures / "a.png")
    argv = ["predict", str(hesitant), picture, "--min-confidence", "0.5", "--show-input", str(out)]
    assert main(argv) == 0
    assert out.exists() and "unsure" in capsys.readouterr().out


@pytest.mark.parametrize("level", ["1.5", "-0.1", "nan", "inf", "high"])
def test_min_confidence_must_be_a_number_from_0_to_1(hesitant, pictures, capsys, level):
    with pytest.raises(SystemExit) as exit:
        main(["predict", str(hesitant), str(pictures / "a.png"), f"--min-confidence={level}"])
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert f"--min-confidence: expected a number from 0 to 1, got '{level}'" in err


def test_help_shows_every_options_default(capsys):
    formatter = HelpFormatter("digits")
    parser = next(p for p in subcommand_parsers() if p.prog.endswith(" predict"))
    for action in parser._actions:
        if action.option_strings and action.help != argparse.SUPPRESS:
            if action.dest == "help" or action.default == argparse.SUPPRESS:  # -h, -q, -v
                continue
            assert "default" in formatter._get_help_string(action), action.option_strings
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "--min-confidence P" in shown and "(default: off: always answer with a digit)" in shown
    assert "the strongest output activation minus the runner-up's" in shown


def test_docs_describe_the_option_and_the_confidence():
    text = " ".join((DOCS / "predict.md").read_text(encoding="utf-8").split())
    assert "--min-confidence" in text and "unsure" in text
    assert "the strongest output activation minus the runner-up's" in text
    assert '"confidence"' in text and '"unsure"' in text


def test_json_lists_failed_pictures_with_their_error(model, pictures, tmp_path, capsys):
    path, _ = model
    (tmp_path / "broken.png").write_bytes((pictures / "a.png").read_bytes()[:200])
    argv = ["predict", str(path), str(tmp_path / "broken.png"), str(pictures / "a.png"), "--json"]
    assert main(argv) == 1
    captured = capsys.readouterr()
    broken, good = json.loads(captured.out)
    assert broken["file"] == str(tmp_path / "broken.png") and set(broken) == {
        "file", "error", "skipped",
    }  # fmt: skip
    assert "corrupt or truncated image file" in broken["error"] and broken["skipped"] is None
    assert good["error"] is None and good["digit"] in range(10)
    assert "broken.png: corrupt" in captured.err  # and on stderr, as without --json


def test_directories_are_read_flat_unless_recursive_and_skips_are_reported(
    model, pictures, capsys
):
    path, _ = model
    nested = pictures / "more"
    nested.mkdir()
    (pictures / ".hidden.png").write_bytes((pictures / "a.png").read_bytes())
    (nested / "d.png").write_bytes((pictures / "a.png").read_bytes())
    assert main(["predict", str(path), str(pictures)]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 3 and "d.png" not in captured.out
    assert "skipped 3 files" in captured.err
    for name, why in ((".hidden.png", "hidden"), ("more", "--recursive reads it"),
                      ("notes.txt", "not a picture")):  # fmt: skip
        assert re.search(rf"{re.escape(name)}: .*{re.escape(why)}", captured.err), name

    assert main(["predict", str(path), str(pictures), "--recursive", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    read = [Path(e["file"]).name for e in entries if e["skipped"] is None]
    assert read == ["a.png", "b.jpg", "c.png", "d.png"]  # name order: c.png, then more/
    assert sorted(Path(e["file"]).name for e in entries if e["skipped"]) == [
        ".hidden.png", "notes.txt",
    ]  # fmt: skip


def test_help_names_every_json_field(capsys):
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    out = capsys.readouterr().out
    for field in ("file", "error", "skipped", "digit", "outputs", "top", "blobs", "confidence",
                  "unsure"):  # fmt: skip
        assert re.search(rf"^  {field} ", out, re.MULTILINE), field


def test_help_says_where_the_json_fields_are_and_that_reader_is_a_model(capsys):
    # It said "(fields below)" of a list printed above the options, and left out that
    # `reader` names the shipped model and that it is used when you have none.
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    out = capsys.readouterr().out
    flat = " ".join(out.split())
    options = out.index("options:")
    assert out.index("  unsure ") < options and "(fields above)" in flat
    assert "fields below" not in flat
    assert "the first argument is taken as the model when it is reader (the shipped reader)" in flat
    assert "else the shipped reader, and stderr says which" in flat
