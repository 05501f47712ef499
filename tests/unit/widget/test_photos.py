"""Photo uploads from the widget: judged by content, size-limited, stored under a random name
inside var/uploads/widget/, stashed for the resident's report, shown in the transcript."""

from __future__ import annotations

import uuid
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from bot.attachments import PendingAttachment
from channels.widget.photos import display_name
from channels.widget.sessions import signing_key, verify
from tests.unit.widget.conftest import EMBEDDING_SITE, hello, receive_until

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 64


async def new_session(client) -> str:
    async with client.ws_connect("/widget/ws") as ws:
        return (await hello(ws))["session"]


def form(data: bytes, filename: str = "den-duong.png", content_type: str = "image/png"):
    body = aiohttp.FormData()
    body.add_field("photo", data, filename=filename, content_type=content_type)
    return body


async def upload(client, session: str, body, client_id: str | None = None, **headers: str):
    return await client.post(
        "/widget/photos",
        data=body,
        headers={
            "X-Widget-Session": session,
            "X-Client-Id": client_id or str(uuid.uuid4()),
            "X-Widget-Lang": "vi",
            **headers,
        },
    )


def stored_files(settings) -> list[Path]:
    folder = settings.var_dir / "uploads" / "widget"
    return sorted(folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize(("data", "extension"), [(PNG, "png"), (JPEG, "jpg"), (WEBP, "webp")])
async def test_photo_is_stored_stashed_for_the_report_and_shown_in_the_transcript(
    client, settings, sessions, data, extension
) -> None:
    session = await new_session(client)
    response = await upload(client, session, form(data, "IMG_2041.HEIC"))
    assert response.status == 200, await response.text()
    body = await response.json()
    (path,) = stored_files(settings)
    assert path.suffix == f".{extension}" and path.read_bytes() == data
    assert body["image"] == f"widget/photos/{path.name}" and body["duplicate"] is False
    session_id = verify(signing_key(settings), session)
    with sessions() as db_session:
        (pending,) = db_session.execute(select(PendingAttachment)).scalars()
    assert pending.sender_id == f"web:{session_id}"
    assert Path(pending.uri) == path and pending.size_bytes == len(data)
    assert pending.content_type == f"image/{'jpeg' if extension == 'jpg' else extension}"
    async with client.ws_connect("/widget/ws") as ws:
        history = (await hello(ws, session))["history"]
    assert history[0]["image"] == body["image"] and history[0]["author"] == "resident"
    assert history[1]["author"] == "assistant" and "nhận ảnh" in history[1]["text"]
    served = await client.get(f"/{body['image']}")
    assert served.status == 200 and await served.read() == data
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.content_type == pending.content_type


async def test_open_socket_sees_the_photo_and_the_thanks(client) -> None:
    async with client.ws_connect("/widget/ws") as ws:
        session = (await hello(ws))["session"]
        response = await upload(client, session, form(PNG))
        assert response.status == 200
        frames = await receive_until(ws, lambda f: f["bubble"]["author"] == "assistant")
    assert frames[0]["bubble"]["image"] == (await response.json())["image"]


@pytest.mark.parametrize(
    ("data", "filename", "content_type"),
    [
        (b"%PDF-1.7 not a photo", "anh.jpg", "image/jpeg"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "anh.png", "image/png"),
        (b"GIF89a" + b"\x00" * 32, "anh.gif", "image/gif"),
        (b"", "anh.png", "image/png"),
    ],
)
async def test_a_file_that_is_not_a_jpeg_png_or_webp_is_refused_whatever_its_name(
    client, settings, sessions, data, filename, content_type
) -> None:
    session = await new_session(client)
    response = await upload(client, session, form(data, filename, content_type))
    assert response.status == 415
    assert (await response.json())["error"]["code"] == "not_an_image"
    assert stored_files(settings) == []
    with sessions() as db_session:
        assert db_session.execute(select(PendingAttachment)).first() is None


async def test_a_photo_over_10_mb_is_refused(client, settings) -> None:
    session = await new_session(client)
    too_big = PNG + b"\x00" * (10 * 1024 * 1024 + 1 - len(PNG))
    response = await upload(client, session, form(too_big))
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "photo_too_large"
    assert stored_files(settings) == []


async def test_a_photo_of_exactly_10_mb_is_accepted(client, settings) -> None:
    session = await new_session(client)
    exactly = PNG + b"\x00" * (10 * 1024 * 1024 - len(PNG))
    response = await upload(client, session, form(exactly))
    assert response.status == 200
    assert stored_files(settings)[0].stat().st_size == 10 * 1024 * 1024


@pytest.mark.parametrize(
    "filename",
    ["../../../../tmp/owned.png", "..\\..\\windows\\owned.png", "/etc/passwd", "a/../../b.png"],
)
async def test_a_path_in_the_file_name_never_decides_where_the_file_goes(
    client, settings, sessions, tmp_path, filename
) -> None:
    session = await new_session(client)
    response = await upload(client, session, form(PNG, filename))
    assert response.status == 200
    (path,) = stored_files(settings)
    assert path.parent == settings.var_dir / "uploads" / "widget"
    assert len(path.stem) == 32 and ".." not in path.name
    assert not Path("/tmp/owned.png").exists()
    with sessions() as db_session:
        (pending,) = db_session.execute(select(PendingAttachment)).scalars()
    assert "/" not in pending.original_name and "\\" not in pending.original_name


def test_display_name_keeps_only_a_printable_base_name() -> None:
    assert display_name("../../etc/passwd") == "passwd"
    assert display_name("C:\\Users\\an\\ảnh đèn.jpg") == "ảnh đèn.jpg"
    assert display_name("a\x00b\nc.png") == "abc.png"
    assert display_name("..") is None and display_name(None) is None
    assert len(display_name("x" * 400 + ".png") or "") == 255


async def test_a_retried_upload_is_kept_once(client, settings, sessions) -> None:
    session = await new_session(client)
    client_id = str(uuid.uuid4())
    first = await upload(client, session, form(PNG), client_id)
    again = await upload(client, session, form(PNG), client_id)
    assert (await again.json())["duplicate"] is True
    assert (await again.json())["seq"] == (await first.json())["seq"]
    assert len(stored_files(settings)) == 1
    with sessions() as db_session:
        assert len(db_session.execute(select(PendingAttachment)).all()) == 1


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"X-Widget-Session": "forged.0000"}, 401, "no_session"),
        ({"X-Client-Id": "../x"}, 400, "invalid_id"),
        ({"Origin": "https://evil.example"}, 403, "origin_not_allowed"),
    ],
)
async def test_uploads_without_a_session_or_from_another_site_are_refused(
    client, settings, headers, status, code
) -> None:
    session = await new_session(client)
    response = await upload(client, session, form(PNG), **headers)
    assert response.status == status
    assert (await response.json())["error"]["code"] == code
    assert stored_files(settings) == []


async def test_malformed_uploads_get_a_json_error_not_a_5xx(client) -> None:
    session = await new_session(client)
    headers = {"X-Widget-Session": session, "X-Client-Id": str(uuid.uuid4())}
    not_multipart = await client.post("/widget/photos", data=PNG, headers=headers)
    assert not_multipart.status == 415
    wrong_field = aiohttp.FormData()
    wrong_field.add_field("file", PNG, filename="a.png")
    missing = await client.post("/widget/photos", data=wrong_field, headers=headers)
    assert missing.status == 400 and (await missing.json())["error"]["code"] == "missing_photo"
    broken = await client.post(
        "/widget/photos",
        data=b"--xyz\r\nContent-Disposition: form-data\r\n\r\nno end",
        headers={**headers, "Content-Type": "multipart/form-data; boundary=xyz"},
    )
    assert broken.status in {400, 415} and "error" in await broken.json()


async def test_an_allowed_site_may_upload_across_origins(client) -> None:
    preflight = await client.options(
        "/widget/photos",
        headers={"Origin": EMBEDDING_SITE, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == EMBEDDING_SITE
    assert "X-Widget-Session" in preflight.headers["Access-Control-Allow-Headers"]
    session = await new_session(client)
    response = await upload(client, session, form(PNG), Origin=EMBEDDING_SITE)
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == EMBEDDING_SITE
    refused = await client.options("/widget/photos", headers={"Origin": "https://evil.example"})
    assert refused.status == 403 and "Access-Control-Allow-Origin" not in refused.headers


@pytest.mark.parametrize(
    "path",
    [
        "/widget/photos/../../.env",
        "/widget/photos/..%2F..%2F.env",
        "/widget/photos/" + "a" * 32 + ".png",
        "/widget/photos/" + "a" * 32 + ".svg",
    ],
)
async def test_only_stored_photos_can_be_fetched(client, path) -> None:
    response = await client.get(path)
    assert response.status == 404
