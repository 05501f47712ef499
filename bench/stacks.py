"""The two stacks `make bench` compares, started on free loopback ports in a throwaway var/
folder and stopped again:

- ours: `tiepdan run --model …` (Rasa with our settings, the action server, the gateway),
  with a fake Telegram Bot API in this process so the Telegram channel's replies land here;
- stock: Rasa's default configuration trained on the same data (bench/stock.py), served by a
  plain `rasa run` (REST channel, in-memory tracker store, Rasa's defaults) with our action
  server, since the journeys use actions.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import yaml

from bench import procs
from bench.load import BenchTelegram, Endpoints

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token-0123456789abcdef"
TELEGRAM_TOKEN = "123456:bench-telegram-token"
TELEGRAM_SECRET = "bench-telegram-secret"
START_TIMEOUT = 420.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Running:
    endpoints: Endpoints
    processes: list[subprocess.Popen]
    var_dir: Path
    startup_seconds: float

    async def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 40
        for process in self.processes:
            while process.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self.endpoints.telegram is not None:
            await self.endpoints.telegram.close()


async def wait_ready(urls: list[str], processes: list[subprocess.Popen], var_dir: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        for url in urls:
            while True:
                if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                    raise SystemExit(f"bench: the stack did not start; logs under {var_dir}")
                try:
                    async with http.get(url) as response:
                        if response.status == 200:
                            break
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    pass
                await asyncio.sleep(0.5)


def base_env(var_dir: Path, ports: dict[str, int]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TIEPDAN_", "TELEGRAM_"))}
    env.update({k: str(v) for k, v in ports.items()})
    env.update(
        TIEPDAN_VAR_DIR=str(var_dir),
        TIEPDAN_API_TOKEN=TOKEN,
        RASA_TOKEN=TOKEN,
        TIEPDAN_SECRET_KEY=TOKEN,
        # A handoff request is accepted at any hour, as when the care team is on duty.
        TIEPDAN_HANDOFF_ALWAYS_OPEN="1",
        PUBLIC_BASE_URL=f"http://127.0.0.1:{ports['GATEWAY_PORT']}",
    )
    return env


async def start_ours(model: Path | None = None, extra_env: dict[str, str] | None = None) -> Running:
    from bot import training

    model = model or training.train(ROOT, ROOT / "models").model_path
    ports = {name: free_port() for name in ("RASA_PORT", "ACTIONS_PORT", "GATEWAY_PORT")}
    var_dir = Path(tempfile.mkdtemp(prefix="tiepdan-bench-"))
    telegram = await BenchTelegram(TELEGRAM_TOKEN, free_port()).start()
    env = base_env(var_dir, ports)
    env.update(
        TELEGRAM_BOT_TOKEN=TELEGRAM_TOKEN,
        TELEGRAM_WEBHOOK_SECRET=TELEGRAM_SECRET,
        TELEGRAM_API_BASE_URL=telegram.base_url,
        TELEGRAM_FILE_BASE_URL=f"http://127.0.0.1:{telegram.port}/file/bot",
        **(extra_env or {}),
    )
    started = time.monotonic()
    log = (var_dir / "run.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--model", str(model)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    gateway = f"http://127.0.0.1:{ports['GATEWAY_PORT']}"
    try:
        await wait_ready([f"{gateway}/healthz"], [process], var_dir)
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)
        await telegram.close()
        raise
    endpoints = Endpoints(
        gateway=gateway,
        rasa=f"http://127.0.0.1:{ports['RASA_PORT']}",
        api_token=TOKEN,
        telegram_secret=TELEGRAM_SECRET,
        telegram=telegram,
        pids=procs.name_processes(process.pid),
    )
    return Running(endpoints, [process], var_dir, time.monotonic() - started)


async def start_stock(model: Path | None = None) -> Running:
    from bench.stock import stock_model

    model = model or stock_model()
    ports = {name: free_port() for name in ("RASA_PORT", "ACTIONS_PORT", "GATEWAY_PORT")}
    var_dir = Path(tempfile.mkdtemp(prefix="tiepdan-bench-stock-"))
    env = base_env(var_dir, ports)
    # The actions write tickets to the application database: give it its schema.
    subprocess.run([sys.executable, "-m", "bot.cli", "db", "upgrade"], cwd=ROOT, env=env,
                   check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    endpoints_file = var_dir / "endpoints.yml"
    endpoints_file.write_text(
        yaml.safe_dump(
            {"action_endpoint": {"url": f"http://127.0.0.1:{ports['ACTIONS_PORT']}/webhook"}}
        )
    )
    credentials = var_dir / "credentials.yml"
    credentials.write_text("rest:\n")
    started = time.monotonic()
    processes = []
    for name, argv, extra in (
        ("actions", [sys.executable, "-m", "rasa_sdk", "--actions", "actions",
                     "--port", str(ports["ACTIONS_PORT"])], {"SANIC_HOST": "127.0.0.1"}),
        ("rasa", [sys.executable, "-m", "rasa", "run", "--model", str(model),
                  "--endpoints", str(endpoints_file), "--credentials", str(credentials),
                  "--interface", "127.0.0.1", "--port", str(ports["RASA_PORT"])], {}),
    ):  # fmt: skip
        log = (var_dir / f"{name}.log").open("wb")
        processes.append(
            subprocess.Popen(
                argv,
                cwd=ROOT,
                env={**env, **extra},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        )
    rasa = f"http://127.0.0.1:{ports['RASA_PORT']}"
    try:
        await wait_ready(
            [f"http://127.0.0.1:{ports['ACTIONS_PORT']}/health", f"{rasa}/"], processes, var_dir
        )
        # `rasa run` answers on / before the model is loaded; one message proves it is.
        await wait_answer(rasa, processes, var_dir)
    except BaseException:
        for process in processes:
            os.killpg(process.pid, signal.SIGKILL)
        raise
    endpoints = Endpoints(rasa=rasa, pids={"actions": processes[0].pid, "rasa": processes[1].pid})
    return Running(endpoints, processes, var_dir, time.monotonic() - started)


async def wait_answer(rasa: str, processes: list[subprocess.Popen], var_dir: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    body = {"sender": "bench-ready", "message": "xin chào"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in processes):
                break
            try:
                async with http.post(f"{rasa}/webhooks/rest/webhook", json=body) as response:
                    if response.status == 200:
                        return
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(1)
    raise SystemExit(f"bench: stock Rasa did not answer; logs under {var_dir}")
