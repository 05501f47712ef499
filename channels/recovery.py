"""Wires the recovery worker (`bot.recovery`) into the gateway: the conversation policy
(busy reply delay, the spool under `var/spool/`), and the channels that take back the
platform updates spooled while the database was unavailable."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import aiohttp
from aiohttp import web

from bot import conversation, messages
from bot.recovery import RecoveryWorker
from channels.keys import HTTP, RASA, SESSIONS, SETTINGS
from channels.telegram import TELEGRAM
from channels.zalo import ZALO

log = logging.getLogger(__name__)

# Database calls run in threads; when the database is locked they wait, and the loop's
# default pool (cores + 4 threads) would be used up by them, stalling every other call.
THREADS = 32


class ActionsProbe:
    """Whether the action server answers its /health within a second; asked at most once a
    second, however many messages come in, and in the background: a message is not held
    for the probe (a message that finds the action server gone anyway gets no answer from
    Rasa, and `fresh=True` then waits for a new probe before it is given up on). Until it
    has answered once (a gateway without an action server, as in the channel tests) it does
    not hold messages back."""

    def __init__(self, app: web.Application, every: float = 1.0) -> None:
        self.app = app
        self.every = every
        self._at = float("-inf")
        self._ok = True
        self._seen = False
        self._lock = asyncio.Lock()
        self._probing: asyncio.Task[None] | None = None

    async def __call__(self, fresh: bool = False) -> bool:
        if fresh or not self._seen:
            await self._probe(fresh)
        elif time.monotonic() - self._at >= self.every and (
            self._probing is None or self._probing.done()
        ):
            self._probing = asyncio.ensure_future(self._probe(False))
        return self._ok or not self._seen

    async def _probe(self, fresh: bool) -> None:
        async with self._lock:
            if fresh or time.monotonic() - self._at >= self.every:
                self._ok = await self._check()
                self._seen = self._seen or self._ok
                self._at = time.monotonic()

    async def _check(self) -> bool:
        url = f"{self.app[SETTINGS].actions_url}/health"
        try:
            async with self.app[HTTP].get(url, timeout=aiohttp.ClientTimeout(total=1)) as answer:
                return answer.status == 200
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return False


RECOVERY_WORKER = web.AppKey("recovery_worker", RecoveryWorker)
SPOOL = web.AppKey("spool", messages.Spool)


def setup_recovery(app: web.Application) -> None:
    """Configure the conversation now (channels store messages from their first request)
    and start the worker after the channels (it hands spooled updates back to them)."""
    settings = app[SETTINGS]
    spool = messages.Spool(settings.var_dir / "spool")
    app[SPOOL] = spool

    def wake() -> None:
        if RECOVERY_WORKER in app:
            app[RECOVERY_WORKER].wake()

    policy = conversation.Policy(
        busy_after=settings.busy_reply_after,
        rasa_timeout=settings.rasa_timeout,
        spool=spool,
        wake=wake,
        actions_ready=ActionsProbe(app),
    )
    conversation.configure(policy)

    async def threads(app: web.Application) -> AsyncIterator[None]:
        executor = ThreadPoolExecutor(THREADS, thread_name_prefix="gateway")
        asyncio.get_running_loop().set_default_executor(executor)
        yield
        executor.shutdown(wait=False, cancel_futures=True)

    app.cleanup_ctx.insert(0, threads)

    async def worker(app: web.Application) -> AsyncIterator[None]:
        importers = {}
        for key in (TELEGRAM, ZALO):
            if key in app:
                importers[app[key].channel] = app[key].import_spooled
        app[RECOVERY_WORKER] = RecoveryWorker(
            app[SESSIONS], app[RASA], spool, lease=policy.lease, importers=importers
        )
        task = asyncio.create_task(app[RECOVERY_WORKER].run())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if conversation.POLICY is policy:  # nothing of this app outlives it
            conversation.configure(conversation.Policy())

    app.cleanup_ctx.append(worker)
