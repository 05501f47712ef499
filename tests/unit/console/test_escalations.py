"""The supervisors' escalations page: tickets the gateway's duty escalated as overdue and low
survey scores (service recovery) of their unit, each linked to its ticket, with acknowledge
and handled actions that are audited; agents and trainers are refused, other units hidden."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

import bot.schema  # noqa: F401
from bot.calendar import VIETNAM
from bot.console.models import AuditEntry, EscalationAck
from bot.db import Base, make_engine, transaction
from bot.outbox import OutboxMessage
from bot.surveys import Survey, SurveyConfig, answer_survey, score_payload
from bot.tickets import change_status, get_ticket
from channels.duties import run_escalation
from tests.unit.console.conftest import log_in, make_ticket

RESOLVED_AT = datetime(2026, 11, 20, 8)
ANSWERED_AT = RESOLVED_AT + timedelta(hours=3)
XSS = '<img src=x onerror="alert(1)"> Không ai gọi lại cho tôi'
BOSS = SurveyConfig(supervisor_for_unit=lambda unit: f"truong.{unit}@example")


def _low_score(session, unit: str, sender: str, comment: str | None) -> str:  # type: ignore[no-untyped-def]
    """A resolved ticket whose resident answers the survey with 1/5 (and a comment)."""
    code = make_ticket(session, unit=unit, sender=sender)
    for status in ("assigned", "in_progress", "resolved"):
        change_status(session, code, status, actor="staff:an", now=RESOLVED_AT)
    survey = session.execute(
        select(Survey).where(Survey.ticket_id == get_ticket(session, code).id)
    ).scalar_one()
    answer_survey(
        session, sender, score_payload(survey.token, 1), "vi", now=ANSWERED_AT, config=BOSS
    )
    if comment:
        answer_survey(session, sender, comment, "vi", now=ANSWERED_AT + timedelta(minutes=1), config=BOSS)  # fmt: skip
    return code


@pytest.fixture
def escalated(client, sessions):  # type: ignore[no-untyped-def]
    """Two overdue tickets escalated by the gateway's duty (customer care, water company) and
    two low scores (one each)."""
    with transaction(sessions) as session:
        overdue_care = make_ticket(session, unit="customer_care", sender="web:late1")
        overdue_water = make_ticket(session, unit="water_company", sender="tg:late2", channel="telegram")  # fmt: skip
    assert run_escalation(client.server.app, now=datetime(2026, 12, 21, 9, tzinfo=VIETNAM)) == 2
    with transaction(sessions) as session:
        low_care = _low_score(session, "customer_care", "web:unhappy", XSS)
        low_water = _low_score(session, "water_company", "tg:unhappy", "Nước vẫn đục")
    return {"overdue_care": overdue_care, "overdue_water": overdue_water,
            "low_care": low_care, "low_water": low_water}  # fmt: skip


def _rows(text: str) -> list[str]:
    return [part.split('"', 1)[0] for part in text.split('data-key="')[1:]]


async def test_supervisor_sees_their_units_overdue_and_low_score_escalations(client, sessions, escalated) -> None:  # fmt: skip
    await log_in(client, "sen")  # supervisor, customer care
    response = await client.get("/console/escalations")
    text = await response.text()
    assert response.status == 200
    assert escalated["overdue_care"] in text and escalated["low_care"] in text
    assert escalated["overdue_water"] not in text and escalated["low_water"] not in text
    assert len(_rows(text)) == 2
    assert f'href="/console/tickets/{escalated["overdue_care"]}"' in text
    assert f'href="/console/tickets/{escalated["low_care"]}"' in text
    assert "1/5" in text and "Rất không hài lòng" in text and "Đã mở lại" in text  # reopened
    # The resident's comment is shown as text, never as markup.
    assert "&lt;img src=x onerror=" in text and "<img src=x" not in text
    with sessions() as session:  # the alert the supervisor was sent says the same
        alert = (
            session.execute(select(OutboxMessage).where(OutboxMessage.kind == "survey_alert"))
            .scalars()
            .first()
        )
        assert alert is not None and alert.channel == "staff"


async def test_admin_sees_every_unit_and_others_are_refused(client, escalated) -> None:
    await log_in(client, "ada")
    text = await (await client.get("/console/escalations")).text()
    assert len(_rows(text)) == 4 and escalated["low_water"] in text
    water = await (await client.get("/console/escalations?kind=low_score")).text()
    assert len(_rows(water)) == 2 and escalated["overdue_care"] not in water
    for username in ("an", "tra"):
        await log_in(client, username)
        assert (await client.get("/console/escalations")).status == 403


async def test_acknowledge_then_handled_is_recorded_and_audited(
    client, sessions, escalated
) -> None:
    csrf = await log_in(client, "sen")
    text = await (await client.get("/console/escalations")).text()
    low_key, overdue_key = sorted(_rows(text))  # "low_score/…" < "overdue/…"
    response = await client.post(
        f"/console/escalations/{overdue_key}/acknowledge", data={"csrf": csrf},
        allow_redirects=False,
    )  # fmt: skip
    assert response.status == 302
    text = await (await client.get("/console/escalations")).text()
    assert "Đã nhận: sen" in text
    response = await client.post(
        f"/console/escalations/{low_key}/handled",
        data={"csrf": csrf, "note": "Đã gọi điện xin lỗi, hẹn sửa lại ngày mai"},
    )
    assert response.status == 200
    open_now = await response.text()
    assert _rows(open_now) == [overdue_key]  # the handled one left the open list
    handled = await (await client.get("/console/escalations?show=handled")).text()
    assert _rows(handled) == [low_key] and "Đã xử lý: sen" in handled
    assert "Đã gọi điện xin lỗi" in handled
    # The note is on the ticket's history for colleagues too.
    ticket = await (await client.get(f"/console/tickets/{escalated['low_care']}")).text()
    assert "Đã gọi điện xin lỗi, hẹn sửa lại ngày mai" in ticket
    with sessions() as session:
        audit = session.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.target)
            .where(AuditEntry.action.like("escalation%"))
            .order_by(AuditEntry.id)
        ).all()
        acks = session.execute(select(EscalationAck)).scalars().all()
    assert [tuple(a) for a in audit] == [
        ("sen", "escalation_ack", f"escalation:{overdue_key}"),
        ("sen", "escalation_handled", f"escalation:{low_key}"),
    ]
    assert {(a.kind, a.acknowledged_by, a.handled_by) for a in acks} == {
        ("overdue", "sen", None),
        ("low_score", "sen", "sen"),  # handling also acknowledges
    }


async def test_a_second_acknowledgement_keeps_the_first(client, sessions, escalated) -> None:
    csrf = await log_in(client, "sen")
    key = sorted(_rows(await (await client.get("/console/escalations")).text()))[1]
    await client.post(f"/console/escalations/{key}/acknowledge", data={"csrf": csrf})
    await client.post("/console/logout", data={"csrf": csrf})
    csrf = await log_in(client, "ada")
    await client.post(f"/console/escalations/{key}/acknowledge", data={"csrf": csrf})
    with sessions() as session:
        [ack] = session.execute(select(EscalationAck)).scalars().all()
    assert ack.acknowledged_by == "sen"


async def test_another_units_escalation_cannot_be_touched(client, sessions, escalated) -> None:
    csrf = await log_in(client, "sen")
    with sessions() as session:
        water = get_ticket(session, escalated["overdue_water"])
    response = await client.post(
        f"/console/escalations/overdue/{water.id}/handled", data={"csrf": csrf, "note": "x"}
    )
    assert response.status == 404
    bogus = await client.post("/console/escalations/nonsense/1/acknowledge", data={"csrf": csrf})
    assert bogus.status == 404
    with sessions() as session:
        assert session.execute(select(EscalationAck)).first() is None
        assert (
            session.execute(select(AuditEntry).where(AuditEntry.action.like("escalation%"))).first()
            is None
        )


async def test_actions_need_the_csrf_token(client, sessions, escalated) -> None:
    await log_in(client, "sen")
    key = _rows(await (await client.get("/console/escalations")).text())[0]
    for action in ("acknowledge", "handled"):
        response = await client.post(
            f"/console/escalations/{key}/{action}", data={"csrf": "forged"}
        )
        assert response.status == 403
    with sessions() as session:
        assert session.execute(select(EscalationAck)).first() is None


async def test_escalations_page_in_english(client, escalated) -> None:
    await log_in(client, "sen")
    text = await (await client.get("/console/escalations?lang=en")).text()
    assert "Escalations for the unit" in text and "Very dissatisfied" in text
    assert "Mark handled" in text and "Overdue" in text


def test_migration_creates_the_escalation_table_as_the_model_says(settings) -> None:
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diffs = [
                d for d in compare_metadata(context, Base.metadata) if "escalation_ack" in repr(d)
            ]
    finally:
        engine.dispose()
    assert diffs == []
