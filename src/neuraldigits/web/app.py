"""The drawing pad's web app: one network, loaded once, behind a small JSON API.

Routes (``create_app(net)`` builds them):

* ``GET /``                  the page; ``GET /static/...`` its script and style
* ``POST /api/predict``      PNG bytes, or JSON with 784 pixel values → what the
                             network sees and concludes (``?min_confidence=P``:
                             flag weak answers as unsure)
* ``GET /api/model``         layer sizes and training metadata
* ``GET /api/hidden/{j}``    weight picture of first-hidden-layer neuron j
* ``GET /openapi.json``      the API's schema

A PNG goes through :func:`neuraldigits.images.preprocess.preprocess`, the same
preprocessing as ``digits predict``.  Bad requests get a 4xx with a message
that says what was expected, never a 500.  Request bodies are capped, and so
are a PNG's declared dimensions (checked from its header before decoding), so
a small request cannot make the server decode a huge image.  The network is
only ever read, never written, so requests are served concurrently without
locks.
"""

from __future__ import annotations

import json
import math
import struct
import time
from importlib import resources
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ..confidence import MAX, MIN, check_min_confidence, confidence, is_unsure
from ..errors import ImageError, NeuralDigitsError
from ..geometry import PIXELS, SIDE
from ..images.preprocess import preprocess
from ..network import Network
from ..version import __version__
from .reading import read, weight_picture

MAX_BODY_BYTES = 1 << 20  # a 280×280 canvas PNG is ~10 KB; JSON pixels ~20 KB
MAX_IMAGE_SIDE = 2048  # pixels, per side, as declared in the PNG header
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# The page loads nothing from elsewhere; say so to the browser too.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'",
    "X-Content-Type-Options": "nosniff",
}


class Prediction(BaseModel):
    """What the network sees and concludes for one drawing."""

    digit: int = Field(description="the answer: the output neuron with the highest activation")
    outputs: list[float] = Field(
        description="activations of the output neurons, each in (0, 1); sigmoid outputs, "
        "not probabilities, so they need not sum to 1"
    )
    hidden: list[float] = Field(
        description="activations of the first hidden layer (empty if the network has none)"
    )
    input: list[float] = Field(
        description=f"the {PIXELS} input pixels, row by row, 0 = background, 1 = full ink"
    )
    blobs: int | None = Field(None, description="separate ink blobs found in a PNG")
    inverted: bool | None = Field(None, description="whether the PNG was dark ink on light")
    warnings: list[str] = Field(default_factory=list, description="things worth telling a user")
    confidence: float = Field(
        description="how sure the network is: its strongest output activation minus the "
        "runner-up's, from 0 (two digits tie) to 1 (one output on, the rest off)"
    )
    unsure: bool = Field(
        description="true when min_confidence was given and the confidence is below it: "
        "treat the digit as a guess, not an answer (always false without min_confidence)"
    )


class ModelInfo(BaseModel):
    """The served network and how it was trained."""

    label: str | None = Field(
        default=None, description="which model this is: 'the shipped reader', or its file"
    )
    sizes: list[int]
    cost: str
    dtype: str
    hidden_layer: int | None = Field(
        description="the layer shown as the hidden-layer strip (1, the first hidden layer), "
        "or null if the network has no hidden layer"
    )
    metadata: dict[str, Any] = Field(
        description="the model file's metadata: training settings, per-epoch history, ..."
    )


_MIN_CONFIDENCE = (
    f"optional, a number from {MIN:g} to {MAX:g}: an answer whose confidence (the strongest "
    "output activation minus the runner-up's) is below it is flagged unsure; "
    "default: none, never unsure"
)

_MIN_CONFIDENCE_PARAMETER = {
    "name": "min_confidence",
    "in": "query",
    "required": False,
    "description": _MIN_CONFIDENCE + " (for PNG and JSON bodies alike)",
    "schema": {"type": "number", "minimum": MIN, "maximum": MAX},
}

_PREDICT_BODY = {
    "required": True,
    "content": {
        "image/png": {
            "schema": {"type": "string", "format": "binary"},
            "example": "(the PNG bytes of a drawing: dark ink on white)",
        },
        "application/json": {
            "schema": {
                "oneOf": [
                    {"type": "array", "items": {"type": "number"}},
                    {
                        "type": "object",
                        "properties": {
                            "pixels": {"type": "array", "items": {"type": "number"}},
                            "min_confidence": {
                                "type": "number",
                                "minimum": MIN,
                                "maximum": MAX,
                                "description": _MIN_CONFIDENCE,
                            },
                        },
                        "required": ["pixels"],
                    },
                ],
                "description": f"{PIXELS} already-prepared pixels, row by row, each in [0, 1] "
                "with 1 = full ink (MNIST style), as an array or as {'pixels': [...]}, "
                "optionally with 'min_confidence'",
            }
        },
    },
}


def create_app(net: Network, label: str | None = None) -> FastAPI:
    """A FastAPI app serving the drawing pad for ``net`` (784 inputs), which the page names
    by ``label`` (e.g. "the shipped reader", or the model's file).

    Raises :class:`NeuralDigitsError` if the network does not take a 28×28 image.
    """
    if net.sizes[0] != PIXELS:
        raise NeuralDigitsError(
            f"the drawing pad needs a network with {PIXELS} inputs (one per pixel of a "
            f"{SIDE}×{SIDE} image); this one has {net.sizes[0]}"
        )
    page = resources.files(__package__).joinpath("static", "index.html").read_text("utf-8")
    app = FastAPI(
        title="neuraldigits drawing pad",
        version=__version__,
        description="Draw a digit, see what a chapter-1 network sees and concludes.",
        # The interactive docs pages load their scripts from a CDN; this app works offline.
        docs_url=None,
        redoc_url=None,
    )
    app.mount("/static", StaticFiles(packages=[(__package__, "static")]), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(page, headers=_PAGE_HEADERS)

    @app.get("/api/model", response_model=ModelInfo)
    def model() -> ModelInfo:
        return ModelInfo(
            label=label,
            sizes=net.sizes,
            cost=net.cost.name,
            dtype=net.dtype.name,
            hidden_layer=1 if net.num_layers > 2 else None,
            metadata=net.metadata,
        )

    @app.get("/api/hidden/{neuron}")
    def hidden(neuron: int) -> dict[str, Any]:
        """Incoming weights of neuron ``neuron`` of the first hidden layer, as a 28×28 picture."""
        if net.num_layers <= 2:
            raise HTTPException(404, "this network has no hidden layer")
        try:
            return weight_picture(net, neuron)
        except IndexError as e:
            raise HTTPException(404, str(e)) from None

    @app.post(
        "/api/predict",
        response_model=Prediction,
        openapi_extra={
            "requestBody": _PREDICT_BODY,
            "parameters": [_MIN_CONFIDENCE_PARAMETER],
        },
    )
    async def predict(request: Request, response: Response) -> Prediction:
        """Read one digit: a PNG drawing (preprocessed like `digits predict`) or 784 pixels."""
        body = await _read_capped(request)
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        minimum = _query_min_confidence(request)
        start = time.perf_counter()
        # Decoding and the forward pass are CPU work: keep them off the event loop.
        prediction = await run_in_threadpool(_predict, net, body, media_type, minimum)
        # Lets the page (and its latency measurements) see the server's share.
        response.headers["Server-Timing"] = (
            f"predict;dur={1000 * (time.perf_counter() - start):.1f}"
        )
        return prediction

    return app


def _query_min_confidence(request: Request) -> float | None:
    """The ``min_confidence`` query parameter, if given; 422 unless a number from 0 to 1."""
    given = request.query_params.getlist("min_confidence")
    if not given:
        return None
    if len(given) > 1:
        raise HTTPException(422, "min_confidence: give it once, not several times")
    return _min_confidence(given[0], given[0])


def _min_confidence(value: object, shown: object) -> float:
    try:
        return check_min_confidence(float(value) if isinstance(value, str) else value)
    except ValueError:
        raise HTTPException(
            422,
            f"min_confidence must be a number from {MIN:g} to {MAX:g} (the least margin "
            f"between the two strongest outputs that still counts as sure); got {shown!r}",
        ) from None


def _answer(net: Network, pixels, min_confidence: float | None, **png) -> Prediction:
    """The reading of ``pixels`` with its confidence, flagged unsure below ``min_confidence``."""
    reading = read(net, pixels)
    sure = confidence(reading.outputs)
    return Prediction(
        **reading.to_dict(),
        **png,
        confidence=round(sure, 4),
        unsure=is_unsure(sure, min_confidence),
    )


def _predict(
    net: Network, body: bytes, media_type: str, min_confidence: float | None = None
) -> Prediction:
    if not body:
        raise HTTPException(400, _EXPECTED_BODY + "; the request body was empty")
    if body.startswith(PNG_SIGNATURE):
        return _predict_png(net, body, min_confidence)
    if media_type == "application/json" or media_type.endswith("+json"):
        pixels, in_body = _pixels_from_json(body)
        if in_body is not None and min_confidence is not None:
            raise HTTPException(
                422, "min_confidence is given both in the query and in the body; give it once"
            )
        return _answer(net, pixels, in_body if in_body is not None else min_confidence)
    if media_type == "image/png":
        raise HTTPException(400, "the body is not a PNG image (it lacks the PNG signature)")
    raise HTTPException(415, f"{_EXPECTED_BODY}; got Content-Type {media_type or 'none'!r}")


_EXPECTED_BODY = (
    "expected a PNG image (Content-Type: image/png) or JSON with "
    f"{PIXELS} pixel values (Content-Type: application/json)"
)


def _predict_png(net: Network, body: bytes, min_confidence: float | None) -> Prediction:
    width, height = _png_size(body)
    if width > MAX_IMAGE_SIDE or height > MAX_IMAGE_SIDE:
        raise HTTPException(
            413,
            f"the PNG is {width}×{height} pixels; at most {MAX_IMAGE_SIDE}×{MAX_IMAGE_SIDE} "
            "is accepted (a digit needs far fewer)",
        )
    try:
        prepared = preprocess(body)
    except ImageError as e:
        raise HTTPException(422, f"the PNG holds no readable digit: {e}") from None
    warnings = []
    if prepared.blobs > 1:
        warnings.append(
            f"found {prepared.blobs} separate ink blobs; the network reads one digit at a time, "
            "so draw a single digit"
        )
    return _answer(
        net,
        prepared.pixels,
        min_confidence,
        blobs=prepared.blobs,
        inverted=prepared.inverted,
        warnings=warnings,
    )


def _png_size(body: bytes) -> tuple[int, int]:
    """Width and height from the PNG header: the first chunk, IHDR, 13 bytes long."""
    if len(body) < 33 or body[8:16] != b"\x00\x00\x00\x0dIHDR":
        raise HTTPException(400, "the PNG is truncated or malformed (no IHDR header chunk)")
    width, height = struct.unpack(">II", body[16:24])
    if width == 0 or height == 0:
        raise HTTPException(400, f"the PNG header declares an empty {width}×{height} image")
    return width, height


def _pixels_from_json(body: bytes) -> tuple[list[float], float | None]:
    """The pixels, and the body's min_confidence if it has one."""
    try:
        data = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as e:
        raise HTTPException(400, f"the body is not valid JSON ({e})") from None
    minimum = None
    if isinstance(data, dict):
        if "pixels" not in data or not set(data) <= {"pixels", "min_confidence"}:
            raise HTTPException(
                422,
                'expected a JSON object {"pixels": [...]} or {"pixels": [...], '
                f'"min_confidence": P}}, got keys {sorted(data)}',
            )
        value = data.get("min_confidence")
        if value is not None:  # absent or null: not asked
            # A JSON string is not a number, even if it spells one.
            minimum = _min_confidence(None if isinstance(value, str) else value, value)
        data = data["pixels"]
    if not isinstance(data, list) or len(data) != PIXELS:
        got = f"a list of {len(data)}" if isinstance(data, list) else type(data).__name__
        raise HTTPException(
            422, f"expected {PIXELS} pixel values ({SIDE}×{SIDE}, row by row), got {got}"
        )
    for i, value in enumerate(data):
        # bool is an int in Python, but `true` is not a pixel.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise HTTPException(422, f"pixel {i} is {value!r}; expected a number in [0, 1]")
        if not (math.isfinite(value) and 0 <= value <= 1):
            raise HTTPException(422, f"pixel {i} is {value!r}; expected a number in [0, 1]")
    return data, minimum


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a pixel value")


async def _read_capped(request: Request) -> bytes:
    """The request body, refusing (413) anything over MAX_BODY_BYTES without reading it all."""
    too_big = HTTPException(413, f"the request body is over the {MAX_BODY_BYTES:,}-byte limit")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_big
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)
