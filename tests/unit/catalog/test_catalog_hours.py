"""Opening hours: lunch, Saturday receipt, weekends, Tết, make-up days, Vietnam time."""

from __future__ import annotations

from datetime import datetime, timezone

from bot.calendar import VIETNAM
from bot.catalog import Catalog, next_opening, opening_status
from bot.catalog import hours as h


def vn(*args: int) -> datetime:
    return datetime(*args, tzinfo=VIETNAM)


def status(catalog: Catalog, unit_id: str, now: datetime) -> h.OpeningStatus:
    return opening_status(catalog.unit(unit_id), now, catalog.calendar)


def test_open_on_a_weekday_morning_until_lunch(catalog: Catalog) -> None:
    result = status(catalog, "ward_committee", vn(2026, 11, 20, 9, 0))  # Friday
    assert result.open_now and result.reason == h.OPEN
    assert result.closes_at == vn(2026, 11, 20, 11, 30)
    assert result.next_open is None


def test_lunch_break_reopens_the_same_afternoon(catalog: Catalog) -> None:
    result = status(catalog, "ward_committee", vn(2026, 11, 20, 12, 15))
    assert not result.open_now and result.reason == h.LUNCH_BREAK
    assert result.next_open == vn(2026, 11, 20, 13, 30)


def test_just_before_closing_is_open_and_closing_time_is_closed(catalog: Catalog) -> None:
    before = status(catalog, "ward_committee", vn(2026, 11, 20, 16, 59))
    assert before.open_now and before.closes_at == vn(2026, 11, 20, 17, 0)
    at_close = status(catalog, "ward_committee", vn(2026, 11, 20, 17, 0))
    assert not at_close.open_now and at_close.reason == h.AFTER_CLOSING
    assert at_close.next_open == vn(2026, 11, 23, 7, 30)  # Monday


def test_before_opening(catalog: Catalog) -> None:
    result = status(catalog, "ward_committee", vn(2026, 11, 19, 6, 45))
    assert result.reason == h.BEFORE_OPENING
    assert result.next_open == vn(2026, 11, 19, 7, 30)


def test_one_stop_desk_receives_on_saturday_morning_only(catalog: Catalog) -> None:
    morning = status(catalog, "one_stop", vn(2026, 11, 21, 8, 0))
    assert morning.open_now and morning.reason == h.SATURDAY_RECEIPT
    assert morning.closes_at == vn(2026, 11, 21, 11, 30)
    afternoon = status(catalog, "one_stop", vn(2026, 11, 21, 14, 0))
    assert not afternoon.open_now
    assert afternoon.next_open == vn(2026, 11, 23, 7, 30)
    friday_evening = status(catalog, "one_stop", vn(2026, 11, 20, 18, 0))
    assert friday_evening.next_open == vn(2026, 11, 21, 7, 30)


def test_ward_committee_is_closed_all_weekend(catalog: Catalog) -> None:
    saturday = status(catalog, "ward_committee", vn(2026, 11, 21, 8, 0))
    sunday = status(catalog, "ward_committee", vn(2026, 11, 22, 10, 0))
    for result in (saturday, sunday):
        assert not result.open_now and result.reason == h.WEEKEND
        assert result.next_open == vn(2026, 11, 23, 7, 30)


def test_tet_closes_every_office_and_next_open_skips_the_holiday_week(catalog: Catalog) -> None:
    # Tết Bính Ngọ: offices closed Saturday 14/02 – Sunday 22/02/2026.
    during = status(catalog, "one_stop", vn(2026, 2, 17, 10, 0))
    assert not during.open_now and during.reason == h.HOLIDAY
    assert during.next_open == vn(2026, 2, 23, 7, 30)
    last_evening = status(catalog, "one_stop", vn(2026, 2, 13, 17, 30))
    assert last_evening.next_open == vn(2026, 2, 23, 7, 30)  # no Saturday session in Tết
    assert status(catalog, "customer_care", vn(2026, 2, 22, 10, 0)).reason == h.HOLIDAY


def test_makeup_saturday_is_worked_with_monday_hours(catalog: Catalog) -> None:
    result = status(catalog, "ward_committee", vn(2025, 4, 26, 14, 0))
    assert result.open_now and result.reason == h.MAKEUP_DAY
    assert result.closes_at == vn(2025, 4, 26, 17, 0)
    # ... and the bridged Friday is a day off.
    assert status(catalog, "ward_committee", vn(2025, 5, 2, 9, 0)).reason == h.HOLIDAY


def test_the_one_stop_desk_works_a_full_day_on_a_makeup_saturday(catalog: Catalog) -> None:
    result = status(catalog, "one_stop", vn(2025, 4, 26, 15, 0))
    assert result.open_now and result.reason == h.MAKEUP_DAY


def test_day_off_in_lieu_when_a_holiday_falls_on_sunday(catalog: Catalog) -> None:
    # Giỗ Tổ Hùng Vương 2026 is Sunday 26/04: Monday 27/04 is off in lieu.
    monday = status(catalog, "ward_committee", vn(2026, 4, 27, 9, 0))
    assert monday.reason == h.HOLIDAY
    assert monday.next_open == vn(2026, 4, 28, 7, 30)


def test_now_in_another_timezone_is_read_as_vietnam_time(catalog: Catalog) -> None:
    utc = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)  # 09:00 in Vietnam
    assert status(catalog, "ward_committee", utc).open_now
    utc_evening = datetime(2026, 11, 20, 10, 30, tzinfo=timezone.utc)  # 17:30 in Vietnam
    assert not status(catalog, "ward_committee", utc_evening).open_now


def test_naive_now_is_vietnam_time(catalog: Catalog) -> None:
    assert status(catalog, "ward_committee", datetime(2026, 11, 20, 9, 0)).open_now


def test_next_opening_from_a_holiday_eve(catalog: Catalog) -> None:
    unit = catalog.unit("ward_committee")
    # New Year's Day 2027 is a Friday: from Thursday evening the next session is Monday.
    assert next_opening(unit, vn(2026, 12, 31, 17, 30), catalog.calendar) == vn(2027, 1, 4, 7, 30)


def test_customer_care_answers_on_sundays(catalog: Catalog) -> None:
    result = status(catalog, "customer_care", vn(2026, 11, 22, 10, 0))
    assert result.open_now and result.closes_at == vn(2026, 11, 22, 17, 0)
