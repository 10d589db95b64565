"""A network as a standard ONNX graph, for onnxruntime and other languages' runtimes.

The graph is the book's feedforward pass and nothing else: per layer one
``Gemm`` (a · wᵀ + bᵀ, one row per example) and one ``Sigmoid``.

* Input ``"pixels"``: float32, shape ``[N, n_in]`` (``N`` free, ``n_in`` = 784 for
  an MNIST network), one row per picture, pixels row by row, **scaled 0..1 with
  ink = 1.0 on a 0.0 background**, the digit prepared the MNIST way (20×20 box,
  centred by mass in 28×28: :func:`neuraldigits.images.preprocess.preprocess`
  does all of that, and is the caller's job; the graph takes no uint8 0–255).
* Output ``"activations"``: float32 ``[N, n_out]``, the output layer's sigmoid
  activations a^L, each in (0, 1) — not probabilities; they need not sum to 1.
* Output ``"digit"``: int64 ``[N]``, the argmax of ``"activations"`` (the
  network's answer, as :meth:`Network.predict` gives it).

Opset :data:`OPSET` of the default ONNX domain (Gemm and Sigmoid have not
changed since opset 13, so any runtime from 2020 on reads it) and IR version
:data:`IR_VERSION`.  Float64 networks are exported as float32, the type every
runtime serves.  The model's metadata props record the library version, layer
sizes, cost, input layout and the source model's own training metadata.

Needs the ``onnx`` extra (:func:`neuraldigits.extras.install_hint` says how); importing
neuraldigits never imports onnx.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_write
from .errors import NeuralDigitsError
from .extras import install_hint
from .network import Network
from .version import __version__

OPSET = 17
IR_VERSION = 8  # what onnxruntime ≥ 1.10 reads; onnx.helper would otherwise write its newest
INPUT = "pixels"
OUTPUTS = ("activations", "digit")
PIXEL_SCALE = "float32 0..1, ink = 1.0 on background 0.0 (MNIST-style: 20x20 box, centred by mass)"


def require_onnx() -> Any:
    """The ``onnx`` module, or a clear error naming the extra to install."""
    try:
        import onnx
    except ImportError:
        raise NeuralDigitsError(
            f"ONNX export needs the onnx package, the onnx extra: {install_hint('onnx')}"
        ) from None
    return onnx


def to_onnx(net: Network) -> bytes:
    """``net``'s feedforward pass as a serialised ONNX model (see the module docstring)."""
    onnx = require_onnx()
    from onnx import TensorProto, helper, numpy_helper

    nodes, initializers = [], []
    previous = INPUT
    for layer, (w, b) in enumerate(zip(net.weights, net.biases)):
        # Gemm computes A·Bᵀ + C with transB=1: rows of a times the book's (n_out, n_in) w.
        initializers.append(numpy_helper.from_array(w.astype(np.float32), f"weights_{layer}"))
        initializers.append(numpy_helper.from_array(b[:, 0].astype(np.float32), f"biases_{layer}"))
        z, a = f"z_{layer}", f"a_{layer}"
        nodes.append(
            helper.make_node(
                "Gemm", [previous, f"weights_{layer}", f"biases_{layer}"], [z], transB=1
            )
        )
        nodes.append(helper.make_node("Sigmoid", [z], [a]))
        previous = a
    nodes.append(helper.make_node("Identity", [previous], [OUTPUTS[0]]))
    nodes.append(helper.make_node("ArgMax", [OUTPUTS[0]], [OUTPUTS[1]], axis=1, keepdims=0))
    n_in, n_out = net.sizes[0], net.sizes[-1]
    graph = helper.make_graph(
        nodes,
        "neuraldigits_feedforward",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["N", n_in])],
        [
            helper.make_tensor_value_info(OUTPUTS[0], TensorProto.FLOAT, ["N", n_out]),
            helper.make_tensor_value_info(OUTPUTS[1], TensorProto.INT64, ["N"]),
        ],
        initializers,
    )
    model = helper.make_model(
        graph,
        producer_name="neuraldigits",
        producer_version=__version__,
        opset_imports=[helper.make_opsetid("", OPSET)],
        doc_string=f"Feedforward network {net.sizes} of sigmoid neurons (Gemm + Sigmoid per "
        f"layer). Input {INPUT!r}: [N, {n_in}] {PIXEL_SCALE}. Outputs: {OUTPUTS[0]!r} [N, "
        f"{n_out}] sigmoid activations (not probabilities), {OUTPUTS[1]!r} [N] their argmax.",
    )
    model.ir_version = IR_VERSION
    helper.set_model_props(model, _metadata(net))
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _metadata(net: Network) -> dict[str, str]:
    """The metadata props: ONNX allows string values only, so the rest goes as JSON."""
    props = {
        "library": "neuraldigits",
        "library_version": __version__,
        "sizes": json.dumps(list(net.sizes)),
        "cost": net.cost.name,
        "input": INPUT,
        "input_scale": PIXEL_SCALE,
        "outputs": json.dumps(list(OUTPUTS)),
    }
    source = {k: v for k, v in net.metadata.items() if k not in ("history",)}
    try:
        props["source_metadata"] = json.dumps(source, default=str, allow_nan=False)
    except ValueError:  # NaN in an unsaved network's metadata: leave it out, not fail
        pass
    return props


def export_onnx(net: Network, path: str | os.PathLike[str]) -> Path:
    """Write ``net`` as ONNX (:func:`to_onnx`) to ``path`` atomically; return the path."""
    data = to_onnx(net)
    path = Path(path)
    with atomic_write(path) as f:
        f.write(data)
    return path
