"""`digits serve`: the drawing pad in the browser, served by uvicorn."""

from __future__ import annotations

import argparse
import ipaddress
import socket

from ..errors import ModelFileError, NeuralDigitsError
from ..extras import install_hint
from ..modelfile import load
from ..models import shipped_name
from .common import add_model_argument, positive_float, positive_int, resolve_model

# The defaults of the limits, here so that --help can show them without importing
# the web extra; tests check they match neuraldigits.web's own.
MAX_BODY_BYTES = 1 << 20
MAX_BUSY = 256
MAX_CONNECTIONS = 10_000
REQUEST_TIMEOUT = 10.0
KEEP_ALIVE = 5.0

HELP = "draw a digit in the browser and watch the network read it"
DESCRIPTION = (
    HELP + ".\n\nServes a page with a drawing pad: after each stroke it shows the 28×28 image the "
    "network\nsees, the ten output activations, the answer and the hidden layer's activations "
    "(hover\na cell for that neuron's weights). The JSON API is described at /openapi.json.\n"
    "Needs the web extra (FastAPI, uvicorn, Pillow, SciPy)."
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
    parser.add_argument(
        "--allowed-host",
        action="append",
        metavar="NAME",
        help="a Host name (without port) the pad answers to, besides localhost, 127.0.0.1 "
        "and [::1]; repeat for more; '*' turns the check off. Bound to loopback, the pad "
        "answers only those names, which stops DNS rebinding; bound elsewhere, it checks "
        "only when given this option",
    )
    limits = parser.add_argument_group("limits")
    limits.add_argument(
        "--max-body-bytes",
        metavar="BYTES",
        type=positive_int,
        default=MAX_BODY_BYTES,
        help="larger request bodies get 413",
    )
    limits.add_argument(
        "--max-busy",
        metavar="N",
        type=positive_int,
        default=MAX_BUSY,
        help="requests in hand at once; more get 503 at once instead of waiting",
    )
    limits.add_argument(
        "--max-connections",
        metavar="N",
        type=positive_int,
        default=MAX_CONNECTIONS,
        help="open connections; a new one beyond this closes the oldest connection that "
        "has not sent a complete request (lowered to fit the open-file limit)",
    )
    limits.add_argument(
        "--request-timeout",
        metavar="SECONDS",
        type=positive_float,
        default=REQUEST_TIMEOUT,
        help="seconds a client has to send a whole request (headers and body) once it "
        "connects or starts one; slower or idle connections are closed",
    )
    limits.add_argument(
        "--keep-alive",
        metavar="SECONDS",
        type=positive_float,
        default=KEEP_ALIVE,
        help="seconds an idle connection stays open after an answer",
    )


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn  # noqa: F401  (checked first: the web modules may already be loaded)

        from ..web.app import LOOPBACK_HOSTS, create_app
        from ..web.server import (
            ServerLimits,
            connection_cap,
            raise_open_file_limit,
            serve,
        )
    except ImportError as e:
        raise NeuralDigitsError(
            f"`digits serve` needs the web extra (missing module {e.name!r}): "
            f"{install_hint('web')}"
        ) from None
    path = resolve_model(args.model, "serve")
    net = load(path)
    name = shipped_name(path)
    label = f"the shipped {name}" if name else str(path)
    try:
        app = create_app(
            net,
            label,
            allowed_hosts=_allowed_hosts(args.host, args.allowed_host, LOOPBACK_HOSTS),
            max_body_bytes=args.max_body_bytes,
            max_busy=args.max_busy,
        )
    except NeuralDigitsError as e:
        raise ModelFileError(f"{path}: {e}") from None
    # 20,000 idle sockets are 20,000 descriptors; the soft limit is often 1,024.
    open_files = raise_open_file_limit()
    limits = ServerLimits(
        request_timeout=args.request_timeout,
        keep_alive=args.keep_alive,
        max_connections=connection_cap(args.max_connections, open_files),
    )
    if limits.max_connections < args.max_connections:
        print(
            f"digits serve: at most {limits.max_connections:,} connections "
            f"(--max-connections {args.max_connections:,} does not fit the open-file "
            f"limit of {open_files:,})",
            flush=True,
        )
    # We bind the socket ourselves so that "address in use" is one clear error and
    # --port 0 can report the port it got; closed however serving ends.
    with _listen(args.host, args.port) as sock:
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        sizes = "-".join(map(str, net.sizes))
        # The address is the result: printed even with -q.
        args.console.result(f"Serving {path} ({sizes}) at http://{shown}:{port}/  (Ctrl-C stops)")
        try:
            serve(app, sock, limits)
        except KeyboardInterrupt:
            pass  # uvicorn has shut down cleanly, then re-raised Ctrl-C: the normal way to stop
    print("Stopped.", flush=True)
    return 0


def _allowed_hosts(
    host: str, extra: list[str] | None, loopback: tuple[str, ...]
) -> list[str] | None:
    """The Host names to answer, or None for any: bound to loopback, only loopback names."""
    if extra and "*" in extra:
        return None
    if extra:
        return [*loopback, *extra]
    return list(loopback) if _is_loopback(host) else None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port``, or an error naming both."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family)
    except OSError as e:
        raise NeuralDigitsError(
            f"cannot listen on --host {host} --port {port}: {e.strerror or e}"
        ) from None
