"""The `tiepdan` command line: run the stack, train, migrate, check data.

It starts the three processes by module name, so it imports neither `channels` nor `actions`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError

from bot import backup, db, privacy, training
from bot.console import cli as staff_cli
from bot.nlu import cli as nlu_cli
from bot.reports import cli as reports_cli
from bot.runtime import process_specs
from bot.settings import Settings, SettingsError, ensure_env_file, load_settings
from bot.trainer import cli as trainer_cli


def cmd_db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    db.upgrade(settings.database_url)
    print(f"database: schema at revision {db.current_revision(settings.database_url)}")
    return 0


def cmd_catalog_check(settings: Settings, args: argparse.Namespace) -> int:
    from bot.catalog import main_check

    return main_check(settings.catalog_dir)


def cmd_train(settings: Settings, args: argparse.Namespace) -> int:
    result = training.train(settings.root, settings.models_dir, force=args.force)
    if result.trained:
        print(f"model: trained {result.model_path.name} in {result.seconds:.0f} s")
    else:
        print(f"model: {result.model_path.name} already matches the data and config")
    return 0


def _banner(settings: Settings, started: float) -> None:
    print(
        f"""
Tiếp Dân is up ({time.monotonic() - started:.0f} s after start)
  demo portal     {settings.public_base_url}/  (chat widget in the corner)
  health          {settings.public_base_url}/healthz
  chat API        POST {settings.public_base_url}/api/chat  (Authorization: Bearer $TIEPDAN_API_TOKEN)
  Rasa            {settings.rasa_url}  (localhost only, token required)
  action server   {settings.actions_url}  (localhost only)
  logs            {settings.var_dir / "logs"}
  staff console   {settings.public_base_url}/console/  (first admin: tiepdan staff add NAME --role admin)
Try it:
  export $(grep ^TIEPDAN_API_TOKEN .env)
  curl -s -X POST {settings.public_base_url}/api/chat -H "Authorization: Bearer $TIEPDAN_API_TOKEN" \\
       -d '{{"sender":"a","text":"xin chào"}}'
Stop with Ctrl-C.""",
        flush=True,
    )


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.catalog import CatalogError, load_catalog
    from bot.supervisor import Supervisor

    started = time.monotonic()
    try:  # a broken catalog stops start-up here, with file, line and fix
        load_catalog(settings.catalog_dir)
    except CatalogError as error:
        print(f"tiepdan: the catalog has problems; nothing was started.\n{error}", file=sys.stderr)
        return 2
    db.upgrade(settings.database_url)
    if args.model:
        model = Path(args.model).resolve()
        if not model.is_file():
            print(f"tiepdan: model file {model} does not exist.", file=sys.stderr)
            return 2
    else:
        log_path = settings.var_dir / "logs" / "train.log"
        if not training.model_path_for(settings.root, settings.models_dir).exists():
            print(f"model: training a new model (a few minutes; log: {log_path})…", flush=True)
        try:
            result = training.train(settings.root, settings.models_dir, log_path=log_path)
        except RuntimeError as error:
            print(f"tiepdan: {error}", file=sys.stderr)
            return 1
        model = result.model_path
        state = f"trained in {result.seconds:.0f} s" if result.trained else "up to date"
        print(f"model: {model.name} ({state})", flush=True)
    specs = process_specs(settings, model)
    if args.telegram_polling:
        gateway = specs[-1]
        specs[-1] = replace(gateway, argv=[*gateway.argv, "--telegram-polling"])
    supervisor = Supervisor(
        specs,
        settings.var_dir / "logs",
        on_ready=lambda: _banner(settings, started),
    )
    print("starting Rasa, the action server and the gateway…", flush=True)
    return asyncio.run(supervisor.run())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tiepdan", description="Tiếp Dân assistant")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="train if needed, then start Rasa, actions and gateway")
    run.add_argument("--model", help="serve this model file instead of training")
    run.add_argument(
        "--telegram-polling",
        action="store_true",
        help="fetch Telegram updates by polling (a developer without a public URL)",
    )
    run.set_defaults(handler=cmd_run)

    train = commands.add_parser("train", help="train a model unless one matches the data")
    train.add_argument("--force", action="store_true", help="train even if a model matches")
    train.set_defaults(handler=cmd_train)

    database = commands.add_parser("db", help="database schema")
    database_commands = database.add_subparsers(dest="db_command", required=True)
    database_commands.add_parser("upgrade", help="apply migrations").set_defaults(
        handler=cmd_db_upgrade
    )
    catalog = commands.add_parser("catalog", help="the service catalog (catalog/)")
    catalog_commands = catalog.add_subparsers(dest="catalog_command", required=True)
    catalog_commands.add_parser("check", help="validate the catalog files").set_defaults(
        handler=cmd_catalog_check
    )

    nlu_cli.add_commands(commands)
    reports_cli.add_commands(commands)
    staff_cli.add_commands(commands)
    trainer_cli.add_commands(commands)
    privacy.add_commands(commands)
    backup.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    if args.command == "run":
        for name in ensure_env_file():
            print(f"setup: generated a random {name} in .env")
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"tiepdan: {error}", file=sys.stderr)
        return 2
    try:
        return args.handler(settings, args)
    except (OperationalError, ProgrammingError) as error:
        # A database that is not there or not migrated: say which one and what to do.
        reason = str(getattr(error, "orig", error)).splitlines()[0]
        where = make_url(settings.database_url).render_as_string(hide_password=True)
        print(
            f"tiepdan: the database {where} is not ready ({reason}). Run `tiepdan db upgrade`, "
            "or check TIEPDAN_DATABASE_URL.",
            file=sys.stderr,
        )
        return 1
    except OSError as error:  # a file that cannot be read or written (--out, a backup…)
        where = f"{error.filename}: " if error.filename else "a file could not be used: "
        print(f"tiepdan: {where}{error.strerror or error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
