"""Fixtures for the ticket and outbox tests: a migrated database on SQLite, and on
PostgreSQL too when TIEPDAN_TEST_POSTGRES_URL is set (then an unreachable server fails
the run instead of skipping it)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, delete, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

import bot.schema  # noqa: F401
from bot.calendar import WorkingCalendar
from bot.db import Base, make_engine, make_session_factory, upgrade
from bot.tickets import Ticket, open_ticket

POSTGRES_ENV = "TIEPDAN_TEST_POSTGRES_URL"
OUR_TABLES = ("outbox_message", "ticket_event", "ticket_attachment", "ticket_lookup_miss", "ticket")

# Lunar New Year 2027 falls on Saturday 06/02; the offices close 04/02–10/02.
TET_2027 = [date(2027, 2, 4) + timedelta(days=n) for n in range(7)]
# Monday 23/11/2026, 09:00 in Vietnam.
MONDAY_MORNING = datetime(2026, 11, 23, 2, 0)


def backends() -> list:  # type: ignore[type-arg]
    """SQLite always; PostgreSQL (marked `postgres`) when TIEPDAN_TEST_POSTGRES_URL is set."""
    if not os.environ.get(POSTGRES_ENV):
        return ["sqlite"]
    return ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty database on the server of TIEPDAN_TEST_POSTGRES_URL, dropped afterwards."""
    base_url = make_url(os.environ[POSTGRES_ENV])
    name = f"tiepdan_test_{secrets.token_hex(4)}"
    admin = create_engine(base_url, future=True, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # any failure here must fail the run
        admin.dispose()
        pytest.fail(
            f"{POSTGRES_ENV} is set but PostgreSQL at {base_url.render_as_string()} cannot "
            f"create a test database: {error}",
            pytrace=False,
        )
    try:
        yield base_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def fresh_database(backend: str, folder) -> Iterator[str]:  # type: ignore[no-untyped-def]
    if backend == "postgresql":
        with fresh_postgres_database() as url:
            yield url
    else:
        yield f"sqlite:///{folder / f'tiepdan-{secrets.token_hex(4)}.db'}"


@dataclass
class Database:
    url: str
    engine: Engine
    factory: sessionmaker

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def session(self) -> Session:
        return self.factory()


@pytest.fixture(scope="session", params=backends())
def migrated_engine(request, tmp_path_factory) -> Iterator[tuple[str, Engine]]:  # type: ignore[no-untyped-def]
    with fresh_database(request.param, tmp_path_factory.mktemp("db")) as url:
        upgrade(url)
        engine = make_engine(url)
        yield url, engine
        engine.dispose()


@pytest.fixture
def db(migrated_engine) -> Iterator[Database]:  # type: ignore[no-untyped-def]
    url, engine = migrated_engine
    tables = Base.metadata.tables
    with engine.begin() as connection:
        for name in OUR_TABLES:
            connection.execute(delete(tables[name]))
    yield Database(url, engine, make_session_factory(engine))


@pytest.fixture(params=backends())
def fresh_database_url(request, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """An empty database (not migrated) on each backend."""
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def session(db: Database) -> Iterator[Session]:
    """One open transaction, rolled back after the test."""
    session = db.factory()
    session.begin()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


@pytest.fixture
def calendar() -> WorkingCalendar:
    return WorkingCalendar.of(TET_2027)


def unit_for(category: str) -> str:
    return f"unit-{category}"


@pytest.fixture
def new_ticket(calendar: WorkingCalendar) -> Callable[..., Ticket]:
    """open_ticket with sensible defaults; keyword arguments override them."""

    def _open(session: Session, **overrides: Any) -> Ticket:
        arguments: dict[str, Any] = dict(
            kind="problem_report",
            category="water_supply",
            description="Mất nước từ sáng nay, vòi không chảy giọt nào",
            location="12 Lê Lợi, phường 7",
            sender_id="tg:1001",
            channel="telegram",
            language="vi",
            phone="0912 345 678",
            calendar=calendar,
            unit_for_category=unit_for,
            now=MONDAY_MORNING,
        )
        arguments.update(overrides)
        return open_ticket(session, **arguments)

    return _open
