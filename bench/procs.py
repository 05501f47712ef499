"""Resident memory of the stack's processes, read from /proc (psutil is not in the venv):
each process counted with its children, sampled in the background, peak and growth kept."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

# How a supervised child is recognised from its command line.
ROLES = (
    ("rasa", ("bot.rasa_server", "rasa run", "rasa.__main__ run", "-m rasa run")),
    ("actions", ("bot.action_server", "rasa_sdk", "run actions")),
    ("gateway", ("-m channels",)),
)


def children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            found += [int(c) for c in text]
    return found


def rss_kb(pid: int) -> int:
    with contextlib.suppress(OSError, StopIteration, ValueError):
        status = Path(f"/proc/{pid}/status").read_text()
        return int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmRSS")))
    return 0


def tree_rss_mb(pid: int) -> float:
    """A process and all its descendants."""
    total, pending, seen = 0, [pid], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        total += rss_kb(current)
        pending += children(current)
    return total / 1024


def cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return ""


def name_processes(root: int) -> dict[str, int]:
    """The supervisor's children by role (rasa, actions, gateway); the root itself when it is
    none of them (a process started by hand)."""
    named: dict[str, int] = {}
    for child in children(root):
        line = cmdline(child)
        for role, marks in ROLES:
            if any(mark in line for mark in marks) and role not in named:
                named[role] = child
    if not named:
        named[f"pid {root}"] = root
    else:
        named["supervisor"] = root
    return named


class MemoryWatch:
    """Samples each named process tree every `every` seconds while running."""

    def __init__(self, pids: dict[str, int], every: float = 1.0) -> None:
        self.pids = dict(pids)
        self.every = every
        self.series: dict[str, list[tuple[float, float]]] = {name: [] for name in pids}
        self.totals: list[float] = []
        self._task: asyncio.Task[None] | None = None
        self._t0 = 0.0

    def sample(self) -> None:
        now = time.perf_counter() - self._t0
        total = 0.0
        for name, pid in self.pids.items():
            mb = tree_rss_mb(pid) if name != "supervisor" else rss_kb(pid) / 1024
            self.series[name].append((now, mb))
            total += mb
        self.totals.append(total)

    def start(self) -> None:
        if not self.pids:
            return
        self._t0 = time.perf_counter()
        self.sample()

        async def loop() -> None:
            while True:
                await asyncio.sleep(self.every)
                self.sample()

        self._task = asyncio.create_task(loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self.sample()

    def report(self) -> dict[str, object]:
        if not self.pids:
            return {}
        per_process = {
            name: {
                "peak": round(max(mb for _, mb in series), 1),
                "first": round(series[0][1], 1),
                "last": round(series[-1][1], 1),
                "growth": round(series[-1][1] - series[0][1], 1),
            }
            for name, series in self.series.items()
            if series
        }
        return {
            "processes": per_process,
            "total_peak": round(max(self.totals), 1) if self.totals else 0.0,
            "total_first": round(self.totals[0], 1) if self.totals else 0.0,
            "total_last": round(self.totals[-1], 1) if self.totals else 0.0,
            "total_growth": round(self.totals[-1] - self.totals[0], 1) if self.totals else 0.0,
            "samples": len(self.totals),
            "every_s": self.every,
        }
