"""The right to be forgotten on the real stack: a resident files a report through /api/chat
(real Rasa writing its tracker events, real actions opening the ticket), then
`tiepdan privacy export` shows it and `tiepdan privacy erase` leaves no trace of them in
either database, while the ticket's figures stay and the assistant still answers them."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT, Stack

pytestmark = pytest.mark.integration

SENDER, PHONE, PLACE = "priv-88", "0905 777 321", "số 88 Trần Phú, phường 3"
NEEDLES = ("api:priv-88", PHONE, PHONE.replace(" ", ""), "88 Trần Phú")


def texts(messages: list[dict]) -> str:
    return "\n".join(m["text"] for m in messages)


def tiepdan(stack: Stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=PROJECT_ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def traces(var_dir: Path) -> list[str]:
    found = []
    for name in ("tiepdan.db", "rasa.db"):
        connection = sqlite3.connect(var_dir / name, timeout=30)
        try:
            tables = [
                r[0]
                for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            for table in tables:
                for row in connection.execute(f'SELECT * FROM "{table}"'):
                    line = " ".join(str(value) for value in row)
                    found += [f"{name}:{table} has {n!r}" for n in NEEDLES if n in line]
        finally:
            connection.close()
    return sorted(set(found))


def assert_logs_keep_no_personal_data(folder: Path) -> None:
    """Every process's log (gateway, Rasa, action server) is masked JSON lines once it is up,
    and none holds what the resident wrote about themselves."""
    for name in ("gateway.log", "rasa.log", "actions.log"):
        text = (folder / name).read_text(errors="replace")
        assert not [n for n in (PHONE, PHONE.replace(" ", ""), "Trần Phú") if n in text], name
        lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        assert lines, f"{name} has no JSON lines"
        assert all({"ts", "level", "logger", "msg"} <= set(line) for line in lines), name


def test_a_resident_who_filed_a_report_can_be_exported_and_erased(stack: Stack) -> None:
    assert "ở đâu" in texts(stack.chat(SENDER, "đèn đường trước nhà tôi bị hỏng"))
    stack.chat(SENDER, PLACE)
    assert "đồng ý" in texts(stack.chat(SENDER, PHONE))
    stack.chat(SENDER, "/affirm")
    receipt = texts(stack.chat(SENDER, "/affirm"))
    code = re.search(r"PA-\d{4}-[2-9A-HJ-NP-Z]{5}", receipt)
    assert code, receipt
    assert_logs_keep_no_personal_data(stack.var_dir / "logs")

    exported = tiepdan(stack, "privacy", "export", "--sender", f"api:{SENDER}")
    assert exported.returncode == 0, exported.stderr
    data = json.loads(exported.stdout)
    assert [t["code"] for t in data["tickets"]] == [code.group()]
    assert PLACE in data["tickets"][0]["location"]
    assert any(e["type_name"] == "user" for e in data["rasa_tracker_events"])
    assert len(data["inbound_messages"]) == 5
    assert traces(stack.var_dir)  # the scan finds them before

    erased = tiepdan(stack, "privacy", "erase", "--sender", f"api:{SENDER}", "--yes")
    assert erased.returncode == 0, erased.stderr
    assert traces(stack.var_dir) == []
    connection = sqlite3.connect(stack.var_dir / "tiepdan.db")
    status, category = connection.execute(
        "SELECT status, category FROM ticket WHERE code = ?", (code.group(),)
    ).fetchone()
    audit = connection.execute("SELECT action FROM audit_entry WHERE action LIKE 'privacy%'")
    assert [a for (a,) in audit] == ["privacy_export", "privacy_erase"]
    connection.close()
    assert (status, category) == ("received", "street_lighting")
    # A new conversation starts cleanly; the old code is no longer theirs.
    assert "Dạ" in texts(stack.chat(SENDER, "xin chào"))
    assert code.group() not in texts(stack.chat(SENDER, "phản ánh của tôi tới đâu rồi"))
