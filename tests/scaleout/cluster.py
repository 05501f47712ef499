"""Two of everything that scales, on one machine: 2 Rasa servers, 1 action server and
2 gateways on PostgreSQL and a Redis server of their own. Gateway A talks to Rasa 1, gateway
B to Rasa 2. Used by tests/scaleout/test_scaleout.py, and by hand to rehearse a scale-out
deployment or load it (docs/DEPLOY.md):

    TIEPDAN_TEST_POSTGRES_URL=postgresql+psycopg2://postgres@127.0.0.1:5432/test \
        .venv/bin/python -m tests.scaleout.cluster --model models/tiepdan-….tar.gz
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.console import create_staff
from bot.db import make_engine, make_session_factory, transaction
from bot.settings import PROJECT_ROOT
from tests.conftest import free_port
from tests.scaleout import RedisServer

API_TOKEN = "scaleout-api-token-0123456789"
RASA_TOKEN = "scaleout-rasa-token-0123456789"
PASSWORD = "scaleout-staff-password-42"


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path

    def tail(self, chars: int = 3000) -> str:
        return f"== {self.name}\n" + self.log.read_text(errors="replace")[-chars:]

    def peak_rss_mb(self) -> float | None:
        try:
            status = Path(f"/proc/{self.popen.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return None


@dataclass
class Cluster:
    gateways: list[str]
    rasa: list[str]
    database_url: str
    redis: RedisServer
    processes: list[Process] = field(default_factory=list)

    def chat(self, gateway: int, sender: str, text: str) -> list[dict[str, Any]]:
        response = requests.post(
            f"{self.gateways[gateway]}/api/chat",
            json={"sender": sender, "text": text},
            headers={"Authorization": f"Bearer {API_TOKEN}"},
            timeout=90,
        )
        assert response.status_code == 200, response.text
        return response.json()["messages"]

    def tracker(self, sender_id: str) -> dict[str, Any]:
        response = requests.get(
            f"{self.rasa[0]}/conversations/{sender_id}/tracker",
            params={"token": RASA_TOKEN},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def memory(self) -> str:
        """Each process's peak resident memory so far (VmHWM), one line."""
        return ", ".join(f"{p.name} {p.peak_rss_mb() or 0:.0f} MB" for p in self.processes)


def wait_until_up(processes: list[Process], urls: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = list(urls)
    while pending and time.monotonic() < deadline:
        for process in processes:
            if process.popen.poll() is not None:
                raise RuntimeError(f"{process.name} exited\n{process.tail()}")
        try:
            if requests.get(pending[0], timeout=5).status_code == 200:
                pending.pop(0)
                continue
        except requests.RequestException:
            pass
        time.sleep(1)
    if pending:
        raise TimeoutError(
            f"not up within {timeout:.0f} s: {pending}\n"
            + "\n".join(p.tail(1500) for p in processes)
        )


@contextmanager
def fresh_databases(server_url: str) -> Iterator[tuple[str, str]]:
    """Two new databases on a PostgreSQL server: the application's and Rasa's tracker
    store; dropped afterwards."""
    base = make_url(server_url)
    names = [f"tiepdan_so_{secrets.token_hex(4)}", f"tiepdan_so_rasa_{secrets.token_hex(4)}"]
    admin = create_engine(base, future=True, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        for name in names:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield tuple(base.set(database=n).render_as_string(hide_password=False) for n in names)
    finally:
        with admin.connect() as connection:
            for name in names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def running_cluster(
    model: Path, database_url: str, tracker_url: str, folder: Path, *, with_redis: bool = True
) -> Iterator[Cluster]:
    """Start everything and wait until both gateways' /healthz answer 200. Without Redis
    (`with_redis=False`, for comparison only) each Rasa has its own in-memory lock store
    and the gateways no fan-out."""
    redis_server = RedisServer(folder)
    redis_server.start()
    ports = {name: free_port() for name in ("rasa1", "rasa2", "actions", "gw_a", "gw_b")}
    base_env = {
        **os.environ,
        "TIEPDAN_DATABASE_URL": database_url,
        "TIEPDAN_TRACKER_STORE_URL": tracker_url,
        "TIEPDAN_REDIS_URL": redis_server.url if with_redis else "",
        "ACTIONS_PORT": str(ports["actions"]),
        "TIEPDAN_API_TOKEN": API_TOKEN,
        "RASA_TOKEN": RASA_TOKEN,
        "TIEPDAN_SECRET_KEY": "scaleout-secret-key-0123456789",
        "TIEPDAN_HANDOFF_ALWAYS_OPEN": "1",
        # Two Rasa processes on a shared 2-core machine are slow: no "busy" replies, no
        # rate limits (every resident here comes from 127.0.0.1).
        "TIEPDAN_BUSY_REPLY_AFTER": "60",
        "TIEPDAN_RASA_TIMEOUT": "90",
        "RATE_LIMIT_PER_ADDRESS": "0",
        "RATE_LIMIT_PER_SENDER": "0",
    }
    subprocess.run(
        [sys.executable, "-m", "bot.cli", "db", "upgrade"],
        cwd=PROJECT_ROOT,
        env=base_env,
        check=True,
        capture_output=True,
    )
    engine = make_engine(database_url)
    with transaction(make_session_factory(engine)) as session:
        create_staff(
            session, username="lan", password=PASSWORD, role="agent", unit_id="customer_care"
        )
    engine.dispose()

    def start(name: str, argv: list[str], **env: str) -> Process:
        var_dir = folder / name
        var_dir.mkdir()
        log = folder / f"{name}.log"
        popen = subprocess.Popen(
            argv,
            cwd=PROJECT_ROOT,
            env={**base_env, "TIEPDAN_VAR_DIR": str(var_dir), **env},
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return Process(name, popen, log)

    python = sys.executable
    processes = [
        start(
            "actions",
            [python, "-m", "bot.action_server", "--actions", "actions", "--port", str(ports["actions"])],
            SANIC_HOST="127.0.0.1",
        ),
        *[
            start(
                name,
                [python, "-m", "bot.rasa_server", "--model", str(model)],
                RASA_PORT=str(ports[name]),
            )
            for name in ("rasa1", "rasa2")
        ],
        *[
            start(name, [python, "-m", "channels"], GATEWAY_PORT=str(ports[name]), RASA_PORT=rasa)
            for name, rasa in (("gw_a", str(ports["rasa1"])), ("gw_b", str(ports["rasa2"])))
        ],
    ]
    gateways = [f"http://127.0.0.1:{ports[name]}" for name in ("gw_a", "gw_b")]
    rasa = [f"http://127.0.0.1:{ports[name]}" for name in ("rasa1", "rasa2")]
    cluster = Cluster(gateways, rasa, database_url, redis_server, processes)
    try:
        wait_until_up(processes, [f"{url}/healthz" for url in gateways], timeout=360)
        yield cluster
    finally:
        for process in processes:
            with_children = process.popen.pid
            try:
                os.killpg(with_children, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for process in processes:
            try:
                process.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.popen.pid, signal.SIGKILL)
                process.popen.wait()
        redis_server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--postgres", default=os.environ.get("TIEPDAN_TEST_POSTGRES_URL", ""))
    parser.add_argument("--seconds", type=float, default=3600, help="stop after (default 1 h)")
    parser.add_argument(
        "--no-redis", action="store_true", help="for comparison: no lock store, no fan-out"
    )
    args = parser.parse_args()
    if not args.postgres:
        raise SystemExit("Give --postgres postgresql+psycopg2://… (a server, not a database).")
    with (
        tempfile.TemporaryDirectory(prefix="scaleout-") as folder,
        fresh_databases(args.postgres) as (database_url, tracker_url),
        running_cluster(
            args.model, database_url, tracker_url, Path(folder), with_redis=not args.no_redis
        ) as cluster,
    ):
        print(f"gateways: {' '.join(cluster.gateways)}  (API token {API_TOKEN})")
        print(f"rasa: {' '.join(cluster.rasa)}  redis: {cluster.redis.url}")
        print(f"logs: {folder}", flush=True)
        try:
            time.sleep(args.seconds)
        except KeyboardInterrupt:
            pass
        print(f"peak memory: {cluster.memory()}")


if __name__ == "__main__":
    main()
