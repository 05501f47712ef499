"""The gateway's composition root: one aiohttp app, one `setup_*` per concern."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import aiohttp_jinja2
import jinja2
from aiohttp import web
from sqlalchemy.pool import QueuePool

from bot import surveys
from bot.catalog import cached_catalog
from bot.db import make_engine, make_session_factory
from bot.rasa_client import RasaClient
from bot.settings import Settings
from channels import (
    api,
    console,
    duties,
    health,
    outbox_worker,
    recovery,
    telegram,
    widget,
    zalo,
)
from channels.fanout import setup_fanout
from channels.keys import ENGINE, HTTP, RASA, SESSIONS, SETTINGS
from channels.ratelimit import setup_rate_limits
from channels.request_ids import setup_request_ids

TEMPLATES_DIR = __file__.rsplit("/", 1)[0] + "/templates"
STATIC_DIR = __file__.rsplit("/", 1)[0] + "/static"


def pooled_sqlite(url: str) -> dict[str, object]:
    """Keep SQLite connections open between transactions. SQLAlchemy 1.4 opens and closes a
    SQLite file for every transaction (NullPool): the pragmas run again each time and closing
    the last connection checkpoints the WAL. Measured (bench/README.md): 5-11 ms per
    transaction at p50, 120-190 ms at p95 on a loaded machine, against 0.15 / 0.3 ms pooled;
    a message takes four. Overflow connections are allowed, so no thread ever waits for one."""
    if not url.startswith("sqlite") or ":memory:" in url or url.rstrip("/") == "sqlite:":
        return {}
    return {"poolclass": QueuePool, "pool_size": 8, "max_overflow": -1}


def setup_database(app: web.Application) -> None:
    async def database(app: web.Application) -> AsyncIterator[None]:
        url = app[SETTINGS].database_url
        engine = make_engine(url, **pooled_sqlite(url))
        app[ENGINE] = engine
        app[SESSIONS] = make_session_factory(engine)
        yield
        engine.dispose()

    app.cleanup_ctx.append(database)


def setup_rasa(app: web.Application) -> None:
    async def rasa(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        # One pooled connection set for the life of the gateway, not one per message.
        http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))
        app[HTTP] = http
        app[RASA] = RasaClient(http, settings.rasa_url, settings.rasa_token, settings.rasa_timeout)
        yield
        app[RASA].close()
        await http.close()

    app.cleanup_ctx.append(rasa)


def setup_templates(app: web.Application) -> None:
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(["html"]),
    )
    app.router.add_static("/static", STATIC_DIR, name="static")


def setup_surveys(app: web.Application) -> None:
    """Survey timing from the settings; low scores alert the unit's supervisor (catalog)."""
    settings = app[SETTINGS]

    def supervisor(unit_id: str) -> str | None:
        # Read when a low score first needs it, not at start-up (`tiepdan run` has already
        # validated the catalog).
        unit = cached_catalog(settings.catalog_dir).units.get(unit_id)
        return unit.supervisor if unit else None

    surveys.configure(surveys.SurveyPolicy.from_settings(settings), supervisor)


def create_app(settings: Settings) -> web.Application:
    app = web.Application(client_max_size=10 * 1024 * 1024)
    app[SETTINGS] = settings
    setup_request_ids(app)  # outermost: even a refusal carries X-Request-Id
    setup_rate_limits(app)  # first: the outermost middleware
    setup_database(app)
    setup_rasa(app)
    setup_fanout(app)  # before the widget and the console, which register their topics
    setup_templates(app)
    health.setup_routes(app)
    api.setup_routes(app)
    widget.setup_routes(app)
    telegram.setup_channel(app)
    zalo.setup_channel(app)
    outbox_worker.setup_worker(app)
    recovery.setup_recovery(app)
    duties.setup_duties(app)
    setup_surveys(app)
    console.setup_console(app, settings)
    return app
