"""Photos a resident adds to a report from the widget.

`POST /widget/photos` (multipart/form-data, field `photo`; headers `X-Widget-Session`,
`X-Client-Id`, `X-Widget-Lang`) accepts a JPEG, PNG or WebP of at most 10 MB — judged by
the file's first bytes, never by its name or declared type — stores it under
`var/uploads/widget/` with a random name, stashes it for the resident's report
(`bot.attachments`), and shows it in the transcript. `GET /widget/photos/<name>` serves
it back to the widget. Errors are JSON (`{"error": {"code", "message"}}`), never a 5xx.
"""

from __future__ import annotations

import asyncio
import logging
import unicodedata
from pathlib import Path
from typing import Any

from aiohttp import web

from bot import attachments, widget_messages
from bot.db import transaction
from bot.widget_messages import ASSISTANT, RESIDENT
from channels.api import LANGUAGES, error
from channels.keys import SESSIONS, SETTINGS
from channels.rendering import phrase
from channels.widget.sessions import origin_allowed, signing_key, verify
from channels.widget.transport import CLIENT_ID, HUB, sender_of

log = logging.getLogger(__name__)

MAX_BYTES = attachments.MAX_BYTES
# Room for the multipart boundaries and headers around the file.
MAX_BODY = MAX_BYTES + 64 * 1024
CHUNK = 64 * 1024
PHOTO_NAME = r"[0-9a-f]{32}\.(?:jpg|png|webp)"
CONTENT_TYPES = {ext: content_type for content_type, ext in attachments.IMAGE_TYPES.items()}
ALLOWED_HEADERS = "Content-Type, X-Widget-Session, X-Client-Id, X-Widget-Lang"


def uploads_dir(app: web.Application) -> Path:
    return app[SETTINGS].var_dir / "uploads" / "widget"


def with_cors(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """Let an allowed embedding site read the answer (it uploads from its own origin)."""
    origin = request.headers.get("Origin")
    if origin and origin_allowed(origin, host=request.host, settings=request.app[SETTINGS]):
        response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Vary"] = "Origin"
    return response


def display_name(filename: str | None) -> str | None:
    """The name the resident's device gave the file, kept only as a label: no folders, no
    control characters, at most 255 characters. It never becomes part of a path."""
    if not filename:
        return None
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip(" .")
    return name[:255] or None


async def preflight(request: web.Request) -> web.StreamResponse:
    if not origin_allowed(
        request.headers.get("Origin"), host=request.host, settings=request.app[SETTINGS]
    ):
        return error(403, "origin_not_allowed", "This site may not upload to the widget.")
    response = web.Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = "POST"
    response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
    response.headers["Access-Control-Max-Age"] = "600"
    return with_cors(request, response)


async def read_photo(request: web.Request) -> tuple[bytes, str | None] | web.Response:
    """The `photo` part's bytes and file name, or the error to answer."""
    if request.content_type != "multipart/form-data":
        return error(415, "multipart_required", "Send the photo as multipart/form-data.")
    if request.content_length is not None and request.content_length > MAX_BODY:
        return error(413, "photo_too_large", "Photos are limited to 10 MB.")
    try:
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                return error(400, "missing_photo", "Send the file in a field named 'photo'.")
            if getattr(part, "name", None) == "photo":
                break
        data = bytearray()
        while chunk := await part.read_chunk(CHUNK):  # type: ignore[union-attr]
            data += chunk
            if len(data) > MAX_BYTES:
                return error(413, "photo_too_large", "Photos are limited to 10 MB.")
        return bytes(data), part.filename  # type: ignore[union-attr]
    except (ValueError, AssertionError, RuntimeError, LookupError, UnicodeError):
        return error(400, "malformed_upload", "The upload is not valid multipart/form-data.")


async def upload(request: web.Request) -> web.StreamResponse:
    return with_cors(request, await _upload(request))


async def _upload(request: web.Request) -> web.Response:
    app = request.app
    if not origin_allowed(request.headers.get("Origin"), host=request.host, settings=app[SETTINGS]):
        return error(403, "origin_not_allowed", "This site may not upload to the widget.")
    session_id = verify(signing_key(app[SETTINGS]), request.headers.get("X-Widget-Session"))
    if session_id is None:
        return error(401, "no_session", "Open the chat first; the upload needs its session.")
    client_id = request.headers.get("X-Client-Id", "")
    if not CLIENT_ID.fullmatch(client_id):
        return error(400, "invalid_id", "'X-Client-Id' must be the upload's uuid.")
    lang = request.headers.get("X-Widget-Lang")
    lang = lang if lang in LANGUAGES else "vi"

    def existing() -> dict[str, Any] | None:
        with app[SESSIONS]() as session:
            found = widget_messages.find(session, session_id, client_id)
            return found.as_dict() if found else None

    already = await asyncio.to_thread(existing)
    if already is not None:  # a retried upload: the first one counts
        return web.json_response(
            {"seq": already["seq"], "image": already["image"], "duplicate": True}
        )

    read = await read_photo(request)
    if isinstance(read, web.Response):
        return read
    data, filename = read
    content_type = attachments.sniff_image(data[:16])
    if content_type is None:
        return error(415, "not_an_image", "Send a photo: JPEG, PNG or WebP.")
    path = await asyncio.to_thread(attachments.save_upload, uploads_dir(app), data, content_type)
    image = f"widget/photos/{path.name}"

    def store() -> list[dict[str, Any]]:
        with transaction(app[SESSIONS]) as session:
            photo = widget_messages.record(
                session, session_id=session_id, author=RESIDENT, image=image, client_id=client_id
            )
            if photo is None:  # the same upload raced in on another request
                return []
            attachments.stash(
                session,
                sender_id=sender_of(session_id),
                path=path,
                content_type=content_type,
                size=len(data),
                original_name=display_name(filename),
                source_key=f"widget:{client_id}",
            )
            thanks = widget_messages.record(
                session,
                session_id=session_id,
                author=ASSISTANT,
                text=phrase("photo_received", lang),
            )
            assert thanks is not None
            return [photo.as_dict(), thanks.as_dict()]

    bubbles = await asyncio.to_thread(store)
    if not bubbles:
        path.unlink(missing_ok=True)
        found = await asyncio.to_thread(existing)
        return web.json_response(
            {"seq": found["seq"] if found else None, "image": image, "duplicate": True}
        )
    for bubble in bubbles:
        await app[HUB].send(session_id, {"type": "message", "bubble": bubble})
    return web.json_response({"seq": bubbles[0]["seq"], "image": image, "duplicate": False})


async def photo(request: web.Request) -> web.StreamResponse:
    """`GET /widget/photos/<name>`: the names are random (128 bits), never a resident's."""
    name = request.match_info["name"]
    path = uploads_dir(request.app) / name
    if not path.is_file():
        return error(404, "photo_not_found", "This photo is no longer kept.")
    return web.FileResponse(
        path,
        headers={
            "Content-Type": CONTENT_TYPES[name.rsplit(".", 1)[1]],
            "Content-Disposition": "inline",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=86400",
            "Cross-Origin-Resource-Policy": "cross-origin",
        },
    )


def setup_photos(app: web.Application) -> None:
    app.router.add_post("/widget/photos", upload)
    app.router.add_route("OPTIONS", "/widget/photos", preflight)
    app.router.add_get(f"/widget/photos/{{name:{PHOTO_NAME}}}", photo)
