"""The handoff service: queueing, the call-back offer, the interceptor holding messages,
replies through the outbox, pausing and resuming Rasa, timeouts and reassignment."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot import handoff as handoffs
from bot.calendar import VIETNAM
from bot.catalog import load_catalog
from bot.console import mark_seen
from bot.db import transaction
from bot.outbox import OutboxMessage
from bot.routing import INTERCEPTORS, Inbound, intercept
from bot.tickets import Ticket

# Wednesday 10:00 in Vietnam: the care team is open; 23:00 it is closed.
OPEN_HOURS = datetime(2026, 11, 18, 10, 0, tzinfo=VIETNAM)
NIGHT = datetime(2026, 11, 18, 23, 0, tzinfo=VIETNAM)


@pytest.fixture(scope="module")
def catalog():  # type: ignore[no-untyped-def]
    return load_catalog()


def now_utc() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def agent_online(session, username: str = "an") -> None:  # type: ignore[no-untyped-def]
    mark_seen(session, username, now_utc())


def start(session, catalog, sender: str, *, lang: str = "vi", when=OPEN_HOURS, always_open=False):  # type: ignore[no-untyped-def]
    return handoffs.start_handoff(
        session,
        sender_id=sender,
        channel="widget",
        language=lang,
        catalog=catalog,
        now=when,
        always_open=always_open,
    )


def outbox_texts(session, recipient: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        m.text
        for m in session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.recipient == recipient)
            .order_by(OutboxMessage.id)
        ).scalars()
    ]


def test_handoff_interceptor_comes_first() -> None:
    assert INTERCEPTORS[0] is handoffs.intercept_for_handoff


def test_residents_queue_in_order_with_position_and_wait_in_their_language(
    sessions, catalog
) -> None:
    with transaction(sessions) as session:
        agent_online(session)
        first = start(session, catalog, "web:one")
        second = start(session, catalog, "web:two", lang="en")
        again = start(session, catalog, "web:one")
    assert first.queued and first.position == 1 and "vị trí số 1" in first.reply.text
    assert second.position == 2 and "number 2 in the queue" in second.reply.text
    assert "about 5 min" in second.reply.text
    assert again.handoff_id == first.handoff_id and again.position == 1


def test_nobody_online_offers_a_call_back_not_silence(sessions, catalog) -> None:
    with transaction(sessions) as session:
        started = start(session, catalog, "web:alone")
    assert not started.queued
    assert "gọi lại" in started.reply.text and "số điện thoại" in started.reply.text
    assert [b.title for b in started.reply.buttons] == ["Tiếp tục chờ", "Không cần"]


def test_outside_opening_hours_offers_a_call_back_unless_always_open(sessions, catalog) -> None:
    with transaction(sessions) as session:
        agent_online(session)
        assert not start(session, catalog, "web:night", when=NIGHT).queued
        assert start(session, catalog, "web:night", when=NIGHT, always_open=True).queued


def test_call_back_request_with_a_phone_opens_a_request_ticket(sessions, catalog) -> None:
    with transaction(sessions) as session:
        start(session, catalog, "web:cb")
        replies = intercept(
            session, Inbound(1, "widget", "web:cb", "0912 345 678, 14h-16h chiều nay", "vi")
        )
        ticket = session.execute(select(Ticket).where(Ticket.sender_id == "web:cb")).scalar_one()
    assert replies and ticket.code in replies[0].text
    assert (ticket.kind, ticket.phone, ticket.responsible_unit_id) == (
        "request",
        "0912345678",
        "customer_care",
    )


def test_messages_during_a_handoff_are_held_for_staff_not_sent_to_rasa(sessions, catalog) -> None:
    with transaction(sessions) as session:
        agent_online(session)
        started = start(session, catalog, "web:held")
        replies = intercept(
            session, Inbound(1, "widget", "web:held", "Tôi cần hỏi về hóa đơn", "vi")
        )
        lines = handoffs.transcript(session, handoffs.get_handoff(session, started.handoff_id))
    assert replies == []
    assert lines[-1]["author"] == "resident" and lines[-1]["text"] == "Tôi cần hỏi về hóa đơn"
    with transaction(sessions) as session:
        assert intercept(session, Inbound(2, "widget", "web:other", "xin chào", "vi")) is None


def test_agent_reply_reaches_the_resident_through_their_channel_outbox(sessions, catalog) -> None:
    with transaction(sessions) as session:
        agent_online(session)
        handoff = handoffs.get_handoff(session, start(session, catalog, "web:r").handoff_id)
        with pytest.raises(handoffs.HandoffError):
            handoffs.agent_reply(session, handoff, "an", "chưa nhận")
        handoffs.accept(session, handoff, "an")
        handoffs.agent_reply(session, handoff, "an", "Dạ, em là Ân, em hỗ trợ anh/chị ạ.")
        rows = (
            session.execute(select(OutboxMessage).where(OutboxMessage.recipient == "web:r"))
            .scalars()
            .all()
        )
    assert [r.channel for r in rows] == ["widget", "widget"]
    assert (
        rows[-1].text == "Dạ, em là Ân, em hỗ trợ anh/chị ạ." and rows[-1].kind == "handoff_reply"
    )


def test_closing_tells_the_resident_and_calls_the_survey_hook(
    sessions, catalog, monkeypatch
) -> None:
    calls = []
    monkeypatch.setattr(handoffs, "_survey_hook", lambda: lambda session, **kw: calls.append(kw))
    with transaction(sessions) as session:
        agent_online(session)
        handoff = handoffs.get_handoff(session, start(session, catalog, "web:c").handoff_id)
        handoffs.accept(session, handoff, "an")
        handoffs.mark_paused(session, handoff.id)
        handoffs.close(session, handoff, actor="an")
        assert [h.id for h in handoffs.needing_resume(session)] == [handoff.id]
        texts = outbox_texts(session, "web:c")
    assert "Trợ lý Tiếp Dân tiếp tục hỗ trợ" in texts[-1]
    assert calls and calls[0]["handoff_id"] == handoff.id and calls[0]["unit_id"] == "customer_care"
    with transaction(sessions) as session:
        assert intercept(session, Inbound(3, "widget", "web:c", "xin chào", "vi")) is None


def test_silence_closes_the_handoff_after_the_idle_time(sessions, catalog) -> None:
    with transaction(sessions) as session:
        agent_online(session)
        handoff_id = start(session, catalog, "web:idle").handoff_id
    idle = timedelta(minutes=30)
    with transaction(sessions) as session:
        assert handoffs.close_idle(session, idle, now=OPEN_HOURS + timedelta(minutes=29)) == []
        closed = handoffs.close_idle(session, idle, now=OPEN_HOURS + timedelta(minutes=31))
    assert [h.id for h in closed] == [handoff_id] and closed[0].close_reason == "idle"


def test_an_agent_who_leaves_returns_the_conversation_to_the_queue(sessions, catalog) -> None:
    with transaction(sessions) as session:
        agent_online(session)
        handoff = handoffs.get_handoff(session, start(session, catalog, "web:q").handoff_id)
        handoffs.accept(session, handoff, "an")
        handoffs.return_to_queue(session, handoff)
        assert [h.id for h in handoffs.waiting(session, "customer_care")] == [handoff.id]
        handoffs.accept(session, handoff, "sen")
        assert handoff.agent == "sen"


async def test_gateway_pauses_then_resumes_rasa_through_tracker_events(
    client, sessions, catalog, rasa_probe
) -> None:
    from channels.console.live import pause_held, resume_closed

    app = client.server.app
    with transaction(sessions) as session:
        agent_online(session)
        # Now, not a fixed date: the app's loop closes conversations silent for too long.
        now = datetime.now(VIETNAM)
        handoff_id = start(session, catalog, "web:res", when=now, always_open=True).handoff_id
    await pause_held(app)
    await pause_held(app)
    token = "rasa-token-0123456789"
    assert rasa_probe.events == [("web:res", "pause", token)]
    with transaction(sessions) as session:
        handoff = handoffs.get_handoff(session, handoff_id)
        handoffs.accept(session, handoff, "an")
        handoffs.close(session, handoff, actor="an")
    await resume_closed(app)
    await resume_closed(app)
    assert rasa_probe.events == [("web:res", "pause", token), ("web:res", "resume", token)]
    with transaction(sessions) as session:
        assert handoffs.needing_resume(session) == []


def test_a_handoff_closed_before_rasa_was_paused_needs_no_resume(sessions, catalog) -> None:
    with transaction(sessions) as session:
        agent_online(session)
        handoff = handoffs.get_handoff(session, start(session, catalog, "web:np").handoff_id)
        handoffs.close(session, handoff, actor="resident", reason="resident_cancelled")
        assert handoffs.needing_resume(session) == []


async def test_rasa_client_pauses_through_the_tracker_events_api(client, rasa_probe) -> None:
    from channels.keys import RASA

    await client.server.app[RASA].pause("tg:42")
    assert rasa_probe.events == [("tg:42", "pause", "rasa-token-0123456789")]


async def test_the_gateway_returns_an_absent_agents_conversation_to_the_queue(
    client, sessions, catalog
) -> None:
    from channels.console.live import _housekeeping

    with transaction(sessions) as session:
        agent_online(session)
        handoff = handoffs.get_handoff(
            session,
            start(
                session, catalog, "web:gone", when=datetime.now(VIETNAM), always_open=True
            ).handoff_id,
        )
        handoffs.accept(session, handoff, "an")
        mark_seen(session, "an", now_utc() - timedelta(minutes=5))  # the console went away
    await asyncio.to_thread(_housekeeping, client.server.app, set())
    with sessions() as session:
        handoff = handoffs.get_handoff(session, handoff.id)
        assert (handoff.status, handoff.agent) == ("waiting", None)
