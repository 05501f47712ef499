"""`GET /widget.js`, the one-line embed script, and `GET /`, a demo district portal that
embeds it the way a city's site would."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp_jinja2
from aiohttp import web

VIETNAM = timezone(timedelta(hours=7))
WEEKDAYS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")
STATIC = Path(__file__).resolve().parent.parent / "static"
WIDGET_JS = STATIC / "widget" / "widget.js"


async def widget_js(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(
        WIDGET_JS,
        headers={
            "Content-Type": "text/javascript; charset=utf-8",
            # Short: a fix reaches every embedding site within minutes.
            "Cache-Control": "public, max-age=300",
            "X-Content-Type-Options": "nosniff",
            "Cross-Origin-Resource-Policy": "cross-origin",
        },
    )


@aiohttp_jinja2.template("demo.html")
async def demo(request: web.Request) -> dict[str, object]:
    today = datetime.now(VIETNAM)
    return {"today": f"{WEEKDAYS[today.weekday()]}, {today:%d/%m/%Y}"}


def setup_pages(app: web.Application) -> None:
    app.router.add_get("/", demo)
    app.router.add_get("/widget.js", widget_js)
