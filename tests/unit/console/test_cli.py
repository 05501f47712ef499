"""`tiepdan staff add|disable|reset-password` as an operator uses them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bot.console import LoginRefused, authenticate
from bot.db import make_engine, make_session_factory, transaction
from bot.settings import PROJECT_ROOT


def staff(tmp_path: Path, *args: str, password: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "staff", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, "TIEPDAN_VAR_DIR": str(tmp_path)},
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )


def can_log_in(tmp_path: Path, username: str, password: str) -> bool:
    engine = make_engine(f"sqlite:///{tmp_path / 'tiepdan.db'}")
    try:
        with transaction(make_session_factory(engine)) as session:
            authenticate(session, username, password)
        return True
    except LoginRefused:
        return False
    finally:
        engine.dispose()


def test_staff_add_disable_and_reset_password(tmp_path: Path) -> None:
    added = staff(
        tmp_path,
        "add",
        "Lan",
        "--role",
        "agent",
        "--unit",
        "customer_care",
        password="mot-mat-khau-dai",
    )
    assert added.returncode == 0, added.stderr
    assert "added lan (agent, unit customer_care)" in added.stdout
    assert can_log_in(tmp_path, "lan", "mot-mat-khau-dai")
    assert staff(tmp_path, "disable", "lan").returncode == 0
    assert not can_log_in(tmp_path, "lan", "mot-mat-khau-dai")
    assert staff(tmp_path, "reset-password", "lan", password="mat-khau-moi-dai").returncode == 0


def test_staff_add_refuses_a_short_password_and_an_agent_without_unit(tmp_path: Path) -> None:
    short = staff(tmp_path, "add", "bo", "--role", "admin", password="short")
    assert short.returncode == 2 and "at least 10 characters" in short.stderr
    no_unit = staff(tmp_path, "add", "cu", "--role", "agent", password="mot-mat-khau-dai")
    assert no_unit.returncode == 2 and "needs a unit" in no_unit.stderr
