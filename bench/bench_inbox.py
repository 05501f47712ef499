"""The NLU inbox's cost per resident message in the gateway (bot.trainer.inbox).

Run: .venv/bin/python bench/bench_inbox.py
Measures what the inbox observer adds to the answer's path for a message it does not keep
(most messages) and for one it keeps (a write scheduled in a worker thread), and how long
that write takes on its own (fresh SQLite file). Rasa itself does no extra work: the parse
it returns is the one it uses (bot.trainer.rasa_channel). Target: under 0.1 ms per message.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bot.db import make_engine, make_session_factory, transaction, upgrade
from bot.trainer.inbox import FALLBACK, InboxObserver, Observation, capture

ROOT = Path(__file__).resolve().parent.parent
TARGET_US = 100.0
CONFIDENT = {"intent": "greet", "confidence": 0.97, "language": "vi", "replies": ["Dạ."]}
FALLBACK_NLU = {"intent": "nlu_fallback", "confidence": 0.4, "language": "vi", "replies": []}


async def measure(sessions) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    observer = InboxObserver(sessions, 0.6, domain=ROOT / "domain.yml")
    n = 5000
    started = time.perf_counter()
    for i in range(n):
        observer(f"api:s{i}", "xin chào", {"inbound_id": i}, CONFIDENT)
    not_kept = (time.perf_counter() - started) / n * 1e6
    started = time.perf_counter()
    for i in range(200):
        observer(
            f"api:t{i}", f"câu khó hiểu {i} gọi 0905123456", {"inbound_id": n + i}, FALLBACK_NLU
        )
    kept = (time.perf_counter() - started) / 200 * 1e6
    await observer.drain()
    writes = []
    for i in range(200):
        started = time.perf_counter()
        with transaction(sessions) as session:
            capture(
                session,
                Observation(i, "api:x", f"câu mới {i}", "vi", "nlu_fallback", 0.3),
                FALLBACK,
            )
        writes.append(time.perf_counter() - started)
    return not_kept, kept, statistics.median(writes) * 1000


def main() -> int:
    folder = tempfile.mkdtemp()
    url = f"sqlite:///{folder}/bench.db"
    upgrade(url)
    not_kept, kept, write_ms = asyncio.run(measure(make_session_factory(make_engine(url))))
    print(f"inbox observer, message not kept: {not_kept:.1f} µs (target < {TARGET_US:.0f} µs)")
    print(f"inbox observer, message kept:     {kept:.1f} µs on the answer's path")
    print(f"inbox write in its worker thread: median {write_ms:.1f} ms (off the answer's path)")
    return 0 if not_kept < TARGET_US else 1


if __name__ == "__main__":
    sys.exit(main())
