"""The demo portal, the embed script and its assets; the old chat page is gone."""

from __future__ import annotations

import re

from channels.widget.pages import WIDGET_JS

EMBED = '<script src="/widget.js" data-lang="vi" async></script>'


async def test_demo_portal_embeds_the_widget_with_one_line(client) -> None:
    response = await client.get("/")
    assert response.status == 200
    page = await response.text()
    assert "Quận Sông Thu" in page and "Tin tức" in page and "<footer" in page
    assert page.count("<script") == 1 and EMBED in page


async def test_embed_script_and_assets_are_served(client) -> None:
    script = await client.get("/widget.js")
    assert script.status == 200
    assert script.content_type == "text/javascript"
    assert "max-age" in script.headers["Cache-Control"]
    for asset in (
        "/static/widget/widget.css",
        "/static/widget/avatar.svg",
        "/static/demo/demo.css",
    ):
        assert (await client.get(asset)).status == 200, asset


def test_embed_script_renders_text_safely_and_loads_nothing_from_elsewhere() -> None:
    source = WIDGET_JS.read_text(encoding="utf-8")
    for unsafe in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert unsafe not in source, unsafe
    # Only the SVG namespace is an absolute URL: no CDN, no web font, no tracker.
    urls = set(re.findall(r"https?://[^\s\"')]+", source)) - {"https://HOST/widget.js"}
    assert urls == {"http://www.w3.org/2000/svg"}


async def test_the_old_chat_endpoint_is_gone(client) -> None:
    response = await client.post("/web/message", json={"text": "xin chào"})
    assert response.status in {404, 405}
