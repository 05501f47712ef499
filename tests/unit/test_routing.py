"""Who answers a message: most go straight to Rasa after one query (`_nothing_pending`);
whenever an interceptor may answer (a conversation held by staff, a survey waiting for its
score) or an earlier message waits, the message takes the full route instead. A real SQLite
database and a stand-in for Rasa's HTTP API (tests/unit/test_recovery.py)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot import conversation, routing, surveys
from bot import handoff as handoffs
from bot.conversation import converse
from bot.db import transaction
from bot.replies import Reply
from tests.unit.test_recovery import database, rasa, spool, statuses  # noqa: F401

SENDER = "api:mai"


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


async def test_a_quiet_conversation_goes_straight_to_rasa(rasa, database, spool) -> None:  # noqa: F811
    fake, client = rasa
    _, sessions = database
    for text in ("chào em", "cho hỏi giờ làm việc"):
        outcome = await converse(client, sessions, channel="api", sender_id=SENDER, text=text)
        assert [r.text for r in outcome.replies] == [f"Dạ, em đã nhận: {text}"]
    assert [m["message"] for m in fake.received] == ["chào em", "cho hỏi giờ làm việc"]
    assert statuses(sessions) == ["answered", "answered"]


async def test_a_conversation_held_by_staff_never_reaches_rasa(rasa, database, spool) -> None:  # noqa: F811
    fake, client = rasa
    _, sessions = database
    now = utcnow()
    with transaction(sessions) as session:
        held = handoffs.Handoff(
            sender_id=SENDER,
            channel="api",
            language="vi",
            unit_id=handoffs.CARE_UNIT,
            status=handoffs.ACTIVE,
            agent="an",
            requested_at=now,
            accepted_at=now,
            last_activity_at=now,
        )
        session.add(held)
        session.flush()
        handoff_id = held.id
    outcome = await converse(
        client, sessions, channel="api", sender_id=SENDER, text="em ơi có ai không"
    )
    assert outcome.answered and fake.received == []
    with sessions() as session:
        [said] = handoffs.messages_since(session, 0)
    assert said.handoff_id == handoff_id and said.text == "em ơi có ai không"


async def test_a_score_for_an_open_survey_is_taken_by_the_survey(rasa, database, spool) -> None:  # noqa: F811
    fake, client = rasa
    _, sessions = database
    now = utcnow()
    with transaction(sessions) as session:
        session.add(
            surveys.Survey(
                token="t0k3n",
                trigger="handoff",
                handoff_id="h-1",
                sender_id=SENDER,
                channel="api",
                language="vi",
                offered_at=now - timedelta(minutes=5),
                sent_at=now - timedelta(minutes=5),
                expires_at=now + timedelta(days=1),
            )
        )
    outcome = await converse(client, sessions, channel="api", sender_id=SENDER, text="5")
    assert outcome.answered and fake.received == []
    assert "cảm ơn" in outcome.replies[0].text.lower()
    with sessions() as session:
        assert session.query(surveys.Survey).one().score == 5


async def test_a_survey_button_is_taken_by_the_survey_even_with_no_survey_open(
    rasa,  # noqa: F811
    database,  # noqa: F811
    spool,  # noqa: F811
) -> None:
    fake, client = rasa
    _, sessions = database
    outcome = await converse(
        client,
        sessions,
        channel="api",
        sender_id=SENDER,
        text=surveys.score_payload("n0su4v3y", 4),
    )
    assert [r.text for r in outcome.replies] == ["Dạ, em cảm ơn anh/chị ạ."]
    assert fake.received == []


@pytest.fixture
def undeclared_interceptor():  # type: ignore[no-untyped-def]
    """An interceptor registered with no `Pending` declaration: the one-query route cannot
    know when it answers, so every message must be shown to it."""

    def hashtag(session, message):  # type: ignore[no-untyped-def]
        return [Reply("Dạ, em đã chuyển ạ.")] if message.text.startswith("#") else None

    routing.register(hashtag, None)
    yield
    routing.INTERCEPTORS.remove(hashtag)


async def test_an_interceptor_without_a_declaration_is_always_asked(
    rasa,  # noqa: F811
    database,  # noqa: F811
    spool,  # noqa: F811
    undeclared_interceptor,
) -> None:
    fake, client = rasa
    _, sessions = database
    assert routing.declared() is None
    outcome = await converse(client, sessions, channel="api", sender_id=SENDER, text="#gấp")
    assert [r.text for r in outcome.replies] == ["Dạ, em đã chuyển ạ."]
    outcome = await converse(client, sessions, channel="api", sender_id=SENDER, text="chào em")
    assert [r.text for r in outcome.replies] == ["Dạ, em đã nhận: chào em"]
    assert [m["message"] for m in fake.received] == ["chào em"]


async def test_a_message_behind_an_unanswered_one_waits_for_it(rasa, database, spool) -> None:  # noqa: F811
    fake, client = rasa
    _, sessions = database
    with transaction(sessions) as session:
        conversation.messages.record_inbound(
            session, channel="api", sender_id=SENDER, text="tin trước", status="failed"
        )
    outcome = await converse(client, sessions, channel="api", sender_id=SENDER, text="tin sau")
    assert not outcome.answered and fake.received == []
    assert statuses(sessions) == ["failed", "failed"]
