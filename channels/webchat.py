"""`GET /`: a minimal page where a person can chat with the assistant.

The page gets a server-issued, signed session id in an HttpOnly cookie and posts messages to
`/web/message` as sender `web:<session>`. (The full Zalo-style widget is its own channel.)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets

import aiohttp_jinja2
from aiohttp import web

from bot.conversation import converse
from channels.api import MAX_TEXT, dumps, error
from channels.keys import RASA, SESSIONS, SETTINGS

COOKIE = "tiepdan_chat"
_PROCESS_KEY = secrets.token_bytes(32)


def _key(app: web.Application) -> bytes:
    secret = app[SETTINGS].secret_key
    return secret.encode() if secret else _PROCESS_KEY


def sign(app: web.Application, session_id: str) -> str:
    mac = hmac.new(_key(app), session_id.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{session_id}.{mac}"


def verify(app: web.Application, cookie: str | None) -> str | None:
    if not cookie or "." not in cookie:
        return None
    session_id = cookie.split(".", 1)[0]
    return session_id if hmac.compare_digest(sign(app, session_id), cookie) else None


@aiohttp_jinja2.template("chat.html")
async def page(request: web.Request) -> dict[str, object]:
    return {}


async def start_session(request: web.Request, response: web.StreamResponse) -> None:
    if verify(request.app, request.cookies.get(COOKIE)) is None:
        response.set_cookie(
            COOKIE,
            sign(request.app, secrets.token_urlsafe(16)),
            httponly=True,
            samesite="Strict",
            max_age=30 * 24 * 3600,
            secure=request.secure,
        )


async def index(request: web.Request) -> web.StreamResponse:
    response = await page(request)
    await start_session(request, response)
    return response


async def message(request: web.Request) -> web.Response:
    session_id = verify(request.app, request.cookies.get(COOKIE))
    if session_id is None:
        return error(401, "no_session", "Reload the page to start a chat session.")
    # A JSON content type cannot be sent cross-site without a CORS preflight we never allow.
    if request.content_type != "application/json":
        return error(415, "json_required", "Send the message as application/json.")
    try:
        body = json.loads(await request.text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return error(400, "malformed_json", "The body is not valid JSON.")
    text = body.get("text") if isinstance(body, dict) else None
    lang = body.get("lang") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text.strip():
        return error(400, "empty_text", "Type a message first.")
    if len(text) > MAX_TEXT:
        return error(413, "text_too_long", f"Messages are limited to {MAX_TEXT} characters.")
    outcome = await converse(
        request.app[RASA],
        request.app[SESSIONS],
        channel="web",
        sender_id=f"web:{session_id}",
        text=text,
        language_hint=lang if lang in {"vi", "en"} else None,
    )
    return web.json_response(
        {"messages": [reply.as_dict() for reply in outcome.replies]}, dumps=dumps
    )


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_post("/web/message", message)
