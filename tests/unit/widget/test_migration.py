"""Migration 0004 creates exactly the widget transcript table the model describes."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import bot.schema  # noqa: F401
from bot.db import Base, make_engine, upgrade


def test_upgrade_creates_the_widget_transcript_as_modelled(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diffs = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert [d for d in diffs if "widget_message" in repr(d)] == []
