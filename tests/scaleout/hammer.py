"""A worker process for the lock store tests: several coroutines take the same
conversation's lock through `AtomicRedisLockStore` and record, in Redis, what they saw.

    python -m tests.scaleout.hammer exclusive REDIS_URL PREFIX WORKERS ROUNDS
    python -m tests.scaleout.hammer ordered REDIS_URL PREFIX PARITY MESSAGES
    python -m tests.scaleout.hammer timing REDIS_URL PREFIX ROUNDS 0   (prints figures)
"""

from __future__ import annotations

import asyncio
import sys
import time

import redis.asyncio as aioredis
from rasa.core.lock import Ticket

from bot.lockstore import AtomicRedisLockStore

CONVERSATION = "web:resident-1"


async def exclusive(url: str, prefix: str, workers: int, rounds: int) -> None:
    """Each coroutine enters the lock `rounds` times; inside, it counts who else is there."""
    store = AtomicRedisLockStore(url=url, key_prefix=prefix)
    probe = aioredis.Redis.from_url(url)
    await probe.incr(f"{prefix}:started")
    while int(await probe.get(f"{prefix}:started") or 0) < 2:  # both processes at once
        await asyncio.sleep(0.01)

    async def worker() -> None:
        for _ in range(rounds):
            async with store.lock(CONVERSATION):
                inside = await probe.incr(f"{prefix}:inside")
                if inside > 1:
                    await probe.incr(f"{prefix}:overlaps")
                await probe.incr(f"{prefix}:entries")
                await asyncio.sleep(0.001)
                await probe.decr(f"{prefix}:inside")

    await asyncio.gather(*(worker() for _ in range(workers)))


async def ordered(url: str, prefix: str, parity: int, messages: int) -> None:
    """Messages 1..N of one resident arrive alternately at the two processes (this one
    takes those with `n % 2 == parity`), each after the previous one has its ticket; each
    is 'answered' (appended to a list) when its turn comes."""
    store = AtomicRedisLockStore(url=url, key_prefix=prefix)
    probe = aioredis.Redis.from_url(url)

    tasks = []
    for n in range(1, messages + 1):
        if n % 2 != parity:
            continue
        while int(await probe.get(f"{prefix}:issued") or 0) < n - 1:
            await asyncio.sleep(0.001)
        ticket = await store.issue(CONVERSATION)

        async def answer(n: int = n, ticket: Ticket = ticket) -> None:
            try:
                await store.wait_for_turn(CONVERSATION, ticket)
                await asyncio.sleep(0.003 * (n % 3))  # uneven work: later ones still wait
                await probe.rpush(f"{prefix}:answered", n)
            finally:
                await store.release(CONVERSATION, ticket)

        tasks.append(asyncio.create_task(answer()))
        await probe.incr(f"{prefix}:issued")
    await asyncio.gather(*tasks)


async def timing(url: str, prefix: str, rounds: int) -> None:
    """What the lock costs one message (uncontended), and how fast a waiting message gets
    its turn once the one before it is done."""
    store = AtomicRedisLockStore(url=url, key_prefix=prefix)
    costs = []
    for n in range(rounds):
        started = time.perf_counter()
        async with store.lock(f"web:timing-{n % 50}"):
            pass
        costs.append((time.perf_counter() - started) * 1000)
    handovers: list[float] = []

    async def handover() -> None:
        holding, released = asyncio.Event(), [0.0]

        async def holder() -> None:
            async with store.lock("web:handover"):
                holding.set()
                await asyncio.sleep(0.01)
                released[0] = time.perf_counter()

        async def waiter() -> None:
            await holding.wait()
            async with store.lock("web:handover"):
                handovers.append((time.perf_counter() - released[0]) * 1000)

        await asyncio.gather(holder(), waiter())

    for _ in range(max(rounds // 10, 10)):
        await handover()
    for name, values in (("lock + release", costs), ("hand-over", handovers)):
        values.sort()
        p50, p95 = values[len(values) // 2], values[int(len(values) * 0.95)]
        print(f"{name}: p50 {p50:.2f} ms, p95 {p95:.2f} ms ({len(values)} times)")


def main() -> None:
    mode, url, prefix, a, b = sys.argv[1:6]
    if mode == "exclusive":
        asyncio.run(exclusive(url, prefix, int(a), int(b)))
    elif mode == "timing":
        asyncio.run(timing(url, prefix, int(a)))
    else:
        asyncio.run(ordered(url, prefix, int(a), int(b)))


if __name__ == "__main__":
    main()
