"""Fixtures for the widget tests: the real gateway app on a test server, with a stand-in
for Rasa's REST webhook that records what it was sent."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot import db
from bot.settings import Settings, load_settings
from channels.app import create_app

SECRET = "widget-test-secret-0123456789"
EMBEDDING_SITE = "https://songthu.example"


@dataclass
class RasaProbe:
    """Answers like Rasa's REST channel; `/ask_capabilities` gets buttons."""

    port: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    delay: float = 0.0

    def texts(self) -> list[str]:
        return [body["message"] for body in self.received]


@pytest.fixture
async def rasa_probe():
    probe = RasaProbe()

    async def webhook(request: web.Request) -> web.Response:
        body = await request.json()
        probe.received.append(body)
        if probe.delay:
            await asyncio.sleep(probe.delay)
        if body["message"] == "/ask_capabilities":
            return web.json_response(
                [
                    {
                        "recipient_id": body["sender"],
                        "text": "Dạ, em có thể giúp anh/chị:",
                        "buttons": [
                            {"title": "Gửi phản ánh", "payload": "/file_complaint"},
                            {"title": "Gặp nhân viên", "payload": "/request_human"},
                        ],
                    }
                ]
            )
        return web.json_response([{"recipient_id": body["sender"], "text": "Dạ, em chào anh/chị."}])

    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", webhook)
    server = TestServer(app)
    await server.start_server()
    probe.port = server.port
    yield probe
    await server.close()


def widget_settings(tmp_path: Path, rasa_port: int, **environ: str) -> Settings:
    return load_settings(
        {
            "TIEPDAN_HOME": str(tmp_path),
            "TIEPDAN_SECRET_KEY": SECRET,
            "RASA_PORT": str(rasa_port),
            "WIDGET_ALLOWED_ORIGINS": EMBEDDING_SITE,
            **environ,
        }
    )


@pytest.fixture
def settings(tmp_path: Path, rasa_probe: RasaProbe) -> Settings:
    settings = widget_settings(tmp_path, rasa_probe.port)
    db.upgrade(settings.database_url)
    return settings


@pytest.fixture
async def client(settings: Settings):
    test_client = TestClient(TestServer(create_app(settings)))
    await test_client.start_server()
    yield test_client
    await test_client.close()


@pytest.fixture
def sessions(settings: Settings):
    engine = db.make_engine(settings.database_url)
    yield db.make_session_factory(engine)
    engine.dispose()


async def receive_until(
    ws, done: Callable[[dict[str, Any]], bool], timeout: float = 10.0
) -> list[dict[str, Any]]:
    """Frames up to and including the first one `done` accepts."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    frames: list[dict[str, Any]] = []
    while True:
        message = await asyncio.wait_for(ws.receive(), max(deadline - loop.time(), 0.01))
        assert message.type.name == "TEXT", f"socket ended: {message}"
        frame = json.loads(message.data)
        frames.append(frame)
        if done(frame):
            return frames


def typing_off(frame: dict[str, Any]) -> bool:
    return frame == {"type": "typing", "on": False}


async def hello(ws, session: str | None = None, after: int = 0) -> dict[str, Any]:
    await ws.send_json({"type": "hello", "session": session, "after": after, "lang": "vi"})
    frames = await receive_until(ws, lambda f: f["type"] == "welcome")
    return frames[-1]
