"""Runs the gateway: `python -m channels` (started by `tiepdan run`).

`--telegram-polling` fetches Telegram updates by long polling instead of a webhook, for
developers whose machine has no public https address.
"""

from __future__ import annotations

import argparse

import uvloop
from aiohttp import web

from bot import logs
from bot.settings import SettingsError, load_settings
from channels.app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m channels", description="Tiếp Dân gateway")
    parser.add_argument(
        "--telegram-polling",
        action="store_true",
        help="poll Telegram for updates (no public address needed) instead of a webhook",
    )
    arguments = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:  # a refused secret: say which, not a traceback
        raise SystemExit(f"gateway: {error}") from None
    if arguments.telegram_polling:
        settings = settings.with_overrides(extra={**settings.extra, "TELEGRAM_POLLING": "1"})
    # One JSON object per line, request ids, phones / ID numbers / e-mails masked.
    logs.configure(settings.log_level)
    # uvloop, the loop Rasa's Sanic runs on (it is in our lock file through Sanic): the
    # gateway is idle while Rasa answers, and on this class of machine code that has been
    # idle runs slowly; uvloop's compact C loop costs far less then than asyncio's
    # (bench/README.md, session 7: a refused request, 6.1 ms against 4.1 ms after 45 ms
    # idle).
    web.run_app(
        create_app(settings),
        loop=uvloop.new_event_loop(),
        host=settings.gateway_host,
        port=settings.gateway_port,
        access_log=None,
        print=None,
    )


if __name__ == "__main__":
    main()
