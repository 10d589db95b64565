"""`digits export MODEL OUT.onnx`: a saved model as a standard ONNX graph."""

from __future__ import annotations

import argparse

from ..modelfile import load
from ..models import SHIPPED
from ..onnx_export import INPUT, OPSET, OUTPUTS, export_onnx, require_onnx
from .common import resolve_model

HELP = "write a saved model as an ONNX graph, for onnxruntime and other runtimes"
DESCRIPTION = (
    HELP + ".\n\n"
    f"The graph (opset {OPSET}) is Gemm + Sigmoid per layer. Input {INPUT!r}: float32\n"
    "[N, 784], one row per picture, pixels 0..1 with ink = 1.0 on a 0.0 background,\n"
    "prepared the MNIST way (neuraldigits.images.preprocess.preprocess does it).\n"
    f"Outputs {OUTPUTS[0]!r}: float32 [N, 10] sigmoid activations (not probabilities);\n"
    f"{OUTPUTS[1]!r}: int64 [N], the answer. Needs the onnx extra. See docs/onnx.md."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model",
        metavar="MODEL",
        help=f"model file saved by `digits train`, or {' / '.join(SHIPPED)} for the shipped model",
    )
    parser.add_argument("out", metavar="OUT.onnx", help="the ONNX file to write (atomically)")


def run(args: argparse.Namespace) -> int:
    require_onnx()  # before reading anything
    net = load(resolve_model(args.model, "export"))
    path = export_onnx(net, args.out)
    args.console.result(
        f"Wrote {path} ({net.sizes}, opset {OPSET}, input {INPUT!r} float32 [N, {net.sizes[0]}])"
    )
    return 0
