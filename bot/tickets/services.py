"""Ticket services: open, move, assign, look up, list and escalate tickets.

Plain functions taking a session and plain arguments, called alike by rasa actions, the staff
console, the scheduler and tests. None of them commits: the caller owns the unit of work
(`with bot.db.transaction(factory) as session: ...`). Anything a resident or a supervisor
must be told later is appended to the outbox in the same transaction.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from bot import outbox
from bot.calendar import WorkingCalendar
from bot.text import fold
from bot.tickets import messages
from bot.tickets.codes import new_code, normalise_code
from bot.tickets.dates import as_utc, due_date, format_date, local_date
from bot.tickets.lifecycle import (
    ASSIGNED,
    CLOSED,
    IN_PROGRESS,
    OPEN_STATUSES,
    RECEIVED,
    REJECTED,
    REOPENED,
    RESOLVED,
    IllegalTransition,
    InvalidTicket,
    ReasonRequired,
    TicketNotFound,
    check_transition,
)
from bot.tickets.models import (
    CATEGORIES,
    CHANNELS,
    KINDS,
    LANGUAGES,
    PRIORITIES,
    Ticket,
    TicketAttachment,
    TicketEvent,
    TicketLookupMiss,
)
from bot.tickets.validation import normalise_phone, validate_description
from bot.tickets.views import LookupRefused, StatusView

RESIDENT, SYSTEM = "resident", "system"
# Water or power cut: people cannot wait in the normal queue.
OUTAGE_CATEGORIES = frozenset({"water_supply", "electricity"})
OUTAGE_KINDS = frozenset({"problem_report", "complaint"})
DUPLICATE_WINDOW = timedelta(days=7)
LOOKUP_MISS_LIMIT = 5
LOOKUP_MISS_WINDOW = timedelta(minutes=15)
# 32**5 codes per month: a collision is rare, several in a row mean something is broken.
CODE_DRAWS = 8
MAX_IDEMPOTENCY_KEY = 64


@dataclass(frozen=True)
class NewAttachment:
    """A file the resident sent with the report, already stored by the channel adapter."""

    uri: str
    content_type: str | None = None
    size_bytes: int | None = None
    original_name: str | None = None


def default_priority(kind: str, category: str) -> str:
    return "high" if category in OUTAGE_CATEGORIES and kind in OUTAGE_KINDS else "normal"


def _insert_unless_duplicate(session: Session, values: dict[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING; True when the ticket row went in.

    Preferred to a SAVEPOINT: pysqlite opens its transaction only at the first write, so a
    SAVEPOINT before it would commit everything on RELEASE.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        raise NotImplementedError(f"tickets support SQLite and PostgreSQL, not {dialect}")
    result = session.execute(insert(Ticket).values(**values).on_conflict_do_nothing())
    return result.rowcount == 1


def _by_request(session: Session, sender_id: str, key: str) -> Ticket | None:
    return session.execute(
        select(Ticket).where(Ticket.sender_id == sender_id, Ticket.client_request_id == key)
    ).scalar_one_or_none()


def _note(text: str | None) -> str | None:
    text = (text or "").strip()
    return text or None


def _attachment(item: NewAttachment | Mapping[str, Any]) -> NewAttachment:
    return item if isinstance(item, NewAttachment) else NewAttachment(**item)


def open_ticket(
    session: Session,
    *,
    kind: str,
    category: str,
    description: str,
    location: str | None,
    sender_id: str,
    channel: str,
    language: str,
    phone: str | None = None,
    attachments: Iterable[NewAttachment | Mapping[str, Any]] = (),
    idempotency_key: str | None = None,
    calendar: WorkingCalendar,
    unit_for_category: Callable[[str], str],
    now: datetime | None = None,
    due_days: Mapping[str, int] | None = None,
    priority: str | None = None,
) -> Ticket:
    """Record a new ticket, route it to its unit and set its due date.

    A second call with the same `idempotency_key` from the same sender (a retried or
    double-clicked confirmation) returns the first ticket and changes nothing.
    Raises InvalidTicket naming the field when an argument is not acceptable.
    """
    if idempotency_key is not None:
        if not idempotency_key or len(idempotency_key) > MAX_IDEMPOTENCY_KEY:
            raise InvalidTicket("idempotency_key", f"1 to {MAX_IDEMPOTENCY_KEY} characters")
        existing = _by_request(session, sender_id, idempotency_key)
        if existing is not None:
            return existing
    for field, value, allowed in (
        ("kind", kind, KINDS),
        ("category", category, CATEGORIES),
        ("channel", channel, CHANNELS),
        ("language", language, LANGUAGES),
    ):
        if value not in allowed:
            raise InvalidTicket(field, f"{value!r} is not one of {', '.join(allowed)}")
    if priority is not None and priority not in PRIORITIES:
        raise InvalidTicket("priority", f"{priority!r} is not one of {', '.join(PRIORITIES)}")
    if not sender_id:
        raise InvalidTicket("sender_id", "required")
    checked = validate_description(description)
    if not checked.ok:
        raise InvalidTicket("description", checked.problem or "invalid")
    normalised_phone = None
    if phone and phone.strip():
        normalised_phone = normalise_phone(phone)
        if normalised_phone is None:
            raise InvalidTicket("phone", f"{phone!r} is not a Vietnamese phone number")
    files = [_attachment(item) for item in attachments]

    now = as_utc(now)
    opened_on = local_date(now)
    values: dict[str, Any] = dict(
        kind=kind,
        category=category,
        description=checked.text,
        location=_note(location),
        phone=normalised_phone,
        language=language,
        channel=channel,
        sender_id=sender_id,
        client_request_id=idempotency_key,
        responsible_unit_id=unit_for_category(category),
        priority=priority or default_priority(kind, category),
        status=RECEIVED,
        created_at=now,
        updated_at=now,
        due_at=due_date(category, opened_on, calendar, due_days),
    )
    for _ in range(CODE_DRAWS):
        code = new_code(opened_on)
        if _insert_unless_duplicate(session, {**values, "code": code}):
            break
        if idempotency_key is not None:  # a concurrent confirmation won the race
            existing = _by_request(session, sender_id, idempotency_key)
            if existing is not None:
                return existing
    else:
        raise RuntimeError(f"no free ticket code after {CODE_DRAWS} draws for {opened_on:%y%m}")
    ticket = session.execute(select(Ticket).where(Ticket.code == code)).scalar_one()
    for file in files:
        session.add(
            TicketAttachment(
                ticket=ticket,
                uri=file.uri,
                content_type=file.content_type,
                size_bytes=file.size_bytes,
                original_name=file.original_name,
                created_at=now,
            )
        )
    session.add(
        TicketEvent(
            ticket=ticket,
            at=now,
            actor=RESIDENT,
            from_status=None,
            to_status=RECEIVED,
            internal_note=f"opened on {channel}",
        )
    )
    session.flush()
    return ticket


def get_ticket(session: Session, code: str, *, for_update: bool = False) -> Ticket | None:
    """The ticket with this code (any spelling a resident might use), or None."""
    normalised = normalise_code(code)
    if normalised is None:
        return None
    query = select(Ticket).where(Ticket.code == normalised)
    if for_update:
        query = query.with_for_update()
    return session.execute(query).scalar_one_or_none()


def _require(session: Session, code: str) -> Ticket:
    ticket = get_ticket(session, code, for_update=True)
    if ticket is None:
        raise TicketNotFound(code)
    return ticket


def _is_response(actor: str) -> bool:
    """Someone at the unit acted (not the resident, not an automatic rule)."""
    return actor not in (RESIDENT, SYSTEM)


def _record(
    session: Session,
    ticket: Ticket,
    to_status: str,
    *,
    actor: str,
    public_note: str | None,
    internal_note: str | None,
    now: datetime,
) -> TicketEvent:
    """Apply a move (or a note on the same status), append its event, tell the resident."""
    from_status = ticket.status
    ticket.status = to_status
    ticket.updated_at = now
    if to_status == RESOLVED:
        ticket.resolved_at = now
    elif to_status == CLOSED:
        ticket.closed_at = now
    elif to_status == REOPENED:
        ticket.resolved_at = ticket.closed_at = None
    if ticket.first_response_at is None and _is_response(actor):
        ticket.first_response_at = now
    event = TicketEvent(
        ticket=ticket,
        at=now,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        public_note=public_note,
        internal_note=internal_note,
    )
    session.add(event)
    session.flush()
    if actor != RESIDENT and (from_status != to_status or public_note):
        outbox.enqueue(
            session,
            channel=ticket.channel,
            recipient=ticket.sender_id,
            language=ticket.language,
            kind="ticket_status",
            text=messages.status_changed(
                code=ticket.code,
                status=to_status,
                public_note=public_note,
                language=ticket.language,
                kind=ticket.kind,
            ),
            ticket_id=ticket.id,
            dedupe_key=f"ticket-event:{event.id}",
            now=now,
        )
    return event


def change_status(
    session: Session,
    code: str,
    to_status: str,
    *,
    actor: str,
    public_note: str | None = None,
    internal_note: str | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Move a ticket along its lifecycle, record who did it and notify the resident.

    Raises TicketNotFound, IllegalTransition (a move the lifecycle does not allow) or
    ReasonRequired (rejecting without a public note saying why).
    """
    ticket = _require(session, code)
    public_note, internal_note = _note(public_note), _note(internal_note)
    check_transition(ticket.code, ticket.status, to_status)
    if to_status == REJECTED and not public_note:
        raise ReasonRequired(
            f"rejecting {ticket.code} needs a reason for the resident (public_note)"
        )
    now = as_utc(now)
    _record(
        session,
        ticket,
        to_status,
        actor=actor,
        public_note=public_note,
        internal_note=internal_note,
        now=now,
    )
    if to_status == RESOLVED:
        # Satisfaction survey, once per ticket, sent later through the outbox. Imported
        # here because bot.surveys reopens tickets through this module.
        from bot.surveys import offer_after_resolution

        offer_after_resolution(session, ticket, now)
    return ticket


def assign(
    session: Session,
    code: str,
    unit_or_staff: str,
    actor: str,
    *,
    public_note: str | None = None,
    internal_note: str | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Give the ticket to a unit (its id) or to a person ("staff:<username>").

    A received or reopened ticket becomes assigned; an assigned or in-progress one keeps its
    status (a hand-over, recorded in the history); a finished one cannot be assigned.
    """
    ticket = _require(session, code)
    if ticket.status in (RECEIVED, REOPENED):
        to_status = ASSIGNED
    elif ticket.status in (ASSIGNED, IN_PROGRESS):
        to_status = ticket.status
    else:
        raise IllegalTransition(
            ticket.code, ticket.status, ASSIGNED, why=f"a {ticket.status} ticket is not reassigned"
        )
    if unit_or_staff.startswith("staff:"):
        ticket.assignee = unit_or_staff
    else:
        ticket.responsible_unit_id = unit_or_staff
        ticket.assignee = None
    handover = f"assigned to {unit_or_staff}"
    _record(
        session,
        ticket,
        to_status,
        actor=actor,
        public_note=_note(public_note),
        internal_note="; ".join(filter(None, [handover, _note(internal_note)])),
        now=as_utc(now),
    )
    return ticket


def _last_public_note(session: Session, ticket_id: int) -> str | None:
    return session.execute(
        select(TicketEvent.public_note)
        .where(TicketEvent.ticket_id == ticket_id, TicketEvent.public_note.is_not(None))
        .order_by(TicketEvent.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def _view(session: Session, ticket: Ticket, *, is_owner: bool) -> StatusView:
    return StatusView(
        code=ticket.code,
        kind=ticket.kind,
        category=ticket.category,
        status=ticket.status,
        priority=ticket.priority,
        language=ticket.language,
        opened_on=local_date(ticket.created_at),
        due_at=ticket.due_at,
        responsible_unit_id=ticket.responsible_unit_id,
        last_public_note=_last_public_note(session, ticket.id),
        updated_at=ticket.updated_at,
        is_owner=is_owner,
    )


def _phone_matches(phone: str | None, last4: str | None) -> bool:
    digits = re.sub(r"\D", "", last4 or "")
    if not phone or len(digits) != 4:
        return False
    return hmac.compare_digest(phone[-4:], digits)


def _refusal(session: Session, sender_id: str, now: datetime) -> LookupRefused | None:
    misses = session.execute(
        select(func.count(), func.min(TicketLookupMiss.at)).where(
            TicketLookupMiss.sender_id == sender_id,
            TicketLookupMiss.at > now - LOOKUP_MISS_WINDOW,
        )
    ).one()
    count, oldest = misses
    if count < LOOKUP_MISS_LIMIT:
        return None
    wait = (oldest + LOOKUP_MISS_WINDOW - now).total_seconds()
    return LookupRefused(retry_after_minutes=max(1, -(-int(wait) // 60)))


def _record_miss(session: Session, sender_id: str, now: datetime) -> None:
    session.execute(
        delete(TicketLookupMiss).where(
            TicketLookupMiss.sender_id == sender_id,
            TicketLookupMiss.at <= now - LOOKUP_MISS_WINDOW,
        )
    )
    session.add(TicketLookupMiss(sender_id=sender_id, at=now))
    session.flush()


def get_status_for(
    session: Session,
    code: str,
    *,
    sender_id: str,
    phone_last4: str | None = None,
    now: datetime | None = None,
) -> StatusView | LookupRefused | None:
    """What `sender_id` may see of ticket `code`.

    The resident who opened it sees it. Anyone else needs the last 4 digits of the contact
    phone; without them the answer is None, exactly as for a code that does not exist.
    After LOOKUP_MISS_LIMIT misses within LOOKUP_MISS_WINDOW the sender gets LookupRefused
    (their own tickets stay visible). Misses are written to the session: commit it.
    """
    now = as_utc(now)
    ticket = get_ticket(session, code)
    if ticket is not None and ticket.sender_id == sender_id:
        return _view(session, ticket, is_owner=True)
    refused = _refusal(session, sender_id, now)
    if refused is not None:
        return refused
    if ticket is not None and _phone_matches(ticket.phone, phone_last4):
        return _view(session, ticket, is_owner=False)
    _record_miss(session, sender_id, now)
    return None


def list_open_for(session: Session, sender_id: str, limit: int = 5) -> list[StatusView]:
    """The sender's tickets still waiting for an answer, newest first."""
    tickets = session.execute(
        select(Ticket)
        .where(Ticket.sender_id == sender_id, Ticket.status.in_(OPEN_STATUSES))
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(limit)
    ).scalars()
    return [_view(session, ticket, is_owner=True) for ticket in tickets]


_NOT_WORD = re.compile(r"[\W_]+")


def location_key(location: str | None) -> tuple[str, ...]:
    """The words of a location without diacritics, case, punctuation or order:
    "12 Lê Lợi, phường 7" and "phuong 7 - le loi 12" give the same key."""
    return tuple(sorted(_NOT_WORD.sub(" ", fold(location or "")).split()))


def find_possible_duplicate(
    session: Session,
    sender_id: str,
    category: str,
    location: str | None,
    now: datetime | None = None,
) -> Ticket | None:
    """An open ticket of the same resident, same category and same place from the last
    7 days: worth asking "is this the same problem?" before opening another."""
    key = location_key(location)
    if not key:
        return None
    candidates = session.execute(
        select(Ticket)
        .where(
            Ticket.sender_id == sender_id,
            Ticket.category == category,
            Ticket.status.in_(OPEN_STATUSES),
            Ticket.created_at >= as_utc(now) - DUPLICATE_WINDOW,
        )
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
    ).scalars()
    return next((t for t in candidates if location_key(t.location) == key), None)


def find_overdue(session: Session, today: date) -> list[Ticket]:
    """Open tickets whose due date has passed (due today is not overdue yet)."""
    return list(
        session.execute(
            select(Ticket)
            .where(Ticket.status.in_(OPEN_STATUSES), Ticket.due_at < today)
            .order_by(Ticket.due_at, Ticket.id)
        ).scalars()
    )


def escalate_overdue(
    session: Session,
    today: date,
    supervisor_for_unit: Callable[[str], str | None],
    now: datetime | None = None,
) -> list[Ticket]:
    """Flag each overdue ticket once, record it, and tell the unit's supervisor (outbox,
    channel "staff"). Safe to run from two schedulers: each ticket is flagged by one."""
    now = as_utc(now)
    escalated: list[Ticket] = []
    not_yet_escalated = session.execute(
        select(Ticket)
        .where(
            Ticket.status.in_(OPEN_STATUSES),
            Ticket.due_at < today,
            Ticket.escalated_at.is_(None),
        )
        .order_by(Ticket.due_at, Ticket.id)
    ).scalars()
    for ticket in not_yet_escalated.all():
        flagged = session.execute(
            update(Ticket)
            .where(Ticket.id == ticket.id, Ticket.escalated_at.is_(None))
            .values(escalated_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if flagged != 1:
            continue  # another scheduler got there first
        set_committed_value(ticket, "escalated_at", now)
        set_committed_value(ticket, "updated_at", now)
        unit = ticket.responsible_unit_id
        supervisor = supervisor_for_unit(unit) if unit else None
        due = format_date(ticket.due_at)
        if supervisor:
            note = f"overdue (due {due}); escalated to {supervisor}"
        else:
            note = f"overdue (due {due}); no supervisor known for unit {unit or '(none)'}"
        session.add(
            TicketEvent(
                ticket=ticket,
                at=now,
                actor=SYSTEM,
                from_status=ticket.status,
                to_status=ticket.status,
                internal_note=note,
            )
        )
        if supervisor:
            outbox.enqueue(
                session,
                channel="staff",
                recipient=supervisor,
                language="vi",
                kind="escalation",
                text=messages.escalation_notice(
                    code=ticket.code,
                    category=ticket.category,
                    priority=ticket.priority,
                    status=ticket.status,
                    due_at=ticket.due_at,
                    unit_id=unit,
                ),
                ticket_id=ticket.id,
                dedupe_key=f"escalation:{ticket.id}",
                now=now,
            )
        escalated.append(ticket)
    session.flush()
    return escalated


def add_resident_details(
    session: Session, code: str, sender_id: str, details: str, now: datetime | None = None
) -> Ticket:
    """The resident adds to their own open ticket (the answer to "is this the same
    problem?"): an event on the same status, visible to staff and to the resident."""
    ticket = _require(session, code)
    if ticket.sender_id != sender_id:
        raise TicketNotFound(code)
    _record(
        session,
        ticket,
        ticket.status,
        actor=RESIDENT,
        public_note=details,
        internal_note=None,
        now=as_utc(now),
    )
    return ticket
