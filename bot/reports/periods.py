"""Reporting periods (a month, a quarter, a year) in Vietnam's time, as UTC bounds."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

# Vietnam has kept UTC+7 without daylight saving since 1975; stored times are naive UTC.
VIETNAM_OFFSET = timedelta(hours=7)
_PERIOD = re.compile(r"^(\d{4})(?:-(?:(0[1-9]|1[0-2])|[Qq]([1-4])))?$")


class PeriodError(ValueError):
    """A period the report cannot understand; the message shows the accepted forms."""


@dataclass(frozen=True)
class Period:
    label: str  # 2026-11, 2026-Q4, 2026
    first_day: date  # local dates, first_day inclusive, end_day exclusive
    end_day: date

    @property
    def start_utc(self) -> datetime:
        return datetime.combine(self.first_day, datetime.min.time()) - VIETNAM_OFFSET

    @property
    def end_utc(self) -> datetime:
        return datetime.combine(self.end_day, datetime.min.time()) - VIETNAM_OFFSET

    @property
    def last_day(self) -> date:
        return self.end_day - timedelta(days=1)

    def previous(self) -> Period:
        kind = "year" if "-" not in self.label else "quarter" if "Q" in self.label else "month"
        year, month = self.first_day.year, self.first_day.month
        if kind == "year":
            return parse_period(str(year - 1))
        step = 3 if kind == "quarter" else 1
        month -= step
        if month < 1:
            month += 12
            year -= 1
        if kind == "quarter":
            return parse_period(f"{year}-Q{(month - 1) // 3 + 1}")
        return parse_period(f"{year}-{month:02d}")

    def title(self, lang: str) -> str:
        if "Q" in self.label:
            quarter = self.label.split("Q")[1]
            return (
                f"Quý {quarter}/{self.first_day.year}"
                if lang == "vi"
                else (f"Q{quarter} {self.first_day.year}")
            )
        if "-" in self.label:
            return (
                f"Tháng {self.first_day.month:02d}/{self.first_day.year}"
                if lang == "vi"
                else f"{self.first_day:%B %Y}"
            )
        return f"Năm {self.label}" if lang == "vi" else f"Year {self.label}"


def _month_start(year: int, month: int) -> date:
    while month > 12:
        month -= 12
        year += 1
    return date(year, month, 1)


def parse_period(text: str) -> Period:
    """'2026-11' (a month), '2026-Q4' (a quarter) or '2026' (a year)."""
    match = _PERIOD.match(text.strip())
    if not match:
        raise PeriodError(
            f"period {text!r} is not understood; use a month (2026-11), a quarter (2026-Q4) "
            "or a year (2026)"
        )
    year = int(match.group(1))
    if match.group(2):
        month = int(match.group(2))
        return Period(f"{year}-{month:02d}", date(year, month, 1), _month_start(year, month + 1))
    if match.group(3):
        quarter = int(match.group(3))
        first = 3 * (quarter - 1) + 1
        return Period(f"{year}-Q{quarter}", date(year, first, 1), _month_start(year, first + 3))
    return Period(str(year), date(year, 1, 1), date(year + 1, 1, 1))
