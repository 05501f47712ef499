"""The staff console under /console: log-in, the handoff queue and live conversations,
tickets. Views live here; the rules they apply live in `bot.console` and `bot.handoff`."""

from __future__ import annotations

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.settings import Settings
from channels.console.auth import setup_auth
from channels.console.dashboard import setup_dashboard
from channels.console.escalations import setup_escalations
from channels.console.keys import TEMPLATES
from channels.console.live import setup_live
from channels.console.trainer import setup_trainer
from channels.console.views import setup_routes

HERE = __file__.rsplit("/", 1)[0]


def setup_console(app: web.Application, settings: Settings) -> None:
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE + "/templates"),
        autoescape=True,
        app_key=TEMPLATES,
    )
    setup_auth(app, settings)
    setup_routes(app, HERE + "/static")
    setup_dashboard(app)
    setup_escalations(app)
    setup_trainer(app)
    setup_live(app)
