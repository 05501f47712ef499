"""The channel state kept in `bot.attachments` (pending photos, stored updates, button ids,
blocked residents), its migration, the shared rendering helpers, and the settings the
channels read being documented."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import bot.schema  # noqa: F401
from bot import attachments, db
from bot.db import Base, alembic_config
from bot.tickets import NewAttachment
from channels.rendering import split_text

OUR_TABLES = {
    "pending_attachment",
    "channel_update",
    "button_choice",
    "blocked_recipient",
    "platform_token",
}
NOW = datetime(2026, 11, 23, 2, 0)
ROOT = Path(__file__).parents[3]


@pytest.fixture
def database(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    db.upgrade(url, "heads")
    engine = db.make_engine(url)
    yield url, db.make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def sessions(database):
    return database[1]


def test_photos_are_handed_to_one_report_in_order_and_only_once(sessions) -> None:
    with db.transaction(sessions) as session:
        for number in (1, 2):
            attachments.stash(
                session,
                sender_id="tg:1",
                path=f"/srv/var/uploads/{number}.jpg",
                content_type="image/jpeg",
                size=1000 * number,
                original_name=None,
                now=NOW,
            )
        attachments.stash(
            session,
            sender_id="tg:2",
            path="/srv/var/uploads/other.jpg",
            content_type="image/jpeg",
            size=5,
            original_name=None,
            now=NOW,
        )
    with db.transaction(sessions) as session:
        taken = attachments.take_pending(session, "tg:1", now=NOW + timedelta(minutes=5))
        again = attachments.take_pending(session, "tg:1", now=NOW + timedelta(minutes=6))
    assert [t["uri"] for t in taken] == ["/srv/var/uploads/1.jpg", "/srv/var/uploads/2.jpg"]
    assert [NewAttachment(**t).size_bytes for t in taken] == [1000, 2000]
    assert again == []


def test_a_photo_older_than_a_day_is_not_attached_and_is_forgotten(sessions) -> None:
    with db.transaction(sessions) as session:
        attachments.stash(
            session,
            sender_id="tg:1",
            path="/tmp/old.jpg",
            content_type="image/jpeg",
            size=1,
            original_name=None,
            now=NOW,
        )
    later = NOW + timedelta(days=1, minutes=1)
    with db.transaction(sessions) as session:
        assert attachments.take_pending(session, "tg:1", now=later) == []
        assert attachments.housekeeping(session, now=later) == ["/tmp/old.jpg"]


def test_the_same_message_is_stashed_once(sessions) -> None:
    with db.transaction(sessions) as session:
        for _ in range(2):
            kept = attachments.stash(
                session,
                sender_id="tg:1",
                path="/a.jpg",
                content_type="image/jpeg",
                size=1,
                original_name="a.jpg",
                source_key="telegram:10",
            )
        assert kept.uri == "/a.jpg"
        assert len(attachments.take_pending(session, "tg:1")) == 1


def test_a_keyboard_is_used_by_its_first_press_only(sessions) -> None:
    with db.transaction(sessions) as session:
        yes, no = attachments.remember_buttons(
            session, sender_id="tg:1", buttons=[("Có", "/affirm"), ("Không", "/deny")]
        )
    with db.transaction(sessions) as session:
        choice = attachments.use_button(session, yes, sender_id="tg:1", used_by="u1")
        again = attachments.use_button(session, yes, sender_id="tg:1", used_by="u1")
        other = attachments.use_button(session, no, sender_id="tg:1", used_by="u2")
        stranger = attachments.use_button(session, yes, sender_id="tg:9", used_by="u1")
    assert choice is not None and (choice.title, choice.payload) == ("Có", "/affirm")
    assert again == choice  # the same update handled again after a restart
    assert other is None and stranger is None


def test_buttons_expire_after_thirty_days(sessions) -> None:
    with db.transaction(sessions) as session:
        (token,) = attachments.remember_buttons(
            session, sender_id="tg:1", buttons=[("Có", "/affirm")], now=NOW
        )
    with db.transaction(sessions) as session:
        late = NOW + timedelta(days=31)
        assert (
            attachments.use_button(session, token, sender_id="tg:1", used_by="u", now=late) is None
        )


def test_updates_are_stored_once_and_forgotten_after_two_days(sessions) -> None:
    with db.transaction(sessions) as session:
        stored = [
            attachments.record_update(
                session,
                channel="telegram",
                external_id="5",
                sender_id="tg:1",
                payload={"update_id": 5},
                now=NOW,
            )
            for _ in range(2)
        ]
        assert stored == [True, False]
        pending = attachments.unprocessed_updates(
            session, "telegram", timedelta(hours=1), now=NOW + timedelta(minutes=30)
        )
        assert [p.external_id for p in pending] == ["5"]
        assert (
            attachments.unprocessed_updates(
                session, "telegram", timedelta(hours=1), now=NOW + timedelta(hours=2)
            )
            == []
        )
        attachments.housekeeping(session, now=NOW + timedelta(hours=49))
        assert attachments.record_update(
            session, channel="telegram", external_id="5", sender_id=None, payload={}, now=NOW
        )


def test_blocking_is_recorded_once_and_lifted(sessions) -> None:
    with db.transaction(sessions) as session:
        attachments.record_blocked(session, "zalo", "zalo:1", "unfollowed")
        attachments.record_blocked(session, "zalo", "zalo:1", "unfollowed again")
        assert attachments.is_blocked(session, "zalo", "zalo:1")
        assert not attachments.is_blocked(session, "telegram", "zalo:1")
        assert attachments.unblock(session, "zalo", "zalo:1")
        assert not attachments.is_blocked(session, "zalo", "zalo:1")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\xff\xd8\xff\xdb....", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n....", "image/png"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"GIF89a....", None),
        (b"%PDF-1.7", None),
        (b"", None),
    ],
)
def test_image_type_is_read_from_the_bytes(data: bytes, expected: str | None) -> None:
    assert attachments.sniff_image(data) == expected


def test_migration_matches_the_models_and_downgrades_cleanly(database) -> None:
    url, _ = database
    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diffs = compare_metadata(context, Base.metadata)
        ours = [d for d in diffs if _table_of(d) in OUR_TABLES]
        assert ours == []
        command.downgrade(alembic_config(url), "0002")
        assert OUR_TABLES.isdisjoint(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _table_of(diff) -> str:  # type: ignore[no-untyped-def]
    if isinstance(diff, list):
        diff = diff[0]
    kind, *rest = diff
    if kind.endswith("_table"):
        return rest[0].name
    if kind.endswith("_column") or kind.startswith("modify_"):
        return rest[1]
    return rest[0].table.name


def test_long_text_is_split_at_word_boundaries() -> None:
    text = " ".join(["phản ánh"] * 700)
    pieces = split_text(text, 4096)
    assert all(len(p) <= 4096 for p in pieces) and len(pieces) == 2
    assert " ".join(pieces) == text
    assert split_text("x" * 5000, 2000) == ["x" * 2000, "x" * 2000, "x" * 1000]
    assert split_text("   ", 10) == []


def test_every_channel_setting_is_documented_in_env_example() -> None:
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    read: set[str] = set()
    for module in ("telegram.py", "zalo.py"):
        source = (ROOT / "channels" / module).read_text(encoding="utf-8")
        read |= set(re.findall(r'extra\.get\("((?:TELEGRAM|ZALO)_[A-Z_]+)"', source))
    assert {"TELEGRAM_BOT_TOKEN", "ZALO_OA_SECRET_KEY"} <= read
    missing = sorted(name for name in read if not re.search(rf"^#? ?{name}=", example, re.M))
    assert not missing, f"document these in .env.example: {missing}"
