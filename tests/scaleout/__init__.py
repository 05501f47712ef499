"""Scale-out tests: the atomic lock store and two replicas of everything on real PostgreSQL
and Redis. They run when TIEPDAN_TEST_REDIS_URL (and, for the stack, TIEPDAN_TEST_POSTGRES_URL)
is set, as `.ci/run` does; a server that is set but unreachable fails the run."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis

from tests.conftest import free_port

REDIS_ENV = "TIEPDAN_TEST_REDIS_URL"


def redis_url() -> str:
    url = os.environ[REDIS_ENV]
    try:
        redis.Redis.from_url(url, socket_timeout=3).ping()
    except redis.RedisError as error:
        pytest.fail(
            f"{REDIS_ENV} is set but Redis at {url} does not answer: {error}", pytrace=False
        )
    return url


class RedisServer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        server = shutil.which("redis-server")
        if server is None:
            pytest.fail("redis-server is not installed (scripts/ensure-redis.sh)", pytrace=False)
        self.process = subprocess.Popen(
            [server, "--bind", "127.0.0.1", "--port", str(self.port), "--save", ""],
            cwd=self.folder,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis(port=self.port, socket_timeout=1).ping()
                return
            except redis.RedisError:
                time.sleep(0.05)
        pytest.fail("the test's redis-server did not start", pytrace=False)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
