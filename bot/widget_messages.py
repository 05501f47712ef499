"""The web widget's transcript: every bubble a resident saw, in order, per widget session.

It is what lets the widget restore the conversation after a reload, on another page of the
same site or after a lost connection (the client asks for what came after the last id it
has). A resident's message carries the client's id, so a message resent after a reconnect
is stored once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db import Base

RESIDENT, ASSISTANT = "resident", "assistant"
AUTHORS = (RESIDENT, ASSISTANT)


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class WidgetMessage(Base):
    __tablename__ = "widget_message"
    __table_args__ = (UniqueConstraint("session_id", "client_id"),)

    id = Column(Integer, primary_key=True)
    session_id = Column(String(64), nullable=False, index=True)
    author = Column(String(16), nullable=False)
    # The widget's uuid for a resident's message; None for the assistant's.
    client_id = Column(String(64), nullable=True)
    text = Column(Text, nullable=False, default="")
    # [{"title": "...", "payload": "..."}]
    buttons = Column(JSON, nullable=True)
    # A photo the resident sent (a path under the gateway) or an image the assistant sent.
    image = Column(String(1024), nullable=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.id,
            "author": self.author,
            "client_id": self.client_id,
            "text": self.text or "",
            "buttons": list(self.buttons or []),
            "image": self.image,
            "at": self.created_at.replace(tzinfo=timezone.utc).isoformat(),
        }


def record(
    session: Session,
    *,
    session_id: str,
    author: str,
    text: str = "",
    buttons: Iterable[Mapping[str, str]] = (),
    image: str | None = None,
    client_id: str | None = None,
    now: datetime | None = None,
) -> WidgetMessage | None:
    """Append a bubble; returns None when this client id was already stored for the session."""
    if author not in AUTHORS:
        raise ValueError(f"unknown author {author!r}; expected one of {AUTHORS}")
    if client_id is not None and find(session, session_id, client_id) is not None:
        return None
    message = WidgetMessage(
        session_id=session_id,
        author=author,
        client_id=client_id,
        text=text,
        buttons=[{"title": b["title"], "payload": b["payload"]} for b in buttons] or None,
        image=image,
        created_at=now or utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError:  # the same message arrived on two sockets at once
        return None
    return message


def find(session: Session, session_id: str, client_id: str) -> WidgetMessage | None:
    return session.execute(
        select(WidgetMessage).where(
            WidgetMessage.session_id == session_id, WidgetMessage.client_id == client_id
        )
    ).scalar_one_or_none()


def history(
    session: Session, session_id: str, *, after: int = 0, limit: int = 200
) -> list[WidgetMessage]:
    """The session's bubbles after id `after`, oldest first; at most the newest `limit`."""
    newest = list(
        session.execute(
            select(WidgetMessage)
            .where(WidgetMessage.session_id == session_id, WidgetMessage.id > after)
            .order_by(WidgetMessage.id.desc())
            .limit(limit)
        ).scalars()
    )
    return newest[::-1]
