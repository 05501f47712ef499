"""The per-message writes on the event loop (bot.inline_sqlite): what they store reads back
exactly as what the threaded path stores, a held write lock sends a message through the
threaded path without holding the loop, and the WAL they write reaches the database file.
A real SQLite database and the stand-in for Rasa of tests/unit/test_recovery.py."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

from sqlalchemy import select

from bot import conversation, inline_sqlite, messages
from bot.conversation import converse
from tests.unit.test_recovery import database, rasa, spool, statuses  # noqa: F401

SENDER = "api:lan"


def stored_rows(sessions) -> list[dict[str, object]]:
    columns = messages.InboundMessage.__table__.columns
    with sessions() as session:
        rows = session.scalars(select(messages.InboundMessage).order_by(messages.InboundMessage.id))
        return [{c.name: getattr(row, c.name) for c in columns} for row in rows]


async def test_a_message_stored_on_the_event_loop_reads_back_like_one_stored_in_a_thread(
    rasa,  # noqa: F811
    database,  # noqa: F811
    spool,  # noqa: F811
    monkeypatch,
) -> None:
    _, client = rasa
    _, sessions = database
    await converse(
        client, sessions, channel="api", sender_id=SENDER, text="chào em", language_hint="vi"
    )
    with monkeypatch.context() as patch:
        patch.setattr(inline_sqlite, "writer_for", lambda _engine: None)
        await converse(
            client, sessions, channel="api", sender_id=SENDER, text="chào em", language_hint="vi"
        )
    inline, threaded = stored_rows(sessions)
    for row in (inline, threaded):
        assert row["status"] == "answered" and row["attempts"] == 1
        assert row["lease_until"] is None and row["error"] is None and row["rasa_text"] is None
        assert row["answered_at"] >= row["received_at"]
    # Same columns, same types (datetimes read back as datetimes): only ids and times differ.
    differ = {"id", "external_id", "received_at", "answered_at"}
    assert {k: v for k, v in inline.items() if k not in differ} == {
        k: v for k, v in threaded.items() if k not in differ
    }
    assert {k: type(v) for k, v in inline.items()} == {k: type(v) for k, v in threaded.items()}


async def test_a_redelivered_message_is_stored_once(rasa, database, spool) -> None:  # noqa: F811
    fake, client = rasa
    _, sessions = database
    for _ in range(2):
        outcome = await converse(
            client, sessions, channel="api", sender_id=SENDER, text="cho hỏi", external_id="c-1"
        )
        assert [r.text for r in outcome.replies] == ["Dạ, em đã nhận: cho hỏi"]
    assert statuses(sessions) == ["answered"] and len(fake.received) == 1


async def test_a_held_write_lock_sends_the_message_the_waiting_way_without_holding_the_loop(
    rasa,  # noqa: F811
    database,  # noqa: F811
    spool,  # noqa: F811
) -> None:
    fake, client = rasa
    path, sessions = database
    await converse(client, sessions, channel="api", sender_id=SENDER, text="chào em")  # WAL on
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process writing for a while
    release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticking = asyncio.ensure_future(ticker())
    release.start()
    try:
        outcome = await converse(client, sessions, channel="api", sender_id=SENDER, text="cho hỏi")
    finally:
        release.join()
        ticking.cancel()
        other.close()
    assert [r.text for r in outcome.replies] == ["Dạ, em đã nhận: cho hỏi"]
    assert statuses(sessions) == ["answered", "answered"] and len(fake.received) == 2
    assert ticks >= 10  # the loop went on while the lock was held (0.3 s)


async def test_what_the_event_loop_writes_reaches_the_database_file(
    rasa,  # noqa: F811
    database,  # noqa: F811
    spool,  # noqa: F811
    monkeypatch,
) -> None:
    _, client = rasa
    path, sessions = database
    monkeypatch.setattr(inline_sqlite, "CHECKPOINT_EVERY", 4)

    def in_the_file() -> int:  # immutable: the file alone, not the WAL
        file = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
        try:
            return file.execute("SELECT count(*) FROM inbound_message").fetchone()[0]
        finally:
            file.close()

    await converse(client, sessions, channel="api", sender_id=SENDER, text="chào em")
    assert in_the_file() == 0  # two commits: in the WAL only
    await converse(client, sessions, channel="api", sender_id=SENDER, text="cho hỏi")
    writer = inline_sqlite.writer_for(sessions.kw["bind"])
    assert writer is not None and writer._checkpoint is not None
    await asyncio.wait_for(writer._checkpoint, 10)
    assert in_the_file() == 2
    assert statuses(sessions) == ["answered", "answered"]
    assert not conversation.UNRECORDED
