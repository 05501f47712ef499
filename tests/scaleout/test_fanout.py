"""The gateways' fan-out over a real Redis server of the test's own (so it can be stopped):
what one replica publishes reaches the others, not itself; an idle subscriber stays
subscribed; when Redis stops, publishing gives up at once and health says so, and when it
comes back the replicas find each other again."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from channels.fanout import Fanout
from tests.scaleout import REDIS_ENV, RedisServer

pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(not os.environ.get(REDIS_ENV), reason=f"needs {REDIS_ENV}"),
]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    own = RedisServer(tmp_path)
    own.start()
    yield own
    own.stop()


async def replica(url: str, received: list[Any]) -> Fanout:
    fanout = Fanout(url)

    async def on_widget(data: dict[str, Any]) -> None:
        received.append(data)

    fanout.on("widget", on_widget)
    await fanout.start()
    await until(lambda: fanout.ready)
    return fanout


async def until(condition: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def test_a_frame_published_on_one_replica_reaches_the_other_and_not_itself(
    server: RedisServer,
) -> None:
    on_a, on_b = [], []
    a, b = await replica(server.url, on_a), await replica(server.url, on_b)
    try:
        await asyncio.sleep(2.5)  # idle longer than any read timeout: still subscribed
        assert a.ready and b.ready
        frame = {"session": "s1", "frame": {"type": "message", "bubble": {"text": "Dạ, chào"}}}
        assert await a.publish("widget", frame)
        await until(lambda: on_b)
        assert on_b == [frame]
        await asyncio.sleep(0.2)
        assert on_a == []
        assert (await b.ping())["ok"] is True
    finally:
        await a.stop()
        await b.stop()


async def test_when_redis_stops_replicas_carry_on_alone_and_find_each_other_again(
    server: RedisServer,
) -> None:
    on_a, on_b = [], []
    a, b = await replica(server.url, on_a), await replica(server.url, on_b)
    try:
        server.stop()
        started = time.monotonic()
        assert await a.publish("widget", {"n": 1}) is False
        assert time.monotonic() - started < 2  # nobody waits on a dead server
        health = await b.ping()
        assert health["ok"] is False and health["error"]
        await until(lambda: not b.ready)

        server.start()  # same port
        await until(lambda: a.ready and b.ready, timeout=20)
        assert await a.publish("widget", {"n": 2})
        await until(lambda: on_b)
        assert on_b == [{"n": 2}]
    finally:
        await a.stop()
        await b.stop()


async def test_without_a_redis_url_nothing_is_published() -> None:
    fanout = Fanout("")
    await fanout.start()
    assert not fanout.enabled and not fanout.ready
    assert await fanout.publish("widget", {"n": 1}) is False
    await fanout.stop()
