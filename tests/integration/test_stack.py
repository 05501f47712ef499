"""The real stack (`tiepdan run`: trained model, Rasa, action server, gateway) on free ports,
spoken to through /api/chat as an integration would."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
import requests

from tests.conftest import Stack

pytestmark = pytest.mark.integration


def texts(messages: list[dict]) -> str:
    return "\n".join(m["text"] for m in messages)


def test_health_reports_every_component_up(stack: Stack) -> None:
    response = requests.get(f"{stack.url}/healthz", timeout=10)
    assert response.status_code == 200
    components = response.json()["components"]
    assert {name: c["ok"] for name, c in components.items()} == {
        "rasa": True,
        "actions": True,
        "database": True,
        "tracker_store": True,
        "recovery": True,
    }


def test_vietnamese_greeting_is_answered_in_vietnamese(stack: Stack) -> None:
    reply = texts(stack.chat("vi-1", "xin chào"))
    assert "Dạ" in reply and "anh/chị" in reply


def test_english_greeting_is_answered_in_english(stack: Stack) -> None:
    reply = texts(stack.chat("en-1", "hello"))
    assert "Hello" in reply and "anh/chị" not in reply


def test_short_conversation_in_both_languages_follows_the_last_language(stack: Stack) -> None:
    assert "automated assistant" in texts(stack.chat("mix-1", "are you a real person?"))
    assert "trợ lý tự động" in texts(stack.chat("mix-1", "ban la nguoi hay may vay"))
    capabilities = stack.chat("mix-1", "what can you help me with")
    assert "procedures" in texts(capabilities)
    assert any(b["payload"] == "/request_human" for m in capabilities for b in m["buttons"])
    assert "Dạ, không có gì" in texts(stack.chat("mix-1", "cảm ơn em nhiều nha"))
    assert "Goodbye" in texts(stack.chat("mix-1", "ok bye for now"))


def test_language_hint_decides_when_the_text_cannot(stack: Stack) -> None:
    assert "Hello" in texts(
        stack.chat("hint-1", "ok", lang="en") + stack.chat("hint-1", "hi", lang="en")
    )


def test_a_crashed_action_server_is_restarted_and_health_recovers(stack: Stack) -> None:
    port = stack.env["ACTIONS_PORT"]
    pid = int(
        subprocess.run(
            ["pgrep", "-f", f"bot.action_server --actions actions --port {port}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()[0]
    )
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    statuses = []
    while time.monotonic() < deadline:
        statuses.append(requests.get(f"{stack.url}/healthz", timeout=10).status_code)
        if statuses[-1] == 200 and 503 in statuses:
            break
        time.sleep(0.5)
    assert 503 in statuses, "health never noticed the action server was down"
    assert statuses[-1] == 200, "the action server did not come back"
