"""Performance and satisfaction reports for leadership (monthly, quarterly, yearly), demo
data to try them with, and the record-keeping purge."""

from bot.reports.figures import Report, Summary, build_report, percentile, summarise
from bot.reports.periods import Period, PeriodError, parse_period

__all__ = [
    "Period",
    "PeriodError",
    "Report",
    "Summary",
    "build_report",
    "parse_period",
    "percentile",
    "summarise",
]
