"""The inbound message log: every resident message is stored before it is answered.

It is what lets a channel acknowledge fast, de-duplicate re-deliveries by their external id
and find messages that were received but never answered after a restart.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Column, DateTime, Integer, String, Text, UniqueConstraint, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db import Base

RECEIVED, ANSWERED, FAILED = "received", "answered", "failed"


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class InboundMessage(Base):
    __tablename__ = "inbound_message"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id = Column(Integer, primary_key=True)
    channel = Column(String(16), nullable=False)
    sender_id = Column(String(128), nullable=False, index=True)
    # The platform's id (Telegram update_id, Zalo msg_id, widget client id); None for /api/chat.
    external_id = Column(String(128), nullable=True)
    text = Column(Text, nullable=False)
    language_hint = Column(String(8), nullable=True)
    status = Column(String(16), nullable=False, default=RECEIVED)
    received_at = Column(DateTime, nullable=False, default=utcnow)
    answered_at = Column(DateTime, nullable=True)
    error = Column(Text, nullable=True)


def record_inbound(
    session: Session,
    *,
    channel: str,
    sender_id: str,
    text: str,
    external_id: str | None = None,
    language_hint: str | None = None,
) -> InboundMessage | None:
    """Store a message; returns None when the same external id was already stored."""
    if external_id is not None:
        existing = session.execute(
            select(InboundMessage.id).where(
                InboundMessage.channel == channel, InboundMessage.external_id == external_id
            )
        ).first()
        if existing:
            return None
    message = InboundMessage(
        channel=channel,
        sender_id=sender_id,
        text=text,
        external_id=external_id,
        language_hint=language_hint,
    )
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError:  # a concurrent re-delivery won the race
        return None
    return message


def mark_answered(session: Session, message_id: int) -> None:
    session.execute(
        update(InboundMessage)
        .where(InboundMessage.id == message_id)
        .values(status=ANSWERED, answered_at=utcnow(), error=None)
    )


def mark_failed(session: Session, message_id: int, error: str) -> None:
    session.execute(
        update(InboundMessage)
        .where(InboundMessage.id == message_id)
        .values(status=FAILED, error=error[:2000])
    )
