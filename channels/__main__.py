"""Runs the gateway: `python -m channels` (started by `tiepdan run`)."""

from __future__ import annotations

import logging

from aiohttp import web

from bot.settings import load_settings
from channels.app import create_app


def main() -> None:
    settings = load_settings()
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
