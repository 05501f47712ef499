"""`tiepdan backup` and `tiepdan restore`: back up, lose everything, restore, and find every
ticket, its photo and Rasa's conversations again (SQLite, and PostgreSQL when
TIEPDAN_TEST_POSTGRES_URL is set); a restore never silently replaces data."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from bot.cli import main as tiepdan
from bot.db import make_engine, make_session_factory, upgrade
from bot.tickets.models import Ticket, TicketAttachment
from tests.unit.privacy.conftest import (  # noqa: F401
    BINH,
    HOA,
    WIDGET_HOA,
    Stores,
    databases,
    fill,
    stores,
)

TRACKER_COUNT = text("SELECT count(*) FROM events")


def _use(monkeypatch: pytest.MonkeyPatch, stores: Stores, home: Path) -> None:  # noqa: F811
    monkeypatch.setenv("TIEPDAN_HOME", str(home))
    monkeypatch.setenv("TIEPDAN_VAR_DIR", str(stores.uploads.parent))
    monkeypatch.setenv("TIEPDAN_DATABASE_URL", stores.url)
    monkeypatch.setenv("TIEPDAN_TRACKER_STORE_URL", stores.tracker_url)


def _tickets(url: str) -> dict[str, tuple[str, str]]:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            rows = session.execute(
                select(Ticket.code, Ticket.phone, TicketAttachment.uri).join(
                    TicketAttachment, TicketAttachment.ticket_id == Ticket.id
                )
            ).all()
            return {code: (phone, uri) for code, phone, uri in rows}
    finally:
        engine.dispose()


def _wipe(url: str) -> None:
    """Lose the database: delete the SQLite file, or drop and recreate the PostgreSQL one."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{parsed.database}{suffix}").unlink(missing_ok=True)
        return
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{parsed.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def test_backup_then_loss_then_restore_finds_every_ticket_photo_and_conversation(
    stores: Stores,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys,  # type: ignore[no-untyped-def]
) -> None:
    codes = {fill(stores, resident) for resident in (HOA, WIDGET_HOA, BINH)}
    before = _tickets(stores.url)
    assert set(before) == codes
    with stores.tracker.connect() as connection:
        events = connection.execute(TRACKER_COUNT).scalar_one()
    _use(monkeypatch, stores, tmp_path)
    archive = tmp_path / "backups" / "nightly.tar.gz"

    assert tiepdan(["backup", "--out", str(archive)]) == 0
    assert f"wrote {archive}" in capsys.readouterr().out
    assert archive.stat().st_mode & 0o777 == 0o600
    with tarfile.open(archive) as opened:
        assert {"manifest.json", "app", "tracker"} <= set(opened.getnames())

    stores.engine.dispose()
    stores.tracker.dispose()
    _wipe(stores.url)
    _wipe(stores.tracker_url)
    photos = [uri for _phone, uri in before.values()]
    spooled = len(list(stores.spool.glob("*.json")))
    assert spooled == 5  # two per Telegram resident, one for the widget
    for path in stores.spool.glob("*.json"):
        path.unlink()
    for uri in photos:
        Path(uri).unlink()
    assert not any(Path(uri).exists() for uri in photos)

    assert tiepdan(["restore", str(archive)]) == 0
    assert "restore: put back" in capsys.readouterr().out
    assert _tickets(stores.url) == before
    assert all(Path(uri).read_bytes().startswith(b"\x89PNG") for uri in photos)
    assert len(list(stores.spool.glob("*.json"))) == spooled
    tracker = make_engine(stores.tracker_url)
    with tracker.connect() as connection:
        assert connection.execute(TRACKER_COUNT).scalar_one() == events
        senders = connection.execute(text("SELECT DISTINCT sender_id FROM events")).scalars()
        assert set(senders) == {HOA.sender_id, WIDGET_HOA.sender_id, BINH.sender_id}
    tracker.dispose()
    upgrade(stores.url)  # the restored schema is at the current revision already


def test_restore_refuses_a_database_holding_data_unless_forced(
    stores: Stores,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys,  # type: ignore[no-untyped-def]
) -> None:
    hoa = fill(stores, HOA)
    _use(monkeypatch, stores, tmp_path)
    archive = tmp_path / "b.tar.gz"
    assert tiepdan(["backup", "--out", str(archive)]) == 0
    later = fill(stores, BINH)  # written after the backup

    assert tiepdan(["restore", str(archive)]) == 2
    error = capsys.readouterr().err
    assert "TIEPDAN_DATABASE_URL" in error and "--force" in error
    assert set(_tickets(stores.url)) == {hoa, later}  # untouched

    stores.engine.dispose()
    assert tiepdan(["restore", str(archive), "--force"]) == 0
    assert set(_tickets(stores.url)) == {hoa}


def test_restore_explains_a_file_that_is_not_a_backup(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setenv("TIEPDAN_HOME", str(tmp_path))
    bogus = tmp_path / "photo.tar.gz"
    bogus.write_bytes(b"\x89PNG not an archive")
    assert tiepdan(["restore", str(bogus)]) == 2
    assert "is not a Tiếp Dân backup" in capsys.readouterr().err
    assert tiepdan(["restore", str(tmp_path / "missing.tar.gz")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_backup_without_any_database_yet_says_so(tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TIEPDAN_HOME", str(tmp_path))
    for name in ("TIEPDAN_DATABASE_URL", "TIEPDAN_TRACKER_STORE_URL", "TIEPDAN_VAR_DIR"):
        monkeypatch.delenv(name, raising=False)
    assert tiepdan(["backup"]) == 0
    assert "app (absent), tracker (absent), 0 files" in capsys.readouterr().out
    assert len(list((tmp_path / "var" / "backups").glob("tiepdan-*.tar.gz"))) == 1
    assert not os.path.exists(tmp_path / "var" / "tiepdan.db")
