"""`digits serve`: the drawing pad in the browser, served by uvicorn."""

from __future__ import annotations

import argparse
import socket

from ..errors import ModelFileError, NeuralDigitsError
from ..modelfile import load
from ..models import shipped_name
from .common import add_model_argument, resolve_model

HELP = "draw a digit in the browser and watch the network read it"
DESCRIPTION = (
    HELP + ".\n\nServes a page with a drawing pad: after each stroke it shows the 28×28 image the "
    "network\nsees, the ten output activations, the answer and the hidden layer's activations "
    "(hover\na cell for that neuron's weights). The JSON API is described at /openapi.json.\n"
    "Needs the web extra: pip install 'neuraldigits[web]'."
)


def port_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0..65535, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser)
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; 0.0.0.0 lets other machines (a phone) reach the pad",
    )
    parser.add_argument(
        "--port", type=port_number, default=8000, help="TCP port to listen on; 0 picks a free one"
    )


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from ..web.app import create_app
    except ImportError as e:
        raise NeuralDigitsError(
            f"`digits serve` needs the web extra (missing module {e.name!r}): "
            "pip install 'neuraldigits[web]'"
        ) from None
    path = resolve_model(args.model, "serve")
    net = load(path)
    name = shipped_name(path)
    label = f"the shipped {name}" if name else str(path)
    try:
        app = create_app(net, label)
    except NeuralDigitsError as e:
        raise ModelFileError(f"{path}: {e}") from None
    sock = _listen(args.host, args.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    sizes = "-".join(map(str, net.sizes))
    print(f"Serving {path} ({sizes}) at http://{shown}:{port}/  (Ctrl-C stops)", flush=True)
    # We bound the socket ourselves so that "address in use" is one clear error
    # and --port 0 can report the port it got.
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn has shut down cleanly, then re-raised Ctrl-C: the normal way to stop
    print("Stopped.", flush=True)
    return 0


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port``, or an error naming both."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family)
    except OSError as e:
        raise NeuralDigitsError(
            f"cannot listen on --host {host} --port {port}: {e.strerror or e}"
        ) from None
