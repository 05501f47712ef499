"""The Zalo-style web widget channel: an embed script (`/widget.js`) that talks to the
gateway over a WebSocket (`/widget/ws`) as sender `web:<session>`, photo uploads for
reports, and a demo district portal at `/` that embeds it."""

from __future__ import annotations

from aiohttp import web

from channels.widget.pages import setup_pages
from channels.widget.photos import setup_photos
from channels.widget.transport import setup_transport


def setup_routes(app: web.Application) -> None:
    setup_pages(app)
    setup_transport(app)
    setup_photos(app)
