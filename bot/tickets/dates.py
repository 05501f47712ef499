"""Time for tickets: UTC in the database, Vietnam's calendar for codes and due dates.

Every stored timestamp is a naive UTC datetime (as in the rest of the database); the day a
resident would name ("opened on 21/11") is the date in Asia/Ho_Chi_Minh.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timezone
from types import MappingProxyType

from bot.calendar import VIETNAM, WorkingCalendar

# Working days to answer, per category. Deployments pass their own mapping to open_ticket.
DEFAULT_DUE_DAYS: Mapping[str, int] = MappingProxyType(
    {
        "water_supply": 2,
        "electricity": 2,
        "drainage": 5,
        "wastewater": 5,
        "street_lighting": 5,
        "waste_collection": 3,
        "roads": 10,
        "trees": 7,
        "noise": 7,
        "urban_order": 10,
        "staff_conduct": 15,
        "billing": 10,
        "admin_procedure": 30,
        "other": 10,
    }
)


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def as_utc(moment: datetime | None) -> datetime:
    """A naive UTC datetime: aware values are converted, naive ones are taken as UTC."""
    if moment is None:
        return utcnow()
    if moment.tzinfo is not None:
        return moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def local_date(moment: datetime) -> date:
    """The date in Vietnam of a naive-UTC (or aware) moment."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(VIETNAM).date()


def due_date(
    category: str,
    opened_on: date,
    calendar: WorkingCalendar,
    due_days: Mapping[str, int] | None = None,
) -> date:
    """The date a unit must answer by: N working days after the (Vietnamese) opening date."""
    days_by_category = DEFAULT_DUE_DAYS if due_days is None else due_days
    if category in days_by_category:
        days = days_by_category[category]
    elif "other" in days_by_category:
        days = days_by_category["other"]
    else:
        raise KeyError(f"no due-date rule for category {category!r} and none for 'other'")
    return calendar.add_working_days(opened_on, days)


def format_date(day: date) -> str:
    """dd/mm/yyyy, the way residents write dates (VOICE.md)."""
    return f"{day:%d/%m/%Y}"
