"""The staff console in real Chromium against the real stack: a resident in the widget asks
for a person, an agent logs in, accepts, they write both ways, the agent changes one of the
resident's tickets (the resident is notified), closes, and the assistant answers again; an
admin reads the performance dashboard and downloads its report. Screenshots of the queue,
the conversation, a ticket and the dashboard go to var/screenshots/; the median time from an
agent's reply to its arrival in the widget is printed."""

from __future__ import annotations

import re
import statistics
import time
from datetime import date, datetime, timezone

import pytest
from playwright.sync_api import expect

from bot import db
from bot.calendar import WorkingCalendar
from bot.catalog import load_catalog
from bot.console import create_staff
from bot.reports.demo import insert_demo
from bot.tickets import escalate_overdue, open_ticket
from tests.browser.conftest import ANSWER_TIMEOUT_MS, SCREENSHOTS, Widget, screenshot
from tests.browser.test_widget import session_id_of, stack_sessions
from tests.conftest import Stack

pytestmark = [pytest.mark.browser, pytest.mark.integration]

AGENT, PASSWORD = "lan.cskh", "mat-khau-rat-dai-123"
REPLIES = 10


def arrived(page, text: str) -> None:
    page.wait_for_function(
        """text => Array.from(document.querySelector('#tiepdan-widget').shadowRoot
              .querySelectorAll('.td-row.from-assistant .td-text'))
              .some(node => node.textContent.includes(text))""",
        arg=text,
        timeout=ANSWER_TIMEOUT_MS,
    )


def test_agent_takes_over_a_widget_conversation_and_hands_it_back(
    stack: Stack, browser, page, widget: Widget
) -> None:
    sessions = stack_sessions(stack)
    with db.transaction(sessions) as session:
        create_staff(
            session, username=AGENT, password=PASSWORD, role="agent", unit_id="customer_care"
        )

    console_context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN")
    agent = console_context.new_page()
    errors: list[str] = []
    agent.on("pageerror", lambda error: errors.append(str(error)))
    agent.goto(f"{stack.url}/console/")
    expect(agent).to_have_url(f"{stack.url}/console/login?next=/console/")
    agent.get_by_label("Tên đăng nhập").fill(AGENT)
    agent.get_by_label("Mật khẩu").fill(PASSWORD)
    agent.get_by_role("button", name="Đăng nhập").click()
    expect(agent).to_have_url(f"{stack.url}/console/queue")
    agent.wait_for_timeout(1500)  # the live socket says the agent is online

    page.goto(f"{stack.url}/")
    widget.open()
    queued = widget.say("cho tôi gặp nhân viên")
    assert "hàng chờ" in queued and "vị trí số 1" in queued, queued
    sender = f"web:{session_id_of(page)}"
    with db.transaction(sessions) as session:
        code = open_ticket(
            session,
            kind="complaint",
            category="water_supply",
            description="Nước sinh hoạt bị đục ba ngày nay ở hẻm 12",
            location="Hẻm 12 Lê Lợi",
            sender_id=sender,
            channel="widget",
            language="vi",
            calendar=WorkingCalendar(),
            unit_for_category=lambda _c: "customer_care",
            now=datetime.now(timezone.utc),
        ).code

    row = agent.locator("#waiting tbody tr[data-id]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(sender)
    screenshot(agent, "console-queue.png")
    row.get_by_role("button", name="Nhận").click()
    expect(agent.locator("#reply-text")).to_be_visible()
    expect(agent.locator("#live-status")).to_have_text("Đã kết nối.")
    arrived(page, "nhân viên đã tham gia")

    # Resident → agent: no assistant answer, the message shows in the console live.
    widget.input.fill("Nhà tôi bị mất nước từ sáng <b>gấp</b>")
    widget.input.press("Enter")
    expect(agent.locator("#transcript .line.resident .text").last).to_have_text(
        "Nhà tôi bị mất nước từ sáng <b>gấp</b>"
    )
    expect(agent.locator("aside.context")).to_contain_text(code)

    # Agent → resident, timed.
    delays = []
    for number in range(1, REPLIES + 1):
        text = f"Dạ, em đang kiểm tra giúp anh/chị (lần {number})."
        agent.locator("#reply-text").fill(text)
        started = time.monotonic()
        agent.locator("#reply-text").press("Enter")
        arrived(page, text)
        delays.append(time.monotonic() - started)
    median_ms = statistics.median(delays) * 1000
    print(f"\nagent reply → widget: median {median_ms:.0f} ms over {REPLIES} replies")
    screenshot(agent, "console-conversation.png")
    assert median_ms < 3000

    # A ticket status change with a note reaches the resident.
    ticket_page = console_context.new_page()
    ticket_page.goto(f"{stack.url}/console/tickets/{code}")
    ticket_page.locator("#status-form select").select_option("assigned")
    ticket_page.get_by_label("Ghi chú gửi người dân").fill("Đội kỹ thuật sẽ đến trong chiều nay.")
    ticket_page.get_by_role("button", name="Cập nhật và báo người dân").click()
    expect(ticket_page.locator("h1")).to_contain_text(code)
    expect(ticket_page.locator(".events")).to_contain_text("Đội kỹ thuật sẽ đến trong chiều nay.")
    screenshot(ticket_page, "console-ticket.png")
    ticket_page.close()
    arrived(page, "Đội kỹ thuật sẽ đến trong chiều nay.")

    # The agent closes: the resident is told, and the assistant answers again.
    agent.get_by_role("button", name="Kết thúc, trả lại trợ lý").click()
    expect(agent).to_have_url(f"{stack.url}/console/queue")
    arrived(page, "Trợ lý Tiếp Dân tiếp tục hỗ trợ")
    answer = widget.say("xin chào")
    assert "em chào anh/chị" in answer, answer
    assert errors == [], f"JavaScript errors in the console: {errors}"
    console_context.close()


def test_admin_reads_the_dashboard_and_downloads_the_report(stack: Stack, browser) -> None:
    sessions = stack_sessions(stack)
    with db.transaction(sessions) as session:
        create_staff(session, username="ha.admin", password=PASSWORD, role="admin")
        # Demonstration data for 2026 up to November, before the other tests' tickets.
        catalog = load_catalog()
        insert_demo(session, 1500, seed=8, catalog=catalog, now=datetime(2026, 11, 1, 3))
        # What the gateway's duty would have escalated on 1 July 2026.
        escalated = escalate_overdue(
            session, date(2026, 7, 1), lambda unit: catalog.units[unit].supervisor,
            now=datetime(2026, 7, 1, 1),
        )  # fmt: skip
    assert escalated

    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="vi-VN", accept_downloads=True
    )
    admin = context.new_page()
    errors: list[str] = []
    admin.on("pageerror", lambda error: errors.append(str(error)))
    failed: list[str] = []
    admin.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
    admin.goto(f"{stack.url}/console/dashboard")
    admin.get_by_label("Tên đăng nhập").fill("ha.admin")
    admin.get_by_label("Mật khẩu").fill(PASSWORD)
    admin.get_by_role("button", name="Đăng nhập").click()
    expect(admin).to_have_url(f"{stack.url}/console/dashboard")

    admin.locator("#period").select_option("2026-Q3")
    admin.get_by_role("button", name="Xem").click()
    expect(admin).to_have_url(f"{stack.url}/console/dashboard?period=2026-Q3&unit=")
    expect(admin.locator("h1")).to_contain_text("Quý 3/2026")
    expect(admin.locator("#headline .card")).to_have_count(8)
    assert admin.locator("#by-unit tbody tr[data-unit]").count() > 3
    assert int(admin.locator('[data-figure="tickets"]').first.get_attribute("data-value")) > 100
    # The charts really show (the page's CSP allows data: images and nothing else).
    sizes = admin.eval_on_selector_all("img.chart", "imgs => imgs.map(i => i.naturalWidth)")
    assert len(sizes) == 4 and all(width > 100 for width in sizes), sizes
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    admin.screenshot(path=str(SCREENSHOTS / "console-dashboard.png"), full_page=True)

    with admin.expect_download() as download:
        admin.get_by_role("link", name="XLSX").click()
    assert download.value.suggested_filename == "report-2026-Q3.xlsx"
    assert download.value.failure() is None

    admin.get_by_role("link", name="English").click()
    expect(admin.locator("h1")).to_contain_text("Q3 2026")
    expect(admin.locator("#headline")).to_contain_text("Share satisfied")
    admin.get_by_role("link", name="Escalations").click()
    expect(admin.locator("h1")).to_contain_text("Escalations")
    first = admin.locator("#escalations tbody tr.escalation").first
    key = first.get_attribute("data-key")
    first.get_by_role("button", name="Acknowledge").click()
    row = admin.locator(f'#escalations tr[data-key="{key}"]')
    expect(row).to_contain_text("Acknowledged: ha.admin")
    expect(row.get_by_role("link").first).to_have_attribute(
        "href", re.compile(r"^/console/tickets/")
    )
    screenshot(admin, "console-escalations.png")
    assert errors == [], f"JavaScript errors in the console: {errors}"
    # Chromium asks for /favicon.ico on its own; everything the console links to loads.
    assert [f for f in failed if not f.endswith("/favicon.ico")] == []
    context.close()
