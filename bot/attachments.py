"""Photos residents send before their report is filed, and the small state the chat channels
keep between messages.

A photo arrives on Telegram or Zalo while the complaint form is still being filled in: the
channel stores the file under `var/uploads/` and `stash`es it for the sender; `take_pending`
hands the files to `open_ticket` when the report is submitted.

The same tables module holds what the Telegram and Zalo adapters must remember across
restarts and replicas (so that `bot/` owns every table):
- `ChannelUpdate`: every accepted platform update, to de-duplicate re-deliveries and to
  re-process what a crash interrupted;
- `ButtonChoice`: the short id a Telegram button carries instead of its long payload;
- `BlockedRecipient`: residents who blocked the bot or unfollowed the OA;
- `PlatformToken`: the Zalo OA access and refresh tokens, which rotate.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    delete,
    select,
    update,
)
from sqlalchemy.orm import Session

from bot.db import Base

MAX_BYTES = 10 * 1024 * 1024
IMAGE_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
# A photo waits this long for the report it belongs to.
PENDING_MAX_AGE = timedelta(days=1)
# Platforms re-deliver for about an hour (Zalo) or a day (Telegram): keep ids longer.
UPDATE_MAX_AGE = timedelta(hours=48)
BUTTON_MAX_AGE = timedelta(days=30)

RECEIVED, PROCESSED = "received", "processed"


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _utc(moment: datetime | None) -> datetime:
    if moment is None:
        return utcnow()
    if moment.tzinfo is not None:
        return moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def _insert_unless_duplicate(session: Session, table: Any, values: dict[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING; True when the row went in (see bot.outbox for why
    not a SAVEPOINT)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        raise NotImplementedError(f"channel state supports SQLite and PostgreSQL, not {dialect}")
    result = session.execute(insert(table).values(**values).on_conflict_do_nothing())
    return result.rowcount == 1


# ---------------------------------------------------------------------------------------------
# Pending attachments


class PendingAttachment(Base):
    __tablename__ = "pending_attachment"

    id = Column(Integer, primary_key=True)
    sender_id = Column(String(128), nullable=False, index=True)
    uri = Column(String(1024), nullable=False)
    content_type = Column(String(128), nullable=True)
    size_bytes = Column(Integer, nullable=True)
    original_name = Column(String(255), nullable=True)
    # The platform message it came from, so a re-processed update stashes it once.
    source_key = Column(String(128), nullable=True, unique=True)
    created_at = Column(DateTime, nullable=False)
    # Set when the file was handed to a ticket.
    taken_at = Column(DateTime, nullable=True)


def sniff_image(data: bytes) -> str | None:
    """The image type from the file's first bytes (what the sender claims is not trusted)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def save_upload(uploads_dir: Path, data: bytes, content_type: str) -> Path:
    """Write an accepted image under a random name; returns its path."""
    uploads_dir.mkdir(parents=True, exist_ok=True)
    path = uploads_dir / f"{secrets.token_hex(16)}.{IMAGE_TYPES[content_type]}"
    path.write_bytes(data)
    path.chmod(0o640)
    return path


def stash(
    session: Session,
    *,
    sender_id: str,
    path: str | Path,
    content_type: str | None,
    size: int | None,
    original_name: str | None,
    source_key: str | None = None,
    now: datetime | None = None,
) -> PendingAttachment:
    """Keep a received file for the sender's next report. With a `source_key` already
    stashed (the same message processed twice), returns that row instead."""
    values: dict[str, Any] = dict(
        sender_id=sender_id,
        uri=str(path),
        content_type=content_type,
        size_bytes=size,
        original_name=(original_name or None) and original_name[:255],
        source_key=source_key,
        created_at=_utc(now),
    )
    if source_key is None:
        attachment = PendingAttachment(**values)
        session.add(attachment)
        session.flush()
        return attachment
    _insert_unless_duplicate(session, PendingAttachment.__table__, values)
    return session.execute(
        select(PendingAttachment).where(PendingAttachment.source_key == source_key)
    ).scalar_one()


def take_pending(
    session: Session, sender_id: str, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The sender's files received in the last day and not yet attached, in the order they
    arrived, as `NewAttachment` keyword dicts; each is handed out once."""
    now = _utc(now)
    rows = list(
        session.execute(
            select(PendingAttachment)
            .where(
                PendingAttachment.sender_id == sender_id,
                PendingAttachment.taken_at.is_(None),
                PendingAttachment.created_at >= now - PENDING_MAX_AGE,
            )
            .order_by(PendingAttachment.id)
            .with_for_update()
        ).scalars()
    )
    for row in rows:
        row.taken_at = now
    session.flush()
    return [
        {
            "uri": row.uri,
            "content_type": row.content_type,
            "size_bytes": row.size_bytes,
            "original_name": row.original_name,
        }
        for row in rows
    ]


def forget_expired_attachments(session: Session, now: datetime | None = None) -> list[str]:
    """Drop files never attached to a report within a day; returns their paths to delete
    (a resident's photo is kept no longer than it serves a report)."""
    cutoff = _utc(now) - PENDING_MAX_AGE
    condition = (PendingAttachment.taken_at.is_(None), PendingAttachment.created_at < cutoff)
    paths = list(session.execute(select(PendingAttachment.uri).where(*condition)).scalars())
    session.execute(delete(PendingAttachment).where(*condition))
    return paths


# ---------------------------------------------------------------------------------------------
# Accepted platform updates


class ChannelUpdate(Base):
    """One update a platform delivered, stored before the webhook answers 200."""

    __tablename__ = "channel_update"
    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        Index("ix_channel_update_pending", "status", "received_at"),
    )

    id = Column(Integer, primary_key=True)
    channel = Column(String(16), nullable=False)
    # Telegram update_id, Zalo msg_id (or event, user and timestamp for events without one).
    external_id = Column(String(128), nullable=False)
    sender_id = Column(String(128), nullable=True)
    payload = Column(JSON, nullable=False)
    status = Column(String(16), nullable=False)
    received_at = Column(DateTime, nullable=False)
    processed_at = Column(DateTime, nullable=True)


@dataclass(frozen=True)
class StoredUpdate:
    external_id: str
    payload: dict[str, Any]


def record_update(
    session: Session,
    *,
    channel: str,
    external_id: str,
    sender_id: str | None,
    payload: dict[str, Any],
    now: datetime | None = None,
) -> bool:
    """Store an update; False when the platform already delivered it."""
    return _insert_unless_duplicate(
        session,
        ChannelUpdate.__table__,
        dict(
            channel=channel,
            external_id=external_id,
            sender_id=sender_id,
            payload=payload,
            status=RECEIVED,
            received_at=_utc(now),
        ),
    )


def mark_update_processed(
    session: Session, channel: str, external_id: str, now: datetime | None = None
) -> None:
    session.execute(
        update(ChannelUpdate)
        .where(ChannelUpdate.channel == channel, ChannelUpdate.external_id == external_id)
        .values(status=PROCESSED, processed_at=_utc(now))
    )


def unprocessed_updates(
    session: Session, channel: str, younger_than: timedelta, now: datetime | None = None
) -> list[StoredUpdate]:
    """Updates accepted but never finished (the gateway stopped in between), oldest first."""
    rows = session.execute(
        select(ChannelUpdate.external_id, ChannelUpdate.payload)
        .where(
            ChannelUpdate.channel == channel,
            ChannelUpdate.status == RECEIVED,
            ChannelUpdate.received_at >= _utc(now) - younger_than,
        )
        .order_by(ChannelUpdate.id)
    ).all()
    return [StoredUpdate(external_id, dict(payload)) for external_id, payload in rows]


def forget_old_updates(session: Session, now: datetime | None = None) -> int:
    result = session.execute(
        delete(ChannelUpdate).where(ChannelUpdate.received_at < _utc(now) - UPDATE_MAX_AGE)
    )
    return result.rowcount or 0


# ---------------------------------------------------------------------------------------------
# Telegram button payloads


class ButtonChoice(Base):
    """A button of one keyboard: Telegram carries `token` (callback data is limited to 64
    bytes); the payload goes to Rasa when it is pressed."""

    __tablename__ = "button_choice"

    id = Column(Integer, primary_key=True)
    token = Column(String(32), nullable=False, unique=True)
    keyboard = Column(String(32), nullable=False, index=True)
    sender_id = Column(String(128), nullable=False)
    title = Column(Text, nullable=False)
    payload = Column(Text, nullable=False)
    created_at = Column(DateTime, nullable=False, index=True)
    # The first press of any button of the keyboard uses the whole keyboard.
    used_at = Column(DateTime, nullable=True)
    used_by = Column(String(128), nullable=True)


@dataclass(frozen=True)
class Choice:
    title: str
    payload: str
    keyboard: str


def remember_buttons(
    session: Session,
    *,
    sender_id: str,
    buttons: Sequence[tuple[str, str]],
    now: datetime | None = None,
) -> list[str]:
    """Store one keyboard's (title, payload) pairs; returns a short token for each."""
    now = _utc(now)
    keyboard = secrets.token_urlsafe(9)
    tokens = []
    for title, payload in buttons:
        token = secrets.token_urlsafe(12)
        session.add(
            ButtonChoice(
                token=token,
                keyboard=keyboard,
                sender_id=sender_id,
                title=title,
                payload=payload,
                created_at=now,
            )
        )
        tokens.append(token)
    session.flush()
    return tokens


def use_button(
    session: Session,
    token: str,
    *,
    sender_id: str,
    used_by: str,
    now: datetime | None = None,
) -> Choice | None:
    """The pressed button, or None when it is unknown, expired, someone else's, or its
    keyboard was already used by another press. Pressing again within the same update
    (a re-processed update) returns the choice again."""
    now = _utc(now)
    button = session.execute(
        select(ButtonChoice).where(ButtonChoice.token == token).with_for_update()
    ).scalar_one_or_none()
    if button is None or button.sender_id != sender_id or button.created_at < now - BUTTON_MAX_AGE:
        return None
    used = session.execute(
        select(ButtonChoice.used_by).where(
            ButtonChoice.keyboard == button.keyboard, ButtonChoice.used_at.is_not(None)
        )
    ).first()
    if used is not None and used[0] != used_by:
        return None
    session.execute(
        update(ButtonChoice)
        .where(ButtonChoice.keyboard == button.keyboard)
        .values(used_at=now, used_by=used_by)
        .execution_options(synchronize_session=False)
    )
    return Choice(title=button.title, payload=button.payload, keyboard=button.keyboard)


def forget_old_buttons(session: Session, now: datetime | None = None) -> int:
    result = session.execute(
        delete(ButtonChoice).where(ButtonChoice.created_at < _utc(now) - BUTTON_MAX_AGE)
    )
    return result.rowcount or 0


# ---------------------------------------------------------------------------------------------
# Residents who cannot be reached


class BlockedRecipient(Base):
    __tablename__ = "blocked_recipient"
    __table_args__ = (PrimaryKeyConstraint("channel", "recipient"),)

    channel = Column(String(16), nullable=False)
    recipient = Column(String(128), nullable=False)
    reason = Column(Text, nullable=False)
    blocked_at = Column(DateTime, nullable=False)


def record_blocked(
    session: Session, channel: str, recipient: str, reason: str, now: datetime | None = None
) -> None:
    """Remember that messages to this resident are refused (blocked bot, unfollowed OA)."""
    values = dict(channel=channel, recipient=recipient, reason=reason[:1000], blocked_at=_utc(now))
    if not _insert_unless_duplicate(session, BlockedRecipient.__table__, values):
        session.execute(
            update(BlockedRecipient)
            .where(BlockedRecipient.channel == channel, BlockedRecipient.recipient == recipient)
            .values(reason=values["reason"], blocked_at=values["blocked_at"])
        )


def is_blocked(session: Session, channel: str, recipient: str) -> bool:
    return (
        session.execute(
            select(BlockedRecipient.recipient).where(
                BlockedRecipient.channel == channel, BlockedRecipient.recipient == recipient
            )
        ).first()
        is not None
    )


def unblock(session: Session, channel: str, recipient: str) -> bool:
    """The resident wrote again (or followed again): they can be reached. True if they were
    recorded as blocked."""
    result = session.execute(
        delete(BlockedRecipient).where(
            BlockedRecipient.channel == channel, BlockedRecipient.recipient == recipient
        )
    )
    return bool(result.rowcount)


# ---------------------------------------------------------------------------------------------
# Platform tokens


class PlatformToken(Base):
    """Credentials a platform rotates (Zalo OA: a 25-hour access token and a single-use
    refresh token), kept in the database so every restart and replica uses the latest."""

    __tablename__ = "platform_token"

    name = Column(String(32), primary_key=True)
    access_token = Column(Text, nullable=False)
    refresh_token = Column(Text, nullable=True)
    expires_at = Column(DateTime, nullable=True)
    # Fingerprint of the tokens the operator configured: new ones in .env replace these.
    seed = Column(String(64), nullable=False)
    updated_at = Column(DateTime, nullable=False)


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str | None
    expires_at: datetime | None
    seed: str


def load_tokens(session: Session, name: str) -> Tokens | None:
    row = session.get(PlatformToken, name, populate_existing=True)
    if row is None:
        return None
    return Tokens(row.access_token, row.refresh_token, row.expires_at, row.seed)


def save_tokens(session: Session, name: str, tokens: Tokens, now: datetime | None = None) -> None:
    row = session.get(PlatformToken, name, with_for_update=True)
    if row is None:
        row = PlatformToken(name=name)
        session.add(row)
    row.access_token = tokens.access_token
    row.refresh_token = tokens.refresh_token
    row.expires_at = tokens.expires_at
    row.seed = tokens.seed
    row.updated_at = _utc(now)
    session.flush()


def housekeeping(session: Session, now: datetime | None = None) -> list[str]:
    """Forget what is no longer needed; returns upload paths to delete."""
    forget_old_updates(session, now)
    forget_old_buttons(session, now)
    return forget_expired_attachments(session, now)
