"""The performance dashboard for supervisors and admins: the figures of `tiepdan report` for a
month, a quarter or a year and one unit (a supervisor: their own; an admin: any or all), its
charts, and the report's HTML, CSV and XLSX files of that period and unit to download.

Nothing is computed here: `bot.reports.build_report` gives the figures and
`bot.reports.render` names, formats and draws them, exactly as for the command line.
"""

from __future__ import annotations

import asyncio
import io
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy.orm import Session

from bot.calendar import VIETNAM
from bot.catalog import cached_catalog
from bot.console import record_action
from bot.console.tickets import Viewer
from bot.reports import Period, PeriodError, Report, build_report, parse_period
from bot.reports.figures import survey_rows, ticket_rows
from bot.reports.render import (
    CHANNEL_NAMES,
    FIGURE,
    HEADLINE,
    KIND_NAMES,
    Names,
    category_rows,
    chart_categories,
    chart_channels,
    chart_distribution,
    chart_months,
    local,
    num,
    render_html,
    write_summary_csv,
    write_survey_csv,
    write_ticket_csv,
    write_xlsx,
)
from channels.console.views import _viewer, in_transaction, render, utcnow
from channels.keys import SETTINGS

# matplotlib's pyplot keeps global state: one chart at a time in this process.
_CHARTS = threading.Lock()
DOWNLOADS = {
    "html": ("text/html; charset=utf-8", "{stem}.html"),
    "xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "{stem}.xlsx",
    ),
    "tickets.csv": ("text/csv; charset=utf-8", "{stem}.csv"),
    "surveys.csv": ("text/csv; charset=utf-8", "{stem}-surveys.csv"),
    "summary.csv": ("text/csv; charset=utf-8", "{stem}-summary.csv"),
}
CHUNK = 64 * 1024


class Refused(Exception):
    """A request the dashboard answers with a page that says why (status, vi, en)."""

    def __init__(self, status: int, vi: str, en: str) -> None:
        super().__init__(en)
        self.status, self.vi, self.en = status, vi, en


@dataclass(frozen=True)
class Scope:
    period: Period
    unit_id: str | None  # None: every unit (admins only)

    @property
    def stem(self) -> str:
        """The file name `tiepdan report` gives the same period and unit."""
        return f"report-{self.period.label}" + (f"-{self.unit_id}" if self.unit_id else "")

    def query(self, **more: str) -> str:
        values = {"period": self.period.label, **({"unit": self.unit_id} if self.unit_id else {})}
        return urlencode({**values, **more})


def catalog_names(request: web.Request) -> Names:
    return Names.from_catalog(cached_catalog(request.app[SETTINGS].catalog_dir))


def this_month() -> str:
    return f"{datetime.now(VIETNAM):%Y-%m}"


def period_menu(today: datetime) -> list[tuple[str, str, list[str]]]:
    """Recent periods to pick from: 12 months, 8 quarters, 3 years (any other can be typed
    into the address: ?period=2025-Q2)."""
    months, quarters = [], []
    year, month = today.year, today.month
    for _ in range(12):
        months.append(f"{year}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    year, quarter = today.year, (today.month - 1) // 3 + 1
    for _ in range(8):
        quarters.append(f"{year}-Q{quarter}")
        year, quarter = (year, quarter - 1) if quarter > 1 else (year - 1, 4)
    years = [str(today.year - n) for n in range(3)]
    return [("Tháng", "Month", months), ("Quý", "Quarter", quarters), ("Năm", "Year", years)]


def scope_of(query: Any, viewer: Viewer, names: Names) -> Scope:
    """The period and unit asked for, within what this viewer may see."""
    text = (query.get("period") or "").strip() or this_month()
    try:
        period = parse_period(text)
    except PeriodError as error:
        raise Refused(
            400,
            f"Kỳ báo cáo “{text[:20]}” không hợp lệ. Xin chọn tháng (2026-11), quý (2026-Q4) "
            "hoặc năm (2026).",
            str(error),
        ) from error
    unit = (query.get("unit") or "").strip() or None
    if viewer.role != "admin":
        if unit is not None and unit != viewer.unit_id:
            raise Refused(
                403,
                "Anh/chị chỉ xem được số liệu của đơn vị mình.",
                "You can only see your own unit's figures.",
            )
        # A supervisor without a unit sees an empty unit rather than everyone's.
        return Scope(period, viewer.unit_id or "-")
    if unit is not None and unit not in names.units:
        raise Refused(
            400,
            f"Không có đơn vị “{unit[:40]}” trong danh mục.",
            f"There is no unit {unit[:40]!r} in the catalog.",
        )
    return Scope(period, unit)


def _charts(report: Report, names: Names) -> dict[str, str]:
    with _CHARTS:
        return {
            "distribution": chart_distribution(report.summary),
            "months": chart_months(report),
            "categories": chart_categories(report, names),
            "channels": chart_channels(report),
        }


async def dashboard_page(request: web.Request) -> web.Response:
    viewer = await _viewer(request)
    names = catalog_names(request)
    today = datetime.now(VIETNAM)
    context: dict[str, Any] = {
        "menu": period_menu(today),
        "units": sorted(names.units.items(), key=lambda item: item[1][0]),
        "asked_period": request.query.get("period") or this_month(),
        "asked_unit": request.query.get("unit") or "",
        "report": None,
        "unit_label": lambda unit, lang: unit_label(names, unit, lang),
    }
    try:
        scope = scope_of(request.query, viewer, names)
    except Refused as refused:
        context["refused"] = refused
        return await render(request, "dashboard.html", context, status=refused.status)

    def load(session: Session) -> Report:
        return build_report(session, scope.period, scope.unit_id)

    report = await in_transaction(request, load)
    charts = await asyncio.to_thread(_charts, report, names)
    return await render(
        request,
        "dashboard.html",
        {
            **context,
            "asked_period": scope.period.label,
            "scope": scope,
            "report": report,
            "charts": charts,
            "figure": FIGURE,
            "headline": HEADLINE,
            "categories_table": category_rows(report),
            "kinds": list(KIND_NAMES),
            "kind_names": KIND_NAMES,
            "channel_name": lambda c: CHANNEL_NAMES.get(c, c),
            "category_label": lambda c, lang: names.categories.get(c, (c, c))[lang == "en"] or c,
            "local": local,
            "num": num,
            "raw": lambda value: "" if value is None else repr(value),
        },
    )


def unit_label(names: Names, unit_id: str | None, lang: str) -> str:
    if not unit_id:
        return "(unassigned)" if lang == "en" else "(chưa phân công)"
    vi, en = names.units.get(unit_id, (unit_id, unit_id))
    return en if lang == "en" and en else vi


def _write(
    session: Session, scope: Scope, names: Names, file: str, out: IO[bytes], now: datetime
) -> None:
    period, unit = scope.period, scope.unit_id
    if file == "xlsx":
        report = build_report(session, period, unit)
        write_xlsx(
            report, ticket_rows(session, period, unit), survey_rows(session, period, unit), out
        )
        return
    if file == "html":
        report = build_report(session, period, unit)
        with _CHARTS:
            page = render_html(
                report,
                names,
                generated_at=now,
                title=f"Báo cáo {period.title('vi')} — Tiếp Dân",
            )
        out.write(page.encode("utf-8"))
        return
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
    try:
        if file == "tickets.csv":
            write_ticket_csv(text, ticket_rows(session, period, unit))
        elif file == "surveys.csv":
            write_survey_csv(text, survey_rows(session, period, unit))
        else:
            write_summary_csv(text, build_report(session, period, unit))
        text.flush()
    finally:
        text.detach()


async def download(request: web.Request) -> web.StreamResponse:
    """One of the report's files for this period and unit, as `tiepdan report` writes it."""
    viewer = await _viewer(request)
    names = catalog_names(request)
    file = request.query.get("file", "")
    if file not in DOWNLOADS:
        raise web.HTTPBadRequest(text=f"file must be one of: {', '.join(DOWNLOADS)}")
    try:
        scope = scope_of(request.query, viewer, names)
    except Refused as refused:
        raise _http(refused) from refused
    content_type, pattern = DOWNLOADS[file]

    def work(session: Session, spool: IO[bytes]) -> None:
        _write(session, scope, names, file, spool, utcnow())
        record_action(
            session,
            actor=viewer.username,
            action="report_download",
            target=f"report:{scope.period.label}" + (f":{scope.unit_id}" if scope.unit_id else ""),
            detail=file,
        )

    # A yearly export can be large: spooled to a temporary file, not held in memory.
    with tempfile.TemporaryFile() as spool:
        await in_transaction(request, lambda session: work(session, spool))
        size = spool.tell()
        spool.seek(0)
        response = web.StreamResponse(
            headers={
                "Content-Type": content_type,
                "Content-Disposition": f'attachment; filename="{pattern.format(stem=scope.stem)}"',
                "Content-Length": str(size),
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "no-store",
            }
        )
        await response.prepare(request)
        while chunk := await asyncio.to_thread(spool.read, CHUNK):
            await response.write(chunk)
        await response.write_eof()
        return response


def _http(refused: Refused) -> web.HTTPException:
    kind = web.HTTPForbidden if refused.status == 403 else web.HTTPBadRequest
    return kind(text=f"{refused.vi}\n{refused.en}")


def setup_dashboard(app: web.Application) -> None:
    app.router.add_get("/console/dashboard", dashboard_page, name="console.dashboard")
    app.router.add_get("/console/dashboard/download", download, name="console.dashboard_download")
