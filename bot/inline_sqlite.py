"""The two writes on every message's path — store the message (with its one-query routing
check) and record that it was answered — run on the gateway's event loop over one SQLite
connection of their own, when the write lock is free; otherwise (another writer holds it,
or anything goes wrong) the caller does them as before, through SQLAlchemy in a worker
thread, waiting for the lock there.

Why (bench/README.md, session 7): on a 2-core virtual machine, code that has not run for a
few tens of milliseconds runs several times slower than in a tight loop — the gateway is
idle while Rasa answers, and then pays for everything it touches. SQLAlchemy's session,
compiled-statement cache and pool touch a lot: storing a message and recording its answer
took 2.7 ms there (0.6 ms in a tight loop), and two thread hops besides. The same statements
sent straight to sqlite3, compiled once from the SQLAlchemy constructs that stay their single
source, take a fraction of that.

It never waits for the lock (busy timeout 0: a busy database sends the caller to its own
path, which waits in a worker thread, so the loop is not held) and never checkpoints the
WAL on the loop (a checkpoint writes and syncs files): every `CHECKPOINT_EVERY` commits a
passive checkpoint runs in a worker thread instead. Only SQLite files; PostgreSQL and
in-memory databases keep the threaded path.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import weakref
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.sql import Select
from sqlalchemy.sql.expression import ClauseElement

log = logging.getLogger(__name__)

# Commits between two checkpoints (a message's store and its record are two commits; the
# WAL grows by a few pages each, and SQLite's own default is 1,000 pages).
CHECKPOINT_EVERY = 200


class Prepared:
    """A statement compiled once for SQLite: its SQL text and, for each `?` in order, either
    the name of a value the caller gives (a bind parameter without a value of its own) or a
    constant, with the column type's conversion (datetimes become the text SQLAlchemy
    stores)."""

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        given = {
            name for name, bind in statement.compile(dialect=dialect).binds.items() if bind.required
        }
        placeholders = {name: None for name in given}
        if isinstance(statement, Select):
            # IN lists are expanded at execution time; render them now, with their values.
            compiled = statement.params(placeholders).compile(
                dialect=dialect, compile_kwargs={"render_postcompile": True}
            )
        else:
            compiled = statement.compile(dialect=dialect)
        fixed = compiled.construct_params(params=placeholders)
        self.sql = compiled.string
        self._plan: list[tuple[str | None, Callable[[Any], Any] | None, Any]] = []
        for name in compiled.positiontup or ():
            convert = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            if name in given:
                self._plan.append((name, convert, None))
            else:
                value = fixed[name]
                self._plan.append((None, None, convert(value) if convert else value))

    def parameters(self, values: dict[str, Any]) -> list[Any]:
        out = []
        for name, convert, constant in self._plan:
            if name is None:
                out.append(constant)
            else:
                value = values[name]
                out.append(convert(value) if convert is not None and value is not None else value)
        return out


class NotInline(Exception):
    """Nothing was written: the write lock is held, the inline connection failed, or the
    case is one the inline path leaves to the threaded one."""


class InlineWriter:
    """One SQLite connection used only from the event loop's thread."""

    def __init__(self, engine: Engine, path: str) -> None:
        # Not the engine itself: the registry below is keyed weakly by it.
        self._engine = weakref.ref(engine)
        self.dialect = engine.dialect
        self.path = path
        self._connection: sqlite3.Connection | None = None
        self._prepared: dict[ClauseElement, Prepared] = {}
        self._commits = 0
        self._checkpoint: asyncio.Future[None] | None = None

    def prepared(self, statement: ClauseElement) -> Prepared:
        """The statement compiled for this connection (once: statements are module-level
        constants, hashed by identity)."""
        found = self._prepared.get(statement)
        if found is None:
            found = self._prepared[statement] = Prepared(statement, self.dialect)
        return found

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(
                self.path, timeout=0, isolation_level=None, check_same_thread=False
            )
            try:
                connection.execute("PRAGMA busy_timeout=0")
                connection.execute("PRAGMA foreign_keys=ON")
                connection.execute("PRAGMA synchronous=NORMAL")
                connection.execute("PRAGMA wal_autocheckpoint=0")
                mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
            except sqlite3.Error:
                connection.close()
                raise
            if str(mode).lower() != "wal":  # not set up by the engine yet: not ours to change
                connection.close()
                raise NotInline(f"journal mode is {mode}, not wal")
            self._connection = connection
        return self._connection

    def write(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run `work` in one IMMEDIATE transaction and commit; raises NotInline, having
        written nothing, when the lock is held or anything fails before the commit lands."""
        try:
            connection = self._connect()
        except sqlite3.Error as error:
            raise NotInline(str(error)) from error
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:  # "database is locked": another writer holds it
            raise NotInline(str(error)) from error
        try:
            result = work(connection)
            connection.execute("COMMIT")
        except BaseException as error:
            if connection.in_transaction:
                try:
                    connection.execute("ROLLBACK")
                except sqlite3.Error:
                    self.close()  # a connection in an unknown state is not used again
            if isinstance(error, sqlite3.Error):
                raise NotInline(str(error)) from error
            raise
        self._commits += 1
        if self._commits % CHECKPOINT_EVERY == 0:
            self._checkpoint_soon()
        return result

    def _checkpoint_soon(self) -> None:
        if self._checkpoint is not None and not self._checkpoint.done():
            return
        engine = self._engine()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if engine is not None:
            self._checkpoint = loop.run_in_executor(None, checkpoint, engine)

    def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            try:
                connection.close()
            except sqlite3.Error:
                log.exception("closing the inline SQLite connection failed")


def checkpoint(engine: Engine) -> None:
    """A passive checkpoint: copies what no reader still needs from the WAL into the file."""
    try:
        # On the driver's connection: SQLAlchemy would open a transaction first, and SQLite
        # does not checkpoint inside one.
        connection = engine.raw_connection()
        try:
            connection.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            connection.close()
    except Exception:  # the next one will try again
        log.warning("WAL checkpoint failed", exc_info=True)


_WRITERS: weakref.WeakKeyDictionary[Engine, InlineWriter | None] = weakref.WeakKeyDictionary()


def writer_for(engine: Engine) -> InlineWriter | None:
    """The engine's inline writer; None for anything but a SQLite file."""
    try:
        return _WRITERS[engine]
    except KeyError:
        pass
    url = engine.url
    path = url.database or ""
    found = None
    if url.get_backend_name() == "sqlite" and path and path != ":memory:":
        found = InlineWriter(engine, path)

        @event.listens_for(engine, "engine_disposed")
        def _close(_engine: Engine, writer: InlineWriter = found) -> None:
            writer.close()

    _WRITERS[engine] = found
    return found
