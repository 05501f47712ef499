"""Record keeping (`tiepdan purge`), demo data and the command line wiring."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from bot.cli import build_parser
from bot.reports.demo import generate
from bot.reports.purge import REMOVED, purge
from bot.surveys import Survey
from bot.tickets import Ticket
from tests.unit.reports.test_reports import add_survey, add_ticket

NOW = datetime(2026, 11, 21, 3)


def _old_data(session):  # type: ignore[no-untyped-def]
    long_ago = NOW - timedelta(days=400)
    old = add_ticket(session, long_ago - timedelta(days=5), due=long_ago.date(), status="closed",
                     closed=long_ago, resolved=long_ago)  # fmt: skip
    recent = add_ticket(session, NOW - timedelta(days=30), due=NOW.date(), status="closed",
                        closed=NOW - timedelta(days=20), resolved=NOW - timedelta(days=21))  # fmt: skip
    add_survey(session, NOW - timedelta(days=800), 4)
    add_survey(session, NOW - timedelta(days=100), 5)
    return old, recent


def _purge(session, dry_run):  # type: ignore[no-untyped-def]
    return purge(session, now=NOW, survey_retention_days=730, personal_data_retention_days=365,
                 key="k", dry_run=dry_run)  # fmt: skip


def test_dry_run_counts_and_changes_nothing(session) -> None:
    old, _ = _old_data(session)
    result = _purge(session, dry_run=True)
    assert (result.surveys, result.tickets) == (1, 1)
    session.expire_all()
    assert session.execute(select(func.count()).select_from(Survey)).scalar_one() == 2
    assert session.get(Ticket, old.id).phone == "0912345678"


def test_purge_deletes_old_surveys_and_anonymises_old_closed_tickets(session) -> None:
    old, recent = _old_data(session)
    sender = old.sender_id
    result = _purge(session, dry_run=False)
    assert (result.surveys, result.tickets) == (1, 1)
    session.expire_all()
    assert session.execute(select(func.count()).select_from(Survey)).scalar_one() == 1
    old, recent = session.get(Ticket, old.id), session.get(Ticket, recent.id)
    assert (old.phone, old.description, old.location) == (None, REMOVED, REMOVED)
    assert old.sender_id.startswith("anon:") and sender not in old.sender_id
    assert old.category == "water_supply" and old.closed_at is not None  # figures stay
    assert recent.phone == "0912345678"
    assert _purge(session, dry_run=False).tickets == 0  # once only


def test_demo_generator_is_deterministic_and_routes_by_catalog(catalog) -> None:
    def run():  # type: ignore[no-untyped-def]
        return list(generate(200, seed=7, calendar=catalog.calendar, now=NOW,
                             unit_for_category=lambda c: catalog.unit_for_category(c).id))  # fmt: skip

    first, second = run(), run()
    tickets = [t for batch in first for t in batch.tickets]
    assert tickets == [t for batch in second for t in batch.tickets]
    assert len(tickets) == 200 and len({t["code"] for t in tickets}) == 200
    assert all(t["created_at"] < NOW and t["due_at"] >= t["created_at"].date() for t in tickets)
    assert {t["responsible_unit_id"] for t in tickets} <= set(catalog.units)
    surveys = [s for batch in first for s in batch.surveys]
    assert surveys and all(s["score"] in (None, 1, 2, 3, 4, 5) for s in surveys)


def test_report_commands_are_on_the_tiepdan_parser() -> None:
    parser = build_parser()
    args = parser.parse_args(
        ["report", "--period", "2026-Q3", "--format", "xlsx", "--unit", "justice"]
    )
    assert (args.period, args.format, args.unit) == ("2026-Q3", "xlsx", "justice")
    assert parser.parse_args(["demo-data", "--tickets", "10", "--seed", "3"]).tickets == 10
    assert parser.parse_args(["purge", "--dry-run"]).dry_run is True
