"""Serving the pad with uvicorn, hardened against slow, idle and too many connections.

uvicorn already closes a keep-alive connection that stays idle
(``timeout_keep_alive``), but not one that never finishes its request: a client
that sends half a header, or a body one byte a minute (slowloris), or nothing
at all, held its connection forever.  And its ``limit_concurrency`` counts
every open connection, idle ones included, so a flood of idle sockets made it
refuse real requests, then ran the process out of file descriptors.

:func:`guarded_protocol` makes uvicorn's h11 protocol give every request
``request_timeout`` seconds to arrive in full (headers and body) and caps the
open connections at ``max_connections``: a new connection beyond the cap
closes the oldest one that has not sent a complete request, so idle sockets
can never starve real ones or exhaust descriptors.  Requests in hand are
capped separately, with 503s, by :class:`.middleware.BusyLimit`.
:func:`serve` runs an app with these settings, with rate-limited logs
(:class:`.logs.RateLimitFilter`) and BLAS on one thread.
"""

from __future__ import annotations

import asyncio
import copy
import gc
import socket
from dataclasses import dataclass
from typing import Any

import h11
import uvicorn
from threadpoolctl import threadpool_limits
from uvicorn.config import LOGGING_CONFIG
from uvicorn.protocols.http.h11_impl import H11Protocol

from .logs import RateLimitFilter
from .middleware import SECURITY_HEADERS

try:
    import resource
except ImportError:  # Windows: no RLIMIT_NOFILE to raise, and no such cap on sockets
    resource = None  # type: ignore[assignment]

# Descriptors kept free beyond the connections: the listening socket, the event
# loop, the model and static files, the log.
SPARE_DESCRIPTORS = 64
# What raise_open_file_limit reports where the system sets no such limit.
NO_LIMIT = 1 << 30
_WAITING_STATES = (h11.IDLE, h11.SEND_BODY)  # the client has not sent a whole request yet
_SECURITY = [(name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS]


@dataclass(frozen=True)
class ServerLimits:
    """How long and how many: the server's side of the pad's limits (see ``digits serve``)."""

    request_timeout: float = 10.0  # seconds for a request (headers and body) to arrive
    keep_alive: float = 5.0  # seconds an idle keep-alive connection stays open
    max_connections: int = 10_000  # open connections; beyond, the oldest waiting one closes
    backlog: int = 2048  # connections the kernel queues before the server accepts them


def guarded_protocol(request_timeout: float, max_connections: int) -> type[H11Protocol]:
    """uvicorn's h11 protocol, with a deadline per request and a cap on open connections.

    Each call makes a new class with its own registry of waiting connections
    (those without a complete request), oldest first, so two servers never share
    state.
    """
    waiting: dict[H11Protocol, None] = {}

    class GuardedH11Protocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > max_connections:
                if not waiting:  # every connection is being answered: refuse this one
                    transport.close()
                    return
                oldest = next(iter(waiting))
                waiting.pop(oldest)
                oldest._disarm()
                oldest.transport.close()
            self._wait()

        def connection_lost(self, exc: Exception | None) -> None:
            waiting.pop(self, None)
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._deadline is None and self.conn.their_state is h11.IDLE:
                self._wait()  # the first bytes of a new request on a kept-alive connection
            super().data_received(data)
            self._check_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            # Back to idle: uvicorn's keep-alive timer runs until the next request
            # starts; a pipelined request already half here gets a deadline now.
            if not self.transport.is_closing() and self.conn.their_state in _WAITING_STATES:
                waiting[self] = None
                if self.conn.their_state is h11.SEND_BODY or self.conn.trailing_data[0]:
                    self._arm()

        def send_400_response(self, msg: str) -> None:
            # h11 can find a request malformed after the app has started on it (a bad
            # chunked body): uvicorn then answers 400 itself, and the app's own answer
            # would later break h11's state ("Exception in ASGI application").  Tell the
            # app its client is gone, and put the security headers on the 400 too.
            cycle = self.cycle
            if cycle is not None and not cycle.response_complete:
                cycle.disconnected = True
                cycle.message_event.set()
                if cycle.response_started:  # too late for a 400
                    self.transport.close()
                    return
            headers = [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"connection", b"close"),
                *_SECURITY,
            ]
            for event in (
                h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
                h11.Data(data=msg.encode("ascii")),
                h11.EndOfMessage(),
            ):
                self.transport.write(self.conn.send(event))
            self.transport.close()

        def _wait(self) -> None:
            waiting[self] = None
            self._arm()

        def _check_complete(self) -> None:
            if self.conn.their_state not in _WAITING_STATES:
                waiting.pop(self, None)
                self._disarm()

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(request_timeout, self._too_slow)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _too_slow(self) -> None:
            self._deadline = None
            if self.conn.their_state in _WAITING_STATES and not self.transport.is_closing():
                # No answer: a client this slow (or idle) is not reading one.
                self.transport.close()

    return GuardedH11Protocol


def raise_open_file_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit; return the new soft limit.

    Each connection is a descriptor; the soft limit is often 1,024 while the
    hard limit allows far more.  Without POSIX limits (Windows) there is none to raise:
    the connections are then capped by ``--max-connections`` alone.
    """
    if resource is None:
        return NO_LIMIT
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (ValueError, OSError):
        return soft
    return wanted


def connection_cap(wanted: int, open_file_limit: int) -> int:
    """``wanted``, lowered so that the connections leave SPARE_DESCRIPTORS descriptors free."""
    return max(1, min(wanted, open_file_limit - SPARE_DESCRIPTORS))


def log_config(burst: int = 5, interval: float = 60.0) -> dict[str, Any]:
    """uvicorn's logging settings, with every handler rate-limited and asyncio's errors
    (such as "socket.accept() out of system resource") sent through them too."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {
        "rate": {"()": RateLimitFilter, "burst": burst, "interval": interval},
    }
    for handler in config["handlers"].values():
        handler["filters"] = ["rate"]
    config["loggers"]["asyncio"] = {"handlers": ["default"], "level": "WARNING", "propagate": False}
    return config


def server_config(app: Any, limits: ServerLimits, *, own_logging: bool = True) -> uvicorn.Config:
    """The uvicorn settings :func:`serve` uses, for ``app`` under ``limits``.

    ``own_logging``: configure the process's logging (:func:`log_config`), as a
    server process should; a server started inside another program (a test) leaves
    that program's logging alone.
    """
    return uvicorn.Config(
        app,
        http=guarded_protocol(limits.request_timeout, limits.max_connections),
        ws="none",  # the pad has no websockets: refuse upgrades outright
        timeout_keep_alive=limits.keep_alive,  # type: ignore[arg-type]  # a float works
        timeout_graceful_shutdown=5,  # Ctrl-C does not wait on slow clients
        backlog=limits.backlog,
        log_config=log_config() if own_logging else None,
        log_level="warning",
        access_log=False,  # a line per drawing is noise, and costs time under load
        server_header=False,
        proxy_headers=False,  # no proxy in front: X-Forwarded-For is the client's word
    )


def serve(app: Any, sock: socket.socket, limits: ServerLimits) -> None:
    """Serve ``app`` on the listening ``sock`` until Ctrl-C (which propagates).

    BLAS runs on one thread: a forward pass for one drawing is too small to
    share, and spare BLAS threads spinning on a busy core cost more than they give
    (with SciPy's second OpenBLAS idle beside NumPy's, one 800×784 product took
    5 ms instead of 0.15 ms here).
    """
    server = uvicorn.Server(server_config(app, limits))
    # Everything loaded so far (numpy, FastAPI, the model) lives as long as the server:
    # out of the collector's sight, a full collection under load stays short.
    gc.collect()
    gc.freeze()
    with threadpool_limits(1):
        server.run(sockets=[sock])
