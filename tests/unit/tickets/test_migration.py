"""Migration 0002 creates exactly what the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import bot.schema  # noqa: F401
from bot.db import Base, current_revision, make_engine, upgrade

OUR_TABLES = {"ticket", "ticket_attachment", "ticket_event", "ticket_lookup_miss", "outbox_message"}


def _table_of(diff) -> str:  # type: ignore[no-untyped-def]
    """The table a compare_metadata difference is about."""
    if isinstance(diff, list):  # modify_* differences of one column come grouped
        diff = diff[0]
    kind, *rest = diff
    if kind.endswith("_table"):
        return rest[0].name
    if kind.endswith("_column") or kind.startswith("modify_"):
        return rest[1]  # (schema, table name, ...)
    return rest[0].table.name  # an index or a constraint


def _our_differences(url: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diffs = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    # Other modules' tables have their own migrations and their owners' tests.
    return [d for d in diffs if _table_of(d) in OUR_TABLES]


def test_upgrade_matches_the_models(fresh_database_url) -> None:
    upgrade(fresh_database_url)
    assert _our_differences(fresh_database_url) == []


def test_check_constraints_match_the_models(fresh_database_url) -> None:
    # Autogenerate does not compare CHECK constraints; their names at least must agree.
    upgrade(fresh_database_url)
    engine = make_engine(fresh_database_url)
    try:
        reflected = {c["name"] for c in inspect(engine).get_check_constraints("ticket")}
    finally:
        engine.dispose()
    declared = {
        c.name
        for c in Base.metadata.tables["ticket"].constraints
        if c.__class__.__name__ == "CheckConstraint"
    }
    assert (
        reflected
        == declared
        == {
            "ck_ticket_status",
            "ck_ticket_kind",
            "ck_ticket_priority",
            "ck_ticket_language",
        }
    )


def test_downgrade_removes_the_tables_and_upgrade_restores_them(fresh_database_url) -> None:
    upgrade(fresh_database_url)
    from alembic import command

    from bot.db import alembic_config

    command.downgrade(alembic_config(fresh_database_url), "0001")
    engine = make_engine(fresh_database_url)
    try:
        assert OUR_TABLES.isdisjoint(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    upgrade(fresh_database_url)
    assert current_revision(fresh_database_url) is not None
    assert _our_differences(fresh_database_url) == []
