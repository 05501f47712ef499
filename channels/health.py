"""Health: `/healthz` checks every component by name and answers 200 only when all are up,
503 with `"status": "degraded"` otherwise; `/healthz/live` only says the gateway answers.

- `rasa`: its /status answers and a model is loaded;
- `actions`: the action server's /health;
- `database`: the application database answers a query;
- `tracker_store`: Rasa really keeps conversations in its SQL tracker store. When that
  store cannot connect at start-up, Rasa logs an error and carries on with an in-memory
  store, losing every conversation at its next restart; a probe event written through
  Rasa's API and read back from the tracker database catches it. The probe runs at most
  every 30 s, and at once after Rasa refused a message because its store failed mid-run
  (bot.tracker_guard) or while the application database is down (often the same server);
- `recovery`: messages waiting to be answered (Rasa or the database was down) and messages
  spooled on disk; degraded while some wait for longer than a short while;
- `redis` (only with `TIEPDAN_REDIS_URL`): the fan-out to the other gateway replicas. A
  replica without Redis still answers its own residents, so Redis alone being down says
  `"status": "degraded"` with 200: a load balancer keeps the replica, an operator sees it.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from datetime import timedelta

import aiohttp
from aiohttp import web
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from bot import messages
from bot.db import ping, transaction
from bot.rasa_client import RasaUnavailable
from channels.fanout import FANOUT
from channels.keys import ENGINE, HTTP, RASA, SESSIONS, SETTINGS
from channels.recovery import SPOOL

PROBE_SENDER = "tiepdan-health-probe"
# The probe writes to Rasa's store: once per interval is enough.
PROBE_EVERY = 30.0
# Waiting messages older than this mean recovery is stuck, not just catching up.
BACKLOG_GRACE = timedelta(minutes=2)

# Degraded, but the replica still answers: not a reason for 503.
NON_CRITICAL = {"redis"}

# The tracker database's engine and the last probe's result (mutable: set before start-up).
PROBE_STATE = web.AppKey("tracker_probe", dict)


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
        await asyncio.wait_for(asyncio.to_thread(ping, app[ENGINE]), timeout=3)
    except Exception as error:  # any driver error means "down"; the message says which
        return {"ok": False, "error": f"{type(error).__name__}: {error}"[:300]}
    return {"ok": True}


def _tracker_engine(app: web.Application) -> Engine:
    state = app[PROBE_STATE]
    if "engine" not in state:
        url = app[SETTINGS].tracker_store_url
        # A plain engine: the application's SQLite pragmas must not touch Rasa's file.
        connect_args = {"timeout": 3} if url.startswith("sqlite") else {"connect_timeout": 3}
        state["engine"] = create_engine(
            url, future=True, pool_pre_ping=True, connect_args=connect_args
        )
    return state["engine"]


def _read_probe(engine: Engine, nonce: str) -> bool:
    """True when the probe event is in Rasa's events table; the probe's rows are removed."""
    with engine.begin() as connection:
        found = connection.execute(
            text("SELECT count(*) FROM events WHERE sender_id = :sender AND data LIKE :nonce"),
            {"sender": PROBE_SENDER, "nonce": f"%{nonce}%"},
        ).scalar_one()
        connection.execute(
            text("DELETE FROM events WHERE sender_id = :sender"), {"sender": PROBE_SENDER}
        )
    return bool(found)


async def _probe_tracker_store(app: web.Application) -> dict[str, object]:
    rasa = app[RASA]
    nonce = secrets.token_hex(8)
    try:
        async with app[HTTP].post(
            f"{rasa.base_url}/conversations/{PROBE_SENDER}/tracker/events",
            params={"token": rasa.token},
            json={"event": "bot", "text": f"health probe {nonce}"},
            timeout=aiohttp.ClientTimeout(total=3),
        ) as response:
            if response.status != 200:
                return {
                    "ok": False,
                    "error": f"Rasa refused the probe event: HTTP {response.status}",
                }
    except (aiohttp.ClientError, asyncio.TimeoutError) as error:
        return {"ok": False, "error": f"Rasa did not take the probe event: {type(error).__name__}"}
    try:
        stored = await asyncio.wait_for(
            asyncio.to_thread(_read_probe, _tracker_engine(app), nonce), timeout=5
        )
    except Exception as error:  # the tracker database itself is unreachable
        return {
            "ok": False,
            "error": f"the tracker database cannot be read: {type(error).__name__}: {error}"[:300],
        }
    if not stored:
        return {
            "ok": False,
            "error": "Rasa keeps conversations in memory: its SQL tracker store could not "
            "connect when it started, and every conversation will be lost at its next "
            "restart. Restart Rasa once the tracker database is reachable.",
        }
    return {"ok": True}


async def _check_tracker_store(
    app: web.Application, rasa_ok: bool, database_ok: bool = True
) -> dict[str, object]:
    if not rasa_ok:
        return {"ok": True, "checked": False, "note": "not checked while Rasa is down"}
    state = app[PROBE_STATE]
    now = time.monotonic()
    last = state.get("last")
    refused = app[RASA].store_refused_at
    if (
        last is None
        or not last["result"]["ok"]
        or now - last["at"] > PROBE_EVERY
        or (refused is not None and refused >= last["at"])  # Rasa's store failed since
        or not database_ok  # often the same server: look again rather than say "ok"
    ):
        last = {"at": now, "result": await _probe_tracker_store(app)}
        state["last"] = last
    return dict(last["result"])


async def _check_recovery(app: web.Application) -> dict[str, object]:
    spooled = len(app[SPOOL]) if SPOOL in app else 0

    def read() -> messages.Backlog:
        with transaction(app[SESSIONS]) as session:
            return messages.backlog(session)

    try:
        backlog = await asyncio.wait_for(asyncio.to_thread(read), timeout=3)
    except Exception:  # the database check reports why
        return {"ok": spooled == 0, "waiting": None, "spooled": spooled}
    stuck = backlog.oldest is not None and backlog.oldest < messages.utcnow() - BACKLOG_GRACE
    result: dict[str, object] = {
        "ok": spooled == 0 and not stuck,
        "waiting": backlog.waiting,
        "spooled": spooled,
    }
    if backlog.oldest is not None:
        result["oldest_waiting_since"] = backlog.oldest.isoformat(timespec="seconds") + "Z"
    return result


async def healthz(request: web.Request) -> web.Response:
    app = request.app
    rasa, actions, database, recovery = await asyncio.gather(
        _check_rasa(app), _check_actions(app), _check_database(app), _check_recovery(app)
    )
    tracker_store = await _check_tracker_store(app, bool(rasa["ok"]), bool(database["ok"]))
    components = {
        "rasa": rasa,
        "actions": actions,
        "database": database,
        "tracker_store": tracker_store,
        "recovery": recovery,
    }
    if FANOUT in app and app[FANOUT].enabled:
        components["redis"] = await app[FANOUT].ping()
    degraded = sorted(name for name, c in components.items() if not c["ok"])
    body: dict[str, object] = {"status": "degraded" if degraded else "ok"}
    if degraded:
        body["degraded"] = degraded
    body["components"] = components
    return web.json_response(body, status=503 if set(degraded) - NON_CRITICAL else 200)


async def live(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/healthz/live", live)
    app[PROBE_STATE] = {}

    async def close_tracker_engine(app: web.Application) -> None:
        if "engine" in app[PROBE_STATE]:
            app[PROBE_STATE]["engine"].dispose()

    app.on_cleanup.append(close_tracker_engine)
