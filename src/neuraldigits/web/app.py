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
that says what was expected, never a 500.  Request bodies are capped (by
Content-Length before reading, and while streaming), and so are a PNG's
declared dimensions (checked from its header before decoding), so a small
request cannot make the server decode a huge image.  JSON is parsed by
pydantic-core, which refuses nesting deeper than 200 levels without recursing,
and validated by pydantic models with constrained types.  Every answer carries
security headers (:mod:`.middleware`); a Host check against DNS rebinding and a
cap on busy requests (503) are on when asked for.  The network is only ever
read, never written; each drawing is read on the event loop, one at a time
(see ``predict``).
"""

from __future__ import annotations

import struct
import time
from collections.abc import Sequence
from importlib import resources
from typing import Annotated, Any

import numpy as np
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic_core import from_json
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import ClientDisconnect

from ..confidence import MAX, MIN, check_min_confidence, confidence, is_unsure
from ..errors import ImageError, NeuralDigitsError
from ..geometry import PIXELS, SIDE
from ..images.preprocess import preprocess
from ..network import Network
from ..version import __version__
from .middleware import API_CACHE, SECURITY_HEADERS, BusyLimit, SecurityHeaders
from .reading import read, weight_picture

MAX_BODY_BYTES = 1 << 20  # a 280×280 canvas PNG is ~10 KB; JSON pixels ~20 KB
MAX_IMAGE_SIDE = 2048  # pixels, per side, as declared in the PNG header
MAX_BUSY = 256  # requests in hand at once; more get 503 (the page keeps one in flight)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Host names a pad bound to the loopback interface answers to (any port):
# a page on another site that rebinds its DNS name to 127.0.0.1 sends its own name.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")


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


class Error(BaseModel):
    """A refused request: what was expected, and what came instead."""

    detail: str


def _errors(**meanings: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for refusals: status (``e400``) → what it means."""
    return {int(code[1:]): {"model": Error, "description": text} for code, text in meanings.items()}


_BUSY = "the pad is busy (too many requests in hand); try again in a second"


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

# strict: `true` and "0.5" are not numbers; allow_inf_nan: 1e999 parses as inf, refused here.
Pixel = Annotated[float, Field(ge=0, le=1, strict=True, allow_inf_nan=False)]
Pixels = Annotated[
    list[Pixel],
    Field(
        min_length=PIXELS,
        max_length=PIXELS,
        description=f"{PIXELS} already-prepared pixels, row by row, each in [0, 1] "
        "with 1 = full ink (MNIST style)",
    ),
]
MinConfidence = Annotated[
    float, Field(ge=MIN, le=MAX, strict=True, allow_inf_nan=False, description=_MIN_CONFIDENCE)
]


class PixelsRequest(BaseModel):
    """The JSON object form of a prediction request."""

    model_config = ConfigDict(extra="forbid")

    pixels: Pixels
    min_confidence: MinConfidence | None = None


_PIXELS = TypeAdapter(Pixels)

_MIN_CONFIDENCE_PARAMETER = {
    "name": "min_confidence",
    "in": "query",
    "required": False,
    "description": _MIN_CONFIDENCE + " (for PNG and JSON bodies alike)",
    "schema": {"type": "number", "minimum": MIN, "maximum": MAX},
}


def _object_schema() -> dict[str, Any]:
    schema = PixelsRequest.model_json_schema()
    schema.pop("title", None)
    for field in schema["properties"].values():
        field.pop("title", None)
    # pydantic writes the optional field as anyOf [number, null]; null means "not asked".
    return schema


_PREDICT_BODY = {
    "required": True,
    "content": {
        "image/png": {
            "schema": {"type": "string", "format": "binary"},
            "example": "(the PNG bytes of a drawing: dark ink on white)",
        },
        "application/json": {
            "schema": {
                "oneOf": [_PIXELS.json_schema(), _object_schema()],
                "description": f"{PIXELS} already-prepared pixels, row by row, each in [0, 1] "
                "with 1 = full ink (MNIST style), as an array or as {'pixels': [...]}, "
                "optionally with 'min_confidence'",
            }
        },
    },
}


def create_app(
    net: Network,
    label: str | None = None,
    *,
    allowed_hosts: Sequence[str] | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_busy: int | None = None,
) -> FastAPI:
    """A FastAPI app serving the drawing pad for ``net`` (784 inputs), which the page names
    by ``label`` (e.g. "the shipped reader", or the model's file).

    ``allowed_hosts``: Host header values (without port; ``"*"`` for any) the app
    answers; others get 400, which stops DNS rebinding.  None: no check.
    ``max_body_bytes``: larger request bodies get 413.  ``max_busy``: with more
    requests than this in hand, the next gets 503 at once; None: no cap.

    Raises :class:`NeuralDigitsError` if the network does not take a 28×28 image,
    or gives non-finite outputs (its weights overflow).
    """
    if net.sizes[0] != PIXELS:
        raise NeuralDigitsError(
            f"the drawing pad needs a network with {PIXELS} inputs (one per pixel of a "
            f"{SIDE}×{SIDE} image); this one has {net.sizes[0]}"
        )
    _check_finite(net)
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
    # Added innermost first: SecurityHeaders wraps everything, so the Host check's
    # 400s and the busy 503s carry the headers too.
    if max_busy is not None:
        app.add_middleware(BusyLimit, limit=max_busy)
    if allowed_hosts is not None:
        app.add_middleware(
            TrustedHostMiddleware, allowed_hosts=list(allowed_hosts), www_redirect=False
        )
    app.add_middleware(SecurityHeaders)
    # A bug must not leak a traceback, and its answer carries the headers too
    # (Starlette answers an unhandled exception outside all the middleware).
    app.add_exception_handler(Exception, _internal_error)

    @app.get("/", include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/api/model", response_model=ModelInfo, responses=_errors(e503=_BUSY))
    def model() -> ModelInfo:
        return ModelInfo(
            label=label,
            sizes=net.sizes,
            cost=net.cost.name,
            dtype=net.dtype.name,
            hidden_layer=1 if net.num_layers > 2 else None,
            metadata=net.metadata,
        )

    @app.get(
        "/api/hidden/{neuron}",
        responses=_errors(e404="no such neuron, or no hidden layer", e503=_BUSY),
    )
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
        responses=_errors(
            e400="an empty body, JSON that does not parse, or a malformed PNG",
            e413=f"a body over the size limit, or a PNG over {MAX_IMAGE_SIDE} pixels a side",
            e415="neither a PNG nor JSON",
            e422="pixels or min_confidence out of range, or a PNG with no readable digit",
            e503=_BUSY,
        ),
        openapi_extra={
            "requestBody": _PREDICT_BODY,
            "parameters": [_MIN_CONFIDENCE_PARAMETER],
        },
    )
    async def predict(request: Request, response: Response) -> Prediction:
        """Read one digit: a PNG drawing (preprocessed like `digits predict`) or 784 pixels."""
        body = await _read_capped(request, max_body_bytes)
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        minimum = _query_min_confidence(request)
        start = time.perf_counter()
        # Read on the event loop itself, one drawing at a time (~4 ms of CPU). A thread
        # pool measured slower here: its threads interleave the drawings, so each waits
        # for all the others, fight over the GIL, and every hand-over waits for the
        # scheduler on a busy machine. The body is already read, so a slow client
        # never holds the loop.
        prediction = _predict(net, body, media_type, minimum)
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


def _check_finite(net: Network) -> None:
    """Refuse a network whose forward pass is not finite on a blank or a full-ink input."""
    probes = np.stack([np.zeros(PIXELS), np.ones(PIXELS)], axis=1)
    if not all(np.all(np.isfinite(layer)) for layer in net.activations(probes)):
        raise NeuralDigitsError(
            "the network's forward pass gives non-finite activations (NaN or infinity) for a "
            "blank or a full-ink input: its weights are not finite numbers or overflow, so "
            "it cannot read drawings"
        )


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        {"detail": "internal error: the pad could not answer this request"},
        status_code=500,
        headers={**dict(SECURITY_HEADERS), "Cache-Control": API_CACHE},
    )


def _answer(net: Network, pixels, min_confidence: float | None, **png) -> Prediction:
    """The reading of ``pixels`` with its confidence, flagged unsure below ``min_confidence``."""
    reading = read(net, pixels)
    if not (np.all(np.isfinite(reading.outputs)) and np.all(np.isfinite(reading.hidden))):
        # JSON has no NaN, and null would be a silent non-answer.
        raise HTTPException(
            422,
            "the network's activations for this input are not finite numbers (its weights "
            "overflow); it cannot read this drawing",
        )
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
    """The pixels, and the body's min_confidence if it has one.

    pydantic-core parses without recursion (refusing nesting deeper than 200),
    refuses NaN and Infinity, and the models check every pixel.
    """
    try:
        data = from_json(body, allow_inf_nan=False)
    except ValueError as e:  # also bad UTF-8 and over-deep nesting
        raise HTTPException(400, f"the body is not valid JSON ({e})") from None
    if isinstance(data, dict):
        if "pixels" not in data or not set(data) <= {"pixels", "min_confidence"}:
            raise HTTPException(
                422,
                'expected a JSON object {"pixels": [...]} or {"pixels": [...], '
                f'"min_confidence": P}}, got keys {_shown(sorted(data))}',
            )
        try:
            request = PixelsRequest.model_validate(data)
        except ValidationError as e:
            raise _refusal(e, data) from None
        return request.pixels, request.min_confidence
    if not isinstance(data, list):
        raise HTTPException(
            422,
            f"expected {PIXELS} pixel values ({SIDE}×{SIDE}, row by row), "
            f"got {type(data).__name__}",
        )
    try:
        return _PIXELS.validate_python(data), None
    except ValidationError as e:
        raise _refusal(e, {"pixels": data}) from None


def _refusal(error: ValidationError, data: dict[str, Any]) -> HTTPException:
    """One clear 422 for the first problem pydantic found in ``data`` ({"pixels": ...})."""
    problem = error.errors(include_url=False)[0]
    where = problem["loc"]
    if where and where[0] == "min_confidence":
        return HTTPException(
            422,
            f"min_confidence must be a number from {MIN:g} to {MAX:g} (the least margin "
            "between the two strongest outputs that still counts as sure); "
            f"got {_shown(problem['input'])}",
        )
    pixels = data["pixels"]
    if where and isinstance(where[-1], int):  # (i,) or ("pixels", i): one pixel is wrong
        return HTTPException(
            422, f"pixel {where[-1]} is {_shown(problem['input'])}; expected a number in [0, 1]"
        )
    got = f"a list of {len(pixels)}" if isinstance(pixels, list) else type(pixels).__name__
    return HTTPException(
        422, f"expected {PIXELS} pixel values ({SIDE}×{SIDE}, row by row), got {got}"
    )


def _shown(value: object, limit: int = 60) -> str:
    """``repr(value)``, cut short: a 4,000-digit number needs no echo."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def _read_capped(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) anything over ``limit`` bytes without reading it all."""
    # Connection: close, so the server does not go on reading what it refused.
    too_big = HTTPException(
        413, f"the request body is over the {limit:,}-byte limit", headers={"Connection": "close"}
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_big
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_big
            chunks.append(chunk)
    except ClientDisconnect:
        # The client went away (or was cut off for sending too slowly): nobody to answer.
        raise HTTPException(400, "the client disconnected before sending the whole body") from None
    return b"".join(chunks)
