"""The escalations service on SQLite and PostgreSQL (when TIEPDAN_TEST_POSTGRES_URL is set):
what each viewer sees, the acknowledge / handled record, and the note on the ticket."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import delete

from bot.console.escalations import (
    ACKNOWLEDGED,
    HANDLED,
    LOW_SCORE,
    NEW,
    OVERDUE,
    EscalationNotFound,
    acknowledge,
    get_escalation,
    list_escalations,
    mark_handled,
)
from bot.console.models import EscalationAck
from bot.console.tickets import Viewer
from bot.tickets import escalate_overdue
from tests.unit.reports.test_reports import add_survey, add_ticket
from tests.unit.surveys import conftest as surveys_db

# The surveys' migrated database on each backend, emptied per test (fixtures reused).
survey_engine, session = surveys_db.survey_engine, surveys_db.session

SUPERVISOR = Viewer("sen", "supervisor", "water_company")
OTHER = Viewer("uyen", "supervisor", "urban_management")
ADMIN = Viewer("ada", "admin", None)
NOW = datetime(2026, 11, 21, 2)


@pytest.fixture
def escalations(session):  # type: ignore[no-untyped-def]
    session.execute(delete(EscalationAck))
    late = add_ticket(session, datetime(2026, 11, 2, 1), due=date(2026, 11, 5))
    add_ticket(session, datetime(2026, 11, 2, 1), due=date(2026, 11, 6), unit="urban_management")
    add_ticket(session, datetime(2026, 11, 2, 1), due=date(2026, 11, 30))  # not yet due
    assert len(escalate_overdue(session, date(2026, 11, 20), lambda unit: f"boss@{unit}", now=NOW)) == 2  # fmt: skip
    low = add_survey(session, datetime(2026, 11, 10, 1), 2, comment="Chậm quá", ticket=late)
    low.flagged_at = NOW
    add_survey(session, datetime(2026, 11, 10, 1), 5)  # a good score is no escalation
    session.flush()
    return late, low


def test_each_viewer_sees_their_units_escalations(session, escalations) -> None:
    late, low = escalations
    mine = list_escalations(session, SUPERVISOR)
    assert {(e.kind, e.ref_id) for e in mine} == {(OVERDUE, late.id), (LOW_SCORE, low.id)}
    assert all(e.state == NEW and e.ticket_code == late.code for e in mine)
    assert [e.kind for e in list_escalations(session, OTHER)] == [OVERDUE]
    assert len(list_escalations(session, ADMIN)) == 3
    assert [e.comment for e in list_escalations(session, SUPERVISOR, kind=LOW_SCORE)] == ["Chậm quá"]  # fmt: skip
    with pytest.raises(EscalationNotFound):
        acknowledge(session, OTHER, OVERDUE, late.id)
    assert session.query(EscalationAck).count() == 0


def test_acknowledge_once_then_handled_with_a_note_on_the_ticket(session, escalations) -> None:
    late, low = escalations
    assert acknowledge(session, SUPERVISOR, LOW_SCORE, low.id, now=NOW).state == ACKNOWLEDGED
    again = acknowledge(session, ADMIN, LOW_SCORE, low.id)
    assert (again.acknowledged_by, again.acknowledged_at) == ("sen", NOW)
    done = mark_handled(session, ADMIN, LOW_SCORE, low.id, "  Đã gọi lại cho người dân  ")
    assert (done.state, done.handled_by, done.note) == (HANDLED, "ada", "Đã gọi lại cho người dân")
    assert done.acknowledged_by == "sen"
    assert (
        late.events[-1].internal_note == "Xử lý cảnh báo (đánh giá 2/5): Đã gọi lại cho người dân"
    )
    assert late.events[-1].actor == "staff:ada"
    assert [e.kind for e in list_escalations(session, SUPERVISOR)] == [OVERDUE]
    assert [e.kind for e in list_escalations(session, SUPERVISOR, "handled")] == [LOW_SCORE]
    assert len(list_escalations(session, SUPERVISOR, "all")) == 2
    # Handling without a note and without an acknowledgement first: both recorded.
    handled = mark_handled(session, SUPERVISOR, OVERDUE, late.id)
    assert handled.acknowledged_by == "sen" and handled.note is None
    assert get_escalation(session, ADMIN, OVERDUE, late.id).state == HANDLED
