"""Runs the gateway: `python -m channels` (started by `tiepdan run`).

`--telegram-polling` fetches Telegram updates by long polling instead of a webhook, for
developers whose machine has no public https address.
"""

from __future__ import annotations

import argparse
import logging

from aiohttp import web

from bot.settings import load_settings
from channels.app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m channels", description="Tiếp Dân gateway")
    parser.add_argument(
        "--telegram-polling",
        action="store_true",
        help="poll Telegram for updates (no public address needed) instead of a webhook",
    )
    arguments = parser.parse_args(argv)
    settings = load_settings()
    if arguments.telegram_polling:
        settings = settings.with_overrides(extra={**settings.extra, "TELEGRAM_POLLING": "1"})
    logging.basicConfig(
        level=getattr(logging, settings.log_level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    web.run_app(
        create_app(settings),
        host=settings.gateway_host,
        port=settings.gateway_port,
        access_log=None,
        print=None,
    )


if __name__ == "__main__":
    main()
