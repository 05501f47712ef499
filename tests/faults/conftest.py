"""Fixtures for the fault-injection suite: one stack for every fault (its own var/ folder and
fake platforms), the collected rows, and the table printed at the end of the run.

`TIEPDAN_FAULTS=long` adds the slow faults (Rasa killed and reloading its model, an action
server stuck beyond Rasa's 60 s conversation lock, Zalo's 60 s rate-limit back-off,
PostgreSQL stopped) and more residents per fault.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from tests.faults.harness import (
    Platforms,
    PrivatePostgres,
    Row,
    start_stack,
    stop_stack,
    table,
)

LONG = os.environ.get("TIEPDAN_FAULTS", "").strip().lower() == "long"
ROWS: list[Row] = []


@pytest.fixture(scope="module")
def platforms():
    """Fresh fakes for each stack: Zalo's tokens rotate, and a second stack starts from the
    configured pair again."""
    fakes = Platforms()
    yield fakes
    fakes.close()


@pytest.fixture(scope="module")
def fault_stack(trained_model: Path, tmp_path_factory: pytest.TempPathFactory, platforms):
    started = time.monotonic()
    stack = start_stack(trained_model, tmp_path_factory.mktemp("faults-var"), platforms)
    print(f"\nfault stack up in {time.monotonic() - started:.0f} s")
    yield stack
    stop_stack(stack)


@pytest.fixture(scope="module")
def private_postgres():
    """A cluster of our own in /tmp (the `postgres` user must reach it), removed after."""
    folder = Path(tempfile.mkdtemp(prefix="tiepdan-faults-pg-"))
    server = PrivatePostgres(folder).create()
    yield server
    with contextlib.suppress(Exception):
        server.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def pg_stack(
    trained_model: Path, tmp_path_factory: pytest.TempPathFactory, platforms, private_postgres
):
    """The stack with both databases (application, Rasa's tracker store) on the private
    PostgreSQL cluster."""
    var_dir = tmp_path_factory.mktemp("faults-pg-var")
    databases = {
        "TIEPDAN_DATABASE_URL": private_postgres.url,
        "TIEPDAN_TRACKER_STORE_URL": private_postgres.tracker_url,
    }
    stack = start_stack(trained_model, var_dir, platforms, databases)
    yield stack
    stop_stack(stack)


@pytest.fixture(scope="session")
def size() -> str:
    return "long" if LONG else "short"


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    if ROWS:
        terminalreporter.section("fault injection: messages while each fault lasted")
        terminalreporter.write_line(table(ROWS))
        terminalreporter.write_line(
            "cut: replies the gateway was sending when it was killed, sent again "
            "(may reach the resident twice; see tests/faults/harness.py)"
        )
        for row in ROWS:
            if row.lost or row.duplicated or row.uncertain or row.details.get("not recovered"):
                terminalreporter.write_line(f"{row.fault}: {row.details}")
