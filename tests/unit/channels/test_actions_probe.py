"""The gateway's watch on the action server (channels.recovery.ActionsProbe): a resident's
message never waits for the probe once the action server has answered one, and a server
that stops is noticed within a probe interval. A real action-server stand-in over HTTP."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from channels.keys import HTTP, SETTINGS
from channels.recovery import ActionsProbe


async def test_messages_do_not_wait_for_the_probe_and_a_stopped_server_is_noticed() -> None:
    state = {"up": True, "asked": 0}
    answer = asyncio.Event()  # the health check answers only once this is set
    answer.set()

    async def health(_request: web.Request) -> web.Response:
        state["asked"] += 1
        up = state["up"]
        await answer.wait()
        return web.json_response({"status": "ok"}, status=200 if up else 503)

    async def asked(times: int) -> None:
        while state["asked"] < times:
            await asyncio.sleep(0.01)

    actions = web.Application()
    actions.router.add_get("/health", health)
    server = TestServer(actions)
    await server.start_server()
    app = web.Application()
    async with aiohttp.ClientSession() as http:
        app[SETTINGS] = SimpleNamespace(actions_url=f"http://127.0.0.1:{server.port}")
        app[HTTP] = http
        probe = ActionsProbe(app, every=0.2)
        try:
            assert await probe() is True and state["asked"] == 1  # the first answer is waited for
            answer.clear()  # the health check hangs from now on
            await asyncio.sleep(0.25)
            # Stale: probed again, but not waited for (it would hang until the timeout).
            assert await asyncio.wait_for(probe(), 1) is True
            await asyncio.wait_for(asked(2), 5)  # that probe's request reached the server
            state["up"] = False
            answer.set()
            await asyncio.wait_for(probe._probing, 5)
            assert await probe() is True  # that probe's answer (it was up then)
            await asyncio.sleep(0.25)
            assert await probe() is True  # stale: probed again; the last answer meanwhile
            await asyncio.wait_for(probe._probing, 5)
            assert await probe() is False  # that probe found it down
            assert await probe(fresh=True) is False and state["asked"] >= 3
        finally:
            await server.close()
