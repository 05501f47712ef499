"""The gateway's own database work per message, in-process: storing and routing a message
(`bot.conversation.accept_and_route`: the message, the handoff and survey checks, the
ordering check) and recording the answer. This is most of the gateway's overhead over Rasa.

Run: .venv/bin/python bench/bench_gateway.py [--count 2000] [--url postgresql+psycopg2://…]
Without --url it uses a fresh SQLite file in a temporary folder, as the gateway does.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from bot import conversation
from bot.db import make_engine, make_session_factory, upgrade
from channels.app import pooled_sqlite


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def run(url: str, count: int) -> dict[str, list[float]]:
    upgrade(url)
    engine = make_engine(url, **pooled_sqlite(url))  # as the gateway does
    sessions = make_session_factory(engine)
    conversation.configure(conversation.Policy())
    timings: dict[str, list[float]] = {
        name: []
        for name in (
            "store and route",
            "record the answer",
            "CPU: store and route",
            "CPU: record the answer",
        )
    }

    def took(name: str, began: float, began_cpu: float) -> None:
        timings[name].append((time.perf_counter() - began) * 1000)
        timings[f"CPU: {name}"].append((time.process_time() - began_cpu) * 1000)

    try:
        for n in range(count):
            sender = f"api:bench-{n % 300}"
            began, began_cpu = time.perf_counter(), time.process_time()
            message_id, route = await conversation.accept_and_route(
                sessions, channel="api", sender_id=sender, text=f"tin nhắn số {n}"
            )
            took("store and route", began, began_cpu)
            assert message_id is not None and route is not None and not route.waiting, route
            began, began_cpu = time.perf_counter(), time.process_time()
            # As `answer` records it: on the event loop, in a worker thread when the lock is held.
            if conversation._answered_inline(sessions, message_id) is None:
                await asyncio.to_thread(conversation._finish, sessions, message_id, None)
            took("record the answer", began, began_cpu)
    finally:
        engine.dispose()
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--url", help="database URL (default: a fresh SQLite file)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        url = args.url or f"sqlite:///{Path(folder) / 'bench-gateway.db'}"
        timings = asyncio.run(run(url, args.count))
    backend = url.split(":", 1)[0]
    for name, samples in timings.items():
        warm = samples[len(samples) // 10 :]  # the first tenth warms SQLAlchemy's caches
        p50, p95, p99 = (percentile(warm, q) for q in (0.50, 0.95, 0.99))
        print(
            f"{name} × {len(warm)} on {backend}: p50 {p50:.2f} ms, p95 {p95:.2f} ms, "
            f"p99 {p99:.2f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
