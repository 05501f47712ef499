"""The inbound message log: every resident message is stored before it is answered.

It is what lets a channel acknowledge fast, de-duplicate re-deliveries by their external id
and find messages that were received but never answered, so the recovery worker
(`bot.recovery`) answers them once Rasa is back:

    received (leased to the gateway answering it) ──► answered
        │ lease expired (that gateway died)   ▲
        ▼                                     │ the recovery worker claims it again
    failed (the resident was told "busy") ────┘

A message is re-processed only after every earlier one of the same sender is answered.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db import Base

log = logging.getLogger(__name__)

RECEIVED, ANSWERED, FAILED, EXPIRED = "received", "answered", "failed", "expired"


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class InboundMessage(Base):
    __tablename__ = "inbound_message"
    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        Index("ix_inbound_message_status", "status", "id"),
    )

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
    # What Rasa reads when it differs from `text` (a button's payload; the log keeps its title).
    rasa_text = Column(Text, nullable=True)
    # While received: the answering gateway owns the message until then; after that (it
    # died) the recovery worker takes it over.
    lease_until = Column(DateTime, nullable=True)
    attempts = Column(Integer, nullable=False, default=0, server_default="0")

    @property
    def text_for_rasa(self) -> str:
        return self.rasa_text if self.rasa_text is not None else self.text


# The id of a message already stored under a platform's id (a re-delivery).
STORED_ID = select(InboundMessage.id).where(
    InboundMessage.channel == bindparam("channel"),
    InboundMessage.external_id == bindparam("external_id"),
)


def record_inbound(
    session: Session,
    *,
    channel: str,
    sender_id: str,
    text: str,
    external_id: str | None = None,
    language_hint: str | None = None,
    rasa_text: str | None = None,
    lease: timedelta | None = None,
    status: str = RECEIVED,
    received_at: datetime | None = None,
) -> InboundMessage | None:
    """Store a message; returns None when the same external id was already stored.

    `lease` is how long the caller may take to answer before the recovery worker steps in.
    A message under an id the gateway generated goes in with `insert_received` instead.
    """
    now = utcnow()
    message = InboundMessage(
        channel=channel,
        sender_id=sender_id,
        text=text,
        external_id=external_id,
        language_hint=language_hint,
        rasa_text=rasa_text if rasa_text != text else None,
        status=status,
        received_at=received_at or now,
        lease_until=now + lease if lease is not None else None,
        attempts=1 if status == RECEIVED else 0,
    )
    if external_id is not None:
        existing = session.execute(
            STORED_ID, {"channel": channel, "external_id": external_id}
        ).first()
        if existing:
            return None
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError:  # a concurrent re-delivery won the race
        return None
    return message


INSERT_RECEIVED = insert(InboundMessage).values(
    channel=bindparam("channel"),
    sender_id=bindparam("sender_id"),
    text=bindparam("text"),
    external_id=bindparam("external_id"),
    language_hint=bindparam("language_hint"),
    rasa_text=bindparam("rasa_text"),
    status=RECEIVED,
    received_at=bindparam("now"),
    lease_until=bindparam("lease_until"),
    attempts=1,
)


def received_values(
    *,
    channel: str,
    sender_id: str,
    text: str,
    external_id: str,
    lease: timedelta,
    language_hint: str | None = None,
    rasa_text: str | None = None,
) -> dict[str, Any]:
    """The values of INSERT_RECEIVED for a message received now."""
    now = utcnow()
    return {
        "channel": channel,
        "sender_id": sender_id,
        "text": text,
        "external_id": external_id,
        "language_hint": language_hint,
        "rasa_text": rasa_text if rasa_text != text else None,
        "now": now,
        "lease_until": now + lease,
    }


def insert_received(session: Session | Connection, **message: Any) -> int:
    """Store a new message under an external id that cannot have been stored before (one
    the gateway generated) and return its id: what `record_inbound` does, in one statement
    with no ORM object and no look-up (it is on every message's path). Takes the arguments
    of `received_values`."""
    result = session.execute(INSERT_RECEIVED, received_values(**message))
    return int(result.inserted_primary_key[0])


MARK_ANSWERED = (
    update(InboundMessage)
    .where(InboundMessage.id == bindparam("message_id"), InboundMessage.status != ANSWERED)
    .values(status=ANSWERED, answered_at=bindparam("now"), error=None, lease_until=None)
    .execution_options(synchronize_session=False)
)


def mark_answered(session: Session | Connection, message_id: int) -> bool:
    """False when it was answered already (its replies must not go out twice)."""
    result = session.execute(MARK_ANSWERED, {"message_id": message_id, "now": utcnow()})
    return result.rowcount == 1


def mark_failed(session: Session, message_id: int, error: str) -> None:
    session.execute(
        update(InboundMessage)
        .where(InboundMessage.id == message_id)
        .where(InboundMessage.status != ANSWERED)
        .values(status=FAILED, error=error[:2000], lease_until=None)
    )


def awaiting(now: datetime | None = None):  # type: ignore[no-untyped-def]
    """The condition of a message nobody is answering: failed, or received with its
    gateway's lease run out."""
    now = now or utcnow()
    return or_(
        InboundMessage.status == FAILED,
        and_(
            InboundMessage.status == RECEIVED,
            or_(InboundMessage.lease_until.is_(None), InboundMessage.lease_until < now),
        ),
    )


# Statements on every message's path, built once (building one costs more than running it).
# A message of the sender before message "before" is not answered yet (in flight or waiting).
UNANSWERED_BEFORE = (
    InboundMessage.sender_id == bindparam("sender"),
    InboundMessage.id < bindparam("before"),
    InboundMessage.status.in_((RECEIVED, FAILED)),
)
_UNANSWERED_BEFORE = select(func.count()).select_from(InboundMessage).where(*UNANSWERED_BEFORE)


def unanswered_before(session: Session, sender_id: str, message_id: int) -> int:
    """How many earlier messages of this sender are not answered yet (in flight or waiting)."""
    return session.execute(
        _UNANSWERED_BEFORE, {"sender": sender_id, "before": message_id}
    ).scalar_one()


@dataclass(frozen=True)
class Backlog:
    waiting: int
    oldest: datetime | None


def backlog(session: Session, now: datetime | None = None) -> Backlog:
    """Messages waiting for the recovery worker (for /healthz)."""
    count, oldest = session.execute(
        select(func.count(), func.min(InboundMessage.received_at)).where(awaiting(now))
    ).one()
    return Backlog(int(count or 0), oldest)


def senders_waiting(
    session: Session, since: datetime, now: datetime | None = None, limit: int = 100
) -> list[str]:
    """Senders with messages to recover, the one waiting longest first."""
    rows = session.execute(
        select(InboundMessage.sender_id, func.min(InboundMessage.id).label("first"))
        .where(awaiting(now), InboundMessage.received_at >= since)
        .group_by(InboundMessage.sender_id)
        .order_by("first")
        .limit(limit)
    ).all()
    return [sender for sender, _ in rows]


def claim_next(
    session: Session,
    sender_id: str,
    lease: timedelta,
    now: datetime | None = None,
    answered: Collection[int] = (),
) -> InboundMessage | None:
    """The sender's oldest unanswered message, leased to the caller; None when there is
    none, or when an earlier one is still being answered by a gateway (order is kept), or
    is one of `answered`: the caller's gateway has answered it but not recorded it yet."""
    now = now or utcnow()
    first = session.execute(
        select(InboundMessage)
        .where(
            InboundMessage.sender_id == sender_id,
            InboundMessage.status.in_((RECEIVED, FAILED)),
        )
        .order_by(InboundMessage.id)
        .limit(1)
    ).scalar_one_or_none()
    if first is None or first.id in answered:
        return None
    if first.status == RECEIVED and first.lease_until is not None and first.lease_until >= now:
        return None  # a gateway is answering it right now
    claimed = session.execute(
        update(InboundMessage)
        .where(InboundMessage.id == first.id, awaiting(now))
        .values(
            status=RECEIVED,
            lease_until=now + lease,
            attempts=InboundMessage.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # another worker took it in between
        return None
    session.refresh(first)
    return first


def expire_older_than(session: Session, cutoff: datetime) -> int:
    """Give up on messages too old to be answered usefully; they stay in the log."""
    result = session.execute(
        update(InboundMessage)
        .where(awaiting(), InboundMessage.received_at < cutoff)
        .values(status=EXPIRED, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


SPOOL_QUIET_NS = 1_000_000_000


class Spool:
    """Where a message goes when the database cannot take it (locked, stopped): one JSON
    file per message, written and synced before the resident is told "recorded", moved into
    the log by the recovery worker once the database is back. Files are named by arrival
    time, so they are replayed in order."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        # The folder's modification time when it was last found empty: asked on every
        # message, `has_entries` is then one stat instead of a listing.
        self._empty_at: int | None = None

    def put(self, entry: dict[str, Any]) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.json"
        temporary = self.directory / f".{name}.tmp"
        with temporary.open("w", encoding="utf-8") as handle:
            json.dump(entry, handle, ensure_ascii=False)
            handle.flush()
            os.fsync(handle.fileno())
        final = self.directory / name
        os.replace(temporary, final)
        return final

    def entries(self) -> list[tuple[Path, dict[str, Any]]]:
        """Spooled entries, oldest first; unreadable files are skipped and logged."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                found.append((path, json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError) as error:
                log.error("spool: cannot read %s (%s); it is left in place", path, error)
        return found

    def has_entries(self) -> bool:
        try:
            changed = os.stat(self.directory).st_mtime_ns
        except FileNotFoundError:
            return False
        if changed == self._empty_at:
            return False
        with os.scandir(self.directory) as found:
            if any(entry.name.endswith(".json") for entry in found):
                return True
        # A file added within the file system's timestamp granularity of this listing could
        # leave the time unchanged: only a folder quiet for a while is remembered as empty.
        if time.time_ns() - changed > SPOOL_QUIET_NS:
            self._empty_at = changed
        return False

    def __len__(self) -> int:
        return len(list(self.directory.glob("*.json"))) if self.directory.is_dir() else 0


def import_spooled_message(session: Session, entry: dict[str, Any]) -> InboundMessage | None:
    """A spooled message into the log, waiting for the recovery worker (the resident was
    told "busy" already); None when it is there already (the write it replaced went
    through after all)."""
    return record_inbound(
        session,
        channel=str(entry["channel"]),
        sender_id=str(entry["sender_id"]),
        text=str(entry["text"]),
        external_id=entry.get("external_id"),
        language_hint=entry.get("language_hint"),
        rasa_text=entry.get("rasa_text"),
        status=FAILED,
        received_at=datetime.fromisoformat(entry["received_at"]),
    )


def take_over(session: Session, channel: str, external_id: str, lease: timedelta) -> int | None:
    """A stored message nobody is answering (its gateway stopped), leased to the caller."""
    now = utcnow()
    found = session.execute(
        select(InboundMessage.id).where(
            InboundMessage.channel == channel,
            InboundMessage.external_id == external_id,
            awaiting(now),
        )
    ).scalar_one_or_none()
    if found is None:
        return None
    claimed = session.execute(
        update(InboundMessage)
        .where(InboundMessage.id == found, awaiting(now))
        .values(status=RECEIVED, lease_until=now + lease, attempts=InboundMessage.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    return found if claimed.rowcount == 1 else None
