"""Ticket codes, and the form checks residents meet: description, phone, code."""

from __future__ import annotations

import re
from datetime import date, datetime

import pytest

from bot.tickets import (
    CODE_ALPHABET,
    InvalidTicket,
    format_phone,
    new_code,
    normalise_code,
    normalise_phone,
    validate_description,
)
from bot.tickets import services as ticket_services

CODE_RE = re.compile(r"^PA-\d{4}-[2-9A-HJ-NP-Z]{5}$")


def test_alphabet_leaves_out_look_alike_characters() -> None:
    assert CODE_ALPHABET == "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    assert not set("01OI") & set(CODE_ALPHABET)


def test_new_codes_match_the_format_and_carry_the_month() -> None:
    codes = [new_code(date(2026, 11, 21)) for _ in range(500)]
    assert all(CODE_RE.match(code) for code in codes)
    assert all(code.startswith("PA-2611-") for code in codes)
    assert len(set(codes)) == 500


def test_opened_tickets_have_random_not_sequential_codes(db, new_ticket) -> None:
    with db.factory.begin() as session:
        codes = [
            new_ticket(
                session, sender_id=f"tg:{n}", description=f"Đèn đường số {n} bị tắt cả tuần"
            ).code
            for n in range(30)
        ]
    assert all(CODE_RE.match(code) for code in codes)
    suffixes = [code.rsplit("-", 1)[1] for code in codes]
    assert len(set(suffixes)) == 30
    assert suffixes != sorted(suffixes)
    # Random draws use most of the alphabet; a counter would use only a few characters.
    assert len(set("".join(suffixes))) > 20


def test_code_month_is_the_month_in_vietnam(db, new_ticket) -> None:
    # 30/11/2026 18:00 UTC is already 01/12/2026 01:00 in Vietnam.
    with db.factory.begin() as session:
        ticket = new_ticket(session, now=datetime(2026, 11, 30, 18, 0))
    assert ticket.code.startswith("PA-2612-")


def test_a_code_collision_draws_again(db, new_ticket, monkeypatch) -> None:
    with db.factory.begin() as session:
        first = new_ticket(session)
    draws = iter([first.code, first.code, "PA-2611-ZZZZZ"])
    monkeypatch.setattr(ticket_services, "new_code", lambda _day: next(draws))
    with db.factory.begin() as session:
        second = new_ticket(session, sender_id="tg:2002")
    assert second.code == "PA-2611-ZZZZZ"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("PA-2611-K7M3Q", "PA-2611-K7M3Q"),
        ("pa-2611-k7m3q", "PA-2611-K7M3Q"),
        ("pa2611k7m3q", "PA-2611-K7M3Q"),
        ("PA 2611 K7M3Q", "PA-2611-K7M3Q"),
        ("  pa-2611 k7m3q ", "PA-2611-K7M3Q"),
        ("PA.2611.K7M3Q", "PA-2611-K7M3Q"),
        ("2611-K7M3Q", "PA-2611-K7M3Q"),
        ("PA-2611-K7M3O", None),  # O is not in the alphabet
        ("PA-2611-K7M31", None),  # neither is 1
        ("PA-2611-K7M3I", None),
        ("PA-2611-K7M3", None),
        ("PA-2611-K7M3QQ", None),
        ("PA-2613-K7M3Q", None),  # there is no 13th month
        ("PB-2611-K7M3Q", None),
        ("PA-2611-K7M3Q!", None),
        ("", None),
        (None, None),
    ],
)
def test_code_normalisation(typed: str | None, expected: str | None) -> None:
    assert normalise_code(typed) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("0912345678", "0912345678"),
        ("0912 345 678", "0912345678"),
        ("0912.345.678", "0912345678"),
        ("0912-345-678", "0912345678"),
        ("+84912345678", "0912345678"),
        ("+84 912 345 678", "0912345678"),
        ("84912345678", "0912345678"),
        ("0084 912 345 678", "0912345678"),
        ("+84 (0) 912 345 678", "0912345678"),
        ("0351234567", "0351234567"),
        ("0561234567", "0561234567"),
        ("0701234567", "0701234567"),
        ("0861234567", "0861234567"),
        ("0236 3 123 456", "02363123456"),
        ("(0236) 3123456", "02363123456"),
        ("024 3825 1234", "02438251234"),
        ("+84 24 3825 1234", "02438251234"),
        ("0112345678", None),  # 01x is not a mobile prefix any more
        ("0412345678", None),
        ("091234567", None),  # one digit short
        ("09123456789", None),  # one digit too many
        ("0236312345", None),  # landline one digit short
        ("09123a5678", None),
        ("０９１２３４５６７８", None),  # full-width digits are not accepted silently
        ("", None),
        (None, None),
    ],
)
def test_phone_normalisation(typed: str | None, expected: str | None) -> None:
    assert normalise_phone(typed) == expected


@pytest.mark.parametrize(
    ("number", "shown"),
    [
        ("0912345678", "0912 345 678"),
        ("02363123456", "0236 3 123 456"),
        ("02438251234", "024 3825 1234"),
    ],
)
def test_phone_numbers_are_shown_grouped(number: str, shown: str) -> None:
    assert format_phone(number) == shown


@pytest.mark.parametrize(
    ("description", "problem"),
    [
        ("Mất nước từ sáng nay", None),
        ("No water since this morning", None),
        ("Đèn đường hỏng 3 ngày", None),
        ("mất nước", "too_short"),  # 7 letters
        ("!!!!!!!!!!!!!!!!!!!!", "too_short"),
        ("😡😡😡😡😡😡😡😡😡😡😡😡", "too_short"),
        ("aaaaaaaaaaaaaaaaaaaaaaa", "too_short"),
        ("hahahahahahahahahaha", "too_short"),
        ("   ... ??? ---   ", "too_short"),
        ("", "too_short"),
        ("x" * 5 + "Cống bị tắc, nước tràn lên đường " * 70, "too_long"),
    ],
)
def test_description_needs_ten_meaningful_characters_and_at_most_2000(
    description: str, problem: str | None
) -> None:
    assert validate_description(description).problem == problem


def test_description_is_stored_cleaned(db, new_ticket) -> None:
    with db.factory.begin() as session:
        ticket = new_ticket(session, description="  Mất   nước\u200b từ sáng nay  ")
    assert ticket.description == "Mất nước từ sáng nay"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("description", "!!!"),
        ("phone", "12345"),
        ("category", "weather"),
        ("kind", "praise"),
        ("channel", "fax"),
        ("language", "fr"),
    ],
)
def test_open_ticket_refuses_bad_fields_naming_them(db, new_ticket, field, value) -> None:
    with db.factory.begin() as session, pytest.raises(InvalidTicket) as refused:
        new_ticket(session, **{field: value})
    assert refused.value.field == field
