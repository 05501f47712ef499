"""Periodic duties of the gateway: flag overdue tickets and escalate them to the unit's
supervisor, once each (safe with several gateway replicas: the service flags each ticket
in one conditional update)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime

from aiohttp import web

from bot.calendar import VIETNAM
from bot.catalog import cached_catalog
from bot.db import transaction
from bot.tickets import escalate_overdue
from channels.keys import SESSIONS, SETTINGS

log = logging.getLogger("tiepdan.duties")
INTERVAL_SECONDS = 15 * 60


def run_escalation(app: web.Application, now: datetime | None = None) -> int:
    """One pass: returns how many tickets were escalated."""
    now = now or datetime.now(VIETNAM)
    catalog = cached_catalog(app[SETTINGS].catalog_dir)

    def supervisor(unit_id: str) -> str | None:
        unit = catalog.units.get(unit_id)
        return unit.supervisor if unit else None

    with transaction(app[SESSIONS]) as session:
        return len(escalate_overdue(session, now.date(), supervisor, now=now))


def setup_duties(app: web.Application) -> None:
    async def duties(app: web.Application) -> AsyncIterator[None]:
        async def loop() -> None:
            while True:
                try:
                    count = await asyncio.to_thread(run_escalation, app)
                    if count:
                        log.info("escalated %d overdue tickets", count)
                except Exception:  # a bad pass must not stop the next one
                    log.exception("overdue escalation failed; retrying next round")
                await asyncio.sleep(INTERVAL_SECONDS)

        task = asyncio.create_task(loop())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(duties)
