"""The outbox state machine: each due message is claimed by one worker, retried with growing
back-off, given up after a bound, never sent again once sent."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bot import outbox
from bot.outbox import FAILED, PENDING, SENDING, SENT, OutboxMessage

T0 = datetime(2026, 11, 23, 2, 0)


def _enqueue(session, n: int = 1, **overrides):
    arguments = dict(
        channel="telegram",
        recipient="tg:1001",
        language="vi",
        kind="ticket_status",
        text="Dạ, phản ánh PA-2611-K7M3Q của anh/chị đang được xử lý.",
        now=T0,
    )
    arguments.update(overrides)
    return [outbox.enqueue(session, **arguments) for _ in range(n)]


def test_enqueue_stores_text_and_buttons(session) -> None:
    [message] = _enqueue(
        session, buttons=[{"title": "Đánh giá", "payload": "/rate"}], ticket_id=None
    )
    session.expire_all()
    stored = session.get(OutboxMessage, message.id)
    assert stored.body == {
        "text": "Dạ, phản ánh PA-2611-K7M3Q của anh/chị đang được xử lý.",
        "buttons": [{"title": "Đánh giá", "payload": "/rate"}],
    }
    assert (stored.status, stored.attempts, stored.next_attempt_at) == (PENDING, 0, T0)


def test_enqueue_with_the_same_dedupe_key_keeps_one_row(session) -> None:
    first = outbox.enqueue(
        session,
        channel="staff",
        recipient="staff:lan",
        language="vi",
        kind="escalation",
        text="Phản ánh quá hạn",
        dedupe_key="escalation:1",
        now=T0,
    )
    second = outbox.enqueue(
        session,
        channel="staff",
        recipient="staff:lan",
        language="vi",
        kind="escalation",
        text="Phản ánh quá hạn (lần 2)",
        dedupe_key="escalation:1",
        now=T0,
    )
    assert second.id == first.id
    assert second.text == "Phản ánh quá hạn"
    assert len(session.execute(select(OutboxMessage)).scalars().all()) == 1


def test_enqueue_refuses_an_unknown_channel(session) -> None:
    with pytest.raises(ValueError, match="fax"):
        _enqueue(session, channel="fax")


def test_a_message_is_claimed_once(db) -> None:
    with db.factory.begin() as session:
        [message] = _enqueue(session)
    with db.factory.begin() as session:
        [claimed] = outbox.claim_due(session, T0)
        assert (claimed.id, claimed.status, claimed.attempts) == (message.id, SENDING, 1)
    with db.factory.begin() as session:
        assert outbox.claim_due(session, T0) == []
        assert outbox.claim_due(session, T0 + timedelta(seconds=59)) == []


def test_a_sent_message_is_never_claimed_again(db) -> None:
    with db.factory.begin() as session:
        [message] = _enqueue(session)
    with db.factory.begin() as session:
        outbox.claim_due(session, T0)
    with db.factory.begin() as session:
        sent = outbox.mark_sent(session, message.id, now=T0 + timedelta(seconds=2))
        assert (sent.status, sent.sent_at) == (SENT, T0 + timedelta(seconds=2))
    with db.factory.begin() as session:
        assert outbox.claim_due(session, T0 + timedelta(days=30)) == []
        # A late failure report from a worker that lost its lease changes nothing.
        late = outbox.mark_failed(session, message.id, "timeout", T0 + timedelta(minutes=5))
        assert late.status == SENT


def test_an_expired_lease_makes_the_message_claimable_again(db) -> None:
    with db.factory.begin() as session:
        [message] = _enqueue(session)
    with db.factory.begin() as session:
        outbox.claim_due(session, T0, lease_seconds=60)  # this worker then crashes
    with db.factory.begin() as session:
        assert outbox.claim_due(session, T0 + timedelta(seconds=30)) == []
    with db.factory.begin() as session:
        [again] = outbox.claim_due(session, T0 + timedelta(seconds=61))
        assert (again.id, again.attempts) == (message.id, 2)


def test_a_message_whose_worker_keeps_crashing_is_given_up(db) -> None:
    with db.factory.begin() as session:
        [message] = _enqueue(session)
    now = T0
    for _ in range(3):
        with db.factory.begin() as session:
            assert len(outbox.claim_due(session, now, max_attempts=3)) == 1
        now += timedelta(seconds=61)
    with db.factory.begin() as session:
        assert outbox.claim_due(session, now, max_attempts=3) == []
        stored = session.get(OutboxMessage, message.id)
        assert stored.status == FAILED
        assert "lease expired" in stored.last_error


def test_failures_back_off_exponentially_then_give_up(db) -> None:
    with db.factory.begin() as session:
        [message] = _enqueue(session)
    now, delays = T0, []
    for attempt in range(1, 9):
        with db.factory.begin() as session:
            [claimed] = outbox.claim_due(session, now)
            assert claimed.attempts == attempt
            failed = outbox.mark_failed(session, message.id, f"HTTP 502 #{attempt}", now)
            if attempt < 8:
                assert failed.status == PENDING
                delays.append((failed.next_attempt_at - now).total_seconds())
                assert outbox.claim_due(session, now) == []
                now = failed.next_attempt_at
            else:
                assert failed.status == FAILED
                assert failed.last_error == "gave up after 8 attempts: HTTP 502 #8"
    assert all(later > earlier for earlier, later in zip(delays, delays[1:], strict=False))
    for attempt, delay in enumerate(delays, start=1):
        nominal = min(30 * 2 ** (attempt - 1), 7200)
        assert 0.75 * nominal <= delay <= 1.25 * nominal
    with db.factory.begin() as session:
        assert outbox.claim_due(session, now + timedelta(days=1)) == []


def test_platform_retry_after_is_honoured(session) -> None:
    [message] = _enqueue(session)
    outbox.claim_due(session, T0)
    failed = outbox.mark_failed(
        session, message.id, "429 Too Many Requests", T0, retry_after=timedelta(minutes=10)
    )
    assert failed.next_attempt_at >= T0 + timedelta(minutes=10)


def test_an_undeliverable_message_is_recorded_and_never_retried(db) -> None:
    with db.factory.begin() as session:
        [message] = _enqueue(session)
    with db.factory.begin() as session:
        outbox.claim_due(session, T0)
        gone = outbox.mark_undeliverable(session, message.id, "bot was blocked by the user")
        assert (gone.status, gone.last_error) == (
            FAILED,
            "undeliverable: bot was blocked by the user",
        )
    with db.factory.begin() as session:
        assert outbox.claim_due(session, T0 + timedelta(days=1)) == []


def test_not_before_delays_the_first_attempt(session) -> None:
    [message] = _enqueue(session, kind="survey_invite", not_before=T0 + timedelta(hours=2))
    assert outbox.claim_due(session, T0 + timedelta(hours=1)) == []
    assert [m.id for m in outbox.claim_due(session, T0 + timedelta(hours=2))] == [message.id]


def test_claims_respect_the_limit_and_the_order(session) -> None:
    later = _enqueue(session, 2, now=T0 + timedelta(seconds=5))
    earlier = _enqueue(session, 2, now=T0)
    claimed = outbox.claim_due(session, T0 + timedelta(seconds=10), limit=3)
    assert {m.id for m in claimed} == {earlier[0].id, earlier[1].id, later[0].id}
    assert outbox.pending_count(session) == 4


def test_two_workers_never_claim_the_same_message(db) -> None:
    with db.factory.begin() as session:
        ids = {m.id for m in _enqueue(session, 40)}
    start = threading.Barrier(2)
    claims: dict[str, set[int]] = {}
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            start.wait()
            with db.factory.begin() as session:
                claims[name] = {m.id for m in outbox.claim_due(session, T0, limit=25)}
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert claims["a"].isdisjoint(claims["b"])
    assert claims["a"] | claims["b"] == ids
