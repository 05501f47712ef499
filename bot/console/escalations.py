"""What supervisors are asked to look at: tickets escalated as overdue (`escalate_overdue`,
run by the gateway's duties) and low survey scores that started service recovery
(`bot.surveys`), for their unit (admins: every unit), with what was done about each.

Both already leave a trace in their own tables (`ticket.escalated_at`, `survey.flagged_at`)
and an outbox row for the supervisor; this module lists them and records the supervisor's
acknowledgement and the moment they handled it. Nothing here commits: the caller does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from bot.console.models import EscalationAck
from bot.console.tickets import Viewer
from bot.outbox import _utc
from bot.surveys import Survey
from bot.tickets import Ticket, TicketEvent

OVERDUE, LOW_SCORE = "overdue", "low_score"
KINDS = (OVERDUE, LOW_SCORE)
NEW, ACKNOWLEDGED, HANDLED = "new", "acknowledged", "handled"
# Which escalations a list shows: not handled yet (the default), handled, or all.
SHOW = ("open", "handled", "all")
LIMIT = 200


class EscalationNotFound(LookupError):
    """No such escalation, or one of another unit (the same answer, no hint)."""


@dataclass(frozen=True)
class Escalation:
    kind: str
    ref_id: int
    at: datetime  # when it was escalated (overdue) or flagged (low score)
    unit_id: str | None
    channel: str
    ticket_code: str | None
    ticket_status: str | None
    category: str | None
    due_at: date | None
    score: int | None
    comment: str | None
    handoff_id: str | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    handled_by: str | None
    handled_at: datetime | None
    note: str | None

    @property
    def state(self) -> str:
        if self.handled_at is not None:
            return HANDLED
        return ACKNOWLEDGED if self.acknowledged_at is not None else NEW

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.ref_id}"


def _unit_condition(column, viewer: Viewer):  # type: ignore[no-untyped-def]
    if viewer.role == "admin":
        return None
    return column == (viewer.unit_id or "-")


def _state_condition(show: str):  # type: ignore[no-untyped-def]
    if show == "handled":
        return EscalationAck.handled_at.is_not(None)
    if show == "all":
        return None
    return or_(EscalationAck.id.is_(None), EscalationAck.handled_at.is_(None))


def _ack_join(kind: str, ref):  # type: ignore[no-untyped-def]
    return and_(EscalationAck.kind == kind, EscalationAck.ref_id == ref)


def _ack_fields(ack: EscalationAck | None) -> dict[str, object]:
    return {
        "acknowledged_by": ack.acknowledged_by if ack else None,
        "acknowledged_at": ack.acknowledged_at if ack else None,
        "handled_by": ack.handled_by if ack else None,
        "handled_at": ack.handled_at if ack else None,
        "note": ack.note if ack else None,
    }


def _overdue(session: Session, viewer: Viewer, show: str, ref_id: int | None) -> list[Escalation]:
    query = (
        select(Ticket, EscalationAck)
        .outerjoin(EscalationAck, _ack_join(OVERDUE, Ticket.id))
        .where(Ticket.escalated_at.is_not(None))
    )
    for condition in (
        _unit_condition(Ticket.responsible_unit_id, viewer),
        _state_condition(show),
        Ticket.id == ref_id if ref_id is not None else None,
    ):
        if condition is not None:
            query = query.where(condition)
    rows = session.execute(
        query.order_by(Ticket.escalated_at.desc(), Ticket.id.desc()).limit(LIMIT)
    )
    return [
        Escalation(
            kind=OVERDUE,
            ref_id=ticket.id,
            at=ticket.escalated_at,
            unit_id=ticket.responsible_unit_id,
            channel=ticket.channel,
            ticket_code=ticket.code,
            ticket_status=ticket.status,
            category=ticket.category,
            due_at=ticket.due_at,
            score=None,
            comment=None,
            handoff_id=None,
            **_ack_fields(ack),  # type: ignore[arg-type]
        )
        for ticket, ack in rows
    ]


def _low_scores(
    session: Session, viewer: Viewer, show: str, ref_id: int | None
) -> list[Escalation]:
    query = (
        select(Survey, Ticket, EscalationAck)
        .outerjoin(Ticket, Ticket.id == Survey.ticket_id)
        .outerjoin(EscalationAck, _ack_join(LOW_SCORE, Survey.id))
        .where(Survey.flagged_at.is_not(None))
    )
    for condition in (
        _unit_condition(Survey.unit_id, viewer),
        _state_condition(show),
        Survey.id == ref_id if ref_id is not None else None,
    ):
        if condition is not None:
            query = query.where(condition)
    rows = session.execute(query.order_by(Survey.flagged_at.desc(), Survey.id.desc()).limit(LIMIT))
    return [
        Escalation(
            kind=LOW_SCORE,
            ref_id=survey.id,
            at=survey.flagged_at,
            unit_id=survey.unit_id,
            channel=survey.channel,
            ticket_code=ticket.code if ticket else None,
            ticket_status=ticket.status if ticket else None,
            category=ticket.category if ticket else None,
            due_at=ticket.due_at if ticket else None,
            score=survey.score,
            comment=survey.comment,
            handoff_id=survey.handoff_id,
            **_ack_fields(ack),  # type: ignore[arg-type]
        )
        for survey, ticket, ack in rows
    ]


def list_escalations(
    session: Session, viewer: Viewer, show: str = "open", kind: str | None = None
) -> list[Escalation]:
    """Newest first; a supervisor sees their unit's, an admin every unit's."""
    show = show if show in SHOW else "open"
    found: list[Escalation] = []
    if kind in (None, OVERDUE):
        found += _overdue(session, viewer, show, None)
    if kind in (None, LOW_SCORE):
        found += _low_scores(session, viewer, show, None)
    return sorted(found, key=lambda e: (e.at, e.ref_id), reverse=True)[:LIMIT]


def get_escalation(session: Session, viewer: Viewer, kind: str, ref_id: int) -> Escalation:
    loader = {OVERDUE: _overdue, LOW_SCORE: _low_scores}.get(kind)
    found = loader(session, viewer, "all", ref_id) if loader else []
    if not found:
        raise EscalationNotFound(f"{kind}/{ref_id}")
    return found[0]


def _ack_row(session: Session, kind: str, ref_id: int) -> EscalationAck:
    """The row for this escalation, created if missing (two supervisors at once: one insert
    wins, the other reads it back)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(insert(EscalationAck).values(kind=kind, ref_id=ref_id).on_conflict_do_nothing())
    return session.execute(
        select(EscalationAck)
        .where(EscalationAck.kind == kind, EscalationAck.ref_id == ref_id)
        .execution_options(populate_existing=True)
    ).scalar_one()


def acknowledge(
    session: Session, viewer: Viewer, kind: str, ref_id: int, now: datetime | None = None
) -> Escalation:
    """ "I have seen it": the first acknowledgement is kept, a second changes nothing."""
    get_escalation(session, viewer, kind, ref_id)
    ack = _ack_row(session, kind, ref_id)
    if ack.acknowledged_at is None:
        ack.acknowledged_by = viewer.username
        ack.acknowledged_at = _utc(now)
    session.flush()
    return get_escalation(session, viewer, kind, ref_id)


def mark_handled(
    session: Session,
    viewer: Viewer,
    kind: str,
    ref_id: int,
    note: str | None = None,
    now: datetime | None = None,
) -> Escalation:
    """Done with it (acknowledged too, if nobody had). The note, if any, also goes on the
    ticket's history as an internal note, so colleagues see it there."""
    escalation = get_escalation(session, viewer, kind, ref_id)
    now = _utc(now)
    note = (note or "").strip()[:2000] or None
    ack = _ack_row(session, kind, ref_id)
    if ack.handled_at is not None:
        return escalation
    if ack.acknowledged_at is None:
        ack.acknowledged_by, ack.acknowledged_at = viewer.username, now
    ack.handled_by, ack.handled_at, ack.note = viewer.username, now, note
    if note and escalation.ticket_code:
        ticket = session.execute(
            select(Ticket).where(Ticket.code == escalation.ticket_code)
        ).scalar_one()
        what = "quá hạn" if kind == OVERDUE else f"đánh giá {escalation.score}/5"
        session.add(
            TicketEvent(
                ticket=ticket,
                at=now,
                actor=viewer.actor,
                from_status=ticket.status,
                to_status=ticket.status,
                internal_note=f"Xử lý cảnh báo ({what}): {note}",
            )
        )
    session.flush()
    return get_escalation(session, viewer, kind, ref_id)
