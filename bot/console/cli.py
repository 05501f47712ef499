"""`tiepdan staff add|disable|reset-password`: console accounts from the command line.

The password is asked for twice at a terminal, or read from the first line of standard
input when it is piped (`echo "$PW" | tiepdan staff add lan --role agent --unit customer_care`).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from bot import db
from bot.console.accounts import ROLES, AccountError, create_staff, disable_staff, reset_password


def _read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise AccountError("the two passwords differ")
    return first


def _run(settings: Any, change) -> int:  # type: ignore[no-untyped-def]
    db.upgrade(settings.database_url)
    engine = db.make_engine(settings.database_url)
    try:
        with db.transaction(db.make_session_factory(engine)) as session:
            print(change(session))
    except AccountError as error:
        print(f"tiepdan: {error}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    return 0


def cmd_staff_add(settings: Any, args: argparse.Namespace) -> int:
    try:
        password = _read_password()
    except AccountError as error:
        print(f"tiepdan: {error}", file=sys.stderr)
        return 2

    def add(session) -> str:  # type: ignore[no-untyped-def]
        account = create_staff(
            session,
            username=args.username,
            password=password,
            role=args.role,
            unit_id=args.unit,
            display_name=args.name,
        )
        return f"staff: added {account.username} ({account.role}, unit {account.unit_id or '-'})"

    return _run(settings, add)


def cmd_staff_disable(settings: Any, args: argparse.Namespace) -> int:
    return _run(
        settings,
        lambda session: f"staff: disabled {disable_staff(session, args.username).username}",
    )


def cmd_staff_reset_password(settings: Any, args: argparse.Namespace) -> int:
    try:
        password = _read_password()
    except AccountError as error:
        print(f"tiepdan: {error}", file=sys.stderr)
        return 2
    return _run(
        settings,
        lambda session: (
            "staff: new password for " + reset_password(session, args.username, password).username
        ),
    )


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register `staff add|disable|reset-password` on the `tiepdan` parser's subcommands."""
    staff = subparsers.add_parser("staff", help="staff console accounts")
    commands = staff.add_subparsers(dest="staff_command", required=True)

    add = commands.add_parser("add", help="create an account (password asked or piped)")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--unit", help="the unit whose queue and tickets they see (customer_care)")
    add.add_argument("--name", help="the name shown to colleagues")
    add.set_defaults(handler=cmd_staff_add)

    disable = commands.add_parser("disable", help="stop an account from logging in")
    disable.add_argument("username")
    disable.set_defaults(handler=cmd_staff_disable)

    reset = commands.add_parser("reset-password", help="set a new password and unlock")
    reset.add_argument("username")
    reset.set_defaults(handler=cmd_staff_reset_password)
