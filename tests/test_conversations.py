"""Runs the conversation tests in tests/conversations/ with `rasa test core`, failing on any
wrong prediction (intent or next action)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bot.settings import PROJECT_ROOT


def test_conversation_stories_are_followed(trained_model: Path, tmp_path: Path) -> None:
    completed = subprocess.run(
        [
            sys.executable, "-m", "rasa", "test", "core",
            "--model", str(trained_model),
            "--stories", str(PROJECT_ROOT / "tests" / "conversations"),
            "--out", str(tmp_path / "results"),
            "--fail-on-prediction-errors",
        ],  # fmt: skip
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    failed = tmp_path / "results" / "failed_test_stories.yml"
    details = failed.read_text() if failed.exists() else completed.stdout[-4000:]
    assert completed.returncode == 0, f"{details}\n{completed.stderr[-3000:]}"
