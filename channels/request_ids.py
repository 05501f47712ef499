"""A request id for every HTTP request: taken from the caller's X-Request-Id when it is a
sane token (a reverse proxy's), otherwise made here; returned as X-Request-Id on every
response (errors, refusals and WebSocket upgrades included), attached to every log line
written while serving it, and one access line per request (method, path without the query,
status, duration)."""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.logs import REQUEST_ID

HEADER = "X-Request-Id"
KEY = "tiepdan_request_id"
_SANE = re.compile(r"[A-Za-z0-9._-]{8,64}")
log = logging.getLogger("tiepdan.http")


def _request_id(request: web.Request) -> str:
    supplied = request.headers.get(HEADER, "")
    # Unique enough to find a request's lines, and not a secret: no system call for it.
    return supplied if _SANE.fullmatch(supplied) else f"{random.getrandbits(64):016x}"


@web.middleware
async def request_id_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    request_id = request.get(KEY) or _request_id(request)
    request[KEY] = request_id
    token = REQUEST_ID.set(request_id)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        exc.headers[HEADER] = request_id
        raise
    finally:
        # Health probes and static files would drown the rest; they go to DEBUG.
        level = logging.DEBUG if request.path.startswith(("/healthz", "/static/")) else logging.INFO
        if log.isEnabledFor(level):
            # Written once the response is on its way (the next turn of the loop): masking,
            # JSON and the write are not the caller's to wait for.
            asyncio.get_running_loop().call_soon(
                _access_line,
                level,
                request.method,
                request.path,
                status,
                request_id,
                round((time.perf_counter() - started) * 1000, 1),
            )
        REQUEST_ID.reset(token)


def _access_line(
    level: int, method: str, path: str, status: int, request_id: str, ms: float
) -> None:
    log.log(
        level,
        "%s %s %s",
        method,
        path,
        status,
        extra={"status": status, "ms": ms, "request_id": request_id},
    )


async def _add_header(request: web.Request, response: web.StreamResponse) -> None:
    request_id = request.get(KEY)
    if request_id is None:  # a response made before the middleware ran
        request_id = request[KEY] = _request_id(request)
    response.headers[HEADER] = request_id


def setup_request_ids(app: web.Application) -> None:
    """Install as the outermost middleware, so refusals by the others carry the id too."""
    app.middlewares.insert(0, request_id_middleware)
    app.on_response_prepare.append(_add_header)
