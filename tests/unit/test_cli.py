"""The `tiepdan` command line as an operator meets it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from bot.settings import PROJECT_ROOT


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def broken_catalog(tmp_path: Path) -> Path:
    catalog = tmp_path / "catalog"
    shutil.copytree(PROJECT_ROOT / "catalog", catalog)
    services = catalog / "services.yml"
    text = services.read_text(encoding="utf-8")
    services.write_text(text.replace("unit: one_stop", "unit: one_stopp", 1), encoding="utf-8")
    return catalog


def test_catalog_check_names_file_line_and_fix(tmp_path: Path) -> None:
    result = run_cli("catalog", "check", env={"TIEPDAN_CATALOG_DIR": str(broken_catalog(tmp_path))})
    assert result.returncode == 1
    assert "services.yml:" in result.stdout and "one_stopp" in result.stdout
    assert "did you mean 'one_stop'" in result.stdout


def test_run_refuses_to_start_with_a_broken_catalog(tmp_path: Path) -> None:
    result = run_cli(
        "run",
        "--model",
        str(tmp_path / "none.tar.gz"),
        env={
            "TIEPDAN_CATALOG_DIR": str(broken_catalog(tmp_path)),
            "TIEPDAN_VAR_DIR": str(tmp_path / "var"),
        },
    )
    assert result.returncode == 2
    assert "nothing was started" in result.stderr and "services.yml:" in result.stderr


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    result = run_cli("db", "upgrade", env={"TIEPDAN_VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "schema at revision" in result.stdout
    assert (tmp_path / "tiepdan.db").exists()
