"""ONNX export (`digits export`, neuraldigits.onnx_export): onnxruntime agrees with feedforward."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from support.data import digits

from neuraldigits.cli import main
from neuraldigits.errors import NeuralDigitsError
from neuraldigits.extras import install_hint
from neuraldigits.modelfile import load, save
from neuraldigits.models import shipped_model
from neuraldigits.network import Network
from neuraldigits.onnx_export import INPUT, OPSET, OUTPUTS, export_onnx, to_onnx

TOLERANCE = 1e-5  # float32 against float32: rounding, not a different computation


def run_onnx(path_or_bytes, images):
    session = onnxruntime.InferenceSession(path_or_bytes, providers=["CPUExecutionProvider"])
    return session.run(None, {INPUT: np.asarray(images, np.float32)})


def assert_agrees(net, onnx_file, images):
    activations, answers = run_onnx(str(onnx_file), images)
    expected = net.feedforward(images)
    assert activations.shape == expected.shape
    assert np.max(np.abs(activations - expected)) <= TOLERANCE
    assert_same_answers(answers, expected)


def assert_same_answers(answers, expected):
    """The graph's digit is our argmax, but for outputs within rounding of the best: another
    runtime's GEMM may order such a near-tie the other way."""
    chosen = expected[np.arange(len(answers)), answers]
    assert np.all(chosen >= expected.max(axis=1) - 2 * TOLERANCE)


def test_digits_export_of_the_shipped_reader_agrees_on_1000_test_images(mnist, tmp_path):
    _, _, (test_images, _) = mnist
    out = tmp_path / "reader.onnx"
    assert main(["export", "reader", str(out)]) == 0
    assert_agrees(load(shipped_model("reader")), out, test_images[:1000])


def test_digits_export_of_a_trained_model_agrees_on_1000_test_images(mnist, tmp_path):
    training, _, (test_images, _) = mnist
    # Two hidden layers, so the graph chains more than one Gemm + Sigmoid.
    net = Network([784, 40, 20, 10], seed=3, cost="cross-entropy", init="scaled")
    net.sgd((training[0][:5000], training[1][:5000]), 1, 10, 0.5)
    model = save(net, tmp_path / "net.npz")
    out = tmp_path / "net.onnx"
    assert main(["export", str(model), str(out)]) == 0
    assert_agrees(load(model), out, test_images[:1000])


def test_the_graph_is_standard_onnx_with_its_contract_documented(tmp_path):
    net = Network([784, 16, 10], seed=0, init="scaled")
    net.metadata["note"] = "kept"
    model = onnx.load_from_string(to_onnx(net))
    onnx.checker.check_model(model, full_check=True)
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [OPSET]
    (graph_input,) = model.graph.input
    assert graph_input.name == INPUT
    dims = graph_input.type.tensor_type.shape.dim
    assert dims[0].dim_param == "N" and dims[1].dim_value == 784
    assert graph_input.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert [o.name for o in model.graph.output] == list(OUTPUTS)
    ops = [node.op_type for node in model.graph.node]
    assert ops == ["Gemm", "Sigmoid", "Gemm", "Sigmoid", "Identity", "ArgMax"]
    props = {p.key: p.value for p in model.metadata_props}
    assert props["sizes"] == "[784, 16, 10]" and props["input"] == INPUT
    assert "ink = 1.0" in props["input_scale"]
    assert '"note": "kept"' in props["source_metadata"]


def test_any_input_width_and_a_float64_network_export(tmp_path):
    # 784 pixels are MNIST's; the exporter takes the network's own n_in.
    net = Network([12, 7, 3], seed=1, dtype=np.float64, init="scaled")
    x = np.random.default_rng(0).random((50, 12))
    activations, answers = run_onnx(to_onnx(net), x)
    assert activations.dtype == np.float32 and activations.shape == (50, 3)
    assert np.max(np.abs(activations - net.feedforward(x))) <= TOLERANCE
    assert_same_answers(answers, net.feedforward(x))


def test_export_writes_atomically_and_agrees_on_synthetic_digits(tmp_path):
    net = Network([784, 10, 10], seed=2, init="scaled")
    images, _ = digits(200)
    path = export_onnx(net, tmp_path / "sub" / "m.onnx")
    assert_agrees(net, path, images)
    assert sorted(p.name for p in path.parent.iterdir()) == ["m.onnx"]  # no temp file left


def test_a_missing_onnx_package_is_a_clear_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    with pytest.raises(NeuralDigitsError, match="the onnx extra") as error:
        to_onnx(Network([4, 2], seed=0))
    assert install_hint("onnx") in str(error.value)
    assert main(["export", "reader", str(tmp_path / "r.onnx")]) == 1
    assert install_hint("onnx") in capsys.readouterr().err
    assert not (tmp_path / "r.onnx").exists()


def test_a_bad_model_file_is_a_clear_error_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a model")
    assert main(["export", str(bad), str(tmp_path / "out.onnx")]) == 1
    assert "bad.npz" in capsys.readouterr().err
    assert not (tmp_path / "out.onnx").exists()


def test_importing_neuraldigits_does_not_import_onnx():
    code = (
        "import sys, neuraldigits, neuraldigits.cli, neuraldigits.onnx_export; "
        "assert 'onnx' not in sys.modules and 'onnxruntime' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_docs_script_reads_digits_without_neuraldigits(tmp_path):
    """docs/onnx.md's read_digit.py, run as written, agrees with the library's own reading."""
    from support.photos import draw_digit

    from neuraldigits.images.preprocess import preprocess

    page = (Path(__file__).parents[1] / "docs" / "onnx.md").read_text()
    script = re.search(r"```python\n(.*?)```", page, re.S).group(1)
    (tmp_path / "read_digit.py").write_text(script)
    (tmp_path / "reader.onnx").write_bytes(to_onnx(load(shipped_model("reader"))))
    rng = np.random.default_rng(0)
    paths = []
    for k in range(20):
        paths.append(tmp_path / f"digit{k}.png")
        draw_digit(k % 10, rng).save(paths[-1])
    # -I: isolated, so neither this checkout nor the tests' helpers are importable; the
    # script must stand on numpy, Pillow and onnxruntime alone.
    guard = "import sys; sys.modules['neuraldigits'] = None; sys.argv = sys.argv[1:]; "
    run = "exec(open(sys.argv[0]).read())"
    out = subprocess.run(
        [sys.executable, "-I", "-c", guard + run, "read_digit.py", "reader.onnx",
         *(p.name for p in paths)],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    theirs = [int(line.split(": ")[1].split()[0]) for line in out.splitlines()]
    reader = load(shipped_model("reader"))
    ours = [int(reader.predict(preprocess(p).pixels[None, :])[0]) for p in paths]
    assert len(theirs) == 20
    assert sum(a == b for a, b in zip(theirs, ours)) >= 16, (theirs, ours)
