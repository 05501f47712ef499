"""Resident-facing ticket text in Vietnamese and English (VOICE.md)."""

from __future__ import annotations

import re
from datetime import date, datetime

import pytest

from bot.tickets import STATUSES, StatusView, messages
from bot.tickets.models import CATEGORIES, KINDS

CODE = "PA-2611-K7M3Q"
DUE = date(2026, 11, 28)
VIEW = StatusView(
    code=CODE,
    kind="problem_report",
    category="water_supply",
    status="in_progress",
    priority="high",
    language="vi",
    opened_on=date(2026, 11, 21),
    due_at=DUE,
    responsible_unit_id="unit-water",
    last_public_note="Đội sửa chữa đang xử lý",
    updated_at=datetime(2026, 11, 22, 3, 0),
    is_owner=True,
)
LANGUAGES = ["vi", "en"]


def test_acknowledgement_in_vietnamese_reads_as_agreed() -> None:
    text = messages.acknowledgement(
        code=CODE, unit_name="Phòng Quản lý đô thị", due_at=DUE, language="vi"
    )
    assert text == (
        "Dạ, phản ánh của anh/chị đã được tiếp nhận, mã PA-2611-K7M3Q. "
        "Phòng Quản lý đô thị sẽ phản hồi trước ngày 28/11/2026. "
        'Anh/chị có thể nhắn "kiểm tra PA-2611-K7M3Q" để xem tiến độ ạ.'
    )


def test_acknowledgement_in_english() -> None:
    text = messages.acknowledgement(
        code=CODE, unit_name="The Urban Management Office", due_at=DUE, language="en"
    )
    assert text.startswith("Thanks — your report is in. Reference PA-2611-K7M3Q.")
    assert "The Urban Management Office will reply by 28/11/2026." in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_messages_about_a_ticket_carry_its_code_and_dates(language: str) -> None:
    texts = [
        messages.acknowledgement(
            code=CODE, unit_name="UBND Phường 7", due_at=DUE, language=language
        ),
        messages.status_view(VIEW, language, unit_name="Công ty Cấp nước"),
        messages.open_tickets([VIEW], language),
        messages.duplicate_question(
            code=CODE, opened_on=date(2026, 11, 21), status="received", language=language
        ),
    ]
    for text in texts:
        assert CODE in text
        assert re.search(r"\b\d{2}/\d{2}/\d{4}\b", text), text
    assert "28/11/2026" in texts[0] and "28/11/2026" in texts[1] and "28/11/2026" in texts[2]
    assert "21/11/2026" in texts[1] and "21/11/2026" in texts[3]
    assert "Đội sửa chữa đang xử lý" in texts[1]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("status", STATUSES)
def test_every_status_has_words_and_a_notification(language: str, status: str) -> None:
    name = messages.status_name(status, language)
    assert name and "_" not in name
    text = messages.status_changed(
        code=CODE, status=status, public_note="Ghi chú công khai", language=language
    )
    assert CODE in text and name in text and "Ghi chú công khai" in text


def test_status_names_differ_between_languages() -> None:
    for status in STATUSES:
        assert messages.status_name(status, "vi") != messages.status_name(status, "en")


def test_rejection_gives_the_reason() -> None:
    vi = messages.status_changed(
        code=CODE, status="rejected", public_note="Ngoài địa bàn", language="vi"
    )
    en = messages.status_changed(
        code=CODE, status="rejected", public_note="Outside our area", language="en"
    )
    assert "Lý do: Ngoài địa bàn" in vi and "Reason: Outside our area" in en


@pytest.mark.parametrize("language", LANGUAGES)
def test_not_found_is_the_same_for_every_reason(language: str) -> None:
    text = messages.not_found(language, CODE)
    assert CODE in text and "4" in text
    assert messages.not_found(language) != ""


@pytest.mark.parametrize("language", LANGUAGES)
def test_rate_limited_asks_to_try_later(language: str) -> None:
    text = messages.rate_limited(language, minutes=10)
    assert "10" in text


def test_empty_list_in_both_languages() -> None:
    assert messages.open_tickets([], "vi").startswith("Dạ,")
    assert "no open reports" in messages.open_tickets([], "en")


def test_every_kind_and_category_has_names_in_both_languages() -> None:
    for language in LANGUAGES:
        assert all("_" not in messages.kind_name(kind, language) for kind in KINDS)
        assert all("_" not in messages.category_name(c, language) for c in CATEGORIES)


def test_vietnamese_messages_open_with_dạ_exactly_once() -> None:
    texts = [
        messages.acknowledgement(code=CODE, unit_name="UBND Phường 7", due_at=DUE, language="vi"),
        messages.status_changed(code=CODE, status="resolved", public_note="Đã sửa", language="vi"),
        messages.status_view(VIEW, "vi"),
        messages.open_tickets([VIEW, VIEW], "vi"),
        messages.not_found("vi", CODE),
        messages.rate_limited("vi"),
        messages.duplicate_question(code=CODE, opened_on=DUE, status="received", language="vi"),
        messages.description_problem("too_short", "vi"),
        messages.description_problem("too_long", "vi"),
        messages.invalid_phone("vi"),
        messages.invalid_code("vi"),
    ]
    for text in texts:
        assert text.startswith("Dạ,"), text
        assert text.count("Dạ") == 1, text


def test_english_messages_never_mix_in_vietnamese_courtesy() -> None:
    texts = [
        messages.acknowledgement(code=CODE, unit_name="Ward 7", due_at=DUE, language="en"),
        messages.status_changed(code=CODE, status="resolved", public_note="Fixed", language="en"),
        messages.status_view(VIEW, "en"),
        messages.not_found("en", CODE),
        messages.rate_limited("en"),
        messages.description_problem("too_long", "en"),
        messages.invalid_phone("en"),
    ]
    for text in texts:
        assert "Dạ" not in text and "anh/chị" not in text and " ạ" not in text, text


def test_description_too_long_mentions_the_limit_in_local_format() -> None:
    assert "2.000" in messages.description_problem("too_long", "vi")
    assert "2,000" in messages.description_problem("too_long", "en")


def test_escalation_notice_for_the_supervisor() -> None:
    text = messages.escalation_notice(
        code=CODE,
        category="water_supply",
        priority="high",
        status="assigned",
        due_at=DUE,
        unit_id="u1",
    )
    assert CODE in text and "28/11/2026" in text and "cao" in text
