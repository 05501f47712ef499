"""The status lifecycle: every legal move works, every other one is refused, and each
change leaves an event and (for the resident) a notification."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.outbox import OutboxMessage
from bot.tickets import (
    STATUSES,
    TRANSITIONS,
    IllegalTransition,
    ReasonRequired,
    TicketEvent,
    TicketNotFound,
    assign,
    change_status,
)
from bot.tickets.lifecycle import (
    ASSIGNED,
    CLOSED,
    IN_PROGRESS,
    RECEIVED,
    REJECTED,
    REOPENED,
    RESOLVED,
)

from .conftest import MONDAY_MORNING

# The shortest way from "received" to each status, through legal moves only.
PATH_TO = {
    RECEIVED: [],
    ASSIGNED: [ASSIGNED],
    IN_PROGRESS: [ASSIGNED, IN_PROGRESS],
    RESOLVED: [ASSIGNED, IN_PROGRESS, RESOLVED],
    CLOSED: [ASSIGNED, IN_PROGRESS, RESOLVED, CLOSED],
    REJECTED: [REJECTED],
    REOPENED: [ASSIGNED, IN_PROGRESS, RESOLVED, REOPENED],
}
LEGAL = sorted((a, b) for a, targets in TRANSITIONS.items() for b in targets)
ILLEGAL = sorted((a, b) for a in STATUSES for b in STATUSES if b not in TRANSITIONS[a])


def _bring_to(session, code: str, status: str) -> None:
    for step in PATH_TO[status]:
        change_status(session, code, step, actor="staff:lan", public_note=f"lý do: {step}")


def test_the_table_matches_the_documented_lifecycle() -> None:
    assert TRANSITIONS[RECEIVED] >= {ASSIGNED, REJECTED}
    assert TRANSITIONS[ASSIGNED] >= {IN_PROGRESS}
    assert TRANSITIONS[IN_PROGRESS] >= {RESOLVED}
    assert TRANSITIONS[RESOLVED] == {CLOSED, REOPENED}
    assert TRANSITIONS[CLOSED] == {REOPENED}
    assert TRANSITIONS[REOPENED] == {ASSIGNED, IN_PROGRESS, RESOLVED}
    assert TRANSITIONS[REJECTED] == set()
    assert set(TRANSITIONS) == set(STATUSES)


@pytest.mark.parametrize(("from_status", "to_status"), LEGAL)
def test_every_legal_transition_is_applied_and_recorded(
    session, new_ticket, from_status, to_status
) -> None:
    ticket = new_ticket(session)
    _bring_to(session, ticket.code, from_status)
    events_before = len(ticket.events)
    change_status(
        session,
        ticket.code,
        to_status,
        actor="staff:lan",
        public_note="Đội kỹ thuật đã kiểm tra",
        internal_note="van tổng số 3",
    )
    assert ticket.status == to_status
    session.expire_all()
    events = (
        session.execute(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
        )
        .scalars()
        .all()
    )
    assert len(events) == events_before + 1
    last = events[-1]
    assert (last.from_status, last.to_status, last.actor) == (from_status, to_status, "staff:lan")
    assert last.public_note == "Đội kỹ thuật đã kiểm tra"
    assert last.internal_note == "van tổng số 3"


@pytest.mark.parametrize(("from_status", "to_status"), ILLEGAL)
def test_every_other_transition_is_refused(session, new_ticket, from_status, to_status) -> None:
    ticket = new_ticket(session)
    _bring_to(session, ticket.code, from_status)
    events_before = len(ticket.events)
    with pytest.raises(IllegalTransition) as refused:
        change_status(session, ticket.code, to_status, actor="staff:lan", public_note="x")
    assert str(refused.value).startswith(
        f"cannot move {ticket.code} from {from_status} to {to_status}"
    )
    assert ticket.status == from_status
    assert len(ticket.events) == events_before


def test_unknown_status_is_refused_with_a_clear_message(session, new_ticket) -> None:
    ticket = new_ticket(session)
    with pytest.raises(IllegalTransition, match="'done' is not a status"):
        change_status(session, ticket.code, "done", actor="staff:lan")


def test_rejecting_needs_a_reason(session, new_ticket) -> None:
    ticket = new_ticket(session)
    with pytest.raises(ReasonRequired):
        change_status(session, ticket.code, REJECTED, actor="staff:lan")
    with pytest.raises(ReasonRequired):
        change_status(session, ticket.code, REJECTED, actor="staff:lan", public_note="   ")
    assert ticket.status == RECEIVED
    change_status(
        session,
        ticket.code,
        REJECTED,
        actor="staff:lan",
        public_note="Địa chỉ thuộc phường 8, anh/chị vui lòng gửi lại cho UBND phường 8.",
    )
    assert ticket.status == REJECTED


def test_unknown_code_raises_not_found(session) -> None:
    with pytest.raises(TicketNotFound):
        change_status(session, "PA-2611-ZZZZZ", ASSIGNED, actor="staff:lan")


def test_opening_writes_the_first_event(session, new_ticket) -> None:
    ticket = new_ticket(session)
    [event] = ticket.events
    assert (event.from_status, event.to_status, event.actor) == (None, RECEIVED, "resident")
    assert event.at == MONDAY_MORNING


def test_history_is_append_only(session, new_ticket) -> None:
    ticket = new_ticket(session)
    [event] = ticket.events
    event.public_note = "rewritten"
    with pytest.raises(TypeError, match="append-only"):
        session.flush()


def test_status_change_notifies_the_resident_in_their_language_and_channel(
    session, new_ticket
) -> None:
    ticket = new_ticket(session, language="en", channel="zalo", sender_id="zalo:77")
    change_status(
        session,
        ticket.code,
        ASSIGNED,
        actor="staff:lan",
        public_note="The water company is on it.",
        internal_note="call Mr Minh at the pumping station",
    )
    [message] = session.execute(select(OutboxMessage)).scalars().all()
    assert (message.channel, message.recipient, message.language, message.kind) == (
        "zalo",
        "zalo:77",
        "en",
        "ticket_status",
    )
    assert message.ticket_id == ticket.id
    assert ticket.code in message.text
    assert "Passed to the responsible unit" in message.text
    assert "The water company is on it." in message.text
    assert "Mr Minh" not in message.text


def test_each_change_is_notified_once_and_resident_actions_are_not_echoed(
    session, new_ticket
) -> None:
    ticket = new_ticket(session)
    _bring_to(session, ticket.code, RESOLVED)
    change_status(session, ticket.code, REOPENED, actor="resident")
    statuses = select(OutboxMessage).where(OutboxMessage.kind == "ticket_status")
    texts = [m.text for m in session.execute(statuses).scalars()]
    assert len(texts) == 3  # assigned, in progress, resolved (the survey is a separate kind)
    assert "Đã xử lý xong" in texts[-1]


def test_timestamps_follow_the_lifecycle(session, new_ticket) -> None:
    ticket = new_ticket(session)
    t = MONDAY_MORNING
    assign(session, ticket.code, "unit-water", "system", now=t + timedelta(minutes=1))
    assert ticket.first_response_at is None  # routing by a rule is not a reply
    change_status(session, ticket.code, IN_PROGRESS, actor="staff:lan", now=t + timedelta(hours=1))
    assert ticket.first_response_at == t + timedelta(hours=1)
    change_status(session, ticket.code, RESOLVED, actor="staff:lan", now=t + timedelta(hours=5))
    change_status(session, ticket.code, CLOSED, actor="system", now=t + timedelta(days=3))
    assert ticket.resolved_at == t + timedelta(hours=5)
    assert ticket.closed_at == t + timedelta(days=3)
    assert ticket.updated_at == t + timedelta(days=3)
    change_status(session, ticket.code, REOPENED, actor="resident", now=t + timedelta(days=4))
    assert ticket.resolved_at is None and ticket.closed_at is None
    assert ticket.first_response_at == t + timedelta(hours=1)


def test_assign_routes_to_a_unit_or_a_person(session, new_ticket) -> None:
    ticket = new_ticket(session)
    assert ticket.responsible_unit_id == "unit-water_supply"
    assign(session, ticket.code, "unit-roads", "staff:lan")
    assert (ticket.status, ticket.responsible_unit_id, ticket.assignee) == (
        ASSIGNED,
        "unit-roads",
        None,
    )
    assign(session, ticket.code, "staff:minh", "staff:lan")
    assert (ticket.status, ticket.responsible_unit_id, ticket.assignee) == (
        ASSIGNED,
        "unit-roads",
        "staff:minh",
    )
    assert ticket.events[-1].internal_note == "assigned to staff:minh"
    # A hand-over on the same status tells the resident nothing new.
    assert len(session.execute(select(OutboxMessage)).scalars().all()) == 1
    change_status(session, ticket.code, IN_PROGRESS, actor="staff:minh")
    change_status(session, ticket.code, RESOLVED, actor="staff:minh")
    with pytest.raises(IllegalTransition, match="resolved"):
        assign(session, ticket.code, "unit-trees", "staff:lan")
