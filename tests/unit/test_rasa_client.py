"""The Rasa webhook through kept-alive connections (bot.rasa_client.KeptAlive), against a
real HTTP server: answers come back whole however the server frames them, connections are
used again, and a server that hangs, closes or is gone is reported as Rasa unavailable
rather than raised or waited on."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.rasa_client import RasaClient, RasaUnavailable


class Rasa:
    def __init__(self) -> None:
        self.mode = "json"
        self.peers: list[object] = []
        self.bodies: list[dict] = []

    async def webhook(self, request: web.Request) -> web.StreamResponse:
        self.peers.append(request.transport.get_extra_info("peername"))
        self.bodies.append(await request.json())
        answer = [{"recipient_id": "x", "text": "Dạ, em chào anh/chị ạ."}]
        if self.mode == "hang":
            await asyncio.sleep(5)
        if self.mode == "chunked":
            response = web.StreamResponse()
            response.enable_chunked_encoding()
            response.content_type = "application/json"
            await response.prepare(request)
            text = web.json_response(answer).text.encode()
            for start in range(0, len(text), 7):
                await response.write(text[start : start + 7])
            await response.write_eof()
            return response
        if self.mode == "close":
            return web.json_response(answer, headers={"Connection": "close"})
        if self.mode == "error":
            return web.json_response({"message": "store down"}, status=503)
        return web.json_response(answer)


@pytest.fixture
async def served():
    rasa = Rasa()
    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", rasa.webhook)
    server = TestServer(app)
    await server.start_server()
    async with aiohttp.ClientSession() as http:
        client = RasaClient(http, f"http://127.0.0.1:{server.port}", "token", timeout=1)
        yield rasa, client, server
        client.close()
    await server.close()


async def test_answers_come_back_whole_over_one_connection_used_again(served) -> None:
    rasa, client, _ = served
    for mode in ("json", "chunked", "json"):
        rasa.mode = mode
        replies = await client.send_message("api:an", "chào em", {"lang": "vi"})
        assert [r["text"] for r in replies] == ["Dạ, em chào anh/chị ạ."]
    assert len(set(rasa.peers)) == 1  # kept alive
    assert rasa.bodies[0] == {"sender": "api:an", "message": "chào em", "metadata": {"lang": "vi"}}


async def test_a_connection_the_server_closes_is_not_used_again(served) -> None:
    rasa, client, _ = served
    rasa.mode = "close"
    await client.send_message("api:an", "một")
    rasa.mode = "json"
    await client.send_message("api:an", "hai")
    await client.send_message("api:an", "ba")
    assert len(set(rasa.peers)) == 2 and rasa.peers[1] == rasa.peers[2]


async def test_a_hanging_a_refusing_or_a_gone_rasa_is_unavailable(served) -> None:
    rasa, client, server = served
    rasa.mode = "hang"
    with pytest.raises(RasaUnavailable, match="TimeoutError"):
        await client.send_message("api:an", "alo")
    rasa.mode = "error"
    with pytest.raises(RasaUnavailable, match="HTTP 503"):
        await client.send_message("api:an", "alo")
    assert client.store_refused_at is not None
    rasa.mode = "json"
    assert await client.send_message("api:an", "alo")  # the timed-out connection was dropped
    await server.close()
    with pytest.raises(RasaUnavailable):
        await client.send_message("api:an", "alo")
