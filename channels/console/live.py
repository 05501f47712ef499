"""The console's live side: one WebSocket per open console page, and one loop that watches
the database for new handoff messages, idle or abandoned conversations and conversations
whose assistant still has to be resumed. The database is the source of truth, so a gateway
restart (or a second gateway) loses nothing: the loop picks up where the rows say.

Frames from the page: {"type": "hello", "csrf": …, "watch": <handoff id or null>},
{"type": "reply", "handoff_id": …, "text": …}, {"type": "ping"}.
Frames to the page: {"type": "message", "message": {…}}, {"type": "queue"}, {"type": "error"}.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp_session import get_session
from sqlalchemy import select

from bot import handoff as handoffs
from bot.console import mark_seen, record_action
from bot.console.models import StaffAccount
from bot.console.tickets import Viewer
from bot.db import transaction
from bot.rasa_client import RasaUnavailable
from channels.console.auth import csrf_matches, viewer_of
from channels.fanout import FANOUT, fanout_ready
from channels.keys import RASA, SESSIONS, SETTINGS

log = logging.getLogger(__name__)

POLL_SECONDS = 0.25
# On PostgreSQL a message can commit after one with a higher id (ids are handed out at
# insert, rows become visible at commit): each poll looks this many ids back and skips
# those already sent, so a late commit is still broadcast.
LOOKBACK_IDS = 100
HOUSEKEEPING_SECONDS = 5.0
# An agent whose console has been gone this long gives their conversations back.
AGENT_GONE = timedelta(seconds=60)


@dataclass(eq=False)
class ConsoleSocket:
    ws: web.WebSocketResponse
    viewer: Viewer
    watching: int | None = None


@dataclass
class ConsoleHub:
    sockets: set[ConsoleSocket] = field(default_factory=set)
    last_message_id: int = 0
    # Ids already broadcast within the look-back window.
    sent: set[int] = field(default_factory=set)
    # One resume round at a time: the close button and the loop must not both resume.
    resuming: asyncio.Lock = field(default_factory=asyncio.Lock)
    # One broadcast at a time, so a message is never sent twice to a page.
    broadcasting: asyncio.Lock = field(default_factory=asyncio.Lock)

    def online(self) -> set[str]:
        return {s.viewer.username for s in self.sockets}


HUB = web.AppKey("console_hub", ConsoleHub)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _touch(app: web.Application, usernames: set[str]) -> None:
    with transaction(app[SESSIONS]) as session:
        for username in usernames:
            mark_seen(session, username)


async def push_to_resident(app: web.Application, handoff_id: int) -> None:
    """Deliver a widget resident's outbox rows now instead of at the widget's next poll."""

    def sender() -> tuple[str, str] | None:
        with app[SESSIONS]() as session:
            handoff = handoffs.get_handoff(session, handoff_id)
            return (handoff.channel, handoff.sender_id) if handoff else None

    found = await asyncio.to_thread(sender)
    if found is None or found[0] != "widget" or not found[1].startswith("web:"):
        return
    from channels.widget.transport import HUB as WIDGET_HUB
    from channels.widget.transport import deliver_notifications

    if WIDGET_HUB in app:
        session_id = found[1][len("web:") :]
        # Move the rows into the transcript only where they can be shown at once: here, or
        # on the replica holding the socket through the fan-out. Otherwise that replica's
        # notification poll delivers them.
        if session_id in app[WIDGET_HUB].sockets or fanout_ready(app):
            await deliver_notifications(app, session_id)


async def pause_held(app: web.Application) -> None:
    """Tell Rasa to stay silent in conversations staff hold (retried until it works)."""
    async with app[HUB].resuming:
        await _pause_held(app)


async def _pause_held(app: web.Application) -> None:
    def pending() -> list[tuple[int, str]]:
        with app[SESSIONS]() as session:
            return [(h.id, h.sender_id) for h in handoffs.needing_pause(session)]

    for handoff_id, sender_id in await asyncio.to_thread(pending):
        try:
            await app[RASA].pause(sender_id)
        except RasaUnavailable as error:
            log.warning("console: pausing %s failed (%s); will retry", sender_id, error)
            continue

        def done(handoff_id: int = handoff_id) -> None:
            with transaction(app[SESSIONS]) as session:
                handoffs.mark_paused(session, handoff_id)

        await asyncio.to_thread(done)


async def resume_closed(app: web.Application) -> None:
    """Tell Rasa to speak again in conversations whose handoff ended (retried until it works)."""

    async with app[HUB].resuming:
        await _resume_closed(app)


async def _resume_closed(app: web.Application) -> None:
    def pending() -> list[tuple[int, str]]:
        with app[SESSIONS]() as session:
            return [(h.id, h.sender_id) for h in handoffs.needing_resume(session)]

    for handoff_id, sender_id in await asyncio.to_thread(pending):
        try:
            await app[RASA].resume(sender_id)
        except RasaUnavailable as error:
            log.warning("console: resuming %s failed (%s); will retry", sender_id, error)
            continue

        def done(handoff_id: int = handoff_id) -> None:
            with transaction(app[SESSIONS]) as session:
                handoffs.mark_resumed(session, handoff_id)

        await asyncio.to_thread(done)


def _housekeeping(app: web.Application, online: set[str]) -> list[int]:
    """Mark connected staff as seen, give back abandoned conversations, close idle ones."""
    now = _now()
    idle = timedelta(minutes=app[SETTINGS].handoff_idle_minutes)
    with transaction(app[SESSIONS]) as session:
        for username in online:
            mark_seen(session, username, now)
        gone = {
            name
            for (name,) in session.execute(
                select(StaffAccount.username).where(
                    (StaffAccount.last_seen_at.is_(None))
                    | (StaffAccount.last_seen_at < now - AGENT_GONE)
                )
            )
        }
        for handoff in handoffs.active(session):
            if handoff.agent in gone and handoff.agent not in online:
                handoffs.return_to_queue(session, handoff, now=now)
                record_action(
                    session,
                    actor="system",
                    action="handoff_requeue",
                    target=f"handoff:{handoff.id}",
                )
        closed = handoffs.close_idle(session, idle, now=now)
        return [h.id for h in closed]


async def _broadcast(app: web.Application) -> None:
    async with app[HUB].broadcasting:
        await _broadcast_new(app)


async def _broadcast_new(app: web.Application) -> None:
    hub = app[HUB]

    def fetch() -> list[dict[str, Any]]:
        after = max(hub.last_message_id - LOOKBACK_IDS, 0)
        with app[SESSIONS]() as session:
            rows = handoffs.messages_since(session, after, limit=LOOKBACK_IDS + 200)
            return [m.as_dict() for m in rows if m.id not in hub.sent]

    fresh = await asyncio.to_thread(fetch)
    if not fresh:
        return
    hub.last_message_id = max(hub.last_message_id, fresh[-1]["id"])
    hub.sent.update(m["id"] for m in fresh)
    hub.sent = {i for i in hub.sent if i > hub.last_message_id - LOOKBACK_IDS}
    for socket in list(hub.sockets):
        with contextlib.suppress(ConnectionError, RuntimeError):
            for message in fresh:
                if socket.watching == message["handoff_id"]:
                    await socket.ws.send_json({"type": "message", "message": message})
            await socket.ws.send_json({"type": "queue"})


def newest_message_id(app: web.Application) -> int:
    # Pages render the transcript so far, then the socket brings what comes after.
    with app[SESSIONS]() as session:
        return int(
            session.execute(
                select(handoffs.HandoffMessage.id)
                .order_by(handoffs.HandoffMessage.id.desc())
                .limit(1)
            ).scalar()
            or 0
        )


async def watch(app: web.Application) -> None:
    """The console's loop: new messages every POLL_SECONDS, housekeeping every few seconds."""
    hub = app[HUB]

    since_housekeeping = HOUSEKEEPING_SECONDS
    while True:
        try:
            await _broadcast(app)
            await pause_held(app)
            since_housekeeping += POLL_SECONDS
            if since_housekeeping >= HOUSEKEEPING_SECONDS:
                since_housekeeping = 0.0
                closed = await asyncio.to_thread(_housekeeping, app, hub.online())
                for handoff_id in closed:
                    await push_to_resident(app, handoff_id)
                await resume_closed(app)
        except Exception:  # the database is busy or down: try again on the next turn
            log.exception("console: watching handoffs failed")
        await asyncio.sleep(POLL_SECONDS)


async def _on_reply(app: web.Application, socket: ConsoleSocket, frame: dict[str, Any]) -> None:
    handoff_id = frame.get("handoff_id")
    text = frame.get("text")
    if not isinstance(handoff_id, int) or not isinstance(text, str):
        await socket.ws.send_json({"type": "error", "error": "bad_reply"})
        return
    viewer = socket.viewer

    def reply() -> str | None:
        with transaction(app[SESSIONS]) as session:
            handoff = handoffs.get_handoff(session, handoff_id)
            if handoff is None or not viewer.sees_unit(handoff.unit_id):
                return "not_found"
            if handoff.agent != viewer.username:
                return "not_yours"
            try:
                message = handoffs.agent_reply(session, handoff, viewer.username, text)
            except handoffs.HandoffError:
                return "not_active"
            record_action(
                session,
                actor=viewer.username,
                action="handoff_reply",
                target=f"handoff:{handoff.id}",
                detail=f"message:{message.id}",
            )
            return None

    problem = await asyncio.to_thread(reply)
    if problem:
        await socket.ws.send_json({"type": "error", "error": problem})
        return
    await push_to_resident(app, handoff_id)
    await _broadcast(app)
    if FANOUT in app:  # the other replicas' consoles show it now, not at their next poll
        await app[FANOUT].publish("console", {"handoff_id": handoff_id})


async def console_socket(request: web.Request) -> web.StreamResponse:
    """`GET /console/ws`: a console page's live connection (session and role checked by the
    guard; the Origin must be this host and the first frame must carry the CSRF token)."""
    viewer = await viewer_of(request)
    assert viewer is not None
    origin = request.headers.get("Origin", "")
    if origin.split("://", 1)[-1] != request.host:
        raise web.HTTPForbidden(text="cross-site console connection refused")
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=64 * 1024)
    await ws.prepare(request)
    expected = (await get_session(request)).get("csrf")
    try:
        first = await asyncio.wait_for(ws.receive(), timeout=10)
        hello = json.loads(first.data) if first.type == WSMsgType.TEXT else None
    except (asyncio.TimeoutError, ValueError):
        hello = None
    if not isinstance(hello, dict) or not csrf_matches(expected, hello.get("csrf")):
        await ws.close(code=4403, message=b"csrf")
        return ws
    watching = hello.get("watch")
    socket = ConsoleSocket(ws, viewer, watching if isinstance(watching, int) else None)
    hub = request.app[HUB]
    hub.sockets.add(socket)
    await asyncio.to_thread(_touch, request.app, {viewer.username})
    try:
        await ws.send_json({"type": "ready"})
        async for frame in ws:
            if frame.type != WSMsgType.TEXT:
                continue
            try:
                data = json.loads(frame.data)
            except ValueError:
                continue
            if isinstance(data, dict) and data.get("type") == "reply":
                await _on_reply(request.app, socket, data)
    finally:
        hub.sockets.discard(socket)
    return ws


def setup_live(app: web.Application) -> None:
    app[HUB] = ConsoleHub()
    app.router.add_get("/console/ws", console_socket, name="console.ws")
    if FANOUT in app and app[FANOUT].enabled:

        async def from_other_replica(data: dict[str, Any]) -> None:
            await _broadcast(app)

        app[FANOUT].on("console", from_other_replica)

    async def watcher(app: web.Application) -> AsyncIterator[None]:
        hub = app[HUB]
        hub.last_message_id = await asyncio.to_thread(newest_message_id, app)
        hub.sent = set(
            range(max(hub.last_message_id - LOOKBACK_IDS, 0) + 1, hub.last_message_id + 1)
        )
        task = asyncio.create_task(watch(app))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(watcher)
