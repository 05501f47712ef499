"""Browser fixtures: Debian's Chromium (/usr/bin/chromium, installed by
scripts/ensure-chromium.sh; never a downloaded browser) driven by Playwright, a fresh
browser context per test, and a small driver for the widget on the demo page.

Run alone with `.venv/bin/python -m pytest tests/browser -q -p no:cacheprovider`.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
SCREENSHOTS = PROJECT_ROOT / "var" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}
# The assistant answers through the real Rasa on a small shared machine.
ANSWER_TIMEOUT_MS = 60_000


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: drives real Chromium against the real stack (tests/browser)"
    )


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.fail("Chromium is not installed: run scripts/ensure-chromium.sh (as root)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=ANSWER_TIMEOUT_MS)
    with sync_playwright() as playwright:
        # launch() gives every run a fresh temporary profile.
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport=DESKTOP, locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh")
    yield context
    context.close()


@pytest.fixture
def page(context):
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert errors == [], f"JavaScript errors on the page: {errors}"


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path))
    return path


def street_light_photo(path: Path, width: int = 240, height: int = 160) -> Path:
    """A small real PNG (a street lamp at dusk), written without an imaging library."""
    rows = []
    for y in range(height):
        row = bytearray(b"\x00")  # filter: none
        for x in range(width):
            sky = (40 + y // 3, 70 + y // 2, 140 + y // 3)
            pixel = sky
            if y > height * 0.78:
                pixel = (70, 74, 82)  # the street
            if 150 <= x <= 155 and 40 <= y <= height * 0.8:
                pixel = (30, 33, 40)  # the pole
            if (x - 140) ** 2 + (y - 42) ** 2 <= 110:
                pixel = (90, 90, 96)  # the broken lamp, dark
            row += bytes(pixel)
        rows.append(bytes(row))
    raw = b"".join(rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )
    return path


class Widget:
    """The widget as a resident uses it: through its bubble, composer and chips."""

    def __init__(self, page) -> None:
        self.page = page
        self.launcher = page.locator(".td-launcher")
        self.teaser = page.locator(".td-teaser")
        self.panel = page.locator(".td-panel")
        self.input = page.locator(".td-input")
        # Bubbles the server stored (the local welcome card has no seq).
        self.replies = page.locator(".td-row.from-assistant[data-seq]")
        self.sent = page.locator(".td-row.from-resident")
        self.photos = page.locator(".td-row.from-resident .td-bubble img")

    def open(self) -> None:
        self.launcher.click()
        from playwright.sync_api import expect

        expect(self.panel).to_be_visible()
        expect(self.input).to_be_focused()

    def bubbles(self, author: str) -> list[str]:
        """The text of each bubble of "resident" or "assistant" ("[photo]" for a photo),
        in order; the local welcome card is not counted."""
        return self.page.evaluate(
            """author => Array.from(document.querySelector('#tiepdan-widget').shadowRoot
                .querySelectorAll('.td-row.from-' + author + ':not(.is-welcome)'))
                .map(row => { const text = row.querySelector('.td-text');
                              return text ? text.textContent : '[photo]'; })""",
            author,
        )

    def wait_for_answer(self, before: int) -> str:
        """Wait until the assistant has answered (more bubbles, no typing indicator) and
        return what it said since `before`."""
        self.page.wait_for_function(
            """before => {
                const root = document.querySelector('#tiepdan-widget').shadowRoot;
                const replies = root.querySelectorAll('.td-row.from-assistant[data-seq]');
                return replies.length > before && root.querySelector('.td-typing').hidden;
            }""",
            arg=before,
            timeout=ANSWER_TIMEOUT_MS,
        )
        return "\n".join(self.bubbles("assistant")[before:])

    def say(self, text: str) -> str:
        before = self.replies.count()
        self.input.fill(text)
        self.input.press("Enter")
        return self.wait_for_answer(before)

    def chip(self, title: str):
        """The quick reply titled exactly `title` ("Đồng ý", not "Không đồng ý")."""
        exact = re.compile(rf"^\s*{re.escape(title)}\s*$")
        return self.page.locator(".td-chip:visible").filter(has_text=exact).last

    def choose(self, title: str) -> str:
        before = self.replies.count()
        self.chip(title).click()
        return self.wait_for_answer(before)

    def attach(self, path: Path) -> str:
        before = self.replies.count()
        self.page.locator(".td-composer input[type=file]").set_input_files(str(path))
        return self.wait_for_answer(before)

    def focused(self) -> dict[str, str]:
        """The element focused inside the widget: its class and text."""
        return self.page.evaluate(
            """() => {
                const host = document.querySelector('#tiepdan-widget');
                const active = document.activeElement === host ? host.shadowRoot.activeElement : null;
                return active ? {cls: active.className || '', text: active.textContent || '',
                                 outline: getComputedStyle(active).outlineStyle,
                                 width: getComputedStyle(active).outlineWidth}
                              : {cls: '', text: '', outline: '', width: ''};
            }"""
        )


@pytest.fixture
def widget(page) -> Iterator[Widget]:
    yield Widget(page)
