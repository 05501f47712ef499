"""Is an office open right now, and when does it open next?

All times are Vietnam time (Asia/Ho_Chi_Minh); a naive `now` is taken to be Vietnam time.

Rules, in order, for one calendar day:
- a public holiday closes every unit all day (24/7 hotlines keep answering; that is the
  hotline's business, not the office's);
- an official make-up working day (usually a Saturday worked in exchange for a bridged
  day off) is worked with the unit's *Monday* hours. Decisions say "work on Saturday in
  place of Friday", and every unit in the catalog keeps the same hours Monday to Friday,
  so Monday's hours are the working-day hours without depending on which day was bridged;
- otherwise the unit's hours for that weekday apply; an empty list means closed.
The one-stop desk's Saturday morning (`saturday_morning_receipt`) is a receipt-only
session: documents are received, results are not returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from bot.calendar import VIETNAM, WorkingCalendar
from bot.catalog.model import Interval, Unit

SATURDAY = 5

# OpeningStatus.reason values
OPEN = "open"
SATURDAY_RECEIPT = "saturday_receipt"
MAKEUP_DAY = "makeup_day"
LUNCH_BREAK = "lunch_break"
BEFORE_OPENING = "before_opening"
AFTER_CLOSING = "after_closing"
WEEKEND = "weekend"
HOLIDAY = "holiday"
CLOSED_TODAY = "closed_today"

_HORIZON_DAYS = 62


@dataclass(frozen=True)
class OpeningStatus:
    """Whether a unit's office is open at a moment, and why.

    closes_at: end of the current session when open (e.g. 11:30 before lunch).
    next_open: start of the next session when closed (None if the unit keeps no office
    hours within two months).
    """

    open_now: bool
    reason: str
    next_open: datetime | None
    closes_at: datetime | None


def to_vietnam_time(now: datetime) -> datetime:
    if now.tzinfo is None:
        return now.replace(tzinfo=VIETNAM)
    return now.astimezone(VIETNAM)


def intervals_on(unit: Unit, day: date, calendar: WorkingCalendar) -> tuple[Interval, ...]:
    """The unit's office hours on a given date, holidays and make-up days applied."""
    if day in calendar.makeup_days:
        return unit.hours_on(0)
    if calendar.is_holiday(day):
        return ()
    return unit.hours_on(day.weekday())


def is_receipt_only(unit: Unit, day: date, calendar: WorkingCalendar) -> bool:
    """Saturday morning at the one-stop desk: documents received, results not returned."""
    return (
        unit.saturday_morning_receipt
        and day.weekday() == SATURDAY
        and day not in calendar.makeup_days
        and not calendar.is_holiday(day)
    )


def opening_status(unit: Unit, now: datetime, calendar: WorkingCalendar) -> OpeningStatus:
    now = to_vietnam_time(now)
    today = now.date()
    moment = now.time().replace(tzinfo=None)
    intervals = intervals_on(unit, today, calendar)

    for interval in intervals:
        if interval.contains(moment):
            if today in calendar.makeup_days:
                reason = MAKEUP_DAY
            elif is_receipt_only(unit, today, calendar):
                reason = SATURDAY_RECEIPT
            else:
                reason = OPEN
            return OpeningStatus(True, reason, None, _at(today, interval.end))

    if not intervals:
        if calendar.is_holiday(today) and today not in calendar.makeup_days:
            reason = HOLIDAY
        elif today.weekday() >= SATURDAY:
            reason = WEEKEND
        else:
            reason = CLOSED_TODAY
    elif moment < intervals[0].start:
        reason = BEFORE_OPENING
    elif moment >= intervals[-1].end:
        reason = AFTER_CLOSING
    else:
        reason = LUNCH_BREAK
    return OpeningStatus(False, reason, next_opening(unit, now, calendar), None)


def next_opening(unit: Unit, after: datetime, calendar: WorkingCalendar) -> datetime | None:
    """Start of the first session that begins after `after`."""
    after = to_vietnam_time(after)
    moment = after.time().replace(tzinfo=None)
    for offset in range(_HORIZON_DAYS):
        day = after.date() + timedelta(days=offset)
        for interval in intervals_on(unit, day, calendar):
            if offset > 0 or interval.start > moment:
                return _at(day, interval.start)
    return None


def _at(day: date, moment: time) -> datetime:
    return datetime.combine(day, moment, tzinfo=VIETNAM)
