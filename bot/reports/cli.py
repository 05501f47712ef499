"""`tiepdan report`, `tiepdan demo-data` and `tiepdan purge`.

`add_commands(subparsers)` registers them on the main parser; matplotlib and openpyxl are
imported only when a report is written.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bot import db


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def cmd_report(settings: Any, args: argparse.Namespace) -> int:
    from bot.catalog import CatalogError, load_catalog
    from bot.reports import PeriodError, build_report, parse_period
    from bot.reports.figures import survey_rows, ticket_rows
    from bot.reports.render import Names, render_html, write_csv, write_xlsx

    try:
        period = parse_period(args.period)
    except PeriodError as error:
        print(f"tiepdan: {error}", file=sys.stderr)
        return 2
    try:
        names = Names.from_catalog(load_catalog(settings.catalog_dir))
    except CatalogError as error:
        print(f"tiepdan: the catalog has problems.\n{error}", file=sys.stderr)
        return 2
    if args.unit and args.unit not in names.units:
        known = ", ".join(sorted(names.units))
        print(f"tiepdan: unknown unit {args.unit!r}; units: {known}", file=sys.stderr)
        return 2
    suffix = f"-{args.unit}" if args.unit else ""
    out = Path(args.out) if args.out else (
        Path(settings.var_dir) / "reports" / f"report-{period.label}{suffix}.{args.format}"
    )  # fmt: skip
    engine = db.make_engine(settings.database_url)
    factory = db.make_session_factory(engine)
    try:
        with factory() as session:
            report = build_report(session, period, args.unit)
            if args.format == "html":
                out.parent.mkdir(parents=True, exist_ok=True)
                title = f"Báo cáo {period.title('vi')} — Tiếp Dân"
                out.write_text(
                    render_html(report, names, generated_at=_now(), title=title), "utf-8"
                )
                paths = [out]
            elif args.format == "csv":
                paths = write_csv(
                    report,
                    ticket_rows(session, period, args.unit),
                    survey_rows(session, period, args.unit),
                    out,
                )
            else:
                paths = write_xlsx(
                    report,
                    ticket_rows(session, period, args.unit),
                    survey_rows(session, period, args.unit),
                    out,
                )
    finally:
        engine.dispose()
    s = report.summary
    csat = f"{s.csat:.2f}" if s.csat is not None else "—"
    print(
        f"report {period.label}: {s.tickets} tickets, {s.surveys_answered}/{s.surveys_sent} "
        f"surveys answered, CSAT {csat}"
    )
    for path in paths:
        print(f"  wrote {path}")
    return 0


def cmd_demo_data(settings: Any, args: argparse.Namespace) -> int:
    from bot.catalog import load_catalog
    from bot.reports.demo import insert_demo

    catalog = load_catalog(settings.catalog_dir)
    db.upgrade(settings.database_url)
    engine = db.make_engine(settings.database_url)
    try:
        with db.transaction(db.make_session_factory(engine)) as session:
            tickets, events, surveys = insert_demo(
                session, args.tickets, seed=args.seed, catalog=catalog, now=_now()
            )
    finally:
        engine.dispose()
    print(f"demo data: {tickets} tickets, {events} history events, {surveys} surveys")
    return 0


def cmd_purge(settings: Any, args: argparse.Namespace) -> int:
    from bot.reports.purge import purge

    engine = db.make_engine(settings.database_url)
    try:
        with db.transaction(db.make_session_factory(engine)) as session:
            result = purge(
                session,
                now=_now(),
                survey_retention_days=settings.survey_retention_days,
                personal_data_retention_days=settings.personal_data_retention_days,
                key=settings.secret_key or "tiepdan",
                dry_run=args.dry_run,
            )
    finally:
        engine.dispose()
    verb = "would" if result.dry_run else "did"
    print(
        f"purge ({'dry run' if result.dry_run else 'done'}): {verb} delete {result.surveys} "
        f"survey records offered before {result.surveys_before:%d/%m/%Y}; {verb} anonymise "
        f"{result.tickets} closed tickets closed before {result.tickets_closed_before:%d/%m/%Y}"
    )
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register `report`, `demo-data` and `purge` on the `tiepdan` parser's subcommands."""
    report = subparsers.add_parser("report", help="performance and satisfaction report")
    report.add_argument("--period", required=True, help="2026-11 (month), 2026-Q4 or 2026")
    report.add_argument("--unit", help="only this unit (its catalog id)")
    report.add_argument("--format", choices=("html", "csv", "xlsx"), default="html")
    report.add_argument("--out", help="output file (default: var/reports/report-<period>.<fmt>)")
    report.set_defaults(handler=cmd_report)

    demo = subparsers.add_parser("demo-data", help="fill the database with demonstration data")
    demo.add_argument("--tickets", type=int, default=3000, help="how many tickets (3000)")
    demo.add_argument("--seed", type=int, default=2026, help="random seed (2026)")
    demo.set_defaults(handler=cmd_demo_data)

    purge = subparsers.add_parser("purge", help="delete old surveys, anonymise old tickets")
    purge.add_argument("--dry-run", action="store_true", help="only say what would go")
    purge.set_defaults(handler=cmd_purge)
