"""The console's live feed across replicas reads the database; on PostgreSQL a handoff
message can become visible after one with a higher id (ids are taken at insert, rows appear
at commit). A message that commits late must still reach the staff watching, once."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.console.tickets import Viewer
from bot.db import make_engine, make_session_factory, transaction, upgrade
from bot.handoff import ACTIVE, Handoff, HandoffMessage
from channels.console.live import HUB, ConsoleHub, ConsoleSocket, _broadcast_new
from channels.keys import SESSIONS


class Page:
    """A console page's socket: what the gateway sent it."""

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []

    async def send_json(self, frame: dict[str, Any]) -> None:
        self.frames.append(frame)

    def texts(self) -> list[str]:
        return [f["message"]["text"] for f in self.frames if f["type"] == "message"]


async def test_a_message_committed_after_a_newer_one_is_still_shown_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tiepdan.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    now = datetime(2026, 11, 23, 2, 0)
    with transaction(sessions) as session:
        handoff = Handoff(
            sender_id="web:abc",
            channel="widget",
            language="vi",
            unit_id="customer_care",
            status=ACTIVE,
            agent="lan",
            requested_at=now,
            last_activity_at=now,
        )
        session.add(handoff)
        session.flush()
        handoff_id = handoff.id

    def write(message_id: int, text: str) -> None:
        with transaction(sessions) as session:
            session.add(
                HandoffMessage(
                    id=message_id, handoff_id=handoff_id, author="resident", text=text, at=now
                )
            )

    app = web.Application()
    app[SESSIONS] = sessions
    app[HUB] = ConsoleHub()
    page = Page()
    app[HUB].sockets.add(
        ConsoleSocket(page, Viewer("lan", "agent", "customer_care"), watching=handoff_id)  # type: ignore[arg-type]
    )
    try:
        write(11, "tin thứ hai")  # id 10 was taken first, but commits later
        await _broadcast_new(app)
        assert page.texts() == ["tin thứ hai"]
        write(10, "tin thứ nhất")
        await _broadcast_new(app)
        await _broadcast_new(app)
        assert page.texts() == ["tin thứ hai", "tin thứ nhất"]
    finally:
        engine.dispose()
