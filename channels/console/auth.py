"""Who may do what in the console: the session cookie, roles per route, CSRF tokens and the
security headers of every console response.

Every console route is named and listed in ROUTE_ROLES; a route missing from the table is
refused to everyone, so a new page is closed until someone decides who may open it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp_session import get_session, session_middleware
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from bot.console.tickets import Viewer
from bot.settings import Settings

PREFIX = "/console"
PUBLIC_ROUTES = {"console.login", "console.login_submit", "console.static"}
STAFF = frozenset({"agent", "supervisor", "admin"})
EVERYONE = frozenset({"agent", "supervisor", "trainer", "admin"})
TRAINERS = frozenset({"trainer", "admin"})
ROUTE_ROLES: dict[str, frozenset[str]] = {
    "console.home": EVERYONE,
    "console.logout": EVERYONE,
    "console.language": EVERYONE,
    "console.queue": STAFF,
    "console.queue_json": STAFF,
    "console.handoff": STAFF,
    "console.handoff_accept": STAFF,
    "console.handoff_close": STAFF,
    "console.ws": STAFF,
    "console.takeover": frozenset({"supervisor", "admin"}),
    "console.tickets": STAFF,
    "console.ticket": STAFF,
    "console.ticket_status": STAFF,
    "console.ticket_assign": STAFF,
    "console.ticket_note": STAFF,
    "console.audit": frozenset({"admin"}),
    "console.dashboard": frozenset({"supervisor", "admin"}),
    "console.dashboard_download": frozenset({"supervisor", "admin"}),
    "console.escalations": frozenset({"supervisor", "admin"}),
    "console.escalation_ack": frozenset({"supervisor", "admin"}),
    "console.escalation_handled": frozenset({"supervisor", "admin"}),
    "console.trainer_inbox": TRAINERS,
    "console.trainer_item": TRAINERS,
    "console.trainer_accept": TRAINERS,
    "console.trainer_out_of_scope": TRAINERS,
    "console.trainer_ignore": TRAINERS,
    "console.trainer_conversation": TRAINERS,
    "console.trainer_intents": TRAINERS,
    "console.model": frozenset({"admin"}),
    "console.model_release": frozenset({"admin"}),
    "console.model_restore": frozenset({"admin"}),
}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'"
)


def cookie_storage(settings: Settings) -> EncryptedCookieStorage:
    key = hashlib.sha256(("console:" + settings.secret_key).encode()).digest()
    return EncryptedCookieStorage(
        key,
        cookie_name="tiepdan_console",
        path=PREFIX,
        httponly=True,
        samesite="Strict",
        secure=settings.public_base_url.startswith("https://"),
        max_age=12 * 3600,
    )


async def csrf_token(request: web.Request) -> str:
    session = await get_session(request)
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def csrf_matches(expected: Any, given: Any) -> bool:
    return (
        isinstance(expected, str)
        and isinstance(given, str)
        and bool(expected)
        and hmac.compare_digest(expected.encode(), given.encode())
    )


async def viewer_of(request: web.Request) -> Viewer | None:
    session = await get_session(request)
    user = session.get("user")
    if not isinstance(user, dict):
        return None
    return Viewer(user["username"], user["role"], user.get("unit_id"))


def language_of(request: web.Request, session: Any) -> str:
    wanted = request.query.get("lang")
    if wanted in ("vi", "en"):
        session["lang"] = wanted
    return "en" if session.get("lang") == "en" else "vi"


def _secure_headers(response: web.StreamResponse) -> None:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cache-Control", "no-store")


def _refuse(request: web.Request, status: int, why: str) -> web.Response:
    return web.Response(status=status, text=why, content_type="text/plain")


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def console_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Session, role and CSRF checks for every console route, then the security headers."""
    if not request.path.startswith(PREFIX):
        return await handler(request)
    route = request.match_info.route
    name = route.name if route is not None else None
    try:
        if name not in PUBLIC_ROUTES and request.match_info.http_exception is None:
            refused = await _check(request, name)
            if refused is not None:
                response: web.StreamResponse = refused
            else:
                response = await handler(request)
        elif name == "console.login_submit" and not await _csrf_ok(request):
            response = _refuse(request, 403, "CSRF token missing or wrong")
        else:
            response = await handler(request)
    except web.HTTPException as error:
        _secure_headers(error)
        raise
    if not response.prepared:
        _secure_headers(response)
    return response


async def _csrf_ok(request: web.Request) -> bool:
    session = await get_session(request)
    given = request.headers.get("X-CSRF-Token")
    if given is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        given = (await request.post()).get("csrf")
    return csrf_matches(session.get("csrf"), given)


async def _check(request: web.Request, name: str | None) -> web.StreamResponse | None:
    viewer = await viewer_of(request)
    if viewer is None:
        if request.method in SAFE_METHODS and name != "console.ws":
            raise web.HTTPFound(f"{PREFIX}/login?next={request.path}")
        return _refuse(request, 401, "log in first")
    if viewer.role not in ROUTE_ROLES.get(name or "", frozenset()):
        return _refuse(request, 403, "your role may not open this page")
    if request.method not in SAFE_METHODS and not await _csrf_ok(request):
        return _refuse(request, 403, "CSRF token missing or wrong")
    return None


def setup_auth(app: web.Application, settings: Settings) -> None:
    app.middlewares.append(session_middleware(cookie_storage(settings)))
    app.middlewares.append(console_guard)
