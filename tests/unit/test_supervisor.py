"""The supervisor with real child processes: restart after a crash, give up on a process that
never starts, and leave nothing running when stopped."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from bot.runtime import ProcessSpec
from bot.supervisor import Supervisor
from tests.conftest import free_port


def http_server(name: str, port: int) -> ProcessSpec:
    return ProcessSpec(
        name=name,
        argv=[sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        health_url=f"http://127.0.0.1:{port}/",
        start_timeout=20,
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def wait_for(condition, timeout: float = 20) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_a_process_that_dies_is_restarted_and_all_stop_cleanly(tmp_path: Path) -> None:
    ready = asyncio.Event()
    supervisor = Supervisor(
        [http_server("one", free_port()), http_server("two", free_port())],
        tmp_path,
        on_ready=ready.set,
        max_backoff=1,
    )
    run = asyncio.create_task(supervisor.run())
    await asyncio.wait_for(ready.wait(), 30)
    first_pid = supervisor.processes["one"].pid
    os.kill(first_pid, signal.SIGKILL)
    await wait_for(lambda: supervisor.restarts["one"] == 1 and "one" in supervisor.ready)
    assert supervisor.processes["one"].pid != first_pid
    pids = [p.pid for p in supervisor.processes.values()]
    supervisor.stop()
    assert await asyncio.wait_for(run, 30) == 0
    assert not any(alive(pid) for pid in pids)
    assert "--- start" in (tmp_path / "one.log").read_text()


async def test_a_process_that_never_starts_stops_everything_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = http_server("good", free_port())
    broken = ProcessSpec(
        name="broken",
        argv=[sys.executable, "-c", "import sys; print('model file is corrupt'); sys.exit(3)"],
        health_url=f"http://127.0.0.1:{free_port()}/",
    )
    supervisor = Supervisor([good, broken], tmp_path, max_backoff=0.2)
    assert await asyncio.wait_for(supervisor.run(), 60) == 1
    message = capsys.readouterr().err
    assert "broken failed to start 3 times in a row" in message
    assert "model file is corrupt" in message  # the log tail says why
    assert not alive(supervisor.processes["good"].pid)
