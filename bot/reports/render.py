"""A report as a single self-contained HTML page (charts embedded as PNG, A4 print layout,
Vietnamese headings with English), and as CSV / XLSX files with the underlying rows."""

from __future__ import annotations

import base64
import csv
import html
import io
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from bot.reports.figures import Report, Summary

VIETNAM_OFFSET = timedelta(hours=7)
CHANNEL_NAMES = {
    "telegram": "Telegram",
    "widget": "Web chat",
    "zalo": "Zalo",
    "api": "API",
}
KIND_NAMES = {
    "complaint": ("Khiếu nại", "Complaint"),
    "problem_report": ("Phản ánh", "Problem report"),
    "request": ("Yêu cầu", "Request"),
    "suggestion": ("Kiến nghị", "Suggestion"),
}
STATUS_NAMES = {
    "received": "Đã tiếp nhận",
    "assigned": "Đã chuyển đơn vị",
    "in_progress": "Đang xử lý",
    "reopened": "Mở lại",
    "resolved": "Đã xử lý",
}
SCORE_COLOURS = ("#c0392b", "#e67e22", "#f1c40f", "#7fb77e", "#2e8b57")


@dataclass(frozen=True)
class Names:
    """Display names from the catalog; ids are shown when a name is unknown."""

    categories: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    units: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def from_catalog(cls, catalog: Any) -> Names:
        return cls(
            categories={c.id: (c.name.vi, c.name.en) for c in catalog.categories.values()},
            units={
                u.id: ((u.short_name or u.name).vi, (u.short_name or u.name).en)
                for u in catalog.units.values()
            },
        )

    def category(self, category_id: str) -> str:
        return self.categories.get(category_id, (category_id, ""))[0]

    def unit(self, unit_id: str | None) -> str:
        if not unit_id:
            return "(chưa phân công)"
        return self.units.get(unit_id, (unit_id, ""))[0]


# ---- formatting ----------------------------------------------------------------------
# Vietnamese writes 1.234,5; English 1,234.5. The report is Vietnamese; the console follows
# the reader's language.


def _decimal(text: str, lang: str) -> str:
    if lang == "en":
        return text
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def pct(value: float | None, lang: str = "vi") -> str:
    if value is None:
        return "—"
    return _decimal(f"{value * 100:.1f}", lang) + (" %" if lang != "en" else "%")


def num(value: float | None, digits: int = 1, lang: str = "vi") -> str:
    return "—" if value is None else _decimal(f"{value:.{digits}f}", lang)


def count(value: int | None, lang: str = "vi") -> str:
    return "—" if value is None else _decimal(f"{value:,}", lang)


def hours(value: float | None, lang: str = "vi") -> str:
    if value is None:
        return "—"
    if value < 48:
        return f"{num(value, lang=lang)} " + ("h" if lang == "en" else "giờ")
    return f"{num(value / 24, lang=lang)} " + ("days" if lang == "en" else "ngày")


def local(moment: datetime | None) -> str:
    return "" if moment is None else f"{moment + VIETNAM_OFFSET:%d/%m/%Y %H:%M}"


def trend(
    now: float | None, before: float | None, *, higher_is_better: bool = True
) -> tuple[str, str]:
    """The arrow against the previous period and whether that is good: ("▲", "good")."""
    if now is None or before is None:
        return "—", "flat"
    delta = now - before
    if abs(delta) < 1e-9:
        return "=", "flat"
    good = (delta > 0) == higher_is_better
    return ("▲" if delta > 0 else "▼"), ("good" if good else "bad")


def _trend(now: float | None, before: float | None, *, higher_is_better: bool = True) -> str:
    arrow, mood = trend(now, before, higher_is_better=higher_is_better)
    return f'<span class="{mood}">{arrow if arrow != "=" else "= "}</span>'


@dataclass(frozen=True)
class Figure:
    """One figure of a period's summary, named and formatted once for every output (the HTML
    report, the CSV/XLSX summary, the console dashboard)."""

    key: str
    vi: str
    en: str
    value: Callable[[Summary], float | int | None]
    style: str  # count, pct, score, hours
    higher_is_better: bool = True

    def format(self, summary: Summary, lang: str = "vi") -> str:
        value = self.value(summary)
        if self.style == "pct":
            return pct(value, lang)
        if self.style == "score":
            return num(value, 2, lang)
        if self.style == "hours":
            return hours(value, lang)
        return count(None if value is None else int(value), lang)

    def trend(self, report: Report) -> tuple[str, str]:
        return trend(
            self.value(report.summary),
            self.value(report.previous),
            higher_is_better=self.higher_is_better,
        )


def _score(n: int) -> Figure:
    return Figure(
        f"score_{n}", f"Điểm {n}", f"Score {n}", lambda s: s.distribution[n], "count", n >= 4
    )


FIGURES: tuple[Figure, ...] = (
    Figure("tickets", "Phản ánh, yêu cầu tiếp nhận", "Tickets received",
           lambda s: s.tickets, "count", False),
    Figure("surveys_sent", "Phiếu khảo sát đã gửi", "Surveys sent", lambda s: s.surveys_sent, "count"),
    Figure("surveys_answered", "Phiếu trả lời", "Surveys answered",
           lambda s: s.surveys_answered, "count"),
    Figure("surveys_late", "— trong đó trả lời muộn", "— of which late",
           lambda s: s.surveys_late, "count"),
    Figure("response_rate", "Tỷ lệ phản hồi khảo sát", "Survey response rate",
           lambda s: s.response_rate, "pct"),
    Figure("csat", "Chỉ số hài lòng (CSAT)", "Average satisfaction, 1–5", lambda s: s.csat, "score"),
    Figure("satisfied_share", "Tỷ lệ hài lòng (4–5)", "Share satisfied",
           lambda s: s.satisfied_share, "pct"),
    *(_score(n) for n in range(1, 6)),
    Figure("first_response_median_h", "Thời gian phản hồi đầu tiên (trung vị)",
           "Median time to first response", lambda s: s.first_response_median_h, "hours", False),
    Figure("first_response_p90_h", "Thời gian phản hồi đầu tiên (phân vị 90)",
           "Time to first response, 90th percentile", lambda s: s.first_response_p90_h, "hours",
           False),
    Figure("resolution_median_h", "Thời gian giải quyết (trung vị)", "Median time to resolution",
           lambda s: s.resolution_median_h, "hours", False),
    Figure("resolution_p90_h", "Thời gian giải quyết (phân vị 90)", "Time to resolution, 90th percentile",
           lambda s: s.resolution_p90_h, "hours", False),
    Figure("resolved", "Đã giải quyết", "Resolved", lambda s: s.resolved, "count"),
    Figure("resolved_on_time", "Giải quyết đúng hạn (số)", "Resolved on time",
           lambda s: s.resolved_on_time, "count"),
    Figure("on_time_share", "Giải quyết đúng hạn", "Share resolved on time",
           lambda s: s.on_time_share, "pct"),
    Figure("reopened", "Phản ánh bị mở lại", "Reopened", lambda s: s.reopened, "count", False),
    Figure("reopen_rate", "Tỷ lệ mở lại", "Reopen rate", lambda s: s.reopen_rate, "pct", False),
)  # fmt: skip
FIGURE = {figure.key: figure for figure in FIGURES}
# The summary cards at the top of the report and of the console dashboard.
HEADLINE = tuple(
    FIGURE[key]
    for key in (
        "csat",
        "satisfied_share",
        "response_rate",
        "tickets",
        "on_time_share",
        "first_response_median_h",
        "resolution_median_h",
        "reopen_rate",
    )
)


# ---- charts --------------------------------------------------------------------------


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.family": "DejaVu Sans", "font.size": 9})
    return plt


def chart_distribution(summary: Summary) -> str:
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(4.6, 2.6))
    labels = [
        "1\nRất không\nhài lòng",
        "2\nKhông\nhài lòng",
        "3\nBình\nthường",
        "4\nHài lòng",
        "5\nRất\nhài lòng",
    ]
    counts = [summary.distribution[n] for n in range(1, 6)]
    bars = axes.bar(labels, counts, color=SCORE_COLOURS)
    for bar, count in zip(bars, counts, strict=True):
        axes.annotate(
            str(count),
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    axes.set_title("Mức độ hài lòng / Satisfaction (1–5)")
    axes.spines[["top", "right"]].set_visible(False)
    axes.set_ylabel("Số phiếu / answers")
    return _png(figure)


def chart_months(report: Report) -> str:
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(7.2, 2.6))
    months = [m for m, *_ in report.by_month]
    tickets = [t for _, t, _, _ in report.by_month]
    axes.bar(months, tickets, color="#2f5d8a", label="Phản ánh, yêu cầu / tickets")
    axes.set_ylabel("Số lượng / tickets")
    axes.spines[["top"]].set_visible(False)
    twin = axes.twinx()
    csat = [c for *_, c in report.by_month]
    twin.plot(
        months,
        [c if c is not None else float("nan") for c in csat],
        color="#d35400",
        marker="o",
        label="CSAT (1–5)",
    )
    twin.set_ylim(1, 5)
    twin.set_ylabel("CSAT")
    axes.set_title("Theo tháng / By month")
    handles = axes.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    axes.legend(
        handles,
        [h.get_label() for h in handles],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12 if len(months) <= 6 else -0.3),
        ncol=2,
        fontsize=7,
        frameon=False,
    )
    if len(months) > 6:
        axes.tick_params(axis="x", labelrotation=45)
    return _png(figure)


def chart_categories(report: Report, names: Names) -> str:
    plt = _pyplot()
    totals: dict[str, int] = {}
    for _, category, count in report.by_kind_category:
        totals[category] = totals.get(category, 0) + count
    top = sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:10][::-1]
    figure, axes = plt.subplots(figsize=(7.2, 0.3 * max(len(top), 3) + 0.8))
    axes.barh([names.category(c) for c, _ in top], [n for _, n in top], color="#2f5d8a")
    for index, (_, count) in enumerate(top):
        axes.annotate(f" {count}", (count, index), va="center", fontsize=8)
    axes.set_title("Lĩnh vực phản ánh nhiều nhất / Top categories")
    axes.spines[["top", "right"]].set_visible(False)
    return _png(figure)


def chart_channels(report: Report) -> str:
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(3.2, 2.6))
    if report.by_channel:
        axes.pie(
            [n for _, n in report.by_channel],
            labels=[CHANNEL_NAMES.get(c, c) for c, _ in report.by_channel],
            autopct="%1.0f%%",
            colors=["#2f5d8a", "#5b8fc7", "#9cc3e6", "#cfe2f3"][: len(report.by_channel)],
            textprops={"fontsize": 8},
        )
    axes.set_title("Kênh tiếp nhận / Channels")
    return _png(figure)


# ---- HTML ----------------------------------------------------------------------------

STYLE = """
@page { size: A4; margin: 14mm 12mm; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", "Noto Sans", Arial, sans-serif; color: #1d2733;
       margin: 0 auto; max-width: 190mm; font-size: 10.5pt; line-height: 1.35; }
header { border-bottom: 3px solid #8b1a1a; padding: 6mm 0 3mm; margin-bottom: 4mm; }
header .org { font-size: 9pt; text-transform: uppercase; letter-spacing: .04em; color: #8b1a1a; }
h1 { font-size: 17pt; margin: 1mm 0; }
h1 small, h2 small, th small { font-weight: normal; color: #5b6775; }
h2 { font-size: 12.5pt; border-bottom: 1px solid #c9d1da; padding-bottom: 1mm; margin: 6mm 0 2mm;
     break-after: avoid; }
.meta { color: #5b6775; font-size: 9pt; }
.cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 3mm; }
.card { border: 1px solid #c9d1da; border-radius: 2mm; padding: 2.5mm 3mm; break-inside: avoid; }
.card .label { font-size: 8.5pt; color: #5b6775; }
.card .value { font-size: 17pt; font-weight: bold; }
.card .prev { font-size: 8pt; color: #5b6775; }
.good { color: #2e8b57; } .bad { color: #c0392b; } .flat { color: #5b6775; }
table { border-collapse: collapse; width: 100%; font-size: 9pt; break-inside: auto; }
th, td { border-bottom: 1px solid #e1e6ec; padding: 1.2mm 1.5mm; text-align: left; vertical-align: top; }
th { background: #f1f4f7; }
td.n, th.n { text-align: right; white-space: nowrap; }
td.code { white-space: nowrap; font-family: "DejaVu Sans Mono", monospace; font-size: 8.5pt; }
tr { break-inside: avoid; }
.charts { display: flex; flex-wrap: wrap; gap: 3mm; align-items: flex-start; }
.charts img { max-width: 100%; break-inside: avoid; }
.two { display: grid; grid-template-columns: 1fr 1fr; gap: 5mm; }
blockquote { margin: 0 0 2mm; padding: 1.5mm 3mm; border-left: 3px solid #c0392b; background: #fbf3f2;
             break-inside: avoid; }
blockquote .who { font-size: 8pt; color: #5b6775; }
.note { font-size: 8pt; color: #5b6775; margin-top: 6mm; }
section { break-inside: auto; }
@media print { body { max-width: none; } .pagebreak { break-before: page; } }
"""


def _e(text: object) -> str:
    return html.escape(str(text))


def _card(label: str, en: str, value: str, previous: str, trend: str) -> str:
    return (
        f'<div class="card"><div class="label">{_e(label)}<br><small>{_e(en)}</small></div>'
        f'<div class="value">{value} {trend}</div>'
        f'<div class="prev">Kỳ trước / previous: {previous}</div></div>'
    )


def render_html(report: Report, names: Names, *, generated_at: datetime, title: str) -> str:
    s, p = report.summary, report.previous
    unit = f" — {names.unit(report.unit_id)}" if report.unit_id else ""
    cards = [
        _card(
            f.vi,
            f.en,
            f.format(s),
            f.format(p),
            _trend(f.value(s), f.value(p), higher_is_better=f.higher_is_better),
        )
        for f in HEADLINE
    ]
    parts = [
        "<!doctype html><html lang='vi'><head><meta charset='utf-8'>",
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>",
        "<header><div class='org'>Tiếp Dân — Báo cáo kết quả tiếp nhận, giải quyết phản ánh "
        "và mức độ hài lòng</div>",
        f"<h1>{_e(report.period.title('vi'))}{_e(unit)} <small>/ Performance and satisfaction report, "
        f"{_e(report.period.title('en'))}</small></h1>",
        f"<div class='meta'>Kỳ báo cáo / period: {report.period.first_day:%d/%m/%Y} – "
        f"{report.period.last_day:%d/%m/%Y} (giờ Việt Nam) · So sánh với / compared with "
        f"{_e(report.previous_period.title('vi'))} · Lập lúc / generated {local(generated_at)}</div>",
        "</header>",
        "<h2>Tóm tắt <small>/ Summary</small></h2>",
        f"<div class='cards'>{''.join(cards)}</div>",
        "<h2>Khảo sát mức độ hài lòng <small>/ Satisfaction survey</small></h2>",
        "<div class='two'><div>",
        f"<img alt='Phân bố điểm' src='data:image/png;base64,{chart_distribution(s)}' style='width:100%'>",
        "</div><div><table>",
        "<tr><th>Chỉ tiêu <small>/ figure</small></th><th class='n'>Kỳ này</th>"
        "<th class='n'>Kỳ trước</th></tr>",
    ]
    rows = [
        ("Phiếu đã gửi / surveys sent", f"{s.surveys_sent}", f"{p.surveys_sent}"),
        ("Phiếu trả lời / answered", f"{s.surveys_answered}", f"{p.surveys_answered}"),
        ("— trong đó trả lời muộn / late", f"{s.surveys_late}", f"{p.surveys_late}"),
        ("Tỷ lệ phản hồi / response rate", pct(s.response_rate), pct(p.response_rate)),
        ("CSAT trung bình / average", num(s.csat, 2), num(p.csat, 2)),
        ("Hài lòng (4–5) / satisfied", pct(s.satisfied_share), pct(p.satisfied_share)),
    ]
    rows += [
        (f"Điểm {n} / score {n}", str(s.distribution[n]), str(p.distribution[n]))
        for n in range(1, 6)
    ]
    parts += [
        f"<tr><td>{a}</td><td class='n'>{b}</td><td class='n'>{c}</td></tr>" for a, b, c in rows
    ]
    parts.append("</table></div></div>")

    parts += [
        "<h2>Tiếp nhận theo thời gian <small>/ Volume over time</small></h2>",
        "<div class='charts'>",
        f"<img alt='Theo tháng' src='data:image/png;base64,{chart_months(report)}' style='width:68%'>",
        f"<img alt='Kênh' src='data:image/png;base64,{chart_channels(report)}' style='width:29%'>",
        "</div>",
        "<h2>Thời gian xử lý <small>/ Response and resolution times</small></h2><table>",
        "<tr><th>Chỉ tiêu <small>/ figure</small></th><th class='n'>Trung vị <small>median</small></th>"
        "<th class='n'>90 % <small>90th pct.</small></th><th class='n'>Kỳ trước (trung vị)</th></tr>",
        f"<tr><td>Phản hồi đầu tiên / first response</td><td class='n'>{hours(s.first_response_median_h)}</td>"
        f"<td class='n'>{hours(s.first_response_p90_h)}</td><td class='n'>{hours(p.first_response_median_h)}</td></tr>",
        f"<tr><td>Giải quyết xong / resolution</td><td class='n'>{hours(s.resolution_median_h)}</td>"
        f"<td class='n'>{hours(s.resolution_p90_h)}</td><td class='n'>{hours(p.resolution_median_h)}</td></tr>",
        f"<tr><td>Đúng hạn / on time</td><td class='n' colspan='2'>{s.resolved_on_time} / {s.resolved} "
        f"({pct(s.on_time_share)})</td><td class='n'>{pct(p.on_time_share)}</td></tr>",
        f"<tr><td>Mở lại / reopened</td><td class='n' colspan='2'>{s.reopened} / {s.tickets} "
        f"({pct(s.reopen_rate)})</td><td class='n'>{pct(p.reopen_rate)}</td></tr>",
        "</table>",
        "<h2 class='pagebreak'>Theo lĩnh vực <small>/ By category</small></h2>",
        f"<img alt='Lĩnh vực' src='data:image/png;base64,{chart_categories(report, names)}' style='width:80%'>",
    ]
    parts.append(_category_table(report, names))
    parts += [
        "<div class='two'><div><h2>Theo đơn vị <small>/ By unit</small></h2><table>",
        "<tr><th>Đơn vị <small>/ unit</small></th><th class='n'>Số lượng</th></tr>",
        *[
            f"<tr><td>{_e(names.unit(u))}</td><td class='n'>{n}</td></tr>"
            for u, n in report.by_unit
        ],
        "</table></div><div><h2>Theo kênh <small>/ By channel</small></h2><table>",
        "<tr><th>Kênh <small>/ channel</small></th><th class='n'>Số lượng</th></tr>",
        *[
            f"<tr><td>{_e(CHANNEL_NAMES.get(c, c))}</td><td class='n'>{n}</td></tr>"
            for c, n in report.by_channel
        ],
        "</table></div></div>",
        f"<h2>Quá hạn chưa giải quyết cuối kỳ <small>/ Overdue at period end</small> — {report.overdue_total}</h2>",
    ]
    if report.overdue:
        parts.append(
            "<table><tr><th>Mã</th><th>Lĩnh vực</th><th>Đơn vị</th><th>Trạng thái</th>"
            "<th class='n'>Hạn <small>due</small></th><th class='n'>Trễ <small>days late</small></th></tr>"
        )
        parts += [
            f"<tr><td class='code'>{_e(t.code)}</td><td>{_e(names.category(t.category))}</td><td>{_e(names.unit(t.unit_id))}</td>"
            f"<td>{_e(STATUS_NAMES.get(t.status, t.status))}</td><td class='n'>{t.due_at:%d/%m/%Y}</td>"
            f"<td class='n'>{t.days_late}</td></tr>"
            for t in report.overdue
        ]
        parts.append("</table>")
        if report.overdue_total > len(report.overdue):
            parts.append(
                f"<p class='meta'>Hiển thị {len(report.overdue)} trường hợp trễ lâu nhất; danh sách đầy đủ "
                "trong tệp CSV/XLSX. / The longest overdue shown; full list in the exports.</p>"
            )
    else:
        parts.append("<p>Không có / none.</p>")
    parts.append("<h2>Góp ý kèm đánh giá thấp (1–2) <small>/ Comments with low scores</small></h2>")
    if report.low_comments:
        parts += [
            f"<blockquote>“{_e(c.comment)}”<div class='who'>Điểm {c.score}/5 · {_e(names.unit(c.unit_id))} · "
            f"{_e(CHANNEL_NAMES.get(c.channel, c.channel))} · {local(c.answered_at)}"
            f"{' · ' + _e(c.ticket_code) if c.ticket_code else ''}</div></blockquote>"
            for c in report.low_comments
        ]
    else:
        parts.append("<p>Không có / none.</p>")
    parts.append(
        "<p class='note'>Cách tính / how figures are computed: phản ánh tính theo ngày tiếp nhận; khảo sát "
        "theo ngày gửi phiếu (trả lời muộn vẫn được tính); thời gian tính từ lúc tiếp nhận; đúng hạn = giải "
        "quyết trước hoặc trong ngày hẹn (lịch làm việc có nghỉ lễ, Tết). Tickets count by the day opened; "
        "surveys by the day sent (late answers included); times from opening; on time = resolved on or "
        "before the due date, which skips weekends and public holidays.</p></body></html>"
    )
    return "\n".join(parts)


def category_rows(report: Report) -> list[tuple[str, dict[str, int], int]]:
    """Categories down, kinds across: (category, count per kind, total), busiest first."""
    table: dict[str, dict[str, int]] = {}
    for kind, category, n in report.by_kind_category:
        counts = table.setdefault(category, {})
        counts[kind] = counts.get(kind, 0) + n
    rows = [(category, counts, sum(counts.values())) for category, counts in table.items()]
    return sorted(rows, key=lambda row: -row[2])


def _category_table(report: Report, names: Names) -> str:
    kinds = list(KIND_NAMES)
    lines = category_rows(report)
    if not lines:
        return "<p>Không có phản ánh trong kỳ / none in this period.</p>"
    head = "".join(
        f"<th class='n'>{_e(KIND_NAMES[k][0])}<br><small>{_e(KIND_NAMES[k][1])}</small></th>"
        for k in kinds
    )
    rows = [
        f"<table><tr><th>Lĩnh vực <small>/ category</small></th>{head}"
        "<th class='n'>Tổng<br><small>total</small></th></tr>"
    ]
    for category, counts, total in lines:
        cells = "".join(f"<td class='n'>{counts.get(k, 0)}</td>" for k in kinds)
        rows.append(
            f"<tr><td>{_e(names.category(category))}</td>{cells}"
            f"<td class='n'><b>{total}</b></td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


# ---- CSV / XLSX ----------------------------------------------------------------------

TICKET_HEADER = [
    "code",
    "kind",
    "category",
    "unit",
    "channel",
    "language",
    "status",
    "created_at_local",
    "first_response_at_local",
    "resolved_at_local",
    "due_at",
    "hours_to_first_response",
    "hours_to_resolution",
    "resolved_on_time",
]
SURVEY_HEADER = [
    "survey",
    "trigger",
    "ticket",
    "handoff",
    "unit",
    "channel",
    "language",
    "sent_at_local",
    "answered_at_local",
    "score",
    "late",
    "comment",
]


def _ticket_record(row: Iterable[Any]) -> list[Any]:
    code, kind, category, unit, channel, language, status, created, first, resolved, due = row
    first_h = round((first - created).total_seconds() / 3600, 2) if first else ""
    resolved_h = round((resolved - created).total_seconds() / 3600, 2) if resolved else ""
    on_time = "" if not resolved else ("yes" if (resolved + VIETNAM_OFFSET).date() <= due else "no")
    return [
        code,
        kind,
        category,
        unit or "",
        channel,
        language,
        status,
        local(created),
        local(first),
        local(resolved),
        f"{due:%Y-%m-%d}",
        first_h,
        resolved_h,
        on_time,
    ]


def _survey_record(row: Iterable[Any]) -> list[Any]:
    token, trigger, code, handoff, unit, channel, language, sent, answered, score, late, comment = (
        row
    )
    return [
        token,
        trigger,
        code or "",
        handoff or "",
        unit or "",
        channel,
        language,
        local(sent),
        local(answered),
        "" if score is None else score,
        "yes" if late else "no",
        comment or "",
    ]


def summary_rows(report: Report) -> list[list[Any]]:
    s, p = report.summary, report.previous
    pairs = [(f.key, f.value(s), f.value(p)) for f in FIGURES]
    pairs.append(("overdue_at_period_end", report.overdue_total, ""))
    return [["figure", report.period.label, report.previous_period.label]] + [
        [name, "" if now is None else now, "" if before is None else before]
        for name, now, before in pairs
    ]


def write_ticket_csv(file: IO[str], tickets: Iterable[Any]) -> None:
    writer = csv.writer(file)
    writer.writerow(TICKET_HEADER)
    writer.writerows(_ticket_record(row) for row in tickets)


def write_survey_csv(file: IO[str], surveys: Iterable[Any]) -> None:
    writer = csv.writer(file)
    writer.writerow(SURVEY_HEADER)
    writer.writerows(_survey_record(row) for row in surveys)


def write_summary_csv(file: IO[str], report: Report) -> None:
    csv.writer(file).writerows(summary_rows(report))


def write_csv(
    report: Report, tickets: Iterable[Any], surveys: Iterable[Any], out: Path
) -> list[Path]:
    """Three files: <out> (tickets), <stem>-surveys.csv and <stem>-summary.csv."""
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = [
        out,
        out.with_name(f"{out.stem}-surveys.csv"),
        out.with_name(f"{out.stem}-summary.csv"),
    ]
    with paths[0].open("w", newline="", encoding="utf-8-sig") as file:
        write_ticket_csv(file, tickets)
    with paths[1].open("w", newline="", encoding="utf-8-sig") as file:
        write_survey_csv(file, surveys)
    with paths[2].open("w", newline="", encoding="utf-8-sig") as file:
        write_summary_csv(file, report)
    return paths


def write_xlsx(
    report: Report, tickets: Iterable[Any], surveys: Iterable[Any], out: Path | IO[bytes]
) -> list[Path]:
    """One workbook (Summary, Tickets, Surveys, Overdue) to a file, or to a binary stream."""
    from openpyxl import Workbook

    if isinstance(out, Path):
        out.parent.mkdir(parents=True, exist_ok=True)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Summary")
    for row in summary_rows(report):
        sheet.append(row)
    sheet = book.create_sheet("Tickets")
    sheet.append(TICKET_HEADER)
    for row in tickets:
        sheet.append(_ticket_record(row))
    sheet = book.create_sheet("Surveys")
    sheet.append(SURVEY_HEADER)
    for row in surveys:
        sheet.append(_survey_record(row))
    sheet = book.create_sheet("Overdue")
    sheet.append(["code", "category", "unit", "status", "due_at", "days_late"])
    for t in report.overdue:
        sheet.append(
            [t.code, t.category, t.unit_id or "", t.status, f"{t.due_at:%Y-%m-%d}", t.days_late]
        )
    book.save(out)
    return [out] if isinstance(out, Path) else []
