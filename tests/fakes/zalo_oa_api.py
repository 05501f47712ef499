"""A fake Zalo OA API server (customer-service messages, OAuth token refresh, image files)
that can be told to fail or to hang, and a helper that signs webhook events the way Zalo
does.

    api = FakeZalo(); await api.start()
    settings: ZALO_API_BASE_URL = ZALO_OAUTH_BASE_URL = api.base_url
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

APP_ID = "1234567890123456789"
OA_SECRET_KEY = "oa-secret-key-for-tests"
APP_SECRET = "app-secret-for-tests"


@dataclass
class FakeZalo:
    access_tokens: set[str] = field(default_factory=lambda: {"access-0"})
    refresh_tokens: set[str] = field(default_factory=lambda: {"refresh-0"})
    app_secret: str = APP_SECRET
    expires_in: str = "90000"
    # Every send attempt (token, body, error code answered) and the accepted ones.
    attempts: list[tuple[str, dict[str, Any], int]] = field(default_factory=list)
    oauth_calls: list[dict[str, str]] = field(default_factory=list)
    images: dict[str, bytes] = field(default_factory=dict)
    # Error codes (in a 200 body) or HTTP statuses (>= 400) for the next sends.
    _answers: deque[int] = field(default_factory=deque)
    # Seconds the next sends get no answer for (then dropped undelivered: Zalo timing out).
    _hangs: deque[float] = field(default_factory=deque)
    _server: TestServer | None = None

    async def start(self) -> FakeZalo:
        app = web.Application()
        app.router.add_post("/v3.0/oa/message/cs", self._send)
        app.router.add_post("/v4/oa/access_token", self._oauth)
        app.router.add_get("/images/{name}", self._image)
        self._server = TestServer(app)
        await self._server.start_server()
        return self

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.port}"

    def image_url(self, name: str) -> str:
        return f"{self.base_url}/images/{name}"

    def answer_next(self, *codes: int) -> None:
        """The next sends answer these Zalo error codes (negative) or HTTP statuses."""
        self._answers.extend(codes)

    def hang_next(self, seconds: float, times: int = 1) -> None:
        """The next `times` sends get no answer for `seconds`, then nothing is delivered."""
        self._hangs.extend([seconds] * times)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Bodies of the messages Zalo accepted."""
        return [body for _, body, code in self.attempts if code == 0]

    def texts(self, user_id: str | None = None) -> list[str]:
        return [
            m["message"].get("text", "")
            for m in self.messages
            if user_id is None or m["recipient"]["user_id"] == user_id
        ]

    async def _send(self, request: web.Request) -> web.Response:
        token = request.headers.get("access_token", "")
        body = await request.json()
        if self._hangs:
            await asyncio.sleep(self._hangs.popleft())
            self.attempts.append((token, body, 504))
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=504)
        if self._answers:
            code = self._answers.popleft()
            if code >= 400:
                self.attempts.append((token, body, code))
                return web.Response(status=code, text="error")
        elif token not in self.access_tokens:
            code = -216
        else:
            code = 0
        self.attempts.append((token, body, code))
        if code:
            return web.json_response({"error": code, "message": f"error {code}"})
        return web.json_response(
            {"error": 0, "message": "Success", "data": {"message_id": secrets.token_hex(8)}}
        )

    async def _oauth(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        call = {key: str(value) for key, value in form.items()}
        call["secret_key"] = request.headers.get("secret_key", "")
        self.oauth_calls.append(call)
        valid = (
            call["secret_key"] == self.app_secret
            and call.get("grant_type") == "refresh_token"
            and call.get("app_id") == APP_ID
            and call.get("refresh_token") in self.refresh_tokens
        )
        if not valid:
            return web.json_response(
                {
                    "error": -14014,
                    "error_name": "Invalid refresh token",
                    "error_description": "Invalid refresh token",
                }
            )
        self.refresh_tokens.discard(call["refresh_token"])  # single use, like Zalo's
        number = len(self.oauth_calls)
        access, refresh = f"access-{number}", f"refresh-{number}"
        self.access_tokens = {access}
        self.refresh_tokens.add(refresh)
        return web.json_response(
            {"access_token": access, "refresh_token": refresh, "expires_in": self.expires_in}
        )

    async def _image(self, request: web.Request) -> web.Response:
        content = self.images.get(request.match_info["name"])
        if content is None:
            return web.Response(status=404)
        return web.Response(body=content, content_type="image/jpeg")


# ---------------------------------------------------------------------------------------------
# Events as Zalo sends them


def now_ms() -> str:
    return str(int(time.time() * 1000))


def event(
    name: str, user_id: str, *, message: dict[str, Any] | None = None, timestamp: str | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "app_id": APP_ID,
        "event_name": name,
        "timestamp": timestamp or now_ms(),
        "user_id_by_app": f"app-{user_id}",
    }
    if name in ("follow", "unfollow"):
        data["follower"] = {"id": user_id}
        data["oa_id"] = "oa-1"
        data["source"] = "oa_profile"
    else:
        data["sender"] = {"id": user_id}
        data["recipient"] = {"id": "oa-1"}
        data["message"] = message or {}
    return data


def text_event(user_id: str, text: str, msg_id: str, **kwargs: Any) -> dict[str, Any]:
    return event("user_send_text", user_id, message={"msg_id": msg_id, "text": text}, **kwargs)


def signed(
    data: dict[str, Any],
    *,
    app_id: str = APP_ID,
    secret: str = OA_SECRET_KEY,
    prefix: str = "mac=",
) -> tuple[bytes, dict[str, str]]:
    """The raw body and the headers Zalo would send for this event."""
    raw = json.dumps(data, ensure_ascii=False).encode()
    mac = hashlib.sha256(app_id.encode() + raw + str(data["timestamp"]).encode() + secret.encode())
    headers = {"X-ZEvent-Signature": prefix + mac.hexdigest(), "Content-Type": "application/json"}
    return raw, headers
