"""Backups: `tiepdan backup [--out PATH]` and `tiepdan restore PATH [--force]`.

One archive (`.tar.gz`, readable only by its owner: it holds personal data) with the
application database, Rasa's tracker store, the uploaded photos and the spool. SQLite databases are
copied with SQLite's online backup API, so the stack can keep running; PostgreSQL ones with
`pg_dump --format=custom`, restored with `pg_restore`. A restore refuses to write over a
database that holds data unless `--force` is given.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, select
from sqlalchemy.engine import make_url

from bot.db import make_engine

FORMAT = 1
# Each database's name inside the archive and its setting, for messages.
DATABASES = (("app", "TIEPDAN_DATABASE_URL"), ("tracker", "TIEPDAN_TRACKER_STORE_URL"))
# Folders under var/ that hold data: residents' photos, and messages spooled while the
# database was down (not yet imported).
FOLDERS = ("uploads", "spool")


class BackupError(RuntimeError):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


@dataclass(frozen=True)
class Result:
    path: Path
    databases: dict[str, str]  # name -> "sqlite" | "postgresql" | "absent"
    files: int


def _backend(url: str) -> str:
    return make_url(url).get_backend_name()


def _sqlite_path(url: str) -> Path:
    return Path(make_url(url).database or "")


def _libpq(url: str) -> tuple[list[str], dict[str, str]]:
    """pg_dump / pg_restore connection options for a SQLAlchemy URL; the password goes in
    the environment, never on the command line (where `ps` would show it)."""
    parsed = make_url(url)
    args = ["--dbname", parsed.database or ""]
    if parsed.host:
        args += ["--host", parsed.host]
    if parsed.port:
        args += ["--port", str(parsed.port)]
    if parsed.username:
        args += ["--username", parsed.username]
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return args, env


def _tool(name: str) -> str:
    found = shutil.which(name) or (
        f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None
    )
    if not found:
        raise BackupError(
            f"{name} is needed for a PostgreSQL database and was not found; install the "
            f"PostgreSQL client (apt-get install postgresql-client)."
        )
    return found


def _run(argv: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise BackupError(f"{what} failed: {done.stderr.strip() or done.stdout.strip()}")


def _has_data(url: str) -> list[str]:
    """The tables of a database that hold at least one row (Alembic's version aside)."""
    if _backend(url) == "sqlite" and not _sqlite_path(url).is_file():
        return []
    engine = make_engine(url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        with engine.connect() as connection:
            return [
                table.name
                for table in metadata.sorted_tables
                if table.name != "alembic_version"
                and connection.execute(select(table).limit(1)).first() is not None
            ]
    finally:
        engine.dispose()


def _dump(url: str, target: Path) -> str:
    backend = _backend(url)
    if backend == "sqlite":
        source_path = _sqlite_path(url)
        if not source_path.is_file():
            return "absent"
        source = sqlite3.connect(source_path, timeout=30)
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)  # consistent even while the stack writes
        finally:
            copy.close()
            source.close()
        return "sqlite"
    if backend == "postgresql":
        args, env = _libpq(url)
        argv = [_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges"]
        _run([*argv, "--file", str(target), *args], env, "pg_dump")
        return "postgresql"
    raise BackupError(f"cannot back up a {backend} database; SQLite and PostgreSQL only.")


def _load(url: str, source: Path, kind: str) -> None:
    backend = _backend(url)
    if backend != kind:
        raise BackupError(
            f"the backup holds a {kind} database but the setting points to {backend}; "
            f"restore into the same kind of database."
        )
    if backend == "sqlite":
        target_path = _sqlite_path(url)
        target_path.parent.mkdir(parents=True, exist_ok=True)
        backup = sqlite3.connect(source)
        target = sqlite3.connect(target_path, timeout=30)
        try:
            backup.backup(target)
        finally:
            target.close()
            backup.close()
        return
    args, env = _libpq(url)
    argv = [_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges"]
    _run([*argv, "--single-transaction", "--exit-on-error", *args, str(source)], env, "pg_restore")


def default_path(var_dir: Path, now: datetime | None = None) -> Path:
    now = now or datetime.now(timezone.utc)
    return var_dir / "backups" / f"tiepdan-{now:%Y%m%d-%H%M%S}.tar.gz"


def backup(settings: Any, out: Path | None = None) -> Result:
    """Write the archive; returns where, and what it holds."""
    out = Path(out) if out else default_path(settings.var_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    databases: dict[str, str] = {}
    files = 0
    with tempfile.TemporaryDirectory(prefix="tiepdan-backup-") as work:
        folder = Path(work)
        for name, _setting in DATABASES:
            url = settings.database_url if name == "app" else settings.tracker_store_url
            databases[name] = _dump(url, folder / name)
        partial = out.with_name(out.name + ".partial")
        with tarfile.open(partial, "w:gz") as archive:
            manifest = {
                "format": FORMAT,
                "created_at": datetime.now(timezone.utc).isoformat(),
                "databases": databases,
            }
            (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
            archive.add(folder / "manifest.json", "manifest.json")
            for name, kind in databases.items():
                if kind != "absent":
                    archive.add(folder / name, name)
            for folder_name in FOLDERS:
                kept = settings.var_dir / folder_name
                for path in sorted(kept.rglob("*")) if kept.is_dir() else []:
                    if path.is_file():
                        archive.add(path, f"{folder_name}/{path.relative_to(kept)}")
                        files += 1
        partial.chmod(0o600)
        partial.replace(out)  # a half-written archive never has the final name
    return Result(out, databases, files)


def restore(settings: Any, archive_path: Path, *, force: bool = False) -> Result:
    """Put the databases and photos of an archive back; refuses over data unless forced."""
    archive_path = Path(archive_path)
    if not archive_path.is_file():
        raise BackupError(f"{archive_path} does not exist.")
    urls = {"app": settings.database_url, "tracker": settings.tracker_store_url}
    with tempfile.TemporaryDirectory(prefix="tiepdan-restore-") as work:
        folder = Path(work)
        try:
            with tarfile.open(archive_path, "r:gz") as archive:
                archive.extractall(folder, filter="data")  # no absolute paths, no ../
        except (tarfile.TarError, OSError, EOFError) as error:
            raise BackupError(f"{archive_path} is not a Tiếp Dân backup: {error}") from None
        try:
            manifest = json.loads((folder / "manifest.json").read_text())
            databases: dict[str, str] = manifest["databases"]
        except (OSError, ValueError, KeyError):
            raise BackupError(f"{archive_path} has no valid manifest.json.") from None
        if manifest.get("format") != FORMAT:
            raise BackupError(f"{archive_path} has format {manifest.get('format')}, not {FORMAT}.")
        if not force:
            for name, setting in DATABASES:
                busy = _has_data(urls[name]) if databases.get(name, "absent") != "absent" else []
                if busy:
                    raise BackupError(
                        f"the database of {setting} already holds data ({', '.join(busy[:5])}); "
                        f"restore into an empty database, or add --force to replace it."
                    )
        for name, _setting in DATABASES:
            kind = databases.get(name, "absent")
            if kind != "absent":
                _load(urls[name], folder / name, kind)
        files = 0
        for folder_name in FOLDERS:
            saved = folder / folder_name
            for path in sorted(saved.rglob("*")) if saved.is_dir() else []:
                if path.is_file():
                    target = settings.var_dir / folder_name / path.relative_to(saved)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, target)
                    files += 1
    return Result(archive_path, databases, files)


# ---------------------------------------------------------------------------------------------
# Command line


def cmd_backup(settings: Any, args: Any) -> int:
    import sys

    try:
        result = backup(settings, Path(args.out) if args.out else None)
    except BackupError as error:
        print(f"tiepdan backup: {error}", file=sys.stderr)
        return 1
    held = ", ".join(f"{name} ({kind})" for name, kind in result.databases.items())
    print(f"backup: wrote {result.path}: databases {held}, {result.files} files")
    return 0


def cmd_restore(settings: Any, args: Any) -> int:
    import sys

    try:
        result = restore(settings, Path(args.path), force=args.force)
    except BackupError as error:
        print(f"tiepdan restore: {error}", file=sys.stderr)
        return 2
    held = ", ".join(
        f"{name} ({kind})" for name, kind in result.databases.items() if kind != "absent"
    )
    print(f"restore: put back {held} and {result.files} files from {result.path}")
    return 0


def add_commands(subparsers: Any) -> None:
    """Register `backup` and `restore` on the `tiepdan` parser."""
    command = subparsers.add_parser("backup", help="archive the databases and uploaded photos")
    command.add_argument("--out", help="archive path (default var/backups/tiepdan-<time>.tar.gz)")
    command.set_defaults(handler=cmd_backup)
    command = subparsers.add_parser(
        "restore", help="put back a `tiepdan backup` archive (stop `tiepdan run` first)"
    )
    command.add_argument("path", help="the archive")
    command.add_argument("--force", action="store_true", help="replace a database holding data")
    command.set_defaults(handler=cmd_restore)
