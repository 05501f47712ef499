"""The yearly report over a realistic volume on PostgreSQL: 1,000,000 tickets with their
history and about 300,000 survey answers, loaded with COPY, then `build_report` for 2026
(figures and previous year) and the HTML rendering timed.

Run: .venv/bin/python bench/bench_reports.py --url postgresql+psycopg2://postgres@127.0.0.1:5432/test
It creates a fresh database next to the one in --url, and drops it afterwards (--keep keeps
it). Target: the yearly report in under 10 s.
"""

from __future__ import annotations

import argparse
import csv
import io
import secrets
import sys
import time
from datetime import date, datetime
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.catalog import load_catalog
from bot.db import make_engine, make_session_factory, upgrade
from bot.reports import build_report, parse_period
from bot.reports.demo import generate
from bot.reports.render import Names, render_html

TARGET_SECONDS = 10.0


def _copy(raw: Any, table: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(
            ["" if v is None else v.isoformat() if isinstance(v, (datetime, date)) else v
             for v in (row[c] for c in columns)]
        )  # fmt: skip
    buffer.seek(0)
    with raw.cursor() as cursor:
        cursor.copy_expert(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", buffer
        )


def load(url: str, tickets: int, seed: int) -> tuple[int, int, int, float]:
    catalog = load_catalog()
    engine = make_engine(url)
    began = time.perf_counter()
    totals = [0, 0, 0]
    raw = engine.raw_connection()
    try:
        for batch in generate(
            tickets,
            seed=seed,
            calendar=catalog.calendar,
            unit_for_category=lambda category: catalog.unit_for_category(category).id,
            now=datetime(2026, 12, 31, 16),
            batch_size=50_000,
        ):
            _copy(raw, "ticket", batch.tickets)
            _copy(raw, "ticket_event", batch.events)
            _copy(raw, "survey", batch.surveys)
            raw.commit()
            totals[0] += len(batch.tickets)
            totals[1] += len(batch.events)
            totals[2] += len(batch.surveys)
            print(f"  loaded {totals[0]:,} tickets…", end="\r", flush=True)
        with raw.cursor() as cursor:
            cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
        engine.dispose()
    return totals[0], totals[1], totals[2], time.perf_counter() - began


def time_report(url: str, label: str) -> tuple[float, float, Any]:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    names = Names.from_catalog(load_catalog())
    try:
        with factory() as session:
            began = time.perf_counter()
            report = build_report(session, parse_period(label))
            figures = time.perf_counter() - began
        began = time.perf_counter()
        render_html(report, names, generated_at=datetime.now(), title=label)
        rendering = time.perf_counter() - began
    finally:
        engine.dispose()
    return figures, rendering, report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="a PostgreSQL server (any database on it)")
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()
    base = make_url(args.url)
    if not base.drivername.startswith("postgresql"):
        print("bench_reports: --url must be a PostgreSQL URL", file=sys.stderr)
        return 2
    name = f"tiepdan_bench_{secrets.token_hex(4)}"
    admin = create_engine(base, future=True, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        count, events, surveys, seconds = load(url, args.tickets, args.seed)
        engine = make_engine(url)
        with engine.connect() as connection:
            answered = connection.execute(
                text("SELECT count(*) FROM survey WHERE score IS NOT NULL")
            ).scalar_one()
        engine.dispose()
        print(
            f"loaded {count:,} tickets, {events:,} events, {surveys:,} surveys "
            f"({answered:,} answered) in {seconds:.0f} s"
        )
        cold, cold_render, _ = time_report(url, "2026")
        warm, warm_render, report = time_report(url, "2026")
        quarter, _, _ = time_report(url, "2026-Q3")
        s = report.summary
        print(f"yearly report 2026: figures {cold:.2f} s (first run), {warm:.2f} s (second run); "
              f"HTML with charts {warm_render:.2f} s")  # fmt: skip
        print(f"quarterly report 2026-Q3: figures {quarter:.2f} s")
        print(f"  {s.tickets:,} tickets, {s.surveys_answered:,}/{s.surveys_sent:,} answered, "
              f"CSAT {s.csat:.2f}, on time {s.on_time_share:.1%}, overdue {report.overdue_total:,}")  # fmt: skip
        total = cold + cold_render
        verdict = "OK" if total < TARGET_SECONDS else "TOO SLOW"
        print(
            f"target < {TARGET_SECONDS:.0f} s (figures + HTML, first run): {total:.2f} s {verdict}"
        )
        return 0 if total < TARGET_SECONDS else 1
    finally:
        if args.keep:
            print(f"kept database {name}")
        else:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
