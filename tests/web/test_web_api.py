"""The drawing pad's API, in-process: what it returns is the network's own maths,
PNGs go through the same preprocessing as `digits predict`, and every bad request
gets one clear 4xx."""

from __future__ import annotations

import io
import json
import struct
import sys
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("fastapi", reason="the web extra is not installed: pip install -e '.[web]'")
from fastapi.testclient import TestClient  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from neuraldigits.activations import sigmoid  # noqa: E402
from neuraldigits.cli import main  # noqa: E402
from neuraldigits.errors import NeuralDigitsError  # noqa: E402
from neuraldigits.extras import install_hint  # noqa: E402
from neuraldigits.images.preprocess import preprocess  # noqa: E402
from neuraldigits.modelfile import save  # noqa: E402
from neuraldigits.network import Network  # noqa: E402
from neuraldigits.web.app import MAX_BODY_BYTES, MAX_IMAGE_SIDE, create_app  # noqa: E402
from neuraldigits.web.reading import read  # noqa: E402

TOL = 1e-4  # the API rounds activations to 4 decimals


@pytest.fixture(scope="module")
def net() -> Network:
    return Network([784, 30, 10], seed=3)


@pytest.fixture(scope="module")
def client(net) -> TestClient:
    return TestClient(create_app(net))


def drawing_png(strokes=(((140, 40), (140, 240)),), size=280, *, transparent=False) -> bytes:
    """A canvas-like PNG: black strokes on white (or on transparent) paper."""
    paper = (255, 255, 255, 0) if transparent else (255, 255, 255, 255)
    image = Image.new("RGBA", (size, size), paper)
    pen = ImageDraw.Draw(image)
    for stroke in strokes:
        pen.line(stroke, fill=(0, 0, 0, 255), width=22)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG signature and IHDR chunk declaring ``width`` × ``height``, with no pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))
    )


# ---------------------------------------------------------------------- the maths


def test_reading_is_the_networks_forward_pass():
    net = Network([784, 16, 12, 10], seed=1, dtype=np.float64)
    x = np.random.default_rng(0).random(784)
    r = read(net, x)
    np.testing.assert_allclose(r.outputs, net.feedforward(x), rtol=1e-12)
    # The hidden strip is the FIRST hidden layer, a^1 = σ(w^1 x + b^1).
    np.testing.assert_allclose(r.hidden, sigmoid(net.weights[0] @ x + net.biases[0][:, 0]))
    assert r.digit == int(np.argmax(net.feedforward(x)))
    assert r.hidden.shape == (16,) and r.input.shape == (784,)


def test_reading_a_network_without_hidden_layer_has_an_empty_strip():
    r = read(Network([784, 10], seed=0), np.zeros(784))
    assert r.hidden.shape == (0,) and r.outputs.shape == (10,)


def test_reading_rejects_the_wrong_number_of_pixels(net):
    with pytest.raises(ValueError, match="784 pixels"):
        read(net, np.zeros(783))


@pytest.mark.parametrize("wrap", [lambda p: p, lambda p: {"pixels": p}], ids=["list", "object"])
def test_predict_json_pixels_is_feedforward(client, net, wrap):
    x = np.random.default_rng(1).random(784)
    reply = client.post("/api/predict", json=wrap(x.tolist()))
    assert reply.status_code == 200, reply.text
    body = reply.json()
    expected = net.feedforward(x.astype(np.float32))
    np.testing.assert_allclose(body["outputs"], expected, atol=TOL)
    np.testing.assert_allclose(
        body["hidden"],
        sigmoid(net.weights[0] @ x.astype(np.float32) + net.biases[0][:, 0]),
        atol=TOL,
    )
    np.testing.assert_allclose(body["input"], x, atol=TOL)
    assert body["digit"] == int(np.argmax(expected))
    assert body["blobs"] is None and body["warnings"] == []
    assert "predict;dur=" in reply.headers["server-timing"]


@pytest.mark.parametrize("transparent", [False, True], ids=["white-paper", "transparent"])
def test_predict_png_uses_the_same_preprocessing_as_digits_predict(client, net, transparent):
    png = drawing_png(transparent=transparent)
    reply = client.post("/api/predict", content=png, headers={"Content-Type": "image/png"})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    prepared = preprocess(png)
    np.testing.assert_allclose(body["input"], prepared.pixels, atol=TOL)
    np.testing.assert_allclose(body["outputs"], net.feedforward(prepared.pixels), atol=TOL)
    assert body["blobs"] == 1 and body["warnings"] == []
    # The vertical stroke sits in the middle columns of the 28×28 input.
    picture = np.array(body["input"]).reshape(28, 28)
    assert picture[:, 12:16].sum() > 0.8 * picture.sum()
    if not transparent:
        assert body["inverted"] is True  # dark ink on light paper


def test_png_without_content_type_is_recognised_by_its_signature(client):
    reply = client.post("/api/predict", content=drawing_png())
    assert reply.status_code == 200, reply.text


def test_two_separate_digits_get_a_warning(client):
    png = drawing_png(strokes=(((60, 60), (60, 220)), ((220, 60), (220, 220))))
    body = client.post("/api/predict", content=png, headers={"Content-Type": "image/png"}).json()
    assert body["blobs"] == 2
    assert "2 separate ink blobs" in body["warnings"][0]


# ---------------------------------------------------------------------- bad requests


BAD_REQUESTS = {
    "empty body": (b"", "image/png", 400, "body was empty"),
    "not JSON": (b"{pixels: [1, 2", "application/json", 400, "not valid JSON"),
    "NaN": (b"[NaN" + b", 0" * 783 + b"]", "application/json", 400, "not valid JSON"),
    "too few pixels": (
        json.dumps([0.5] * 783).encode(),
        "application/json",
        422,
        "got a list of 783",
    ),
    "a number": (b"3", "application/json", 422, "got int"),
    "out of range": (json.dumps([0] * 783 + [255]).encode(), "application/json", 422, "pixel 783"),
    "negative": (json.dumps([-0.1] + [0] * 783).encode(), "application/json", 422, "pixel 0"),
    "a boolean": (json.dumps([True] + [0] * 783).encode(), "application/json", 422, "pixel 0"),
    "a string": (json.dumps(["0"] + [0] * 783).encode(), "application/json", 422, "pixel 0"),
    "wrong keys": (b'{"image": []}', "application/json", 422, "got keys ['image']"),
    "plain text": (b"seven", "text/plain", 415, "expected a PNG image"),
    "no content type": (b"seven", "", 415, "got Content-Type 'none'"),
    "JPEG bytes": (b"\xff\xd8\xff\xe0" + b"0" * 100, "image/jpeg", 415, "expected a PNG image"),
    "PNG type, not PNG": (b"GIF89a" + b"0" * 100, "image/png", 400, "lacks the PNG signature"),
    "truncated PNG": (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png", 400, "truncated or malformed"),
    "PNG, no pixels": (png_header(280, 280), "image/png", 422, "no readable digit"),
    "PNG, corrupt chunk": (
        png_header(28, 28) + b"\x00\x00\x00\x0100AA",
        "image/png",
        422,
        "no readable digit",
    ),
    "PNG, 0×0": (png_header(0, 0), "image/png", 400, "empty 0×0 image"),
    "PNG, short IHDR": (
        png_header(28, 28)[:8] + b"\x00\x00\x00\x00IHDR" + bytes(17),
        "image/png",
        400,
        "truncated or malformed",
    ),
    "huge PNG": (png_header(100_000, 100_000), "image/png", 413, "100000×100000"),
    "wide PNG": (png_header(MAX_IMAGE_SIDE + 1, 10), "image/png", 413, "at most"),
    "blank canvas": (drawing_png(strokes=()), "image/png", 422, "no ink found"),
}


@pytest.mark.parametrize(
    "body, content_type, status, message", BAD_REQUESTS.values(), ids=list(BAD_REQUESTS)
)
def test_bad_requests_get_one_clear_4xx(client, body, content_type, status, message):
    headers = {"Content-Type": content_type} if content_type else {}
    reply = client.post("/api/predict", content=body, headers=headers)
    assert reply.status_code == status, reply.text
    assert message in reply.json()["detail"]


def test_a_body_over_the_cap_is_refused(client):
    reply = client.post(
        "/api/predict",
        content=b"\x89PNG" + b"0" * MAX_BODY_BYTES,
        headers={"Content-Type": "image/png"},
    )
    assert reply.status_code == 413
    assert f"{MAX_BODY_BYTES:,}-byte limit" in reply.json()["detail"]


def test_a_streamed_body_over_the_cap_is_refused_without_content_length(client):
    # No Content-Length: the cap must hold while reading the stream itself.
    chunks = (b"0" * 65536 for _ in range(MAX_BODY_BYTES // 65536 + 2))
    reply = client.post("/api/predict", content=chunks, headers={"Content-Type": "image/png"})
    assert reply.status_code == 413


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.binary(max_size=300) | st.binary(max_size=200).map(lambda b: png_header(28, 28) + b),
    content_type=st.sampled_from(["image/png", "application/json", "text/plain", ""]),
)
def test_no_input_makes_a_500(client, body, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    reply = client.post("/api/predict", content=body, headers=headers)
    assert 400 <= reply.status_code < 500, reply.text
    assert reply.json()["detail"]


# ---------------------------------------------------------------------- the model and its weights


def test_model_reports_sizes_and_training_metadata(tmp_path):
    net = Network([784, 20, 10], seed=0)
    path = save(net, tmp_path / "m.npz", training={"epochs": 3, "eta": 3.0}, history=[])
    from neuraldigits.modelfile import load

    client = TestClient(create_app(load(path)))
    body = client.get("/api/model").json()
    assert body["sizes"] == [784, 20, 10]
    assert body["hidden_layer"] == 1
    assert body["metadata"]["training"] == {"epochs": 3, "eta": 3.0}
    assert body["metadata"]["sizes"] == [784, 20, 10]


def test_hidden_neuron_weight_picture(client, net):
    body = client.get("/api/hidden/7").json()
    w = net.weights[0][7]
    np.testing.assert_allclose(body["weights"], w, atol=TOL)
    assert body["scale"] == pytest.approx(np.abs(w).max(), abs=TOL)
    assert body["bias"] == pytest.approx(net.biases[0][7, 0], abs=TOL)


@pytest.mark.parametrize("neuron, status", [("30", 404), ("-1", 404), ("x", 422)])
def test_hidden_neuron_out_of_range(client, neuron, status):
    reply = client.get(f"/api/hidden/{neuron}")
    assert reply.status_code == status
    assert reply.json()["detail"]


def test_network_without_hidden_layer():
    client = TestClient(create_app(Network([784, 10], seed=0)))
    assert client.get("/api/model").json()["hidden_layer"] is None
    assert client.get("/api/hidden/0").status_code == 404
    body = client.post("/api/predict", json=[0.0] * 784).json()
    assert body["hidden"] == [] and len(body["outputs"]) == 10


def test_a_network_not_for_28x28_images_is_refused():
    with pytest.raises(NeuralDigitsError, match="784 inputs"):
        create_app(Network([100, 10, 10], seed=0))


# ---------------------------------------------------------------------- page, schema, concurrency


def test_page_is_served_and_self_contained(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name in ('id="pad"', 'id="preview"', 'id="outputs"', 'id="hidden"', 'id="brush"'):
        assert name in page.text
    assert "not probabilities" in page.text  # the output bars are labelled honestly
    for asset, kind in (("/static/app.js", "javascript"), ("/static/style.css", "css")):
        reply = client.get(asset)
        assert reply.status_code == 200 and kind in reply.headers["content-type"]
        # Works offline: nothing is fetched from another site.
        assert "http://" not in reply.text and "https://" not in reply.text
    assert "http://" not in page.text and "https://" not in page.text


def test_openapi_schema_describes_the_api(client):
    schema = client.get("/openapi.json").json()
    assert {"/api/predict", "/api/model", "/api/hidden/{neuron}"} <= set(schema["paths"])
    content = schema["paths"]["/api/predict"]["post"]["requestBody"]["content"]
    assert {"image/png", "application/json"} <= set(content)
    # The interactive docs would load scripts from a CDN; the app stays offline.
    assert client.get("/docs").status_code == 404


def test_concurrent_requests_get_their_own_answers(client, net):
    rng = np.random.default_rng(5)
    inputs = [rng.random(784).tolist() for _ in range(12)] + [drawing_png()] * 4

    def ask(x):
        if isinstance(x, bytes):
            return client.post("/api/predict", content=x, headers={"Content-Type": "image/png"})
        return client.post("/api/predict", json=x)

    alone = [ask(x).json() for x in inputs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = [r.json() for r in pool.map(ask, inputs * 3)]
    assert together == alone * 3


# ---------------------------------------------------------------------- the command line


def test_serve_reports_a_missing_model_in_one_line(tmp_path, capsys):
    assert main(["serve", str(tmp_path / "nope.npz")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nope.npz" in err and "not found" in err


def test_serve_refuses_a_model_not_for_28x28_images(tmp_path, capsys):
    path = save(Network([100, 10], seed=0), tmp_path / "small.npz")
    assert main(["serve", str(path)]) == 1
    err = capsys.readouterr().err
    assert "small.npz" in err and "784 inputs" in err


def test_serve_reports_a_port_in_use(tmp_path, capsys):
    import socket

    path = save(Network([784, 10], seed=0), tmp_path / "m.npz")
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert main(["serve", str(path), "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert f"cannot listen on --host 127.0.0.1 --port {port}" in err


def test_serve_closes_its_listening_socket_however_serving_ends(tmp_path, monkeypatch):
    from neuraldigits.web import server

    served = []

    def stopped_at_once(app, sock, limits):
        served.append(sock)
        raise KeyboardInterrupt  # Ctrl-C, or a failure before uvicorn took the socket

    monkeypatch.setattr(server, "serve", stopped_at_once)
    monkeypatch.setattr(server, "raise_open_file_limit", lambda: 1024)  # leave ours alone
    path = save(Network([784, 10], seed=0), tmp_path / "m.npz")
    assert main(["serve", str(path), "--port", "0"]) == 0
    assert served[0].fileno() == -1  # closed, not left to the garbage collector


def test_serve_reports_an_unknown_host(tmp_path, capsys):
    path = save(Network([784, 10], seed=0), tmp_path / "m.npz")
    assert main(["serve", str(path), "--host", "no-such-host.invalid"]) == 1
    assert "cannot listen on --host no-such-host.invalid" in capsys.readouterr().err


@pytest.mark.parametrize("port", ["http", "70000", "-1"])
def test_serve_rejects_a_bad_port(port, capsys):
    with pytest.raises(SystemExit) as exit:
        main(["serve", "--port", port])
    assert exit.value.code == 2
    assert "port number" in capsys.readouterr().err


def test_serve_without_the_web_extra_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if uvicorn were not installed
    assert main(["serve", str(tmp_path / "m.npz")]) == 1
    err = capsys.readouterr().err
    assert "missing module 'uvicorn'" in err and install_hint("web") in err


# ---------------------------------------------------------------------- min_confidence


def fixed_answer_net(activations: dict[int, float]) -> Network:
    """A network whose outputs ignore the input: ``activations`` (else 0.01) every time."""
    net = Network([784, 10], seed=0)
    net.weights[0][:] = 0
    wanted = np.full(10, 0.01)
    for digit, activation in activations.items():
        wanted[digit] = activation
    net.biases[0][:, 0] = np.log(wanted / (1 - wanted))
    return net


@pytest.fixture(scope="module")
def hesitant() -> TestClient:
    """Torn between 3 (0.60) and 5 (0.55): confidence 0.05."""
    return TestClient(create_app(fixed_answer_net({3: 0.60, 5: 0.55})))


@pytest.fixture(scope="module")
def decided() -> TestClient:
    """Sure it is a 3 (0.99): confidence 0.98."""
    return TestClient(create_app(fixed_answer_net({3: 0.99})))


ZEROS = [0.0] * 784


@pytest.mark.parametrize(
    "ask",
    [
        lambda c, q: c.post(f"/api/predict?min_confidence={q}", json=ZEROS),
        lambda c, q: c.post("/api/predict", json={"pixels": ZEROS, "min_confidence": float(q)}),
        lambda c, q: c.post(
            f"/api/predict?min_confidence={q}",
            content=drawing_png(),
            headers={"Content-Type": "image/png"},
        ),
    ],
    ids=["query, JSON", "body field", "query, PNG"],
)
def test_a_weak_answer_is_flagged_unsure(hesitant, decided, ask):
    body = ask(hesitant, "0.3").json()
    assert body["unsure"] is True and body["digit"] == 3  # the digit stays the best guess
    assert body["confidence"] == pytest.approx(0.05, abs=TOL)
    assert ask(hesitant, "0.04").json()["unsure"] is False
    body = ask(decided, "0.3").json()
    assert body["unsure"] is False and body["confidence"] == pytest.approx(0.98, abs=TOL)


def test_without_min_confidence_nothing_is_unsure(hesitant, client, net):
    body = hesitant.post("/api/predict", json=ZEROS).json()
    assert body["unsure"] is False and body["confidence"] == pytest.approx(0.05, abs=TOL)
    x = np.random.default_rng(2).random(784)
    body = client.post("/api/predict", json={"pixels": x.tolist(), "min_confidence": None}).json()
    top_two = np.sort(net.feedforward(x.astype(np.float32)))[-2:]
    assert body["confidence"] == pytest.approx(top_two[1] - top_two[0], abs=TOL)
    assert body["unsure"] is False


BAD_MIN_CONFIDENCE = {
    "above 1": ("?min_confidence=1.5", ZEROS, "got '1.5'"),
    "negative": ("?min_confidence=-0.1", ZEROS, "got '-0.1'"),
    "not a number": ("?min_confidence=high", ZEROS, "got 'high'"),
    "NaN": ("?min_confidence=nan", ZEROS, "got 'nan'"),
    "empty": ("?min_confidence=", ZEROS, "got ''"),
    "body, above 1": ("", {"pixels": ZEROS, "min_confidence": 2}, "got 2"),
    "body, a string": ("", {"pixels": ZEROS, "min_confidence": "0.5"}, "got '0.5'"),
    "body, a boolean": ("", {"pixels": ZEROS, "min_confidence": True}, "got True"),
}


@pytest.mark.parametrize(
    "query, body, message", BAD_MIN_CONFIDENCE.values(), ids=list(BAD_MIN_CONFIDENCE)
)
def test_min_confidence_out_of_range_is_a_clear_422(hesitant, query, body, message):
    reply = hesitant.post("/api/predict" + query, json=body)
    assert reply.status_code == 422, reply.text
    detail = reply.json()["detail"]
    assert detail.startswith("min_confidence must be a number from 0 to 1") and message in detail


def test_min_confidence_is_given_once(hesitant):
    twice = hesitant.post("/api/predict?min_confidence=0.1&min_confidence=0.2", json=ZEROS)
    assert twice.status_code == 422 and "once" in twice.json()["detail"]
    both = hesitant.post(
        "/api/predict?min_confidence=0.1", json={"pixels": ZEROS, "min_confidence": 0.2}
    )
    assert both.status_code == 422 and "both in the query and in the body" in both.json()["detail"]
    other = hesitant.post("/api/predict", json={"pixels": ZEROS, "confidence": 0.2})
    assert (
        other.status_code == 422 and "got keys ['confidence', 'pixels']" in other.json()["detail"]
    )


def test_openapi_schema_documents_min_confidence(client):
    schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/api/predict"]["post"]
    [parameter] = [p for p in operation["parameters"] if p["name"] == "min_confidence"]
    assert parameter["in"] == "query" and not parameter["required"]
    assert parameter["schema"] == {"type": "number", "minimum": 0.0, "maximum": 1.0}
    assert "runner-up" in parameter["description"]
    json_body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert "min_confidence" in json_body["oneOf"][1]["properties"]
    answer = schema["components"]["schemas"]["Prediction"]["properties"]
    assert "runner-up" in answer["confidence"]["description"]
    assert answer["unsure"]["type"] == "boolean"


def test_serve_docs_describe_min_confidence():
    docs = Path(__file__).resolve().parents[2] / "docs" / "serve.md"
    text = " ".join(docs.read_text(encoding="utf-8").split())
    assert "min_confidence" in text and "unsure" in text
    assert "the strongest output activation minus the runner-up's" in text


def test_model_names_the_model_it_serves():
    from neuraldigits.modelfile import load
    from neuraldigits.models import shipped_model

    client = TestClient(create_app(load(shipped_model("reader")), "the shipped reader"))
    info = client.get("/api/model").json()
    assert info["label"] == "the shipped reader" and info["sizes"] == [784, 800, 10]
    best = info["metadata"]["history"][info["metadata"]["best_epoch"]]["test"]
    assert best["correct"] / best["total"] >= 0.99  # what the pad states beside its name
