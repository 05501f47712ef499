"""Who may see a ticket's status, and the rate limit on failed look-ups."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from bot.db import make_engine, make_session_factory
from bot.tickets import (
    LOOKUP_MISS_LIMIT,
    LookupRefused,
    StatusView,
    TicketLookupMiss,
    assign,
    change_status,
    get_status_for,
    list_open_for,
)

from .conftest import MONDAY_MORNING

LATER = MONDAY_MORNING + timedelta(hours=3)


def test_the_owner_sees_status_due_date_and_last_public_note(session, new_ticket) -> None:
    ticket = new_ticket(session)
    assign(session, ticket.code, "unit-water", "staff:lan")
    change_status(
        session,
        ticket.code,
        "in_progress",
        actor="staff:lan",
        public_note="Đội sửa chữa sẽ đến trong chiều nay.",
        internal_note="ống vỡ ở hẻm 12",
    )
    view = get_status_for(session, ticket.code.lower(), sender_id="tg:1001", now=LATER)
    assert isinstance(view, StatusView)
    assert (view.code, view.status, view.due_at, view.is_owner) == (
        ticket.code,
        "in_progress",
        date(2026, 11, 25),
        True,
    )
    assert view.opened_on == date(2026, 11, 23)
    assert view.last_public_note == "Đội sửa chữa sẽ đến trong chiều nay."
    assert "hẻm 12" not in repr(view)


def test_status_lookup_hides_other_residents_tickets(session, new_ticket) -> None:
    ticket = new_ticket(session)  # phone 0912 345 678
    stranger = dict(sender_id="web:abc", now=LATER)
    unknown_code = "PA-2611-ZZZZZ"
    assert get_status_for(session, ticket.code, **stranger) is None
    assert get_status_for(session, ticket.code, phone_last4="1234", **stranger) is None
    # Exactly what a code that does not exist gives.
    assert get_status_for(session, unknown_code, **stranger) is None
    assert get_status_for(session, unknown_code, phone_last4="5678", **stranger) is None
    view = get_status_for(session, ticket.code, phone_last4="5678", **stranger)
    assert isinstance(view, StatusView) and view.is_owner is False


def test_without_a_phone_only_the_owner_can_look(session, new_ticket) -> None:
    ticket = new_ticket(session, phone=None)
    assert get_status_for(session, ticket.code, sender_id="web:abc", phone_last4="") is None
    assert get_status_for(session, ticket.code, sender_id="web:abc", phone_last4="0000") is None


def test_repeated_misses_are_refused_for_a_while(session, new_ticket) -> None:
    ticket = new_ticket(session)
    mine = new_ticket(session, sender_id="web:abc", description="Rác không được thu gom 3 ngày")
    for n in range(LOOKUP_MISS_LIMIT):
        miss = get_status_for(
            session, f"PA-2611-ZZZZ{n + 2}", sender_id="web:abc", now=LATER + timedelta(minutes=n)
        )
        assert miss is None
    refused = get_status_for(
        session,
        ticket.code,
        sender_id="web:abc",
        phone_last4="5678",
        now=LATER + timedelta(minutes=5),
    )
    assert isinstance(refused, LookupRefused)
    assert refused.retry_after_minutes == 10  # the oldest miss leaves the window at +15 min
    # Their own tickets stay visible, other senders are not affected.
    assert isinstance(
        get_status_for(session, mine.code, sender_id="web:abc", now=LATER), StatusView
    )
    assert get_status_for(session, "PA-2611-ZZZZZ", sender_id="web:other", now=LATER) is None
    # Once the first miss is 15 minutes old the sender may try again.
    again = get_status_for(
        session,
        ticket.code,
        sender_id="web:abc",
        phone_last4="5678",
        now=LATER + timedelta(minutes=15, seconds=1),
    )
    assert isinstance(again, StatusView)


def test_the_rate_limit_survives_a_restart(db, new_ticket) -> None:
    with db.factory.begin() as session:
        for _ in range(LOOKUP_MISS_LIMIT):
            get_status_for(session, "PA-2611-ZZZZZ", sender_id="web:abc", now=LATER)
    engine = make_engine(db.url)  # another process, as far as the database can tell
    try:
        with make_session_factory(engine).begin() as session:
            refused = get_status_for(session, "PA-2611-ZZZZZ", sender_id="web:abc", now=LATER)
            assert isinstance(refused, LookupRefused)
    finally:
        engine.dispose()


def test_old_misses_are_pruned(session) -> None:
    for n in range(3):
        get_status_for(
            session, "PA-2611-ZZZZZ", sender_id="web:abc", now=LATER + timedelta(hours=n)
        )
    rows = session.execute(select(TicketLookupMiss).where(TicketLookupMiss.sender_id == "web:abc"))
    assert len(rows.all()) == 1


@pytest.mark.parametrize("typed", ["", "hello", "PA-2611-K7M3O", None])
def test_malformed_codes_are_misses(session, typed) -> None:
    assert get_status_for(session, typed, sender_id="web:abc", now=LATER) is None


def test_list_open_for_shows_own_open_tickets_newest_first(session, new_ticket) -> None:
    codes = [
        new_ticket(
            session, now=MONDAY_MORNING + timedelta(hours=n), description=f"Sự cố số {n} ở khu phố"
        ).code
        for n in range(7)
    ]
    new_ticket(session, sender_id="tg:other")
    change_status(session, codes[6], "rejected", actor="staff:lan", public_note="Trùng lặp")
    views = list_open_for(session, "tg:1001")
    assert [v.code for v in views] == [codes[5], codes[4], codes[3], codes[2], codes[1]]
    assert [v.code for v in list_open_for(session, "tg:1001", limit=2)] == codes[5:3:-1]
    assert list_open_for(session, "tg:nobody") == []
