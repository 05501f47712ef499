"""What staff see of tickets: who may see which, the filtered and paged list, internal notes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.calendar import VIETNAM
from bot.outbox import _utc
from bot.tickets import OPEN_STATUSES, Ticket, TicketEvent, TicketNotFound, get_ticket

PAGE_SIZE = 25


@dataclass(frozen=True)
class Viewer:
    """The member of staff asking: admins see every unit, others their own."""

    username: str
    role: str
    unit_id: str | None

    @property
    def actor(self) -> str:
        return f"staff:{self.username}"

    def sees_unit(self, unit_id: str | None) -> bool:
        return self.role == "admin" or (unit_id is not None and unit_id == self.unit_id)


@dataclass(frozen=True)
class TicketFilter:
    status: str | None = None
    category: str | None = None
    unit_id: str | None = None
    channel: str | None = None
    overdue: bool = False
    created_from: date | None = None
    created_to: date | None = None
    page: int = 1


@dataclass(frozen=True)
class TicketPage:
    tickets: list[Ticket]
    total: int
    page: int
    pages: int


def local_midnight_utc(day: date) -> datetime:
    """The start of a day in Vietnam, as the naive UTC the tables store (dates staff pick
    are local dates)."""
    start = datetime.combine(day, time.min, tzinfo=VIETNAM)
    return start.astimezone(timezone.utc).replace(tzinfo=None)


def list_tickets(session: Session, viewer: Viewer, wanted: TicketFilter, today: date) -> TicketPage:
    query = select(Ticket)
    if viewer.role != "admin":
        query = query.where(Ticket.responsible_unit_id == viewer.unit_id)
    elif wanted.unit_id:
        query = query.where(Ticket.responsible_unit_id == wanted.unit_id)
    if wanted.status:
        query = query.where(Ticket.status == wanted.status)
    if wanted.category:
        query = query.where(Ticket.category == wanted.category)
    if wanted.channel:
        query = query.where(Ticket.channel == wanted.channel)
    if wanted.overdue:
        query = query.where(Ticket.due_at < today, Ticket.status.in_(sorted(OPEN_STATUSES)))
    if wanted.created_from:
        query = query.where(Ticket.created_at >= local_midnight_utc(wanted.created_from))
    if wanted.created_to:
        query = query.where(
            Ticket.created_at < local_midnight_utc(wanted.created_to + timedelta(days=1))
        )
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, wanted.page), pages)
    tickets = session.execute(
        query.order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).scalars()
    return TicketPage(list(tickets), total, page, pages)


def ticket_for(session: Session, viewer: Viewer, code: str) -> Ticket:
    """The ticket if this member of staff may see it; TicketNotFound otherwise (no hint that
    another unit's ticket exists)."""
    ticket = get_ticket(session, code)
    if ticket is None or not viewer.sees_unit(ticket.responsible_unit_id):
        raise TicketNotFound(code)
    return ticket


def add_internal_note(
    session: Session, ticket: Ticket, viewer: Viewer, note: str, now: datetime | None = None
) -> TicketEvent:
    """A note for colleagues only: a history line that keeps the status and tells no one."""
    note = (note or "").strip()
    if not note:
        raise ValueError("an empty note")
    event = TicketEvent(
        ticket=ticket,
        at=_utc(now),
        actor=viewer.actor,
        from_status=ticket.status,
        to_status=ticket.status,
        internal_note=note[:4000],
    )
    session.add(event)
    session.flush()
    return event
