"""Due dates count working days (weekends and Tết excluded); overdue tickets are escalated
to the unit's supervisor exactly once."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select

from bot.calendar import WorkingCalendar
from bot.outbox import OutboxMessage
from bot.tickets import (
    DEFAULT_DUE_DAYS,
    change_status,
    due_date,
    escalate_overdue,
    find_overdue,
    get_ticket,
)

from .conftest import TET_2027


def at_9am(day: date) -> datetime:
    """09:00 in Vietnam on `day`, as the naive UTC datetime the services take."""
    return datetime(day.year, day.month, day.day, 2, 0)


def test_default_due_days_per_category() -> None:
    assert DEFAULT_DUE_DAYS["water_supply"] == 2
    assert DEFAULT_DUE_DAYS["electricity"] == 2
    assert DEFAULT_DUE_DAYS["waste_collection"] == 3
    assert DEFAULT_DUE_DAYS["admin_procedure"] == 30
    assert DEFAULT_DUE_DAYS["other"] == 10


@pytest.mark.parametrize(
    ("opened", "category", "due"),
    [
        # Wednesday before Tết: Thu 04/02 – Wed 10/02 are off, so two days land on Thu/Fri.
        (date(2027, 2, 3), "water_supply", date(2027, 2, 12)),
        # Opened during Tết (Saturday 06/02, the first day of the year).
        (date(2027, 2, 6), "water_supply", date(2027, 2, 12)),
        # Tuesday 02/02: Wed 03/02 counts, then nothing until Thu 11/02.
        (date(2027, 2, 2), "waste_collection", date(2027, 2, 12)),
        (date(2027, 1, 29), "drainage", date(2027, 2, 12)),  # Mon–Wed, then Thu/Fri after Tết
        (date(2027, 1, 29), "roads", date(2027, 2, 19)),  # 10 working days over Tết
        # Ordinary weeks: Friday + 2 → Tuesday; Saturday + 2 → Tuesday.
        (date(2026, 11, 27), "water_supply", date(2026, 12, 1)),
        (date(2026, 11, 28), "electricity", date(2026, 12, 1)),
        (date(2026, 11, 23), "noise", date(2026, 12, 2)),  # Mon + 7 → Wed next week
    ],
)
def test_due_dates_skip_weekends_and_tet(db, new_ticket, calendar, opened, category, due) -> None:
    assert due_date(category, opened, calendar) == due
    with db.factory.begin() as session:
        ticket = new_ticket(session, category=category, now=at_9am(opened))
    assert ticket.due_at == due


def test_due_date_uses_the_date_in_vietnam(db, new_ticket) -> None:
    # Friday 27/11/2026 20:00 UTC is Saturday 28/11 03:00 in Vietnam: counting starts Saturday.
    with db.factory.begin() as session:
        ticket = new_ticket(session, category="waste_collection", now=datetime(2026, 11, 27, 20))
    assert ticket.due_at == date(2026, 12, 2)


def test_due_days_mapping_is_configurable(db, new_ticket) -> None:
    with db.factory.begin() as session:
        ticket = new_ticket(
            session,
            category="trees",
            due_days={"trees": 1, "other": 10},
            now=at_9am(date(2026, 11, 27)),
        )
    assert ticket.due_at == date(2026, 11, 30)


def test_makeup_working_days_count(new_ticket) -> None:
    calendar = WorkingCalendar.of(TET_2027, makeup_days=[date(2027, 1, 30)])  # a Saturday
    assert due_date("water_supply", date(2027, 1, 29), calendar) == date(2027, 2, 1)


def test_outages_are_high_priority_by_default(db, new_ticket) -> None:
    with db.factory.begin() as session:
        water = new_ticket(session, category="water_supply")
        power = new_ticket(session, category="electricity", kind="complaint")
        idea = new_ticket(session, category="water_supply", kind="suggestion")
        pothole = new_ticket(session, category="roads")
        urgent = new_ticket(session, category="trees", priority="urgent")
    assert (water.priority, power.priority) == ("high", "high")
    assert (idea.priority, pothole.priority, urgent.priority) == ("normal", "normal", "urgent")


def _overdue_setup(session, new_ticket):
    """Three tickets opened Monday 23/11/2026 (water: due Wed 25/11)."""
    late = new_ticket(session, sender_id="tg:1")
    done = new_ticket(session, sender_id="tg:2")
    change_status(session, done.code, "rejected", actor="staff:lan", public_note="Trùng phản ánh")
    slow = new_ticket(session, sender_id="tg:3", category="roads")  # due 07/12
    return late, done, slow


def test_overdue_means_open_and_past_the_due_date(session, new_ticket) -> None:
    late, _done, _slow = _overdue_setup(session, new_ticket)
    assert late.due_at == date(2026, 11, 25)
    assert find_overdue(session, date(2026, 11, 25)) == []  # due today is not late yet
    assert find_overdue(session, date(2026, 11, 26)) == [late]


def test_overdue_tickets_are_escalated_once(db, new_ticket) -> None:
    with db.factory.begin() as session:
        late, _done, _slow = _overdue_setup(session, new_ticket)
    supervisors = {"unit-water_supply": "staff:truong-phong"}
    now = datetime(2026, 11, 26, 1, 0)
    with db.factory.begin() as session:
        escalated = escalate_overdue(session, date(2026, 11, 26), supervisors.get, now=now)
        assert [t.code for t in escalated] == [late.code]
        assert escalated[0].escalated_at == now
    with db.factory.begin() as session:
        assert escalate_overdue(session, date(2026, 11, 27), supervisors.get) == []
        assert escalate_overdue(session, date(2026, 11, 30), supervisors.get) == []
        [message] = (
            session.execute(select(OutboxMessage).where(OutboxMessage.channel == "staff"))
            .scalars()
            .all()
        )
        assert (message.channel, message.recipient, message.kind) == (
            "staff",
            "staff:truong-phong",
            "escalation",
        )
        assert late.code in message.text and "25/11/2026" in message.text
        event = get_ticket(session, late.code).events[-1]
        assert (event.actor, event.from_status, event.to_status) == (
            "system",
            "received",
            "received",
        )
        assert "staff:truong-phong" in event.internal_note
        assert event.public_note is None


def test_escalation_without_a_supervisor_is_flagged_and_recorded(db, new_ticket) -> None:
    with db.factory.begin() as session:
        late = new_ticket(session)
    with db.factory.begin() as session:
        [escalated] = escalate_overdue(session, date(2026, 12, 1), lambda _unit: None)
        assert escalated.code == late.code and escalated.escalated_at is not None
        assert session.execute(select(OutboxMessage)).scalars().all() == []
        assert "no supervisor" in escalated.events[-1].internal_note
