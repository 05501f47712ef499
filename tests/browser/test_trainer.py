"""A trainer's round trip in real Chromium against the real stack: a resident's message the
assistant did not understand appears in the NLU inbox (phone number masked), the trainer
finds the right intent, fixes the text and saves it into the data copy; the export shows
the change; an admin opens the model page. Screenshots for docs/TRAINING.md go to
var/screenshots/trainer-*.png.

Run alone: `.venv/bin/python -m pytest tests/browser/test_trainer.py -q -p no:cacheprovider`.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from bot import db
from bot.console import create_staff
from bot.settings import PROJECT_ROOT
from bot.trainer.inbox import InboxItem
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_widget import stack_sessions
from tests.conftest import Stack

pytestmark = [pytest.mark.browser, pytest.mark.integration]

TRAINER, ADMIN, PASSWORD = "mai.huanluyen", "son.quantri", "mat-khau-rat-dai-456"
MESSAGE = "blorp xqzv nuoc nha toi den ngom goi 0905 111 222"
TAUGHT = "nuoc nha toi den ngom"


def log_in(page, url: str, username: str) -> None:
    page.goto(f"{url}/console/login")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def test_a_trainer_teaches_a_misunderstood_message_from_the_inbox(stack: Stack, browser) -> None:
    sessions = stack_sessions(stack)
    with db.transaction(sessions) as session:
        create_staff(session, username=TRAINER, password=PASSWORD, role="trainer")
        create_staff(session, username=ADMIN, password=PASSWORD, role="admin")
    stack.chat("trainer-browser", MESSAGE)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with db.transaction(sessions) as session:
            if session.execute(
                select(InboxItem.id).where(InboxItem.sender_id == "api:trainer-browser")
            ).first():
                break
        time.sleep(0.3)

    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="vi-VN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, stack.url, TRAINER)
    page.get_by_role("link", name="Hộp thư huấn luyện").first.click()
    row = page.locator("#inbox tr.inbox-item", has_text="blorp xqzv")
    expect(row).to_contain_text("[phone]")
    expect(page.locator("#inbox")).not_to_contain_text("0905 111 222")
    shot(page, "trainer-inbox.png")

    row.get_by_role("link").first.click()
    page.get_by_label("Tìm ý định").fill("phan anh")
    page.get_by_role("button", name="Tìm", exact=True).click()
    expect(page.locator("#accept")).to_contain_text("file_complaint")
    page.locator("#text").fill(TAUGHT)
    page.locator("#accept input[value=file_complaint]").check()
    shot(page, "trainer-item.png")
    page.get_by_role("button", name="Lưu vào ý định đã chọn").click()
    expect(page.locator("#done")).to_contain_text("vi/complaints.yml")
    shot(page, "trainer-accepted.png")

    data_file = Path(stack.env["NLU_DATA_DIR"]) / "vi" / "complaints.yml"
    assert f"    - {TAUGHT}\n" in data_file.read_text(encoding="utf-8")
    exported = subprocess.run(
        [sys.executable, "-m", "bot.cli", "nlu", "inbox", "export"],
        cwd=PROJECT_ROOT, env=stack.env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    assert f"+    - {TAUGHT}" in exported.stdout and "complaints.yml" in exported.stdout

    page.goto(f"{stack.url}/console/trainer/intents?q=gio+lam+viec")
    expect(page.locator("#intents")).to_contain_text("ask_office_hours")
    shot(page, "trainer-intents.png")
    context.close()

    admin_context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="vi-VN")
    admin = admin_context.new_page()
    log_in(admin, stack.url, ADMIN)
    admin.get_by_role("link", name="Mô hình").click()
    expect(admin.locator("#served")).to_contain_text(".tar.gz")
    expect(admin.get_by_role("button", name="Đưa lên")).to_be_visible()
    shot(admin, "trainer-model.png")
    admin_context.close()
    assert errors == [], errors
