"""The outbox: messages that must reach someone later, stored in the same transaction as the
change that caused them (a status change, a survey invitation, an escalation to a supervisor).

This module is the delivery state machine only; the gateway's worker claims due rows, calls
the channel, then marks each row sent, failed (retried with back-off) or undeliverable.

    pending ──claim──► sending ──mark_sent──► sent
       ▲                  │ └──mark_failed (attempts left)──► pending (later)
       └──lease expires───┘ └──mark_failed (last attempt) / mark_undeliverable──► failed

Delivery is at least once: a worker that crashes after sending but before mark_sent lets
the lease expire and the row is sent again, unless the gateway's sent journal recorded it
(`channels.sent_journal`, replayed at the next start); a row marked sent is never claimed
again.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    and_,
    func,
    select,
    update,
)
from sqlalchemy.orm import Session

from bot.db import Base

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
STATUSES = (PENDING, SENDING, SENT, FAILED)
CHANNELS = ("telegram", "widget", "zalo", "api", "staff")

BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=2)
UNDELIVERABLE = "undeliverable"

_jitter = random.SystemRandom()


def _utc(moment: datetime | None) -> datetime:
    """Naive UTC, as stored: aware values are converted, naive ones are taken as UTC."""
    if moment is None:
        return datetime.now(timezone.utc).replace(tzinfo=None)
    if moment.tzinfo is not None:
        return moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


class OutboxMessage(Base):
    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_due", "status", "next_attempt_at"),)

    id = Column(Integer, primary_key=True)
    channel = Column(String(16), nullable=False)
    recipient = Column(String(128), nullable=False)
    language = Column(String(8), nullable=False)
    kind = Column(String(32), nullable=False)
    # {"text": "...", "buttons": [{"title": "...", "payload": "..."}]}
    body = Column(JSON, nullable=False)
    status = Column(String(16), nullable=False, default=PENDING)
    # Delivery attempts started (incremented when a worker claims the row).
    attempts = Column(Integer, nullable=False, default=0)
    # When pending: not before this moment. When sending: the end of the worker's lease.
    next_attempt_at = Column(DateTime, nullable=False)
    # Identifies the claim that holds the lease, so a claim can read back exactly its rows.
    claim_token = Column(String(32), nullable=True)
    last_error = Column(Text, nullable=True)
    created_at = Column(DateTime, nullable=False)
    sent_at = Column(DateTime, nullable=True)
    ticket_id = Column(Integer, ForeignKey("ticket.id"), nullable=True, index=True)
    # Producers that might enqueue twice (a retried job) give a key; the second is ignored.
    dedupe_key = Column(String(128), nullable=True, unique=True)
    # Set when a gateway stopped while the platform was taking this row: whether it got
    # there is unknown, so it is sent again and may reach the resident twice.
    unconfirmed_at = Column(DateTime, nullable=True)

    @property
    def text(self) -> str:
        return str((self.body or {}).get("text", ""))

    @property
    def buttons(self) -> list[dict[str, str]]:
        return list((self.body or {}).get("buttons", []))

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.kind} to {self.recipient} {self.status}>"


def _body(text: str, buttons: Iterable[Mapping[str, str]]) -> dict[str, Any]:
    body: dict[str, Any] = {"text": text}
    rendered = [{"title": str(b["title"]), "payload": str(b["payload"])} for b in buttons]
    if rendered:
        body["buttons"] = rendered
    return body


def _insert_unless_duplicate(session: Session, values: dict[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING: True when the row went in.

    Used instead of a SAVEPOINT around a plain INSERT because pysqlite only opens its
    transaction at the first write, so a SAVEPOINT before it would commit on RELEASE.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        raise NotImplementedError(f"the outbox supports SQLite and PostgreSQL, not {dialect}")
    result = session.execute(insert(OutboxMessage).values(**values).on_conflict_do_nothing())
    return result.rowcount == 1


def enqueue(
    session: Session,
    *,
    channel: str,
    recipient: str,
    language: str,
    kind: str,
    text: str,
    buttons: Iterable[Mapping[str, str]] = (),
    ticket_id: int | None = None,
    dedupe_key: str | None = None,
    not_before: datetime | None = None,
    now: datetime | None = None,
    hold: timedelta | None = None,
) -> OutboxMessage:
    """Add a message to deliver. With a `dedupe_key` already used, returns that row instead.

    With `hold`, the caller sends it itself right away: the row starts leased to the caller
    for that long (no worker takes it meanwhile), and goes to the worker only if the caller
    reports a failure or never reports (it died)."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown outbox channel {channel!r}; expected one of {CHANNELS}")
    if not text or not text.strip():
        raise ValueError("an outbox message needs a text")
    now = _utc(now)
    values: dict[str, Any] = dict(
        channel=channel,
        recipient=recipient,
        language=language,
        kind=kind,
        body=_body(text, buttons),
        status=SENDING if hold else PENDING,
        attempts=1 if hold else 0,
        next_attempt_at=now + hold if hold else max(_utc(not_before), now) if not_before else now,
        created_at=now,
        ticket_id=ticket_id,
        dedupe_key=dedupe_key,
    )
    if dedupe_key is None:
        message = OutboxMessage(**values)
        session.add(message)
        session.flush()
        return message
    _insert_unless_duplicate(session, values)
    return session.execute(
        select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key)
    ).scalar_one()


def _claimable(now: datetime):  # type: ignore[no-untyped-def]
    return and_(OutboxMessage.status.in_((PENDING, SENDING)), OutboxMessage.next_attempt_at <= now)


def claim_due(
    session: Session,
    now: datetime | None = None,
    limit: int = 50,
    lease_seconds: int = 60,
    *,
    max_attempts: int = 8,
    channels: Iterable[str] | None = None,
    recipient: str | None = None,
) -> list[OutboxMessage]:
    """Lease up to `limit` due messages to this worker; commit soon after calling.

    `channels` and `recipient` narrow the claim: a push worker claims only the channels it
    can deliver to; a pull endpoint claims one resident's messages.

    Due means pending and not before now, or sending with an expired lease (its worker
    died); the earliest due first. Two workers never get the same row: on PostgreSQL the
    candidates are locked with FOR UPDATE SKIP LOCKED, so a second worker takes the next
    ones; on SQLite the first statement takes the database's write lock, so claims run one
    after the other. Rows whose lease expired `max_attempts` times are given up.
    """
    now = _utc(now)
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.status == SENDING,
            OutboxMessage.next_attempt_at <= now,
            OutboxMessage.attempts >= max_attempts,
        )
        .values(
            status=FAILED,
            claim_token=None,
            last_error=f"gave up: worker lease expired on attempt {max_attempts}",
        )
        .execution_options(synchronize_session=False)
    )
    conditions = [_claimable(now)]
    if channels is not None:
        conditions.append(OutboxMessage.channel.in_(tuple(channels)))
    if recipient is not None:
        conditions.append(OutboxMessage.recipient == recipient)
    candidates = list(
        session.execute(
            select(OutboxMessage.id)
            .where(*conditions)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    if not candidates:
        return []
    token = secrets.token_hex(16)
    # Claimable is checked again: without row locks (SQLite) another worker may have
    # leased a candidate in between; the token then tells our rows from theirs.
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(candidates), _claimable(now))
        .values(
            status=SENDING,
            claim_token=token,
            attempts=OutboxMessage.attempts + 1,
            next_attempt_at=now + timedelta(seconds=lease_seconds),
        )
        .execution_options(synchronize_session=False)
    )
    return list(
        session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.claim_token == token)
            .order_by(OutboxMessage.id)
            .execution_options(populate_existing=True)
        ).scalars()
    )


def _load(session: Session, message_id: int) -> OutboxMessage:
    message = session.execute(
        select(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if message is None:
        raise LookupError(f"no outbox message {message_id}")
    return message


def mark_sent(session: Session, message_id: int, now: datetime | None = None) -> OutboxMessage:
    """The channel accepted the message. Final: the row is never claimed again."""
    message = _load(session, message_id)
    if message.status != SENT:
        message.status = SENT
        message.sent_at = _utc(now)
        message.claim_token = None
        message.last_error = None
    session.flush()
    return message


def backoff(attempts: int, base: timedelta = BACKOFF_BASE) -> timedelta:
    """Delay before the next attempt after `attempts` failed ones: doubling from `base`
    (30 s), capped at 2 h, with ±25 % jitter so a channel outage does not end in a stampede."""
    exponent = max(attempts, 1) - 1
    delay = min(base * (2**exponent), BACKOFF_CAP)
    return delay * _jitter.uniform(0.75, 1.25)


def mark_failed(
    session: Session,
    message_id: int,
    error: str,
    now: datetime | None = None,
    max_attempts: int = 8,
    *,
    retry_after: timedelta | None = None,
    base: timedelta = BACKOFF_BASE,
) -> OutboxMessage:
    """This attempt failed. Retry later (back-off, or the platform's `retry_after` when it
    said so), or give up for good once `max_attempts` attempts were made."""
    now = _utc(now)
    message = _load(session, message_id)
    if message.status == SENT:  # a late failure report from a worker that lost its lease
        return message
    attempts = max(message.attempts, 1)
    message.claim_token = None
    if attempts >= max_attempts:
        message.status = FAILED
        message.last_error = f"gave up after {attempts} attempts: {error}"[:4000]
    else:
        delay = backoff(attempts, base)
        if retry_after is not None:
            delay = max(delay, retry_after)
        message.status = PENDING
        message.next_attempt_at = now + delay
        message.last_error = error[:4000]
    session.flush()
    return message


def mark_undeliverable(session: Session, message_id: int, reason: str) -> OutboxMessage:
    """The recipient cannot be reached at all (blocked the bot, account gone): never retry."""
    message = _load(session, message_id)
    if message.status != SENT:
        message.status = FAILED
        message.claim_token = None
        message.last_error = f"{UNDELIVERABLE}: {reason}"[:4000]
    session.flush()
    return message


def mark_sent_where_unsent(
    session: Session, message_ids: Iterable[int], now: datetime | None = None
) -> int:
    """Rows a gateway handed to the platform and recorded in its sent journal before it
    stopped (`channels.sent_journal`): sent, whatever they are waiting for. Returns how many
    were not marked sent yet."""
    ids = list(message_ids)
    if not ids:
        return 0
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.status.in_((PENDING, SENDING)))
        .values(status=SENT, sent_at=_utc(now), claim_token=None, last_error=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def mark_unconfirmed(
    session: Session, message_ids: Iterable[int], now: datetime | None = None
) -> int:
    """Rows a stopped gateway had started to send without hearing back: they stay due (sent
    again rather than lost) and are marked, for the operators and the fault suite."""
    ids = list(message_ids)
    if not ids:
        return 0
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.status.in_((PENDING, SENDING)))
        .values(unconfirmed_at=_utc(now))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def release(
    session: Session, message_ids: Iterable[int], not_before: datetime | None = None
) -> None:
    """Rows a caller held (see `enqueue`) but did not send: the worker takes them from
    `not_before` on (now by default), in the order they were queued."""
    ids = list(message_ids)
    if not ids:
        return
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.status == SENDING)
        .values(status=PENDING, next_attempt_at=_utc(not_before), claim_token=None)
        .execution_options(synchronize_session=False)
    )


def pending_count(session: Session) -> int:
    """Messages not yet delivered nor given up (for health checks and the console)."""
    return session.execute(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.status.in_((PENDING, SENDING)))
    ).scalar_one()


def take_for_recipient(
    session: Session, channel: str, recipient: str, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Pull delivery (the API channel and the chat page): the resident's due messages,
    marked sent in the same transaction. Returns the bodies in the order they were queued."""
    messages = claim_due(session, now, channels=(channel,), recipient=recipient)
    for message in messages:
        mark_sent(session, message.id, now)
    return [dict(message.body) for message in messages]
