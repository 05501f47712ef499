"""A migrated database (SQLite, and PostgreSQL when TIEPDAN_TEST_POSTGRES_URL is set) with
the survey tables emptied before each test, and the real catalog for units and calendar."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session

import bot.schema  # noqa: F401
from bot.catalog import Catalog, load_catalog
from bot.db import Base, make_engine, make_session_factory, upgrade
from tests.unit.tickets.conftest import backends, fresh_database

TABLES = ("survey", "outbox_message", "ticket_event", "ticket_attachment", "ticket")


@pytest.fixture(scope="session", params=backends())
def survey_engine(request, tmp_path_factory):  # type: ignore[no-untyped-def]
    with fresh_database(request.param, tmp_path_factory.mktemp("surveys-db")) as url:
        upgrade(url)
        engine = make_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture
def session(survey_engine) -> Iterator[Session]:  # type: ignore[no-untyped-def]
    with survey_engine.begin() as connection:
        for name in TABLES:
            connection.execute(delete(Base.metadata.tables[name]))
    session = make_session_factory(survey_engine)()
    session.begin()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()
