"""Every report figure against hand-computed fixtures: a month with tickets opened around
midnight in Vietnam, an empty period, and a period that crosses Tết."""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from itertools import count

import pytest
from openpyxl import load_workbook

from bot.reports import build_report, parse_period, percentile
from bot.reports.figures import survey_rows, ticket_rows
from bot.reports.periods import PeriodError
from bot.reports.render import Names, render_html, write_csv, write_xlsx
from bot.surveys import Survey
from bot.tickets import Ticket, TicketEvent, due_date

_ids = count(1)
H = timedelta(hours=1)


def add_ticket(session, created, *, first=None, resolved=None, due, status=None, unit="water_company",
               category="water_supply", channel="telegram", kind="problem_report", reopened=False,
               closed=None):  # type: ignore[no-untyped-def]  # fmt: skip
    number = next(_ids)
    ticket = Ticket(
        code=f"PA-2611-T{number:04d}"[:13],
        kind=kind,
        category=category,
        description="Mất nước",
        location="12 Bạch Đằng",
        phone="0912345678",
        language="vi",
        channel=channel,
        sender_id=f"tg:{number}",
        responsible_unit_id=unit,
        priority="normal",
        status=status or ("resolved" if resolved else "assigned" if first else "received"),
        created_at=created,
        updated_at=created,
        due_at=due,
        first_response_at=first,
        resolved_at=resolved,
        closed_at=closed,
    )
    session.add(ticket)
    session.flush()
    if reopened:
        session.add(TicketEvent(ticket=ticket, at=created + H, actor="resident",
                                from_status="resolved", to_status="reopened"))  # fmt: skip
    return ticket


def add_survey(session, sent, score=None, *, comment=None, late=False, unit="water_company",
               ticket=None, channel="telegram"):  # type: ignore[no-untyped-def]  # fmt: skip
    number = next(_ids)
    survey = Survey(
        token=f"s{number}", trigger="ticket", ticket_id=ticket.id if ticket else None,
        unit_id=unit, sender_id=f"tg:{number}", channel=channel, language="vi",
        offered_at=sent - H, sent_at=sent, expires_at=sent + 72 * H, score=score,
        answered_at=sent + H if score else None, late=late, comment=comment,
    )  # fmt: skip
    session.add(survey)
    session.flush()
    return survey


@pytest.fixture
def november(session):  # type: ignore[no-untyped-def]
    """Five tickets opened in November 2026 (Vietnam time), one in October, one in December."""
    # 31/10 18:00 UTC is 01/11 01:00 in Vietnam: a November ticket.
    t0 = add_ticket(session, datetime(2026, 10, 31, 18), first=datetime(2026, 11, 1, 2),
                    resolved=datetime(2026, 11, 1, 14), due=date(2026, 11, 5), reopened=True)  # fmt: skip
    t1 = add_ticket(session, datetime(2026, 11, 2, 1), first=datetime(2026, 11, 2, 3),
                    resolved=datetime(2026, 11, 2, 11), due=date(2026, 11, 4), channel="zalo")  # fmt: skip
    # Resolved 05/11 10:00 in Vietnam, due 04/11: late.
    add_ticket(session, datetime(2026, 11, 3, 1), first=datetime(2026, 11, 3, 5),
               resolved=datetime(2026, 11, 5, 3), due=date(2026, 11, 4), category="roads",
               unit="urban_management", kind="complaint")  # fmt: skip
    # Never resolved, due 10/11: overdue at the end of November.
    add_ticket(session, datetime(2026, 11, 5, 1), first=datetime(2026, 11, 5, 7),
               due=date(2026, 11, 10), channel="widget")  # fmt: skip
    add_ticket(session, datetime(2026, 11, 10, 1), due=date(2026, 12, 5))
    # 30/11 17:30 UTC is 01/12 00:30 in Vietnam: December.
    add_ticket(session, datetime(2026, 11, 30, 17, 30), due=date(2026, 12, 3))
    add_ticket(session, datetime(2026, 10, 15, 1), first=datetime(2026, 10, 15, 2),
               resolved=datetime(2026, 10, 15, 5), due=date(2026, 10, 20))  # fmt: skip
    add_survey(session, datetime(2026, 11, 2, 12), 5, ticket=t1)
    add_survey(session, datetime(2026, 11, 1, 15), 4, ticket=t0)
    add_survey(
        session, datetime(2026, 11, 6, 1), 2, comment="Sửa chậm quá", unit="urban_management"
    )
    add_survey(session, datetime(2026, 11, 7, 1), None)
    add_survey(session, datetime(2026, 11, 8, 1), 1, comment="Chưa sửa gì cả", late=True)
    add_survey(session, datetime(2026, 10, 16, 1), 3)
    return session


def test_periods_parse_in_vietnam_time_and_know_the_previous_one() -> None:
    november = parse_period("2026-11")
    assert (november.start_utc, november.end_utc) == (
        datetime(2026, 10, 31, 17),
        datetime(2026, 11, 30, 17),
    )
    assert parse_period("2026-Q1").previous().label == "2025-Q4"
    assert parse_period("2026-01").previous().label == "2025-12"
    assert parse_period("2026").previous().label == "2025"
    assert parse_period("2026-q4").end_day == date(2027, 1, 1)
    with pytest.raises(PeriodError, match="2026-Q4"):
        parse_period("2026-13")


def test_percentile_interpolates_like_percentile_cont() -> None:
    assert percentile([2, 4, 6, 8], 0.5) == 5
    assert percentile([2, 4, 6, 8], 0.9) == pytest.approx(7.4)
    assert percentile([], 0.5) is None


def test_month_figures_match_the_hand_computed_values(november) -> None:
    report = build_report(november, parse_period("2026-11"))
    s = report.summary
    assert s.tickets == 5
    assert (s.surveys_sent, s.surveys_answered, s.surveys_late) == (5, 4, 1)
    assert s.response_rate == pytest.approx(0.8)
    assert s.distribution == {1: 1, 2: 1, 3: 0, 4: 1, 5: 1}
    assert s.csat == pytest.approx(3.0) and s.satisfied_share == pytest.approx(0.5)
    # First responses 8, 2, 4, 6 hours; resolutions 20, 10, 50 hours.
    assert s.first_response_median_h == pytest.approx(5)
    assert s.first_response_p90_h == pytest.approx(7.4)
    assert s.resolution_median_h == pytest.approx(20)
    assert s.resolution_p90_h == pytest.approx(44)
    assert (s.resolved, s.resolved_on_time) == (3, 2)
    assert (s.reopened, s.reopen_rate) == (1, pytest.approx(0.2))
    assert report.previous.tickets == 1 and report.previous.csat == pytest.approx(3.0)
    assert report.by_channel == [("telegram", 3), ("widget", 1), ("zalo", 1)]
    assert report.by_unit == [("water_company", 4), ("urban_management", 1)]
    assert ("complaint", "roads", 1) in report.by_kind_category
    assert [(t.due_at, t.days_late) for t in report.overdue] == [(date(2026, 11, 10), 20)]
    assert report.overdue_total == 1
    assert [(c.score, c.comment) for c in report.low_comments] == [
        (1, "Chưa sửa gì cả"), (2, "Sửa chậm quá"),
    ]  # fmt: skip
    assert report.by_month == [("2026-11", 5, 4, pytest.approx(3.0))]


def test_unit_filter_keeps_only_that_units_rows(november) -> None:
    report = build_report(november, parse_period("2026-11"), "urban_management")
    assert report.summary.tickets == 1 and report.summary.distribution[2] == 1
    assert report.summary.surveys_sent == 1 and report.overdue_total == 0


def test_an_empty_period_has_no_rates_and_still_renders(session) -> None:
    report = build_report(session, parse_period("2025-03"))
    s = report.summary
    assert (s.tickets, s.surveys_sent, s.csat, s.response_rate, s.on_time_share) == (
        0,
        0,
        None,
        None,
        None,
    )
    assert s.first_response_median_h is None and report.overdue == []
    page = render_html(report, Names(), generated_at=datetime(2026, 11, 21), title="t")
    assert "Tháng 03/2025" in page and "—" in page


def test_due_dates_across_tet_skip_the_holiday_and_decide_on_time(session, catalog) -> None:
    # Tết 2026: offices closed 14/02–22/02. Water supply: 2 working days.
    thursday, friday = date(2026, 2, 12), date(2026, 2, 13)
    assert due_date("water_supply", thursday, catalog.calendar) == date(2026, 2, 23)
    assert due_date("water_supply", friday, catalog.calendar) == date(2026, 2, 24)
    resolved = datetime(2026, 2, 24, 2)  # 24/02 09:00 in Vietnam
    add_ticket(session, datetime(2026, 2, 12, 2), first=datetime(2026, 2, 12, 3), resolved=resolved,
               due=due_date("water_supply", thursday, catalog.calendar))  # fmt: skip
    add_ticket(session, datetime(2026, 2, 13, 2), first=datetime(2026, 2, 13, 3), resolved=resolved,
               due=due_date("water_supply", friday, catalog.calendar))  # fmt: skip
    s = build_report(session, parse_period("2026-02")).summary
    assert (s.resolved, s.resolved_on_time) == (2, 1)


def test_html_is_one_self_contained_printable_page(november) -> None:
    report = build_report(november, parse_period("2026-11"))
    page = render_html(report, Names(), generated_at=datetime(2026, 12, 1), title="Báo cáo")
    assert page.count("data:image/png;base64,") == 4
    assert "@page { size: A4" in page and "Mức độ hài lòng" not in page.split("<body>")[0]
    assert "Khảo sát mức độ hài lòng" in page and "Satisfaction survey" in page
    assert "Chưa sửa gì cả" in page and "src='http" not in page


def test_csv_and_xlsx_carry_the_underlying_rows_without_personal_data(november, tmp_path) -> None:
    period = parse_period("2026-11")
    report = build_report(november, period)
    paths = write_csv(
        report, ticket_rows(november, period), survey_rows(november, period), tmp_path / "r.csv"
    )
    with paths[0].open(encoding="utf-8-sig") as file:
        tickets = list(csv.DictReader(file))
    assert (
        len(tickets) == 5 and "phone" not in tickets[0] and "0912345678" not in paths[0].read_text()
    )
    assert {t["resolved_on_time"] for t in tickets} == {"yes", "no", ""}
    with paths[1].open(encoding="utf-8-sig") as file:
        assert len(list(csv.DictReader(file))) == 5
    [xlsx] = write_xlsx(
        report, ticket_rows(november, period), survey_rows(november, period), tmp_path / "r.xlsx"
    )
    book = load_workbook(xlsx, read_only=True)
    assert book.sheetnames == ["Summary", "Tickets", "Surveys", "Overdue"]
    assert len(list(book["Tickets"].iter_rows())) == 6


def test_figures_read_the_way_each_language_writes_numbers() -> None:
    from bot.reports.render import FIGURE, count, hours, pct, trend

    assert (pct(0.857142), pct(0.857142, "en")) == ("85,7 %", "85.7%")
    assert (count(12345), count(12345, "en")) == ("12.345", "12,345")
    assert (hours(5), hours(5, "en"), hours(60), hours(60, "en")) == (
        "5,0 giờ", "5.0 h", "2,5 ngày", "2.5 days",
    )  # fmt: skip
    assert FIGURE["csat"].format(build_summary(csat=2.6666), "en") == "2.67"
    # Fewer reopened tickets is better; a higher CSAT is better.
    assert trend(0.1, 0.2, higher_is_better=False) == ("▼", "good")
    assert trend(3.5, 4.0) == ("▼", "bad") and trend(None, 4.0) == ("—", "flat")


def build_summary(**values):  # type: ignore[no-untyped-def]
    from bot.reports import Summary

    summary = Summary()
    for name, value in values.items():
        setattr(summary, name, value)
    return summary
