"""The console dashboard shows what `tiepdan report` writes for the same period and unit:
every summary figure (this period and the previous one), the breakdowns, the overdue list,
the low-score comments, the headline values as printed; only supervisors and admins see it,
and a supervisor only their own unit."""

from __future__ import annotations

import base64
import csv
from collections import Counter
from datetime import date, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.calendar import VIETNAM
from bot.cli import main as tiepdan
from bot.console.models import AuditEntry
from bot.db import transaction
from bot.reports.render import HEADLINE
from tests.unit.console.conftest import log_in
from tests.unit.reports.test_reports import add_survey, add_ticket

XSS = "<script>alert('x')</script> sửa chậm"


class Page(HTMLParser):
    """What the tests read off a page: figures by key, rows by data attribute, texts by
    class, images."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.html = html
        self.figures: dict[str, str] = {}
        self.rows: dict[str, dict[str, int]] = {"unit": {}, "channel": {}, "category": {}}
        self.codes: list[str] = []
        self.images: list[str] = []
        self.texts: dict[str, list[str]] = {"value": [], "blockquote": []}
        self._row: tuple[str, str] | None = None
        self._capture: list[tuple[str, int, list[str]]] = []
        self._depth = 0
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self._depth += 1
        if "data-figure" in a:
            self.figures[a["data-figure"] or ""] = a.get("data-value") or ""
        for kind in self.rows:
            if f"data-{kind}" in a and tag == "tr":
                self._row = (kind, a[f"data-{kind}"] or "")
        if "data-count" in a and self._row:
            kind, key = self._row
            self.rows[kind][key] = int(a["data-count"] or 0)
        if tag == "tr" and "data-code" in a:
            self.codes.append(a["data-code"] or "")
        if tag == "img":
            self.images.append(a.get("src") or "")
        classes = (a.get("class") or "").split() + [tag]
        for name in self.texts:
            if name in classes:
                self._capture.append((name, self._depth, []))

    def handle_endtag(self, tag: str) -> None:
        while self._capture and self._capture[-1][1] >= self._depth:
            name, _, parts = self._capture.pop()
            self.texts[name].append(" ".join("".join(parts).split()))
        self._depth -= 1

    def handle_data(self, data: str) -> None:
        for _, _, parts in self._capture:
            parts.append(data)


@pytest.fixture
def november(sessions):  # type: ignore[no-untyped-def]
    """The reports' hand-computed November, spread over three units, plus October."""
    with transaction(sessions) as session:
        t0 = add_ticket(session, datetime(2026, 10, 31, 18), first=datetime(2026, 11, 1, 2),
                        resolved=datetime(2026, 11, 1, 14), due=date(2026, 11, 5), reopened=True)  # fmt: skip
        t1 = add_ticket(session, datetime(2026, 11, 2, 1), first=datetime(2026, 11, 2, 3),
                        resolved=datetime(2026, 11, 2, 11), due=date(2026, 11, 4), channel="zalo")  # fmt: skip
        add_ticket(session, datetime(2026, 11, 3, 1), first=datetime(2026, 11, 3, 5),
                   resolved=datetime(2026, 11, 5, 3), due=date(2026, 11, 4), category="roads",
                   unit="urban_management", kind="complaint")  # fmt: skip
        add_ticket(session, datetime(2026, 11, 5, 1), first=datetime(2026, 11, 5, 7),
                   due=date(2026, 11, 10), channel="widget")  # fmt: skip
        add_ticket(session, datetime(2026, 11, 6, 1), first=datetime(2026, 11, 6, 9),
                   due=date(2026, 11, 12), unit="customer_care", channel="widget",
                   category="other", kind="request")  # fmt: skip
        add_ticket(session, datetime(2026, 11, 9, 1), first=datetime(2026, 11, 9, 2),
                   resolved=datetime(2026, 11, 9, 6), due=date(2026, 11, 13),
                   unit="customer_care", channel="telegram", category="other")  # fmt: skip
        add_ticket(session, datetime(2026, 11, 10, 1), due=date(2026, 12, 5))
        add_ticket(session, datetime(2026, 10, 15, 1), first=datetime(2026, 10, 15, 2),
                   resolved=datetime(2026, 10, 15, 5), due=date(2026, 10, 20))  # fmt: skip
        add_survey(session, datetime(2026, 11, 2, 12), 5, ticket=t1)
        add_survey(session, datetime(2026, 11, 1, 15), 4, ticket=t0)
        add_survey(session, datetime(2026, 11, 6, 1), 2, comment=XSS, unit="urban_management")
        add_survey(session, datetime(2026, 11, 7, 1), None)
        add_survey(session, datetime(2026, 11, 8, 1), 1, comment="Chưa sửa gì cả", late=True)
        add_survey(session, datetime(2026, 11, 9, 8), 3, unit="customer_care", channel="widget")
        add_survey(session, datetime(2026, 11, 10, 8), 1, comment="Không ai gọi lại",
                   unit="customer_care", channel="widget")  # fmt: skip
        add_survey(session, datetime(2026, 10, 16, 1), 3)


@pytest.fixture
def run_report(settings, monkeypatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    """`tiepdan report …` on the console's database, as an operator would type it."""
    monkeypatch.setenv("TIEPDAN_HOME", str(settings.root))
    monkeypatch.setenv("TIEPDAN_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("TIEPDAN_CATALOG_DIR", str(settings.catalog_dir))
    monkeypatch.delenv("TIEPDAN_DATABASE_URL", raising=False)
    monkeypatch.delenv("TIEPDAN_VAR_DIR", raising=False)

    def run(period: str, unit: str | None, fmt: str) -> Path:
        out = tmp_path / "cli" / f"report.{fmt}"
        args = ["report", "--period", period, "--format", fmt, "--out", str(out)]
        assert tiepdan(args + (["--unit", unit] if unit else [])) == 0
        return out

    return run


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig") as file:
        return list(csv.DictReader(file))


def _summary(path: Path) -> dict[str, str]:
    """summary.csv as {"csat": "3.0", "previous:csat": "3.0", …}."""
    with path.with_name(f"{path.stem}-summary.csv").open(encoding="utf-8-sig") as file:
        header, *rows = list(csv.reader(file))
    figures = {}
    for name, now, before in rows:
        figures[name] = now
        if name != "overdue_at_period_end":
            figures[f"previous:{name}"] = before
    return figures


def _same_number(a: str, b: str) -> bool:
    if a == "" or b == "":
        return a == b
    return float(a) == float(b)


async def assert_dashboard_matches_report(
    client, run_report, period: str, unit: str | None, *, printed: bool = False
) -> Page:
    query = f"period={period}" + (f"&unit={unit}" if unit else "")
    response = await client.get(f"/console/dashboard?{query}")
    assert response.status == 200, await response.text()
    page = Page(await response.text())
    csv_out = run_report(period, unit, "csv")

    expected = _summary(csv_out)
    assert set(page.figures) == set(expected), "the dashboard and the report list other figures"
    different = {k: (page.figures[k], v) for k, v in expected.items() if not _same_number(page.figures[k], v)}  # fmt: skip
    assert different == {}, f"dashboard ≠ report for {period} {unit}: {different}"

    tickets = _csv(csv_out)
    assert page.rows["unit"] == dict(Counter(t["unit"] for t in tickets))
    assert page.rows["channel"] == dict(Counter(t["channel"] for t in tickets))
    assert page.rows["category"] == dict(Counter(t["category"] for t in tickets))

    if printed:  # the report's other files cost seconds each: once is enough
        book = load_workbook(run_report(period, unit, "xlsx"), read_only=True)
        assert page.codes == [
            row[0] for row in book["Overdue"].iter_rows(min_row=2, values_only=True)
        ]
        report = Page(run_report(period, unit, "html").read_text("utf-8"))
        # The printed cards hold the same formatted values and arrows, in the same order.
        assert page.texts["value"] == report.texts["value"]
        assert len(page.texts["value"]) == len(HEADLINE)
        assert [_comment(q) for q in page.texts["blockquote"]] == [
            _comment(q) for q in report.texts["blockquote"]
        ]
    return page


def _comment(quote: str) -> str:
    return quote.split("”")[0].strip("“ ")


async def test_dashboard_shows_the_same_numbers_as_tiepdan_report(
    client, november, run_report
) -> None:
    await log_in(client, "ada")
    page = await assert_dashboard_matches_report(client, run_report, "2026-11", None, printed=True)
    # Hand-computed, so "the same" is not "the same mistake": 7 November tickets, 7 surveys.
    assert page.figures["tickets"] == "7" and page.figures["surveys_sent"] == "7"
    assert page.figures["previous:tickets"] == "1"
    assert page.rows["unit"] == {"water_company": 4, "urban_management": 1, "customer_care": 2}
    assert float(page.figures["csat"]) == pytest.approx(16 / 6)
    assert float(page.figures["response_rate"]) == pytest.approx(6 / 7)
    assert page.figures["overdue_at_period_end"] == "2" and len(page.codes) == 2
    assert "<script>alert" not in page.html and "&lt;script&gt;alert" in page.html
    assert _comment(page.texts["blockquote"][-1]) == XSS  # shown as text, in full


async def test_an_admin_picks_a_unit_and_it_matches_the_report(
    client, november, run_report
) -> None:
    await log_in(client, "ada")
    page = await assert_dashboard_matches_report(client, run_report, "2026-11", "water_company")
    assert page.rows["unit"] == {"water_company": 4}
    # An empty period: no rates, nothing overdue, still the same as the report.
    page = await assert_dashboard_matches_report(client, run_report, "2025-03", None)
    assert page.figures["csat"] == "" and page.figures["tickets"] == "0"


async def test_demo_data_year_matches_the_report(client, settings, run_report) -> None:
    assert tiepdan(["demo-data", "--tickets", "400", "--seed", "11"]) == 0
    await log_in(client, "ada")
    year = str(datetime.now(VIETNAM).year)
    page = await assert_dashboard_matches_report(client, run_report, year, None)
    assert int(page.figures["tickets"]) > 100 and page.figures["csat"] != ""
    assert len(page.rows["unit"]) > 3 and len(page.rows["category"]) > 5


@pytest.mark.parametrize("username", ["an", "tra"])
async def test_agents_and_trainers_are_refused_the_dashboard(client, username: str) -> None:
    await log_in(client, username)
    for path in ("/console/dashboard", "/console/dashboard/download?file=xlsx"):
        response = await client.get(path, allow_redirects=False)
        assert response.status == 403, path
    home = await (await client.get("/console/" if username == "tra" else "/console/queue")).text()
    assert "/console/dashboard" not in home  # no link to a page they cannot open


async def test_a_supervisor_sees_only_their_own_unit(client, november, run_report) -> None:
    await log_in(client, "sen")  # supervisor of customer_care
    response = await client.get("/console/dashboard?period=2026-11")
    page = Page(await response.text())
    assert response.status == 200
    assert page.rows["unit"] == {"customer_care": 2}
    assert page.figures["surveys_sent"] == "2" and page.figures["tickets"] == "2"
    assert 'name="unit"' not in await response.text()  # no unit picker for a supervisor
    # Exactly `tiepdan report --unit customer_care`.
    expected = _summary(run_report("2026-11", "customer_care", "csv"))
    assert all(_same_number(page.figures[k], v) for k, v in expected.items())

    other = await client.get("/console/dashboard?period=2026-11&unit=water_company")
    assert other.status == 403 and "đơn vị mình" in await other.text()
    assert "data-figure" not in await other.text()
    refused = await client.get("/console/dashboard/download?period=2026-11&unit=water_company&file=tickets.csv")  # fmt: skip
    assert refused.status == 403
    own = await client.get("/console/dashboard/download?period=2026-11&file=tickets.csv")
    rows = list(csv.DictReader((await own.text()).lstrip("\ufeff").splitlines()))
    assert len(rows) == 2 and {r["unit"] for r in rows} == {"customer_care"}


async def test_a_bad_period_or_unit_gets_a_clear_answer(client) -> None:
    await log_in(client, "ada")
    response = await client.get("/console/dashboard?period=2026-13")
    text = await response.text()
    assert response.status == 400 and "không hợp lệ" in text and "2026-Q4" in text
    assert "2026-13" in text  # kept in the picker so it can be corrected
    response = await client.get("/console/dashboard?period=2026-11&unit=<b>nowhere</b>")
    text = await response.text()
    assert response.status == 400 and "&lt;b&gt;nowhere" in text and "<b>nowhere" not in text
    download = await client.get("/console/dashboard/download?period=soon&file=html")
    assert download.status == 400
    assert (await client.get("/console/dashboard/download?period=2026&file=pdf")).status == 400


async def test_vietnamese_by_default_english_on_request(client, november) -> None:
    await log_in(client, "ada")
    text = await (await client.get("/console/dashboard?period=2026-11")).text()
    assert "Tháng 11/2026" in text and "Tải báo cáo" in text and "Tỷ lệ hài lòng (4–5)" in text
    assert "85,7 %" in text  # 6 of 7 surveys answered, Vietnamese decimals
    assert 'name="unit"' in text and 'value="water_company"' in text  # an admin picks a unit
    text = await (await client.get("/console/dashboard?period=2026-11&lang=en")).text()
    assert "November 2026" in text and "Download" in text and "Share satisfied" in text
    assert "85.7%" in text and "Tỷ lệ hài lòng" not in text


async def test_this_month_by_default_with_four_png_charts(client) -> None:
    await log_in(client, "ada")
    response = await client.get("/console/dashboard")
    text = await response.text()
    month = datetime.now(VIETNAM)
    assert f"Tháng {month:%m}/{month.year}" in text
    assert "img-src 'self' data:" in response.headers["Content-Security-Policy"]
    images = [src for src in Page(text).images if src.startswith("data:")]
    assert len(images) == 4
    for src in images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"


async def test_downloads_are_the_reports_files_and_are_audited(client, sessions, november) -> None:
    await log_in(client, "thuy")  # supervisor of water_company
    html = await client.get("/console/dashboard/download?period=2026-11&file=html")
    assert html.status == 200
    assert html.headers["Content-Disposition"] == 'attachment; filename="report-2026-11-water_company.html"'  # fmt: skip
    body = await html.text()
    assert "Tháng 11/2026" in body and body.count("data:image/png;base64,") == 4
    xlsx = await client.get("/console/dashboard/download?period=2026-11&file=xlsx")
    path = Path(str(sessions.kw["bind"].url.database)).with_name("download.xlsx")
    path.write_bytes(await xlsx.read())
    book = load_workbook(path, read_only=True)
    assert book.sheetnames == ["Summary", "Tickets", "Surveys", "Overdue"]
    assert len(list(book["Tickets"].iter_rows(min_row=2))) == 4
    summary = await client.get("/console/dashboard/download?period=2026-11&file=summary.csv")
    assert "report-2026-11-water_company-summary.csv" in summary.headers["Content-Disposition"]
    with sessions() as session:
        entries = session.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.target, AuditEntry.detail)
            .where(AuditEntry.action == "report_download")
            .order_by(AuditEntry.id)
        ).all()
    assert [tuple(e) for e in entries] == [
        ("thuy", "report_download", "report:2026-11:water_company", name)
        for name in ("html", "xlsx", "summary.csv")
    ]
