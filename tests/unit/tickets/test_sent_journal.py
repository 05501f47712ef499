"""The sent journal: a reply the platform accepted just before the gateway was killed is
not sent again after the restart, and nothing a live gateway is still sending is touched."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from bot import outbox
from bot.db import make_engine, make_session_factory, transaction
from bot.outbox import SENDING, SENT, OutboxMessage
from channels import sent_journal


def _held_rows(db, n: int) -> list[int]:  # type: ignore[no-untyped-def]
    with transaction(db.factory) as session:
        rows = [
            outbox.enqueue(
                session,
                channel="telegram",
                recipient="tg:1001",
                language="vi",
                kind="reply",
                text=f"Dạ, câu trả lời số {i} ạ.",
                dedupe_key=f"reply:77:{i}",
                hold=timedelta(seconds=60),
            )
            for i in range(n)
        ]
        return [row.id for row in rows]


def _statuses(db) -> dict[int, str]:  # type: ignore[no-untyped-def]
    with db.factory() as session:
        return dict(session.execute(select(OutboxMessage.id, OutboxMessage.status)).all())


def test_rows_recorded_by_a_killed_gateway_are_marked_sent_at_the_next_start(
    db, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    first, second, cut_off, untouched = _held_rows(db, 4)
    folder = tmp_path / "sent"
    # A gateway that handed two replies to the platform, was killed before the database heard
    # of them, while a third was on its way.
    program = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from channels.sent_journal import SentJournal\n"
        "journal = SentJournal(Path(sys.argv[1]))\n"
        f"journal.sending({first}); journal.record({first})\n"
        f"journal.sending({second}); journal.record({second}); journal.record(None)\n"
        f"journal.sending({cut_off})\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    killed = subprocess.run([sys.executable, "-c", program, str(folder)], check=False)
    assert killed.returncode == -9

    assert sent_journal.replay(folder, db.factory) == (2, 1)
    assert _statuses(db) == {first: SENT, second: SENT, cut_off: SENDING, untouched: SENDING}
    # The one cut off is sent again when its hold ends (never lost), marked as uncertain.
    with db.factory() as session:
        marked = session.scalars(
            select(OutboxMessage.id).where(OutboxMessage.unconfirmed_at.is_not(None))
        ).all()
    assert marked == [cut_off]
    assert list(folder.glob("*.log")) == []
    # A second start finds nothing more to do.
    assert sent_journal.replay(folder, db.factory) == (0, 0)


def test_a_live_gateways_journal_is_left_alone(db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    [row] = _held_rows(db, 1)
    folder = tmp_path / "sent"
    journal = sent_journal.SentJournal(folder)
    journal.sending(row)
    journal.record(row)
    try:
        assert sent_journal.replay(folder, db.factory) == (0, 0)
        assert _statuses(db) == {row: SENDING}
        assert journal.path.exists()
    finally:
        journal.close()
    # A clean stop leaves nothing behind (its rows were committed as usual).
    assert list(folder.glob("*.log")) == []
    journal.record(row)  # a reply sent while the gateway drains: ignored, not a crash


def test_a_long_running_journal_keeps_two_files_at_most(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sent_journal, "ROTATE_AT", 64)
    journal = sent_journal.SentJournal(tmp_path)
    try:
        for row in range(1000, 1200):
            journal.record(row)
        files = list(tmp_path.glob("*.log"))
        assert 1 <= len(files) <= 2
        recorded = {
            int(line.split()[1]) for path in files for line in path.read_text().splitlines()
        }
        assert 1199 in recorded  # the newest rows are always there
    finally:
        journal.close()


async def test_replies_whose_mark_never_landed_before_a_stop_are_marked_at_the_next_start(
    db, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Sent rows are marked in the background (SentMarks); a gateway stopping while the
    database cannot take the marks keeps its journal, and the next start marks them."""
    [row] = _held_rows(db, 1)
    folder = tmp_path / "sent"
    journal = sent_journal.SentJournal(folder)
    unreachable = make_engine(f"sqlite:///{tmp_path / 'gone' / 'tiepdan.db'}")
    marks = sent_journal.SentMarks(make_session_factory(unreachable))
    try:
        journal.sending(row)
        journal.record(row)
        marks.add([row])
        assert await marks.close(timeout=0.3) is False
        assert marks.pending == {row}
    finally:
        journal.close(keep=True)
        unreachable.dispose()
    assert _statuses(db)[row] != SENT
    assert sent_journal.replay(folder, db.factory) == (1, 0)
    assert _statuses(db) == {row: SENT}
    assert list(folder.glob("*.log")) == []
