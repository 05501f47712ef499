"""What this gateway has handed to Telegram or Zalo, written down the moment the platform
said yes, before the database hears of it.

Marking an outbox row sent takes a database transaction on a worker thread; a gateway killed
between the platform's answer and that commit would leave the row unsent, and the outbox
worker would send it again once its hold or lease ran out: the resident reads the same reply
twice. The journal closes most of that gap: the row's id is appended to a file owned by this
process (one `write`, no thread, no database: the kernel keeps it even when the process is
killed), and at the next start the journals of gateways that are gone mark their rows sent
before any worker sends anything.

What it cannot close: the platform has taken the message and the gateway dies before reading
the answer (a millisecond or two). Telegram and Zalo take no idempotency key, so that message
is sent again (at least once, never lost). On one host the journals live in
`var/run/sent/`; gateways on other hosts do not see each other's, see docs/DEPLOY.md.

A journal is locked (`flock`) by its process for as long as it lives; a journal whose lock
can be taken belongs to a process that is gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import uuid
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

    def record(self, row_id: int | None) -> None:
        """The platform accepted outbox row `row_id`; called before the row is marked sent."""
        if row_id is None or self._fd < 0:
            return  # closed: a reply sent while the gateway drains is committed as usual
        line = f"{row_id}\n".encode()
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

    def close(self) -> None:
        """A clean stop: every recorded row has been committed, nothing to replay."""
        fd, self._fd = self._fd, -1
        with contextlib.suppress(OSError):
            os.close(fd)
        for path in (self.path, self._previous):
            if path is not None:
                path.unlink(missing_ok=True)


def orphaned(folder: Path) -> list[tuple[Path, list[int]]]:
    """The journals left by gateways that are gone, with the rows each recorded."""
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
        rows = [int(line) for line in data.decode("ascii", "replace").split() if line.isdigit()]
        found.append((path, rows))
    return found


def replay(folder: Path, sessions: sessionmaker) -> int:
    """Mark sent the rows that gone gateways handed to a platform but never marked; returns
    how many were still waiting to be sent. Run before the outbox worker starts."""
    marked = 0
    for path, rows in orphaned(folder):
        if rows:
            with transaction(sessions) as session:
                marked += outbox.mark_sent_where_unsent(session, rows)
        path.unlink(missing_ok=True)
    if marked:
        log.info(
            "sent journal: %d reply(ies) sent before a stop marked sent, not sent again", marked
        )
    return marked
