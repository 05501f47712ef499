"""A fake Telegram Bot API server: answers python-telegram-bot's calls the way Telegram does,
records them, serves files, and can be told to fail (429 with retry_after, 403, 500), to be
down (connections dropped) or to hang (no answer for a while, then the call is dropped
undelivered, as when Telegram times out).

    api = FakeTelegram(token); await api.start()
    Bot(token, base_url=api.base_url, base_file_url=api.base_file_url)
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

# Parameters python-telegram-bot sends as numbers or JSON (everything arrives as form text).
_INTEGERS = {"chat_id", "message_id", "offset", "timeout", "limit", "update_id"}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    status: int
    # What Telegram answered (the sent message, for sendMessage).
    result: Any = None
    # When the call arrived (time.monotonic()).
    at: float = field(default_factory=time.monotonic)


@dataclass
class Failure:
    status: int
    description: str
    retry_after: int | None = None


@dataclass
class FakeTelegram:
    token: str
    calls: list[Call] = field(default_factory=list)
    # `down`: every call's connection is dropped.
    down: bool = False
    updates: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    _failures: dict[str, deque[Failure]] = field(default_factory=lambda: defaultdict(deque))
    _hangs: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    _message_id: int = 500
    _server: TestServer | None = None

    # -- control ---------------------------------------------------------------------------

    async def start(self, port: int = 0) -> FakeTelegram:
        """Listen on `port` (a free one when 0)."""
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._method)
        app.router.add_get("/file/bot{token}/{path:.*}", self._file)
        self._server = TestServer(app, port=port or None)
        await self._server.start_server()
        return self

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()

    @property
    def port(self) -> int:
        assert self._server is not None and self._server.port is not None
        return self._server.port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    def fail(
        self,
        method: str,
        status: int,
        description: str = "",
        *,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` calls of `method` answer this error."""
        description = description or {
            429: f"Too Many Requests: retry after {retry_after}",
            403: "Forbidden: bot was blocked by the user",
            500: "Internal Server Error",
        }.get(status, "Bad Request")
        for _ in range(times):
            self._failures[method].append(Failure(status, description, retry_after))

    def hang(self, method: str, seconds: float, *, times: int = 1) -> None:
        """The next `times` calls of `method` get no answer for `seconds`, then their
        connection is dropped and nothing is delivered (Telegram timing out)."""
        self._hangs[method].extend([seconds] * times)

    def add_file(self, file_id: str, content: bytes, path: str = "photos/file_1.jpg") -> None:
        self.files[file_id] = (path, content)

    # -- inspection ------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def sent(self, method: str = "sendMessage") -> list[dict[str, Any]]:
        """Parameters of the calls that succeeded."""
        return [call.params for call in self.calls_to(method) if call.status == 200]

    def texts(self, chat_id: int | None = None) -> list[str]:
        return [p["text"] for p in self.sent() if chat_id is None or p.get("chat_id") == chat_id]

    def messages(self, chat_id: int) -> list[dict[str, Any]]:
        """The messages sent to a chat as the resident sees them: id, text, buttons."""
        return [
            {
                "message_id": call.result["message_id"],
                "text": call.params.get("text", ""),
                "buttons": [
                    (button["text"], button["callback_data"])
                    for row in (call.params.get("reply_markup") or {}).get("inline_keyboard", [])
                    for button in row
                ],
            }
            for call in self.calls_to("sendMessage")
            if call.status == 200 and call.params.get("chat_id") == chat_id
        ]

    # -- the API ---------------------------------------------------------------------------

    async def _method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        if request.match_info["token"] != self.token:
            return self._answer(
                method, params, 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
            )
        if self.down:  # the connection drops, as when Telegram cannot be reached
            self.calls.append(Call(method, params, 0))
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=502)
        hangs = self._hangs.get(method)
        if hangs:
            await asyncio.sleep(hangs.popleft())
            self.calls.append(Call(method, params, 0))
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=504)
        queued = self._failures.get(method)
        if queued:
            failure = queued.popleft()
            body: dict[str, Any] = {
                "ok": False,
                "error_code": failure.status,
                "description": failure.description,
            }
            if failure.retry_after is not None:
                body["parameters"] = {"retry_after": failure.retry_after}
            return self._answer(method, params, failure.status, body)
        handler = getattr(self, f"_on_{method}", None)
        result = await handler(params) if handler else True
        if isinstance(result, web.Response):
            self.calls.append(Call(method, params, result.status))
            return result
        return self._answer(method, params, 200, {"ok": True, "result": result})

    def _answer(
        self, method: str, params: dict[str, Any], status: int, body: dict[str, Any]
    ) -> web.Response:
        self.calls.append(Call(method, params, status, body.get("result")))
        return web.json_response(body, status=status)

    def _message(self, params: dict[str, Any], **extra: Any) -> dict[str, Any]:
        self._message_id += 1
        chat_id = params.get("chat_id", 0)
        return {
            "message_id": params.get("message_id", self._message_id),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": 999, "is_bot": True, "first_name": "Tiếp Dân"},
            **extra,
        }

    async def _on_getMe(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        return {"id": 999, "is_bot": True, "first_name": "Tiếp Dân", "username": "tiepdan_bot"}

    async def _on_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        return self._message(params, text=params.get("text", ""))

    async def _on_sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        return self._message(
            params, photo=[{"file_id": "p", "file_unique_id": "p", "width": 1, "height": 1}]
        )

    async def _on_editMessageReplyMarkup(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        return self._message(params, text="…")

    async def _on_getFile(self, params: dict[str, Any]) -> Any:  # noqa: N802
        file_id = params.get("file_id", "")
        if file_id not in self.files:
            return web.json_response(
                {"ok": False, "error_code": 400, "description": "Bad Request: invalid file_id"},
                status=400,
            )
        path, content = self.files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_size": len(content),
            "file_path": path,
        }

    async def _on_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:  # noqa: N802
        offset = int(params.get("offset") or 0)
        ready = [u for u in self.updates if u["update_id"] >= offset]
        if not ready:
            await asyncio.sleep(0.05)
        return ready

    async def _file(self, request: web.Request) -> web.Response:
        wanted = request.match_info["path"]
        for path, content in self.files.values():
            if path == wanted:
                return web.Response(body=content, content_type="application/octet-stream")
        return web.Response(status=404)


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        return dict(await request.json())
    form = await request.post()
    params: dict[str, Any] = {}
    for key, value in form.items():
        if not isinstance(value, str):
            continue
        if key in _INTEGERS and value.lstrip("-").isdigit():
            params[key] = int(value)
        elif value[:1] in "[{" and value[-1:] in "]}":
            try:
                params[key] = json.loads(value)
            except ValueError:
                params[key] = value
        else:
            params[key] = value
    return params


# ---------------------------------------------------------------------------------------------
# Updates as Telegram sends them


def _user(chat_id: int, language_code: str | None) -> dict[str, Any]:
    user: dict[str, Any] = {"id": chat_id, "is_bot": False, "first_name": "Lan"}
    if language_code:
        user["language_code"] = language_code
    return user


def message_update(
    update_id: int,
    chat_id: int,
    *,
    language_code: str | None = "vi",
    kind: str = "message",
    **content: Any,
) -> dict[str, Any]:
    """An update carrying a message with `content` (text=…, photo=[…], sticker={…}…)."""
    return {
        "update_id": update_id,
        kind: {
            "message_id": update_id + 10_000,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "Lan"},
            "from": _user(chat_id, language_code),
            **content,
        },
    }


def text_update(update_id: int, chat_id: int, text: str, **kwargs: Any) -> dict[str, Any]:
    return message_update(update_id, chat_id, text=text, **kwargs)


def photo_update(
    update_id: int, chat_id: int, file_id: str, size: int, caption: str | None = None, **kwargs: Any
) -> dict[str, Any]:
    photo = [
        {
            "file_id": f"{file_id}-small",
            "file_unique_id": "s",
            "width": 90,
            "height": 90,
            "file_size": 1000,
        },
        {
            "file_id": file_id,
            "file_unique_id": "l",
            "width": 1280,
            "height": 960,
            "file_size": size,
        },
    ]
    content: dict[str, Any] = {"photo": photo}
    if caption:
        content["caption"] = caption
    return message_update(update_id, chat_id, **content, **kwargs)


def document_update(
    update_id: int, chat_id: int, file_id: str, size: int, mime_type: str, **kwargs: Any
) -> dict[str, Any]:
    document = {
        "file_id": file_id,
        "file_unique_id": f"u-{file_id}",
        "file_name": "anh-hien-truong.png",
        "mime_type": mime_type,
        "file_size": size,
    }
    return message_update(update_id, chat_id, document=document, **kwargs)


def sticker_update(update_id: int, chat_id: int, **kwargs: Any) -> dict[str, Any]:
    sticker = {
        "file_id": "sticker-1",
        "file_unique_id": "st1",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
    }
    return message_update(update_id, chat_id, sticker=sticker, **kwargs)


def location_update(
    update_id: int, chat_id: int, latitude: float, longitude: float, **kwargs: Any
) -> dict[str, Any]:
    return message_update(
        update_id, chat_id, location={"latitude": latitude, "longitude": longitude}, **kwargs
    )


def callback_update(
    update_id: int,
    chat_id: int,
    data: str,
    *,
    message_id: int = 777,
    language_code: str | None = "vi",
) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "callback_query": {
            "id": f"cb-{update_id}",
            "from": _user(chat_id, language_code),
            "chat_instance": "ci-1",
            "data": data,
            "message": {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private", "first_name": "Lan"},
                "from": {"id": 999, "is_bot": True, "first_name": "Tiếp Dân"},
                "text": "Dạ, anh/chị chọn giúp em ạ.",
            },
        },
    }
