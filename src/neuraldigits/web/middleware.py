"""The pad's own ASGI middleware: security headers on every answer, and a cap on busy requests.

Both are plain ASGI wrappers (no per-request objects, no body buffering), so they
cost next to nothing on the hot path.  Starlette's ``TrustedHostMiddleware`` does
the Host check; see :func:`neuraldigits.web.app.create_app` for the order.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The page loads nothing from elsewhere, may not be framed (clickjacking), and
# sends no referrer.  One policy for every answer: JSON and error pages need no
# more, and an answer opened in a tab by mistake still runs nothing foreign.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
)
# API answers depend on the drawing and on the model being served: never cache
# them.  The page, its assets and the schema may be cached but are revalidated
# (StaticFiles sends ETags), so an upgraded package never runs a stale script.
API_CACHE = "no-store"
PAGE_CACHE = "no-cache"

_RAW = [
    (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in SECURITY_HEADERS
]
_OURS = {name for name, _ in _RAW} | {b"cache-control"}


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` and a Cache-Control header to every HTTP answer.

    Ours replace any header of the same name the app set, so each appears once.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cache = API_CACHE if scope["path"].startswith("/api/") else PAGE_CACHE
        extra = [*_RAW, (b"cache-control", cache.encode("latin-1"))]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", ()) if k.lower() not in _OURS]
                message = {**message, "headers": kept + extra}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BusyLimit:
    """Answers 503 at once, instead of queueing, when ``limit`` requests are already in hand.

    uvicorn's own ``limit_concurrency`` also counts idle keep-alive and
    half-sent connections, so a flood of idle sockets would make it refuse real
    requests; this counts only requests the app is working on.  The server runs
    one event loop, so a plain counter needs no lock.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"the limit on busy requests must be at least 1, got {limit}")
        self.app = app
        self.limit = limit
        self.busy = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.busy >= self.limit:
            refusal = JSONResponse(
                {
                    "detail": f"the pad is busy ({self.limit} requests in hand, the most it "
                    "takes at once); try again in a moment"
                },
                status_code=503,
                headers={"Retry-After": "1"},
            )
            await refusal(scope, receive, send)
            return
        self.busy += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.busy -= 1
