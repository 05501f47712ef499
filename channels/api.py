"""`POST /api/chat`: the plain HTTP chat channel for integrations, tests and benchmarks.

Body `{"sender": str, "text": str, "lang": "vi"|"en" (optional), "id": str (optional)}`,
bearer token required. Anything invalid is refused with a JSON error before it reaches Rasa.
With an `id` (the client's own message id) a retried call is recognised: the message is
handled once and the retry gets its answer again.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from functools import partial

from aiohttp import web

from bot.conversation import converse
from bot.db import transaction
from bot.outbox import take_for_recipient
from bot.text import NotText, resident_text
from channels.keys import RASA, SESSIONS, SETTINGS
from channels.ratelimit import sender_wait

MAX_TEXT = 2000
MAX_BODY = 64 * 1024
MAX_SENDER = 128
MAX_CLIENT_ID = 64
LANGUAGES = {"vi", "en"}
# Vietnamese stays readable in the JSON (no \u escapes).
dumps = partial(json.dumps, ensure_ascii=False)


def error(status: int, code: str, message: str) -> web.Response:
    return web.json_response(
        {"error": {"code": code, "message": message}}, status=status, dumps=dumps
    )


async def read_body(request: web.Request, limit: int) -> bytes | web.Response:
    """The raw body, or a 413 answer when it is larger than `limit` (declared or sent)."""
    too_large = error(413, "body_too_large", f"The body is larger than {limit} bytes.")
    if request.content_length is not None and request.content_length > limit:
        return too_large
    raw = await request.content.read(limit + 1)
    return too_large if len(raw) > limit else raw


def authorized(request: web.Request) -> bool:
    token = request.app[SETTINGS].api_token
    header = request.headers.get("Authorization", "")
    scheme, _, supplied = header.partition(" ")
    if not token or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(supplied.strip().encode(), token.encode())


def parse_chat_request(raw: bytes) -> tuple[dict[str, object] | None, web.Response | None]:
    """Validate the body; returns (request, None) or (None, the error response)."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return None, error(400, "invalid_encoding", "The body must be UTF-8 encoded JSON.")
    except (ValueError, RecursionError):  # JSONDecodeError, or a 5,000-digit number
        return None, error(400, "malformed_json", "The body is not valid JSON.")
    if not isinstance(body, dict):
        return None, error(400, "invalid_body", "The body must be a JSON object.")
    sender, text, lang = body.get("sender"), body.get("text"), body.get("lang")
    if not isinstance(sender, str) or not sender.strip():
        return None, error(400, "missing_sender", "'sender' must be a non-empty string.")
    if len(sender) > MAX_SENDER or not sender.isprintable():
        return None, error(
            400,
            "invalid_sender",
            f"'sender' must be printable and at most {MAX_SENDER} characters.",
        )
    if not isinstance(text, str):
        return None, error(400, "missing_text", "'text' must be a string.")
    try:
        text = resident_text(text)
    except NotText:
        return None, error(
            400, "invalid_text", "'text' is not valid Unicode text (it has lone surrogates)."
        )
    if not text.strip():
        return None, error(400, "empty_text", "'text' is empty: send the resident's message.")
    if len(text) > MAX_TEXT:
        return None, error(
            413, "text_too_long", f"'text' has {len(text)} characters; the limit is {MAX_TEXT}."
        )
    if lang is not None and (not isinstance(lang, str) or lang not in LANGUAGES):
        return None, error(400, "invalid_lang", '\'lang\' must be "vi" or "en" when given.')
    client_id = body.get("id")
    if client_id is not None and (
        not isinstance(client_id, str)
        or not 0 < len(client_id) <= MAX_CLIENT_ID
        or not client_id.isprintable()
    ):
        return None, error(
            400,
            "invalid_id",
            f"'id' must be a printable string of at most {MAX_CLIENT_ID} characters when given.",
        )
    return {"sender": sender.strip(), "text": text, "lang": lang, "id": client_id}, None


SLOW_DOWN = {
    "vi": "Dạ, anh/chị gửi tin nhắn nhanh quá ạ. Anh/chị vui lòng chờ khoảng {s} giây rồi "
    "gửi lại giúp em nhé.",
    "en": "You are sending messages very quickly. Please wait about {s} seconds and send it again.",
}


def slow_down(lang: str | None, wait: float) -> web.Response:
    """429 for a resident over the per-resident limit: the message was not processed; the
    integration shows the polite sentence and may resend after Retry-After."""
    seconds = max(int(wait + 0.999), 1)
    text = SLOW_DOWN["en" if lang == "en" else "vi"].format(s=seconds)
    body = {
        "error": {"code": "rate_limited", "message": f"Retry after {seconds} s."},
        "messages": [{"text": text, "buttons": [], "image": None}],
    }
    return web.json_response(body, status=429, headers={"Retry-After": str(seconds)}, dumps=dumps)


def client_message_key(sender: str, client_id: object) -> str | None:
    """The log's external id for a client's message id (unique per sender, bounded length)."""
    if client_id is None:
        return None
    digest = hashlib.sha256(f"{sender}\0{client_id}".encode()).hexdigest()[:40]
    return f"c-{digest}"


async def chat(request: web.Request) -> web.Response:
    if not authorized(request):
        return error(401, "unauthorized", "Send 'Authorization: Bearer <TIEPDAN_API_TOKEN>'.")
    raw = await read_body(request, MAX_BODY)
    if isinstance(raw, web.Response):
        return raw
    chat_request, failure = parse_chat_request(raw)
    if failure is not None:
        return failure
    wait = sender_wait(request.app, f"api:{chat_request['sender']}")
    if wait:
        return slow_down(chat_request["lang"], wait)  # type: ignore[arg-type]
    outcome = await converse(
        request.app[RASA],
        request.app[SESSIONS],
        channel="api",
        sender_id=f"api:{chat_request['sender']}",
        text=str(chat_request["text"]),
        language_hint=chat_request["lang"],  # type: ignore[arg-type]
        external_id=client_message_key(str(chat_request["sender"]), chat_request["id"]),
    )
    body = {"messages": [reply.as_dict() for reply in outcome.replies]}
    if not outcome.answered:
        return web.json_response(body, status=503, headers={"Retry-After": "30"}, dumps=dumps)
    return web.json_response(body, dumps=dumps)


async def notifications(request: web.Request) -> web.Response:
    """`GET /api/notifications?sender=a`: messages queued for an API resident since the last
    call (ticket status changes, survey invitations), each returned once."""
    if not authorized(request):
        return error(401, "unauthorized", "Send 'Authorization: Bearer <TIEPDAN_API_TOKEN>'.")
    sender = request.query.get("sender", "").strip()
    if not sender or len(sender) > MAX_SENDER or not sender.isprintable():
        return error(400, "missing_sender", "Give ?sender=<the sender used with /api/chat>.")

    def take() -> list[dict[str, object]]:
        with transaction(request.app[SESSIONS]) as session:
            return take_for_recipient(session, "api", f"api:{sender}")

    bodies = await asyncio.to_thread(take)
    messages = [
        {"text": b.get("text", ""), "buttons": b.get("buttons", []), "image": None} for b in bodies
    ]
    return web.json_response({"messages": messages}, dumps=dumps)


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/chat", chat)
    app.router.add_get("/api/notifications", notifications)
