"""The widget's WebSocket at `/widget/ws`: one resident conversation per signed session.

Protocol (JSON text frames):

    client → {"type": "hello", "session": token|null, "after": last seq seen, "lang": "vi"}
    server → {"type": "welcome", "session": token, "history": [bubble…], "typing": bool}
    client → {"type": "message", "id": uuid, "text": "…", "payload": "/affirm"?, "lang": "vi"}
    server → {"type": "ack", "id": uuid, "seq": n, "duplicate": bool}
    server → {"type": "message", "bubble": {...}}   (either side's bubble, to every open tab)
    server → {"type": "typing", "on": bool}
    server → {"type": "error", "code": "…", "message": "…", "id": uuid?}

Every bubble is stored (`bot.widget_messages`) before it is sent, so a client that lost its
connection asks for what came after the last `seq` it has. A resident's message carries the
client's uuid: it is acknowledged once stored, and a resend after a reconnect is stored and
answered once (the transcript and the inbound log are both unique on it). Outbox rows for
channel "widget" are moved into the transcript and pushed while the resident has a socket
open here; otherwise they wait for the next connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
import weakref
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web
from sqlalchemy import select

from bot import conversation, widget_messages
from bot.db import transaction
from bot.outbox import PENDING, SENDING, OutboxMessage, take_for_recipient
from bot.text import NotText, resident_text
from bot.widget_messages import ASSISTANT, RESIDENT
from channels.api import LANGUAGES, MAX_TEXT, dumps, error
from channels.fanout import FANOUT, Fanout
from channels.keys import RASA, SESSIONS, SETTINGS
from channels.widget.sessions import new_session, origin_allowed, sign, signing_key, verify

log = logging.getLogger(__name__)

CHANNEL = "widget"
CLIENT_ID = re.compile(r"[A-Za-z0-9-]{8,64}")
MAX_FRAME = 16 * 1024
HELLO_TIMEOUT = 15.0
HISTORY_LIMIT = 200
# A resident types far slower than this; a script does not.
BURST, BURST_SECONDS = 20, 10.0
NOTIFICATION_POLL_SECONDS = 1.0
SHUTDOWN_GRACE_SECONDS = 10.0


def sender_of(session_id: str) -> str:
    return f"web:{session_id}"


class Hub:
    """The widget sockets open on this gateway, by session id (a resident may have the
    site open in several tabs), and which sessions the assistant is answering."""

    def __init__(self) -> None:
        self.sockets: dict[str, set[web.WebSocketResponse]] = defaultdict(set)
        self.answering: dict[str, int] = defaultdict(int)
        # One lock per session keeps its messages in order across tabs; a lock lives while
        # someone holds or waits for it.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self.tasks: set[asyncio.Task[None]] = set()
        # Other gateway replicas may hold this session's sockets (channels/fanout.py).
        self.fanout: Fanout | None = None

    def join(self, session_id: str, socket: web.WebSocketResponse) -> None:
        self.sockets[session_id].add(socket)

    def leave(self, session_id: str, socket: web.WebSocketResponse) -> None:
        sockets = self.sockets.get(session_id)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del self.sockets[session_id]

    def connected(self) -> list[str]:
        return [sid for sid, sockets in self.sockets.items() if any(not s.closed for s in sockets)]

    def lock(self, session_id: str) -> asyncio.Lock:
        lock = self._locks.get(session_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[session_id] = lock
        return lock

    def spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def send(self, session_id: str, frame: dict[str, Any]) -> None:
        """To every open socket of the session, on this replica and (through the fan-out)
        on the others."""
        await self.send_here(session_id, frame)
        if self.fanout is not None:
            await self.fanout.publish("widget", {"session": session_id, "frame": frame})

    async def send_here(self, session_id: str, frame: dict[str, Any]) -> None:
        """To the session's sockets on this replica; a socket that fails is dropped (its
        client reconnects and asks for what it missed)."""
        data = dumps(frame)
        for socket in list(self.sockets.get(session_id, ())):
            try:
                await socket.send_str(data)
            except (ConnectionError, RuntimeError):
                self.leave(session_id, socket)

    async def close_all(self) -> None:
        for sockets in list(self.sockets.values()):
            for socket in list(sockets):
                # "Going away": the widget reconnects to whichever gateway comes back.
                await socket.close(code=WSCloseCode.GOING_AWAY, message=b"restarting")


HUB = web.AppKey("widget_hub", Hub)


def _error(code: str, message: str, client_id: str | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if client_id:
        frame["id"] = client_id
    return frame


def parse_message(frame: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(message, None) or (None, the error frame) for a `{"type": "message"}` frame."""
    client_id, text, payload = frame.get("id"), frame.get("text"), frame.get("payload")
    lang = frame.get("lang")
    if not isinstance(client_id, str) or not CLIENT_ID.fullmatch(client_id):
        return None, _error("invalid_id", "'id' must be the message's uuid.")
    if isinstance(text, str):
        try:
            text = resident_text(text)
        except NotText:
            return None, _error("invalid_text", "The message is not valid text.", client_id)
    if not isinstance(text, str) or not text.strip():
        return None, _error("empty_text", "Type a message first.", client_id)
    if len(text) > MAX_TEXT:
        return None, _error(
            "text_too_long", f"Messages are limited to {MAX_TEXT} characters.", client_id
        )
    if payload is not None and (
        not isinstance(payload, str) or not payload.strip() or len(payload) > MAX_TEXT
    ):
        return None, _error("invalid_payload", "'payload' must be a button's payload.", client_id)
    if lang is not None and (not isinstance(lang, str) or lang not in LANGUAGES):
        return None, _error("invalid_lang", '\'lang\' must be "vi" or "en".', client_id)
    return {"id": client_id, "text": text.strip(), "payload": payload, "lang": lang}, None


class WidgetConnection:
    """What one socket does for its resident; the methods are named for the frames."""

    def __init__(self, app: web.Application, socket: web.WebSocketResponse) -> None:
        self.app = app
        self.socket = socket
        self.hub = app[HUB]
        self.sessions = app[SESSIONS]
        self.session_id = ""
        self.recent: deque[float] = deque(maxlen=BURST)

    async def reply(self, frame: dict[str, Any]) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.socket.send_str(dumps(frame))

    async def on_hello(self, frame: dict[str, Any]) -> None:
        key = signing_key(self.app[SETTINGS])
        self.session_id = verify(key, frame.get("session")) or new_session()
        after = frame.get("after")
        after = after if isinstance(after, int) and not isinstance(after, bool) else 0
        # Join before reading the history: a bubble stored in between is then sent twice
        # at worst (the client keeps one per seq), never missed.
        self.hub.join(self.session_id, self.socket)
        history = await asyncio.to_thread(self._history, max(after, 0))
        await self.reply(
            {
                "type": "welcome",
                "session": sign(key, self.session_id),
                "history": history,
                "typing": self.hub.answering.get(self.session_id, 0) > 0,
            }
        )
        self.hub.spawn(deliver_notifications(self.app, self.session_id))

    def _history(self, after: int) -> list[dict[str, Any]]:
        with self.sessions() as session:
            rows = widget_messages.history(
                session, self.session_id, after=after, limit=HISTORY_LIMIT
            )
            return [row.as_dict() for row in rows]

    async def on_frame(self, raw: str) -> None:
        try:
            frame = json.loads(raw)
        except (ValueError, RecursionError):  # bad JSON or a 5,000-digit number
            await self.reply(_error("malformed_json", "Each frame must be a JSON object."))
            return
        if not isinstance(frame, dict):
            await self.reply(_error("malformed_json", "Each frame must be a JSON object."))
        elif frame.get("type") == "message":
            await self.on_message(frame)
        elif frame.get("type") == "hello":
            await self.reply(_error("already_started", "This connection already said hello."))
        else:
            await self.reply(_error("unknown_type", "Frames are 'hello' or 'message'."))

    async def on_message(self, frame: dict[str, Any]) -> None:
        message, problem = parse_message(frame)
        if problem is not None:
            await self.reply(problem)
            return
        assert message is not None
        now = time.monotonic()
        if len(self.recent) == BURST and now - self.recent[0] < BURST_SECONDS:
            await self.reply(_error("too_fast", "Too many messages; wait a moment.", message["id"]))
            return
        self.recent.append(now)
        bubble, duplicate = await asyncio.to_thread(self._store, message)
        await self.reply(
            {"type": "ack", "id": message["id"], "seq": bubble["seq"], "duplicate": duplicate}
        )
        if not duplicate:
            await self.hub.send(self.session_id, {"type": "message", "bubble": bubble})
        # Even a duplicate goes on: if the first copy was stored but the gateway stopped
        # before asking Rasa, this answers it; otherwise the inbound log drops it.
        self.hub.spawn(answer(self.app, self.session_id, message))

    def _store(self, message: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        with transaction(self.sessions) as session:
            stored = widget_messages.record(
                session,
                session_id=self.session_id,
                author=RESIDENT,
                text=message["text"],
                client_id=message["id"],
            )
            if stored is not None:
                return stored.as_dict(), False
            existing = widget_messages.find(session, self.session_id, message["id"])
            assert existing is not None
            return existing.as_dict(), True


async def answer(app: web.Application, session_id: str, message: dict[str, Any]) -> None:
    """Ask the assistant and store, then push, its replies; one message of a session at a
    time, in the order they arrived."""
    hub = app[HUB]
    sender_id = sender_of(session_id)
    async with hub.lock(session_id):
        # A resend of a message already answered stops here; one stored but never answered
        # (the gateway stopped in between) is answered now.
        message_id, routed = await conversation.accept_and_route(
            app[SESSIONS],
            channel=CHANNEL,
            sender_id=sender_id,
            text=message["text"],
            language_hint=message["lang"],
            external_id=message["id"],
            resume=True,
            rasa_text=message["payload"] or None,
        )
        if message_id is None:
            return
        hub.answering[session_id] += 1
        await hub.send(session_id, {"type": "typing", "on": True})
        try:
            outcome = await conversation.answer(
                app[RASA],
                app[SESSIONS],
                message_id,
                channel=CHANNEL,
                sender_id=sender_id,
                text=message["payload"] or message["text"],
                language_hint=message["lang"],
                routed=routed,
            )
            replies = [reply.as_dict() for reply in outcome.replies]
            bubbles = await asyncio.to_thread(store_assistant_bubbles, app, session_id, replies)
            for bubble in bubbles:
                await hub.send(session_id, {"type": "message", "bubble": bubble})
        except Exception:  # the resident must not be left waiting on a socket that says nothing
            log.exception("widget: answering a message of session %s failed", session_id[:6])
            await hub.send(
                session_id,
                _error("not_answered", "The message could not be answered.", message["id"]),
            )
        finally:
            hub.answering[session_id] -= 1
            if hub.answering[session_id] <= 0:
                del hub.answering[session_id]
            await hub.send(session_id, {"type": "typing", "on": False})


def store_assistant_bubbles(
    app: web.Application, session_id: str, replies: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    with transaction(app[SESSIONS]) as session:
        bubbles = []
        for reply in replies:
            if not (reply.get("text") or reply.get("image") or reply.get("buttons")):
                continue
            stored = widget_messages.record(
                session,
                session_id=session_id,
                author=ASSISTANT,
                text=reply.get("text") or "",
                buttons=reply.get("buttons") or [],
                image=reply.get("image"),
            )
            assert stored is not None  # only residents' bubbles carry a client id
            bubbles.append(stored.as_dict())
        return bubbles


async def deliver_notifications(app: web.Application, session_id: str) -> None:
    """Move the resident's due outbox rows into the transcript (marking them sent in the
    same transaction) and push them to the open sockets."""

    def move() -> list[dict[str, Any]]:
        with transaction(app[SESSIONS]) as session:
            bodies = take_for_recipient(session, CHANNEL, sender_of(session_id))
            bubbles = []
            for body in bodies:
                stored = widget_messages.record(
                    session,
                    session_id=session_id,
                    author=ASSISTANT,
                    text=str(body.get("text") or ""),
                    buttons=body.get("buttons") or [],
                )
                assert stored is not None
                bubbles.append(stored.as_dict())
            return bubbles

    try:
        bubbles = await asyncio.to_thread(move)
    except Exception:  # retried on the next poll; the rows are still pending or leased
        log.exception("widget: delivering notifications to session %s failed", session_id[:6])
        return
    for bubble in bubbles:
        await app[HUB].send(session_id, {"type": "message", "bubble": bubble})


def recipients_with_due_notifications(app: web.Application) -> set[str]:
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    with app[SESSIONS]() as session:
        return set(
            session.execute(
                select(OutboxMessage.recipient)
                .where(
                    OutboxMessage.channel == CHANNEL,
                    OutboxMessage.status.in_((PENDING, SENDING)),
                    OutboxMessage.next_attempt_at <= now,
                )
                .distinct()
            ).scalars()
        )


async def push_notifications(app: web.Application) -> None:
    """Poll for widget outbox rows of the residents connected here."""
    hub = app[HUB]
    while True:
        await asyncio.sleep(NOTIFICATION_POLL_SECONDS)
        if not hub.sockets:
            continue
        try:
            due = await asyncio.to_thread(recipients_with_due_notifications, app)
        except Exception:
            log.exception("widget: looking for notifications failed")
            continue
        for session_id in hub.connected():
            if sender_of(session_id) in due:
                await deliver_notifications(app, session_id)


async def socket(request: web.Request) -> web.StreamResponse:
    """`GET /widget/ws`: the widget's connection."""
    settings = request.app[SETTINGS]
    if not origin_allowed(request.headers.get("Origin"), host=request.host, settings=settings):
        return error(
            403,
            "origin_not_allowed",
            "This site is not allowed to embed the widget; "
            "add its origin to WIDGET_ALLOWED_ORIGINS.",
        )
    ws = web.WebSocketResponse(heartbeat=25.0, max_msg_size=MAX_FRAME)
    if not ws.can_prepare(request).ok:
        return error(400, "websocket_required", "Connect to /widget/ws with a WebSocket.")
    await ws.prepare(request)
    connection = WidgetConnection(request.app, ws)
    try:
        first = await asyncio.wait_for(ws.receive(), timeout=HELLO_TIMEOUT)
    except asyncio.TimeoutError:
        await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"no hello")
        return ws
    hello = None
    if first.type == WSMsgType.TEXT:
        with contextlib.suppress(ValueError, RecursionError):
            hello = json.loads(first.data)
    if not isinstance(hello, dict) or hello.get("type") != "hello":
        await connection.reply(_error("hello_required", "Start with a 'hello' frame."))
        await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"hello required")
        return ws
    try:
        await connection.on_hello(hello)
        async for frame in ws:
            if frame.type == WSMsgType.TEXT:
                await connection.on_frame(frame.data)
            elif frame.type == WSMsgType.BINARY:
                await connection.reply(_error("text_only", "Send JSON text frames."))
    except Exception:  # the database is down, say: the widget reconnects with back-off
        log.exception("widget: session %s failed", connection.session_id[:6])
        await connection.reply(_error("unavailable", "Please try again in a moment."))
        await ws.close(code=WSCloseCode.INTERNAL_ERROR, message=b"unavailable")
    finally:
        if connection.session_id:
            request.app[HUB].leave(connection.session_id, ws)
    return ws


def setup_transport(app: web.Application) -> None:
    hub = app[HUB] = Hub()
    app.router.add_get("/widget/ws", socket)
    if FANOUT in app and app[FANOUT].enabled:
        hub.fanout = app[FANOUT]

        async def from_other_replica(data: dict[str, Any]) -> None:
            session_id, frame = data.get("session"), data.get("frame")
            if isinstance(session_id, str) and isinstance(frame, dict):
                await hub.send_here(session_id, frame)

        hub.fanout.on("widget", from_other_replica)

    async def notifications(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.get_running_loop().create_task(push_notifications(app))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        # Let answers in flight finish (their messages are acknowledged already), briefly.
        running = list(app[HUB].tasks)
        if running:
            _, unfinished = await asyncio.wait(running, timeout=SHUTDOWN_GRACE_SECONDS)
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)

    async def close_sockets(app: web.Application) -> None:
        await app[HUB].close_all()

    app.cleanup_ctx.append(notifications)
    app.on_shutdown.append(close_sockets)
