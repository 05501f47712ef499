"""Database engine, sessions and migrations for the application database.

SQLAlchemy 1.4 is what Rasa 3.6 allows; we write 2.0-style code on it (`future=True`,
`select()`, explicit transactions) so the move to 2.x is mechanical.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import MetaData, create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, declarative_base, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Stable constraint names keep Alembic migrations identical on SQLite and PostgreSQL.
Base = declarative_base(
    metadata=MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
)


def make_engine(url: str, **kwargs: object) -> Engine:
    """An engine tuned for the backend: SQLite gets WAL, a busy timeout and foreign keys.

    Statement parameters are kept out of error messages: they hold what residents wrote,
    and a logged traceback must not."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            future=True,
            connect_args={"check_same_thread": False, "timeout": 15},
            hide_parameters=True,
            **kwargs,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            # pysqlite's own transaction handling breaks savepoints (a write inside the
            # first savepoint commits at once); we emit BEGIN ourselves instead.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # With WAL, NORMAL loses nothing on an application crash, only possibly the
            # last commits on a power cut, and removes an fsync from every commit.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=15000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection) -> None:  # type: ignore[no-untyped-def]
            # IMMEDIATE takes the write lock up front: two deferred transactions that both
            # read and then write would deadlock ("database is locked") instead of waiting.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, future=True, pool_pre_ping=True, hide_parameters=True, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, future=True, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


@contextmanager
def core_transaction(factory: sessionmaker) -> Iterator[Connection]:
    """A transaction on a bare connection of the factory's engine, without an ORM session:
    for the few statements on every message's path, where the session's own bookkeeping
    costs more than the statement (bench/bench_gateway.py)."""
    with factory.kw["bind"].begin() as connection:
        yield connection


def ping(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def alembic_config(url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema up to `revision` (what `tiepdan db upgrade` runs)."""
    from alembic import command

    if url.startswith("sqlite"):
        make_engine(url).dispose()  # creates the folder of the file
    command.upgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
