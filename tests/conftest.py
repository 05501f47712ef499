"""Shared fixtures: a trained model (cached by data fingerprint) and the real running stack."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from bot import training
from bot.settings import PROJECT_ROOT

API_TOKEN = "test-api-token-0123456789"
RASA_TOKEN = "test-rasa-token-0123456789"
# The stack's Telegram channel talks to a fake Bot API on `Stack.telegram_port`, which a test
# starts when it needs one (tests/fakes/telegram_bot_api.py); nothing listens there otherwise.
TELEGRAM_TOKEN = "123456:test-telegram-token"
TELEGRAM_SECRET = "test-telegram-secret"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Unit tests first, then the ones that start real processes, browser tests last.

    Browser tests last: Playwright's sync API keeps an event loop running in the main thread
    while its session-wide browser is open, and async tests cannot run beside it. Unit tests
    first: they finish in minutes, and none of them then runs beside the session's stack.
    """

    def rank(item: pytest.Item) -> int:
        path = str(item.path)
        if "tests/browser/" in path:
            return 2
        return 0 if "tests/unit/" in path else 1

    items.sort(key=rank)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def trained_model() -> Path:
    """The model for the current data and config; trained once, then reused by fingerprint."""
    result = training.train(
        PROJECT_ROOT, PROJECT_ROOT / "models", log_path=PROJECT_ROOT / "var/logs/train-test.log"
    )
    if result.trained:
        print(f"\ntrained test model in {result.seconds:.0f} s")
    return result.model_path


@dataclass
class Stack:
    url: str
    token: str
    env: dict[str, str]
    process: subprocess.Popen
    var_dir: Path
    telegram_port: int = 0

    def chat(self, sender: str, text: str, lang: str | None = None) -> list[dict]:
        body = {"sender": sender, "text": text}
        if lang:
            body["lang"] = lang
        response = requests.post(
            f"{self.url}/api/chat",
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=60,
        )
        assert response.status_code == 200, response.text
        return response.json()["messages"]

    def notifications(self, sender: str) -> list[dict]:
        response = requests.get(
            f"{self.url}/api/notifications",
            params={"sender": sender},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return response.json()["messages"]


def wait_healthy(url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"tiepdan run exited with {process.returncode}")
        try:
            if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise TimeoutError(f"the stack did not become healthy within {timeout:.0f} s")


@pytest.fixture(scope="session")
def stack(trained_model: Path, tmp_path_factory: pytest.TempPathFactory):
    """`tiepdan run` on free ports with its own var/ folder: real Rasa, actions, gateway."""
    var_dir = tmp_path_factory.mktemp("stack-var")
    gateway_port = free_port()
    telegram_port = free_port()
    env = {
        **os.environ,
        "TIEPDAN_VAR_DIR": str(var_dir),
        "RASA_PORT": str(free_port()),
        "ACTIONS_PORT": str(free_port()),
        "GATEWAY_PORT": str(gateway_port),
        "TIEPDAN_API_TOKEN": API_TOKEN,
        "RASA_TOKEN": RASA_TOKEN,
        "TIEPDAN_SECRET_KEY": "test-secret-key-0123456789",
        # "Staffed now" must not depend on the wall clock (the care team's hours).
        "TIEPDAN_HANDOFF_ALWAYS_OPEN": "1",
        # Trainers' accepted examples go into a copy: tests never write into nlu_data/.
        "NLU_DATA_DIR": str(shutil.copytree(PROJECT_ROOT / "nlu_data", var_dir / "nlu_data")),
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{telegram_port}/bot",
        "TELEGRAM_FILE_BASE_URL": f"http://127.0.0.1:{telegram_port}/file/bot",
    }
    env.pop("TIEPDAN_DATABASE_URL", None)
    env.pop("TIEPDAN_TRACKER_STORE_URL", None)
    log = (var_dir / "run.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--model", str(trained_model)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{gateway_port}"
    try:
        wait_healthy(url, process, timeout=300)
    except Exception:
        os.killpg(process.pid, signal.SIGKILL)
        log.close()
        print((var_dir / "run.log").read_text(errors="replace")[-3000:])
        for path in (var_dir / "logs").glob("*.log"):
            print(f"== {path.name}\n" + path.read_text(errors="replace")[-3000:])
        raise
    yield Stack(url, API_TOKEN, env, process, var_dir, telegram_port)
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    log.close()
