"""Opening a ticket: idempotent confirmation, attachments, and the duplicate hint."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select

from bot.tickets import (
    NewAttachment,
    Ticket,
    change_status,
    find_possible_duplicate,
    location_key,
)

from .conftest import MONDAY_MORNING


def _count(session) -> int:
    return session.execute(select(func.count()).select_from(Ticket)).scalar_one()


def test_a_new_ticket_is_received_routed_and_stored(db, new_ticket) -> None:
    with db.factory.begin() as session:
        ticket = new_ticket(
            session,
            phone="+84 912.345.678",
            attachments=[
                NewAttachment("var/uploads/abc.jpg", "image/jpeg", 123_456, "ong-nuoc.jpg"),
                {"uri": "https://files.example/2.png", "content_type": "image/png"},
            ],
        )
    with db.factory.begin() as session:
        stored = session.get(Ticket, ticket.id)
        assert (stored.status, stored.responsible_unit_id, stored.phone) == (
            "received",
            "unit-water_supply",
            "0912345678",
        )
        assert (stored.channel, stored.sender_id, stored.language) == ("telegram", "tg:1001", "vi")
        assert stored.created_at == MONDAY_MORNING
        assert [
            (a.uri, a.content_type, a.size_bytes, a.original_name) for a in stored.attachments
        ] == [
            ("var/uploads/abc.jpg", "image/jpeg", 123_456, "ong-nuoc.jpg"),
            ("https://files.example/2.png", "image/png", None, None),
        ]


def test_the_same_idempotency_key_returns_the_same_ticket(db, new_ticket) -> None:
    with db.factory.begin() as session:
        first = new_ticket(session, idempotency_key="confirm-42")
    with db.factory.begin() as session:
        again = new_ticket(
            session, idempotency_key="confirm-42", description="Bấm xác nhận lần hai"
        )
        other_sender = new_ticket(session, idempotency_key="confirm-42", sender_id="tg:2002")
        other_key = new_ticket(session, idempotency_key="confirm-43")
    assert again.code == first.code and again.id == first.id
    assert len({first.id, other_sender.id, other_key.id}) == 3
    with db.factory.begin() as session:
        assert _count(session) == 3


def test_a_double_click_from_two_processes_opens_one_ticket(db, new_ticket) -> None:
    start = threading.Barrier(2)
    codes: list[str] = []
    errors: list[BaseException] = []

    def confirm() -> None:
        try:
            start.wait()
            with db.factory.begin() as session:
                codes.append(new_ticket(session, idempotency_key="double-click").code)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=confirm) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert len(codes) == 2 and codes[0] == codes[1]
    with db.factory.begin() as session:
        assert _count(session) == 1


def test_location_key_ignores_diacritics_case_punctuation_and_order() -> None:
    assert location_key("12 Lê Lợi, Phường 7") == location_key("phuong 7 - le loi 12")
    assert location_key("Hẻm 45/3 Trần Phú") == location_key("tran phu, hem 45 3")
    assert location_key("12 Lê Lợi") != location_key("14 Lê Lợi")
    assert location_key("  ,. ") == ()


def test_possible_duplicate_same_resident_category_place_within_a_week(session, new_ticket) -> None:
    earlier = new_ticket(session, location="12 Lê Lợi, phường 7")
    soon = MONDAY_MORNING + timedelta(days=2)
    found = find_possible_duplicate(
        session, "tg:1001", "water_supply", "PHUONG 7 le loi - 12", soon
    )
    assert found is not None and found.code == earlier.code
    # Another place, category, resident, or too long ago: no hint.
    assert find_possible_duplicate(session, "tg:1001", "water_supply", "14 Lê Lợi", soon) is None
    assert (
        find_possible_duplicate(session, "tg:1001", "electricity", "12 Lê Lợi phường 7", soon)
        is None
    )
    assert (
        find_possible_duplicate(session, "tg:9", "water_supply", "12 Lê Lợi phường 7", soon) is None
    )
    week_later = MONDAY_MORNING + timedelta(days=7, minutes=1)
    assert (
        find_possible_duplicate(
            session, "tg:1001", "water_supply", "12 Lê Lợi phường 7", week_later
        )
        is None
    )
    assert find_possible_duplicate(session, "tg:1001", "water_supply", "", soon) is None


def test_finished_tickets_are_not_duplicates(session, new_ticket) -> None:
    earlier = new_ticket(session)
    change_status(
        session, earlier.code, "rejected", actor="staff:lan", public_note="Đã có người báo"
    )
    soon = MONDAY_MORNING + timedelta(hours=1)
    assert (
        find_possible_duplicate(session, "tg:1001", "water_supply", "12 Lê Lợi, phường 7", soon)
        is None
    )
