"""Tables of the ticket domain: tickets, their attachments, their append-only history and
the failed status look-ups that rate-limit code guessing."""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import relationship

from bot.categories import CATEGORY_IDS
from bot.db import Base
from bot.tickets.dates import utcnow
from bot.tickets.lifecycle import STATUSES

KINDS = ("complaint", "problem_report", "request", "suggestion")
CATEGORIES = CATEGORY_IDS
CHANNELS = ("api", "telegram", "widget", "zalo")
LANGUAGES = ("vi", "en")
PRIORITIES = ("low", "normal", "high", "urgent")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


class Ticket(Base):
    __tablename__ = "ticket"
    __table_args__ = (
        # A retried confirmation carries the same key: one ticket per (sender, key).
        UniqueConstraint("sender_id", "client_request_id"),
        CheckConstraint(_one_of("status", STATUSES), name="status"),
        CheckConstraint(_one_of("kind", KINDS), name="kind"),
        CheckConstraint(_one_of("priority", PRIORITIES), name="priority"),
        CheckConstraint(_one_of("language", LANGUAGES), name="language"),
    )

    id = Column(Integer, primary_key=True)
    code = Column(String(16), nullable=False, unique=True)
    kind = Column(String(16), nullable=False)
    category = Column(String(32), nullable=False)
    description = Column(Text, nullable=False)
    location = Column(Text, nullable=True)
    phone = Column(String(16), nullable=True)
    language = Column(String(8), nullable=False)
    channel = Column(String(16), nullable=False)
    sender_id = Column(String(128), nullable=False, index=True)
    client_request_id = Column(String(64), nullable=True)
    responsible_unit_id = Column(String(64), nullable=True, index=True)
    # A named person at the unit ("staff:<username>"), when someone took it personally.
    assignee = Column(String(128), nullable=True)
    priority = Column(String(8), nullable=False)
    status = Column(String(16), nullable=False, index=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow)
    due_at = Column(Date, nullable=False, index=True)
    first_response_at = Column(DateTime, nullable=True)
    resolved_at = Column(DateTime, nullable=True)
    closed_at = Column(DateTime, nullable=True)
    escalated_at = Column(DateTime, nullable=True)

    attachments = relationship(
        "TicketAttachment", back_populates="ticket", order_by="TicketAttachment.id"
    )
    events = relationship("TicketEvent", back_populates="ticket", order_by="TicketEvent.id")

    def __repr__(self) -> str:
        return f"<Ticket {self.code} {self.status}>"


class TicketAttachment(Base):
    __tablename__ = "ticket_attachment"

    id = Column(Integer, primary_key=True)
    ticket_id = Column(Integer, ForeignKey("ticket.id"), nullable=False, index=True)
    # Where the file is kept: a path under var/ or a URL of the channel's file store.
    uri = Column(String(1024), nullable=False)
    content_type = Column(String(128), nullable=True)
    size_bytes = Column(Integer, nullable=True)
    original_name = Column(String(255), nullable=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)

    ticket = relationship("Ticket", back_populates="attachments")


class TicketEvent(Base):
    """One line of a ticket's history. Rows are only ever added (see the guards below)."""

    __tablename__ = "ticket_event"

    id = Column(Integer, primary_key=True)
    ticket_id = Column(Integer, ForeignKey("ticket.id"), nullable=False, index=True)
    at = Column(DateTime, nullable=False, default=utcnow)
    actor = Column(String(128), nullable=False)
    from_status = Column(String(16), nullable=True)
    to_status = Column(String(16), nullable=False)
    # Shown to the resident (status view, notification); internal_note never is.
    public_note = Column(Text, nullable=True)
    internal_note = Column(Text, nullable=True)

    ticket = relationship("Ticket", back_populates="events")


class TicketLookupMiss(Base):
    """A status look-up that found nothing for this sender; kept in the database so the
    rate limit holds across restarts and across processes."""

    __tablename__ = "ticket_lookup_miss"

    id = Column(Integer, primary_key=True)
    sender_id = Column(String(128), nullable=False, index=True)
    at = Column(DateTime, nullable=False, default=utcnow)


@event.listens_for(TicketEvent, "before_update")
def _refuse_event_update(_mapper, _connection, target: TicketEvent) -> None:  # type: ignore[no-untyped-def]
    raise TypeError(f"ticket history is append-only; refusing to change event {target.id}")


@event.listens_for(TicketEvent, "before_delete")
def _refuse_event_delete(_mapper, _connection, target: TicketEvent) -> None:  # type: ignore[no-untyped-def]
    raise TypeError(f"ticket history is append-only; refusing to delete event {target.id}")
