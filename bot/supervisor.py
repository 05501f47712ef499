"""Runs Rasa, the action server and the gateway together and keeps them running.

A process that dies after it was up is restarted with back-off (nobody should have to wake
an operator at night); one that keeps failing before it ever becomes healthy stops the whole
stack with a clear message. On Ctrl-C or SIGTERM every child is stopped; children also die
with the supervisor if it is killed outright, so nothing is left running.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import sys
import time
from collections import deque
from pathlib import Path

import aiohttp

from bot.runtime import ProcessSpec

log = logging.getLogger("tiepdan.supervisor")

MAX_START_FAILURES = 3
MAX_BACKOFF = 60.0
STOP_GRACE = 15.0


class StartupFailure(RuntimeError):
    pass


def _die_with_parent() -> None:
    """Linux: deliver SIGTERM to the child when the supervisor dies, even by SIGKILL."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def tail(path: Path, lines: int = 15) -> str:
    try:
        with path.open("rb") as handle:
            return b"".join(deque(handle, maxlen=lines)).decode("utf-8", "replace")
    except OSError:
        return ""


class Supervisor:
    def __init__(
        self,
        specs: list[ProcessSpec],
        log_dir: Path,
        *,
        env: dict[str, str] | None = None,
        on_ready: callable | None = None,  # type: ignore[valid-type]
        max_backoff: float = MAX_BACKOFF,
    ) -> None:
        self.specs = specs
        self.log_dir = log_dir
        self.env = dict(os.environ if env is None else env)
        self.on_ready = on_ready
        self.max_backoff = max_backoff
        self.processes: dict[str, asyncio.subprocess.Process] = {}
        self.ready: set[str] = set()
        self.restarts: dict[str, int] = {spec.name: 0 for spec in specs}
        self._stopping = asyncio.Event()
        self._announced = False

    async def run(self) -> int:
        """Supervise until stopped (0) or until a process cannot start (1)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as http:
            tasks = [asyncio.create_task(self._keep_alive(spec, http)) for spec in self.specs]
            stop_task = asyncio.create_task(self._stopping.wait())
            done, _ = await asyncio.wait([*tasks, stop_task], return_when=asyncio.FIRST_COMPLETED)
            status = 0
            for task in done:
                if task is not stop_task and task.exception():
                    print(f"tiepdan: {task.exception()}", file=sys.stderr, flush=True)
                    status = 1
            self._stopping.set()
            await self._terminate_all()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return status

    def stop(self) -> None:
        if not self._stopping.is_set():
            print("\ntiepdan: stopping…", flush=True)
        self._stopping.set()

    async def _keep_alive(self, spec: ProcessSpec, http: aiohttp.ClientSession) -> None:
        failures, backoff = 0, 1.0
        while not self._stopping.is_set():
            process = await self._start(spec)
            if await self._wait_healthy(spec, process, http):
                failures, backoff = 0, 1.0
                self.ready.add(spec.name)
                self._announce_if_all_ready()
                code = await process.wait()
                self.ready.discard(spec.name)
                if self._stopping.is_set():
                    return
                self.restarts[spec.name] += 1
                print(
                    f"tiepdan: {spec.name} exited with code {code}; restarting in {backoff:.0f} s "
                    f"(log: {self._log_path(spec)})",
                    file=sys.stderr,
                    flush=True,
                )
            else:
                if self._stopping.is_set():
                    return
                failures += 1
                await self._kill(process)
                if failures >= MAX_START_FAILURES:
                    raise StartupFailure(
                        f"{spec.name} failed to start {failures} times in a row; stopping everything.\n"
                        f"Last lines of {self._log_path(spec)}:\n{tail(self._log_path(spec))}"
                    )
                print(
                    f"tiepdan: {spec.name} did not become healthy (attempt {failures}/"
                    f"{MAX_START_FAILURES}); retrying in {backoff:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=backoff)
                return
            except asyncio.TimeoutError:
                backoff = min(backoff * 2, self.max_backoff)

    def _log_path(self, spec: ProcessSpec) -> Path:
        return self.log_dir / f"{spec.name}.log"

    async def _start(self, spec: ProcessSpec) -> asyncio.subprocess.Process:
        handle = self._log_path(spec).open("ab")
        handle.write(f"\n--- start {time.strftime('%Y-%m-%d %H:%M:%S')} ---\n".encode())
        handle.flush()
        process = await asyncio.create_subprocess_exec(
            *spec.argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=handle,
            stderr=asyncio.subprocess.STDOUT,
            env={**self.env, **spec.env},
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        handle.close()
        self.processes[spec.name] = process
        return process

    async def _wait_healthy(
        self, spec: ProcessSpec, process: asyncio.subprocess.Process, http: aiohttp.ClientSession
    ) -> bool:
        deadline = time.monotonic() + spec.start_timeout
        while time.monotonic() < deadline and not self._stopping.is_set():
            if process.returncode is not None:
                return False
            try:
                async with http.get(spec.health_url) as response:
                    if response.status == 200:
                        return True
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(0.5)
        return False

    def _announce_if_all_ready(self) -> None:
        if len(self.ready) == len(self.specs) and not self._announced:
            self._announced = True
            if self.on_ready:
                self.on_ready()
        elif len(self.ready) == len(self.specs):
            print("tiepdan: all processes are up again.", flush=True)

    async def _kill(self, process: asyncio.subprocess.Process) -> None:
        if process.returncode is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            await process.wait()

    async def _terminate_all(self) -> None:
        running = [p for p in self.processes.values() if p.returncode is None]
        for process in running:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            await asyncio.wait_for(asyncio.gather(*(p.wait() for p in running)), timeout=STOP_GRACE)
        except asyncio.TimeoutError:
            for process in running:
                await self._kill(process)
