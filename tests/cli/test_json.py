"""`--json`: each document parses strictly and holds exactly the fields docs/json.md lists."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from support import photos

from neuraldigits.cli import main
from neuraldigits.cli.console import dumps

DOC = Path(__file__).resolve().parents[2] / "docs" / "json.md"
SCORE = {"correct", "total", "accuracy"}


def documented() -> dict[str, dict[str, str]]:
    """``{command: {field path: type}}`` from the tables of docs/json.md."""
    tables: dict[str, dict[str, str]] = {}
    command = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            heading = re.fullmatch(r"## `digits (\w+) --json`", line)
            command = heading[1] if heading else None
            if command:
                tables[command] = {}
            continue
        row = re.fullmatch(r"\| `([^`]+)` \| ([^|]+) \|.*", line)
        if row and command:
            tables[command][row[1]] = row[2].strip()
    return tables


def strict(text: str):
    """``json.loads`` that refuses NaN and Infinity, which are not JSON."""

    def refuse(constant: str):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def matches(value, kind: str) -> bool:
    if value is None:
        return kind.endswith("or null")
    kind = kind.removesuffix(" or null")
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("object", "score"):
        return isinstance(value, dict) and (kind == "object" or SCORE <= set(value))
    return kind.startswith("list") and isinstance(value, list)


def check(document, fields: dict[str, str], where: str = "") -> None:
    """Every documented field at this level is present with its type, and nothing else is;
    then the same one level down for the fields documented there (``a.b``, ``a[].b``)."""
    if isinstance(document, list):  # predict: the document is the list
        for entry in document:
            check(entry, _below(fields, "[]"), where + "[]")
        return
    own = {path: kind for path, kind in fields.items() if "." not in path}
    if document.get("error") or document.get("skipped"):  # predict's failed or skipped file
        own = {path: own[path] for path in ("file", "error", "skipped")}
    assert set(document) == set(own), f"{where}: fields {set(document) ^ set(own)} differ"
    for path, kind in own.items():
        value = document[path]
        assert matches(value, kind), f"{where}{path} = {value!r} is not {kind}"
        for child in (f"{path}.", f"{path}[]."):
            below = _below(fields, child[:-1])
            if below and value is not None:
                for item in value if child.endswith("[].") else [value]:
                    check(item, below, where + child)


def _below(fields: dict[str, str], prefix: str) -> dict[str, str]:
    return {p[len(prefix) + 1 :]: k for p, k in fields.items() if p.startswith(prefix + ".")}


def run_json(capsys, *argv: str, status: int = 0):
    assert main([*argv, "--json"]) == status, capsys.readouterr().err
    out = capsys.readouterr().out
    return strict(out)


@pytest.fixture(scope="module")
def trained(tiny_mnist_dir, tmp_path_factory):
    return tmp_path_factory.mktemp("json") / "m.npz"


def test_every_command_documents_its_fields():
    tables = documented()
    assert set(tables) == {"train", "evaluate", "predict", "info", "baselines", "bench",
                           "reproduce"}  # fmt: skip
    assert all(tables.values())


def test_train_evaluate_info_documents(tiny_mnist_dir, trained, capsys):
    tables = documented()
    data = ["--data", str(tiny_mnist_dir)]
    doc = run_json(capsys, "train", *data, "--sizes", "784,10,10", "--epochs", "2", "--seed", "1",
                   "--out", str(trained))  # fmt: skip
    check(doc, tables["train"])
    assert doc["model"] == str(trained) and doc["outcome"] == "explicit"
    assert [e["epoch"] for e in doc["epochs"]] == [0, 1]
    doc = run_json(capsys, "evaluate", str(trained), *data)
    check(doc, tables["evaluate"])
    assert doc["total"] == 200 and doc["accuracy"] == doc["correct"] / doc["total"]
    doc = run_json(capsys, "info", str(trained))
    check(doc, tables["info"])
    assert doc["parameters"] == 784 * 10 + 10 + 10 * 10 + 10 and doc["history"]["epochs"] == 2


def test_predict_document_lists_pictures_failures_and_skips(trained, tmp_path, capsys):
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    photos.draw_digit(3, np.random.default_rng(0)).save(pictures / "a.png")
    (pictures / "b.png").write_bytes(b"not a png")
    (pictures / "notes.txt").write_text("skip me")
    from neuraldigits.modelfile import save
    from neuraldigits.network import Network

    model = save(Network([784, 10, 10], seed=0), tmp_path / "m.npz")
    doc = run_json(capsys, "predict", str(model), str(pictures), status=1)
    check(doc, documented()["predict"])
    assert [(Path(e["file"]).name, e["error"] is None, e["skipped"] is None) for e in doc] == [
        ("a.png", True, True), ("b.png", False, True), ("notes.txt", True, False),
    ]  # fmt: skip


def test_baselines_bench_reproduce_documents(tiny_mnist_dir, capsys):
    tables = documented()
    data = ["--data", str(tiny_mnist_dir)]
    check(run_json(capsys, "baselines", *data, "--no-svm"), tables["baselines"])
    doc = run_json(capsys, "bench", *data, "--examples", "200", "--peers",
                   "ours-numpy-float32,ours-reference-float32")  # fmt: skip
    check(doc, tables["bench"])
    assert len(doc["timings"]) == 2
    doc = run_json(capsys, "reproduce", *data, "--seeds", "1", "--epochs", "1", "--no-svm")
    check(doc, tables["reproduce"])
    assert doc["rows"] and all(len(row["correct"]) == 1 for row in doc["rows"] if row["final"])


def test_stdout_holds_only_the_document(tiny_mnist_dir, tmp_path, capsys):
    """The epoch lines and remarks go to stderr under --json; stdout is one document."""
    argv = ["train", "--data", str(tiny_mnist_dir), "--sizes", "784,10,10", "--epochs", "1",
            "--out", str(tmp_path / "m.npz"), "--json"]  # fmt: skip
    assert main(argv) == 0
    captured = capsys.readouterr()
    strict(captured.out)
    assert "Epoch 0:" in captured.err and "Epoch" not in captured.out


def test_non_finite_numbers_become_null():
    text = dumps({"cost": float("nan"), "scores": [float("inf"), -float("inf"), 1.5],
                  "n": np.float32(np.nan), "k": np.int64(3)})  # fmt: skip
    assert strict(text) == {"cost": None, "scores": [None, None, 1.5], "n": None, "k": 3}
