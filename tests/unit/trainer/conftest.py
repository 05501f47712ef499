"""Fixtures for the trainer tests: a copy of nlu_data to write into, the real gateway app
with a stand-in for Rasa's REST channel that returns what it "understood" (as our
bot.trainer.rasa_channel does), and a stand-in for Rasa's model API."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.db import make_engine, make_session_factory
from bot.settings import PROJECT_ROOT, load_settings
from channels.app import create_app
from tests.unit.console.conftest import template_database  # noqa: F401  (staff accounts)

API_TOKEN = "trainer-test-token-0123456789"
RASA_TOKEN = "rasa-token-0123456789"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A copy of the real NLU data: tests write here, never into nlu_data/."""
    target = tmp_path / "nlu_data"
    shutil.copytree(PROJECT_ROOT / "nlu_data", target)
    return target


@dataclass
class FakeRasa:
    """Answers the REST channel with `nlu` for each text (default: a confident greet) and
    records PUT /model calls; `model_status` is what PUT /model answers."""

    port: int = 0
    understood: dict[str, dict[str, Any]] = field(default_factory=dict)
    replies: dict[str, str] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)
    loaded: list[str] = field(default_factory=list)
    model_status: int = 204
    model_file: str = "/models/start.tar.gz"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def nlu(intent: str, confidence: float, language: str = "vi") -> dict[str, Any]:
    return {
        "intent": intent,
        "confidence": confidence,
        "ranking": [{"name": intent, "confidence": confidence}],
        "language": language,
    }


@pytest.fixture
async def fake_rasa():
    fake = FakeRasa()

    async def webhook(request: web.Request) -> web.Response:
        body = await request.json()
        fake.received.append({**body, "query": dict(request.query)})
        text = fake.replies.get(body["message"], "Dạ.")
        messages = [{"recipient_id": body["sender"], "text": text}]
        if request.query.get("nlu") != "1":
            return web.json_response(messages)
        understood = fake.understood.get(body["message"], nlu("greet", 0.97))
        return web.json_response({"messages": messages, "nlu": understood})

    async def put_model(request: web.Request) -> web.Response:
        if request.query.get("token") != RASA_TOKEN:
            return web.json_response({"message": "bad token"}, status=401)
        body = await request.json()
        if fake.model_status == 204:
            fake.loaded.append(body["model_file"])
            fake.model_file = body["model_file"]
        return web.Response(status=fake.model_status)

    async def status(request: web.Request) -> web.Response:
        return web.json_response({"model_file": fake.model_file})

    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", webhook)
    app.router.add_put("/model", put_model)
    app.router.add_get("/status", status)
    server = TestServer(app)
    await server.start_server()
    fake.port = server.port
    yield fake
    await server.close()


@pytest.fixture
def settings(tmp_path: Path, fake_rasa: FakeRasa, data_dir: Path, template_database: Path):  # noqa: F811
    (tmp_path / "var").mkdir()
    shutil.copy(template_database, tmp_path / "var" / "tiepdan.db")
    return load_settings(
        {
            "TIEPDAN_HOME": str(tmp_path),
            "TIEPDAN_SECRET_KEY": "trainer-test-secret-0123456789",
            "TIEPDAN_API_TOKEN": API_TOKEN,
            "RASA_PORT": str(fake_rasa.port),
            "RASA_TOKEN": RASA_TOKEN,
            "TIEPDAN_CATALOG_DIR": str(PROJECT_ROOT / "catalog"),
            "NLU_DATA_DIR": str(data_dir),
            "NLU_INBOX_THRESHOLD": "0.6",
        }
    )


@pytest.fixture
def sessions(settings):  # type: ignore[no-untyped-def]
    engine = make_engine(settings.database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
async def client(settings):  # type: ignore[no-untyped-def]
    test_client = TestClient(TestServer(create_app(settings)))
    await test_client.start_server()
    yield test_client
    await test_client.close()


async def chat(client: TestClient, sender: str, text: str, lang: str | None = None) -> None:
    body = {"sender": sender, "text": text, **({"lang": lang} if lang else {})}
    response = await client.post(
        "/api/chat", json=body, headers={"Authorization": f"Bearer {API_TOKEN}"}
    )
    assert response.status == 200, await response.text()
