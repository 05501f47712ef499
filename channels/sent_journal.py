"""What this gateway is handing to Telegram or Zalo, written down around each send, before
the database hears of it.

Marking an outbox row sent takes a database transaction on a worker thread; a gateway killed
between the platform's answer and that commit would leave the row unsent, and the outbox
worker would send it again once its hold or lease ran out: the resident reads the same reply
twice. The journal closes that gap: "s <id>" is appended to a file owned by this process
before the request goes out, "d <id>" the moment the platform said yes (one `write` each,
no thread, no database: the kernel keeps them even when the process is killed). At the next
start the journals of gateways that are gone are read before any worker sends anything:
rows done are marked sent; rows started and never done are the requests the kill cut off.

Those last ones cannot be settled: the platform may have taken the message before the
gateway died, and Telegram and Zalo take no idempotency key and cannot be asked. They are
sent again (at least once: a reply is never lost) and marked `unconfirmed_at`, so operators
and the fault suite see which replies may have reached a resident twice. On one host the
journals live in `var/run/sent/`; gateways on other hosts do not see each other's, see
docs/DEPLOY.md.

A journal is locked (`flock`) by its process for as long as it lives; a journal whose lock
can be taken belongs to a process that is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import uuid
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy.orm import sessionmaker

from bot import outbox
from bot.db import transaction

log = logging.getLogger(__name__)

# Rows are written here only until their commit, which follows within seconds: a journal
# this long is started afresh and the one before it is dropped.
ROTATE_AT = 1 << 20


class SentJournal:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self._previous: Path | None = None
        self._open()

    def _open(self) -> None:
        self.path = self.folder / f"{os.getpid()}-{uuid.uuid4().hex[:8]}.log"
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._size = 0

    def sending(self, row_id: int | None) -> None:
        """Outbox row `row_id` is about to go to the platform."""
        self._write("s", row_id)

    def record(self, row_id: int | None) -> None:
        """The platform accepted outbox row `row_id`; called before the row is marked sent."""
        self._write("d", row_id)

    def _write(self, mark: str, row_id: int | None) -> None:
        if row_id is None or self._fd < 0:
            return  # closed: a reply sent while the gateway drains is committed as usual
        line = f"{mark} {row_id}\n".encode()
        try:
            os.write(self._fd, line)
        except OSError as error:  # a full disk must not stop replies; the window reopens
            log.warning("sent journal: could not record row %s: %s", row_id, error)
            return
        self._size += len(line)
        if self._size >= ROTATE_AT:
            self._rotate()

    def _rotate(self) -> None:
        if self._previous is not None:
            self._previous.unlink(missing_ok=True)
        old_fd, self._previous = self._fd, self.path
        self._open()
        # The old file stays (unlocked now) until the next rotation; should we die before
        # that, the next start replays it too, which is harmless.
        os.close(old_fd)

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def close(self, *, keep: bool = False) -> None:
        """A clean stop: every recorded row has been committed, nothing to replay. With
        `keep` (rows recorded here are not committed yet) the files stay, unlocked: the next
        start replays them."""
        fd, self._fd = self._fd, -1
        with contextlib.suppress(OSError):
            os.close(fd)
        if keep:
            return
        for path in (self.path, self._previous):
            if path is not None:
                path.unlink(missing_ok=True)


class SentMarks:
    """Replies the platform took, marked sent in the database in the background, many rows
    to a transaction, so that sending an answer never waits for the database between its
    replies, and a resident's next message never waits behind that write: with the database
    locked, one write could hold the resident's conversation for as long as the lock
    lasted (the fault suite's "Database locked" caught a resident waiting over 8 s).

    A row is in the sent journal ("d") before it is handed here, so a gateway that dies
    before the commit loses nothing: the next start marks it sent from the journal. Until
    the commit lands it is in `pending`, which this gateway's outbox worker does not claim;
    a failed commit is tried again, waiting 0.5 s, then twice as long each time, up to 30 s.
    """

    RETRY_FIRST = 0.5
    RETRY_MAX = 30.0

    def __init__(self, sessions: sessionmaker) -> None:
        self.sessions = sessions
        self.pending: set[int] = set()
        self.closed = False
        self._task: asyncio.Task[None] | None = None

    def add(self, rows: Iterable[int | None]) -> None:
        self.pending.update(row for row in rows if row is not None)
        if self.pending and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._commit_all())

    async def _commit_all(self) -> None:
        delay = self.RETRY_FIRST
        while self.pending:
            batch = sorted(self.pending)
            try:
                await asyncio.to_thread(self._commit, batch)
            except Exception as error:  # noqa: BLE001 - the database is down or locked: retried
                log.warning(
                    "could not mark %d sent repl%s yet (%s); trying again in %.1f s",
                    len(batch),
                    "y" if len(batch) == 1 else "ies",
                    type(error).__name__,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.RETRY_MAX)
                continue
            self.pending.difference_update(batch)
            delay = self.RETRY_FIRST

    def _commit(self, rows: list[int]) -> None:
        with transaction(self.sessions) as session:
            outbox.mark_sent_where_unsent(session, rows)

    async def idle(self) -> None:
        """Wait until every row handed here so far is committed (or the retries stop)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def close(self, timeout: float) -> bool:
        """Stop taking rows and wait up to `timeout` seconds for the commits; False when
        some are left (their journal must then be kept for the next start)."""
        self.closed = True
        task = self._task
        if task is not None and not task.done():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), timeout)
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        return not self.pending


def orphaned(folder: Path) -> list[tuple[Path, list[int], list[int]]]:
    """The journals left by gateways that are gone, with the rows each one's platform took
    and the rows it started to send without hearing back."""
    found = []
    if not folder.is_dir():
        return found
    for path in sorted(folder.glob("*.log")):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its gateway is alive
            data = os.read(fd, os.fstat(fd).st_size)
        finally:
            os.close(fd)
        started: dict[int, None] = {}
        done: dict[int, None] = {}
        for line in data.decode("ascii", "replace").splitlines():
            mark, _, row = line.partition(" ")
            if row.isdigit():
                (done if mark == "d" else started)[int(row)] = None
        found.append((path, list(done), [row for row in started if row not in done]))
    return found


def replay(folder: Path, sessions: sessionmaker) -> tuple[int, int]:
    """Settle what gateways that are gone left in their journals; returns how many rows were
    marked sent (the platform had taken them) and how many unconfirmed (cut off mid-send,
    sent again). Run before the outbox worker starts."""
    marked = unconfirmed = 0
    for path, done, cut_off in orphaned(folder):
        if done or cut_off:
            with transaction(sessions) as session:
                marked += outbox.mark_sent_where_unsent(session, done)
                unconfirmed += outbox.mark_unconfirmed(session, cut_off)
        path.unlink(missing_ok=True)
    if marked:
        log.info("sent journal: %d message(s) sent before a stop marked sent", marked)
    if unconfirmed:
        log.warning(
            "sent journal: %d message(s) were being sent when the gateway stopped; they are "
            "sent again and may reach their residents twice",
            unconfirmed,
        )
    return marked, unconfirmed
