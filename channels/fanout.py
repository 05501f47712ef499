"""Fan-out between gateway replicas over Redis pub/sub.

A resident's widget connection lives on one gateway replica; a staff reply, a handoff event
or a notification may be produced on another (the staff member's console is connected
there). Each replica does its local work as before, then publishes the frame here; every
other replica receives it and hands it to its own open sockets. The console's live feed uses
the same path to wake the other replicas at once instead of at their next database poll.

Without `TIEPDAN_REDIS_URL` nothing is published and the in-process path is all there is
(one gateway). When Redis is configured but down, publishing is skipped for a few seconds
at a time (no request waits on a dead server), the subscriber reconnects with back-off, and
`/healthz` says Redis is degraded; each replica keeps answering its own residents, and what
only fan-out would have carried reaches them from the database (the widget's history on
reconnect, the notification poll).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import redis
import redis.asyncio as aioredis
from aiohttp import web

from channels.keys import SETTINGS

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "tiepdan:fanout:"
CONNECT_TIMEOUT = 0.5
PUBLISH_TIMEOUT = 1.0
# After a failure, publishing is skipped this long (the subscriber keeps retrying).
RETRY_AFTER = 3.0
MAX_BACKOFF = 5.0

Handler = Callable[[dict[str, Any]], Awaitable[None]]


class Fanout:
    """Publish to the other replicas; dispatch what they publish to handlers by topic."""

    def __init__(self, url: str, *, replica: str | None = None) -> None:
        self.url = url
        # Messages carry their replica so a replica ignores its own (it did the work locally).
        self.replica = replica or secrets.token_hex(6)
        self.handlers: dict[str, Handler] = {}
        self.subscribed = False
        self.last_error: str | None = None
        self._down_until = 0.0
        self._client: aioredis.Redis | None = None
        self._listener: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    @property
    def ready(self) -> bool:
        """Publishing is expected to reach the other replicas right now."""
        return self.enabled and self.subscribed and time.monotonic() >= self._down_until

    def on(self, topic: str, handler: Handler) -> None:
        """Register what to do with `topic` messages from other replicas (before start)."""
        self.handlers[topic] = handler

    async def start(self) -> None:
        if not self.enabled:
            return
        self._client = aioredis.Redis.from_url(
            self.url,
            socket_connect_timeout=CONNECT_TIMEOUT,
            socket_timeout=PUBLISH_TIMEOUT,
            health_check_interval=10,
        )
        self._listener = asyncio.get_running_loop().create_task(self._listen())

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._client is not None:
            await self._client.close()
            await self._client.connection_pool.disconnect()

    async def publish(self, topic: str, data: dict[str, Any]) -> bool:
        """Send `data` to the other replicas' `topic` handlers; False when it did not go out
        (no Redis configured, or Redis is down)."""
        if self._client is None or time.monotonic() < self._down_until:
            return False
        message = json.dumps({"from": self.replica, "data": data}, ensure_ascii=False)
        try:
            await asyncio.wait_for(
                self._client.publish(CHANNEL_PREFIX + topic, message), PUBLISH_TIMEOUT
            )
        except (redis.RedisError, OSError, asyncio.TimeoutError) as error:
            self._failed(error)
            return False
        return True

    async def ping(self) -> dict[str, Any]:
        """For `/healthz`: can this replica reach Redis, and is it receiving?"""
        if self._client is None:
            return {"ok": False, "error": "not started"}
        try:
            await asyncio.wait_for(self._client.ping(), PUBLISH_TIMEOUT)
        except (redis.RedisError, OSError, asyncio.TimeoutError) as error:
            self._failed(error)
            return {"ok": False, "error": self.last_error}
        if not self.subscribed:
            return {"ok": False, "error": self.last_error or "not subscribed yet"}
        return {"ok": True, "replica": self.replica}

    def _failed(self, error: BaseException) -> None:
        first = time.monotonic() >= self._down_until
        self._down_until = time.monotonic() + RETRY_AFTER
        self.last_error = f"{type(error).__name__}: {error}".rstrip(": ")[:300]
        if first:
            log.warning("fan-out: Redis unavailable (%s); replicas work alone", self.last_error)

    async def _listen(self) -> None:
        # Its own connection without a read timeout (waiting is what a subscriber does);
        # the periodic health check notices a server that went away silently.
        subscriber = aioredis.Redis.from_url(
            self.url, socket_connect_timeout=CONNECT_TIMEOUT, health_check_interval=5
        )
        backoff = 0.5
        channels = [CHANNEL_PREFIX + topic for topic in self.handlers]
        try:
            while True:
                pubsub = subscriber.pubsub(ignore_subscribe_messages=True)
                try:
                    await pubsub.subscribe(*channels)
                    if not self.subscribed:
                        log.info("fan-out: subscribed to Redis as replica %s", self.replica)
                    self.subscribed, self.last_error, self._down_until = True, None, 0.0
                    backoff = 0.5
                    while True:
                        message = await pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=1.0
                        )
                        if message is not None and message.get("type") == "message":
                            await self._dispatch(message)
                except asyncio.CancelledError:
                    raise
                except Exception as error:  # Redis went away: keep serving, reconnect later
                    self.subscribed = False
                    self._failed(error)
                finally:
                    with contextlib.suppress(Exception):
                        await pubsub.close()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
        finally:
            with contextlib.suppress(Exception):
                await subscriber.close()
                await subscriber.connection_pool.disconnect()

    async def _dispatch(self, message: dict[str, Any]) -> None:
        channel = message["channel"]
        topic = (channel.decode() if isinstance(channel, bytes) else channel)[len(CHANNEL_PREFIX) :]
        try:
            envelope = json.loads(message["data"])
        except (TypeError, ValueError):
            log.warning("fan-out: ignoring a malformed message on %s", topic)
            return
        if envelope.get("from") == self.replica or topic not in self.handlers:
            return
        try:
            await self.handlers[topic](envelope.get("data") or {})
        except Exception:  # one bad frame must not stop the subscriber
            log.exception("fan-out: handling a %s message failed", topic)


FANOUT = web.AppKey("fanout", Fanout)


def setup_fanout(app: web.Application) -> None:
    """Create the replica's fan-out (inactive without a Redis URL); the widget and the
    console register their topics in their own setup, and it starts with the app."""
    fanout = Fanout(app[SETTINGS].redis_url)
    app[FANOUT] = fanout

    async def running(app: web.Application) -> AsyncIterator[None]:
        await fanout.start()
        yield
        await fanout.stop()

    app.cleanup_ctx.append(running)


def fanout_ready(app: web.Application) -> bool:
    return FANOUT in app and app[FANOUT].ready
