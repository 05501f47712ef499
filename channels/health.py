"""Health: `/healthz` checks Rasa, the action server and the database (200 only when all
are up, 503 otherwise); `/healthz/live` only says the gateway itself answers."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

from bot.db import ping
from bot.rasa_client import RasaUnavailable
from channels.keys import ENGINE, HTTP, RASA, SETTINGS


async def _check_rasa(app: web.Application) -> dict[str, object]:
    try:
        status = await app[RASA].status()
    except RasaUnavailable as error:
        return {"ok": False, "error": str(error)}
    model = status.get("model_file") or status.get("model_id")
    if not model:
        return {"ok": False, "error": "Rasa is up but has no model loaded"}
    return {"ok": True, "model": str(model).rsplit("/", 1)[-1]}


async def _check_actions(app: web.Application) -> dict[str, object]:
    url = f"{app[SETTINGS].actions_url}/health"
    try:
        async with app[HTTP].get(url, timeout=aiohttp.ClientTimeout(total=3)) as response:
            if response.status == 200:
                return {"ok": True}
            return {"ok": False, "error": f"HTTP {response.status}"}
    except (aiohttp.ClientError, asyncio.TimeoutError) as error:
        return {"ok": False, "error": f"{type(error).__name__}: {error}".rstrip(": ")}


async def _check_database(app: web.Application) -> dict[str, object]:
    try:
        await asyncio.wait_for(asyncio.to_thread(ping, app[ENGINE]), timeout=5)
    except Exception as error:  # any driver error means "down"; the message says which
        return {"ok": False, "error": f"{type(error).__name__}: {error}"[:300]}
    return {"ok": True}


async def healthz(request: web.Request) -> web.Response:
    rasa, actions, database = await asyncio.gather(
        _check_rasa(request.app), _check_actions(request.app), _check_database(request.app)
    )
    components = {"rasa": rasa, "actions": actions, "database": database}
    healthy = all(c["ok"] for c in components.values())
    return web.json_response(
        {"status": "ok" if healthy else "degraded", "components": components},
        status=200 if healthy else 503,
    )


async def live(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/healthz/live", live)
