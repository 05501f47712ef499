"""The atomic Redis lock store, across processes: one conversation is never processed by two
processes at once, and one resident's messages are answered in the order they arrived."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys

import pytest
import redis

from bot.lockstore import RETRY_REDIS_AFTER, AtomicRedisLockStore
from bot.settings import PROJECT_ROOT
from tests.scaleout import REDIS_ENV, RedisServer, redis_url

pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(not os.environ.get(REDIS_ENV), reason=f"needs {REDIS_ENV}"),
]


def run_pair(*argvs: list[str], timeout: float = 90) -> None:
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.scaleout.hammer", *argv],
            cwd=PROJECT_ROOT,
            stderr=subprocess.PIPE,
        )
        for argv in argvs
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=timeout)
        assert process.returncode == 0, stderr.decode(errors="replace")[-2000:]


@pytest.fixture
def prefix() -> str:
    return f"test{secrets.token_hex(4)}"


def test_two_processes_never_hold_one_conversation_at_once(prefix: str) -> None:
    url = redis_url()
    workers, rounds = 4, 20
    run_pair(*[["exclusive", url, prefix, str(workers), str(rounds)] for _ in range(2)])
    probe = redis.Redis.from_url(url)
    assert int(probe.get(f"{prefix}:entries")) == 2 * workers * rounds
    assert probe.get(f"{prefix}:overlaps") is None
    # The last one out leaves nothing behind.
    assert not probe.keys(f"{prefix}:lock:*")
    probe.delete(*probe.keys(f"{prefix}:*"))


def test_messages_arriving_at_two_processes_are_answered_in_order(prefix: str) -> None:
    url = redis_url()
    messages = 40
    run_pair(
        ["ordered", url, prefix, "1", str(messages)],
        ["ordered", url, prefix, "0", str(messages)],
    )
    probe = redis.Redis.from_url(url)
    answered = [int(n) for n in probe.lrange(f"{prefix}:answered", 0, -1)]
    assert answered == list(range(1, messages + 1))
    probe.delete(*probe.keys(f"{prefix}:*"))


async def test_a_ticket_that_outlived_its_lifetime_lets_the_next_one_in(prefix: str) -> None:
    """A process that died holding the lock blocks the conversation only for the lifetime."""
    store = AtomicRedisLockStore(url=redis_url(), key_prefix=prefix)
    stuck = await store.issue("web:crashed", lifetime=0.2)
    await store.wait_for_turn("web:crashed", stuck)  # and never releases
    started = asyncio.get_running_loop().time()
    async with store.lock("web:crashed"):
        waited = asyncio.get_running_loop().time() - started
    assert 0.1 < waited < 2
    assert store.get_lock("web:crashed") is None


async def test_a_waiting_ticket_that_expires_raises_rasas_lock_error(prefix: str) -> None:
    from rasa.core.lock_store import LockError

    store = AtomicRedisLockStore(url=redis_url(), key_prefix=prefix)
    holder = await store.issue("web:slow", lifetime=5)
    await store.wait_for_turn("web:slow", holder)
    waiter = await store.issue("web:slow", lifetime=0.2)
    with pytest.raises(LockError):
        await store.wait_for_turn("web:slow", waiter)
    await store.release("web:slow", holder)
    assert store.get_lock("web:slow") is None


async def test_rasa_starts_without_redis_naming_its_address_and_takes_turns_locally(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level("WARNING", logger="bot.lockstore"):
        store = AtomicRedisLockStore(url="redis://127.0.0.1:1/0", socket_timeout=1)
    assert "redis://127.0.0.1:1/0" in caplog.text
    async with store.lock("web:early"):
        pass


async def test_while_redis_is_down_one_process_still_answers_in_turn(tmp_path) -> None:  # noqa: ANN001
    own = RedisServer(tmp_path)
    own.start()
    store = AtomicRedisLockStore(url=own.url, key_prefix="outage")
    try:
        own.stop()
        inside, overlaps, order = 0, 0, []

        async def message(n: int) -> None:
            nonlocal inside, overlaps
            async with store.lock("web:outage"):
                inside += 1
                overlaps += inside > 1
                order.append(n)
                await asyncio.sleep(0.01)
                inside -= 1

        await asyncio.gather(*(message(n) for n in range(5)))
        assert order == [0, 1, 2, 3, 4] and overlaps == 0

        own.start()  # back: after a short pause, tickets live in Redis again
        await asyncio.sleep(RETRY_REDIS_AFTER)
        async with store.lock("web:outage"):
            assert store.get_lock("web:outage") is not None
    finally:
        own.stop()
