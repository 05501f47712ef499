"""The figures of a performance report, computed with SQL aggregates so a yearly report over
a million tickets stays fast on PostgreSQL (SQLite gets the same answers, with percentiles
taken in Python since it has no percentile function).

Which rows count:
- tickets: opened (created_at) within the period;
- surveys: invitations due to go out (sent_at) within the period; "answered" are those with a
  score, late answers included;
- time to first response / resolution: hours from opening, for the period's tickets that have
  one; median and 90th percentile by linear interpolation (PostgreSQL's percentile_cont);
- on time: resolved on or before the due date (local date of resolved_at), of those resolved;
- reopen rate: tickets reopened at least once, of the period's tickets;
- overdue: still open (or resolved only later) at the end of the period, due before its last day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, and_, case, cast, distinct, func, literal, or_, select
from sqlalchemy.orm import Session

from bot.reports.periods import Period
from bot.surveys import Survey
from bot.tickets.lifecycle import REJECTED, REOPENED
from bot.tickets.models import Ticket, TicketEvent

OVERDUE_LIMIT = 50
COMMENT_LIMIT = 10


@dataclass
class Summary:
    tickets: int = 0
    surveys_sent: int = 0
    surveys_answered: int = 0
    surveys_late: int = 0
    distribution: dict[int, int] = field(default_factory=lambda: {n: 0 for n in range(1, 6)})
    csat: float | None = None
    first_response_median_h: float | None = None
    first_response_p90_h: float | None = None
    resolution_median_h: float | None = None
    resolution_p90_h: float | None = None
    resolved: int = 0
    resolved_on_time: int = 0
    reopened: int = 0

    @property
    def response_rate(self) -> float | None:
        return self.surveys_answered / self.surveys_sent if self.surveys_sent else None

    @property
    def satisfied(self) -> int:
        return self.distribution[4] + self.distribution[5]

    @property
    def satisfied_share(self) -> float | None:
        return self.satisfied / self.surveys_answered if self.surveys_answered else None

    @property
    def on_time_share(self) -> float | None:
        return self.resolved_on_time / self.resolved if self.resolved else None

    @property
    def reopen_rate(self) -> float | None:
        return self.reopened / self.tickets if self.tickets else None


@dataclass(frozen=True)
class OverdueTicket:
    code: str
    category: str
    unit_id: str | None
    status: str
    created_at: datetime
    due_at: date
    days_late: int


@dataclass(frozen=True)
class LowScoreComment:
    score: int
    comment: str
    unit_id: str | None
    channel: str
    answered_at: datetime
    ticket_code: str | None


@dataclass
class Report:
    period: Period
    previous_period: Period
    unit_id: str | None
    summary: Summary
    previous: Summary
    by_kind_category: list[tuple[str, str, int]]
    by_unit: list[tuple[str | None, int]]
    by_channel: list[tuple[str, int]]
    by_month: list[tuple[str, int, int, float | None]]  # month, tickets, answered, csat
    overdue: list[OverdueTicket]
    overdue_total: int
    low_comments: list[LowScoreComment]


# ---- dialect helpers -----------------------------------------------------------------


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _hours(session: Session, later: Any, earlier: Any) -> Any:
    if _is_postgres(session):
        return func.extract("epoch", later - earlier) / 3600.0
    return (func.julianday(later) - func.julianday(earlier)) * 24.0


def _local_date(session: Session, moment: Any) -> Any:
    if _is_postgres(session):
        return cast(moment + literal("7 hours").cast(_interval()), Date)
    return func.date(moment, "+7 hours")


def _local_month(session: Session, moment: Any) -> Any:
    if _is_postgres(session):
        return func.to_char(moment + literal("7 hours").cast(_interval()), "YYYY-MM")
    return func.strftime("%Y-%m", moment, "+7 hours")


def _interval() -> Any:
    from sqlalchemy.dialects.postgresql import INTERVAL

    return INTERVAL()


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (what percentile_cont computes)."""
    if not sorted_values:
        return None
    position = (len(sorted_values) - 1) * fraction
    lower = int(position)
    upper = min(lower + 1, len(sorted_values) - 1)
    weight = position - lower
    return sorted_values[lower] * (1 - weight) + sorted_values[upper] * weight


# ---- queries -------------------------------------------------------------------------


def _ticket_filter(period: Period, unit_id: str | None) -> list[Any]:
    conditions = [Ticket.created_at >= period.start_utc, Ticket.created_at < period.end_utc]
    if unit_id:
        conditions.append(Ticket.responsible_unit_id == unit_id)
    return conditions


def _survey_filter(period: Period, unit_id: str | None) -> list[Any]:
    conditions = [Survey.sent_at >= period.start_utc, Survey.sent_at < period.end_utc]
    if unit_id:
        conditions.append(Survey.unit_id == unit_id)
    return conditions


def _durations(session: Session, where: list[Any], summary: Summary) -> None:
    first = _hours(session, Ticket.first_response_at, Ticket.created_at)
    resolution = _hours(session, Ticket.resolved_at, Ticket.created_at)
    if _is_postgres(session):
        row = session.execute(
            select(
                func.percentile_cont(0.5).within_group(first),
                func.percentile_cont(0.9).within_group(first),
                func.percentile_cont(0.5).within_group(resolution),
                func.percentile_cont(0.9).within_group(resolution),
            ).where(*where)
        ).one()
        values = [float(v) if v is not None else None for v in row]
    else:
        values = []
        for expression, column in (
            (first, Ticket.first_response_at),
            (resolution, Ticket.resolved_at),
        ):
            hours = sorted(
                float(v)
                for v in session.execute(
                    select(expression).where(*where, column.is_not(None))
                ).scalars()
            )
            values += [percentile(hours, 0.5), percentile(hours, 0.9)]
    (
        summary.first_response_median_h,
        summary.first_response_p90_h,
        summary.resolution_median_h,
        summary.resolution_p90_h,
    ) = values


def summarise(session: Session, period: Period, unit_id: str | None = None) -> Summary:
    summary = Summary()
    where = _ticket_filter(period, unit_id)
    on_time = and_(
        Ticket.resolved_at.is_not(None), _local_date(session, Ticket.resolved_at) <= Ticket.due_at
    )
    tickets, resolved, resolved_on_time = session.execute(
        select(
            func.count(),
            func.count(Ticket.resolved_at),
            func.coalesce(func.sum(case((on_time, 1), else_=0)), 0),
        ).where(*where)
    ).one()
    summary.tickets, summary.resolved, summary.resolved_on_time = (
        int(tickets),
        int(resolved),
        int(resolved_on_time),
    )
    if summary.tickets:
        summary.reopened = int(
            session.execute(
                select(func.count(distinct(TicketEvent.ticket_id)))
                .join(Ticket, Ticket.id == TicketEvent.ticket_id)
                .where(*where, TicketEvent.to_status == REOPENED)
            ).scalar_one()
        )
        _durations(session, where, summary)

    surveys = _survey_filter(period, unit_id)
    sent, answered, late = session.execute(
        select(
            func.count(),
            func.count(Survey.score),
            func.coalesce(
                func.sum(case((and_(Survey.late, Survey.score.is_not(None)), 1), else_=0)), 0
            ),
        ).where(*surveys)
    ).one()
    summary.surveys_sent, summary.surveys_answered, summary.surveys_late = (
        int(sent),
        int(answered),
        int(late),
    )
    for score, count in session.execute(
        select(Survey.score, func.count())
        .where(*surveys, Survey.score.is_not(None))
        .group_by(Survey.score)
    ):
        summary.distribution[int(score)] = int(count)
    if summary.surveys_answered:
        total = sum(score * count for score, count in summary.distribution.items())
        summary.csat = total / summary.surveys_answered
    return summary


def _overdue(
    session: Session, period: Period, unit_id: str | None
) -> tuple[list[OverdueTicket], int]:
    end = period.end_utc
    conditions = [
        Ticket.created_at < end,
        Ticket.due_at < period.last_day,
        Ticket.status != REJECTED,
        or_(Ticket.resolved_at.is_(None), Ticket.resolved_at >= end),
        or_(Ticket.closed_at.is_(None), Ticket.closed_at >= end),
    ]
    if unit_id:
        conditions.append(Ticket.responsible_unit_id == unit_id)
    total = int(
        session.execute(select(func.count()).where(*conditions).select_from(Ticket)).scalar_one()
    )
    rows = session.execute(
        select(
            Ticket.code,
            Ticket.category,
            Ticket.responsible_unit_id,
            Ticket.status,
            Ticket.created_at,
            Ticket.due_at,
        )
        .where(*conditions)
        .order_by(Ticket.due_at, Ticket.id)
        .limit(OVERDUE_LIMIT)
    ).all()
    return [
        OverdueTicket(code, category, unit, status, created, due, (period.last_day - due).days)
        for code, category, unit, status, created, due in rows
    ], total


def _low_comments(session: Session, period: Period, unit_id: str | None) -> list[LowScoreComment]:
    rows = session.execute(
        select(
            Survey.score,
            Survey.comment,
            Survey.unit_id,
            Survey.channel,
            Survey.answered_at,
            Ticket.code,
        )
        .outerjoin(Ticket, Ticket.id == Survey.ticket_id)
        .where(*_survey_filter(period, unit_id), Survey.score <= 2, Survey.comment.is_not(None))
        .order_by(Survey.score, Survey.answered_at.desc(), Survey.id.desc())
        .limit(COMMENT_LIMIT)
    ).all()
    return [LowScoreComment(*row) for row in rows]


def build_report(session: Session, period: Period, unit_id: str | None = None) -> Report:
    where = _ticket_filter(period, unit_id)
    by_kind_category = [
        (kind, category, int(count))
        for kind, category, count in session.execute(
            select(Ticket.kind, Ticket.category, func.count())
            .where(*where)
            .group_by(Ticket.kind, Ticket.category)
            .order_by(func.count().desc(), Ticket.kind, Ticket.category)
        )
    ]
    by_unit = [
        (unit, int(count))
        for unit, count in session.execute(
            select(Ticket.responsible_unit_id, func.count())
            .where(*where)
            .group_by(Ticket.responsible_unit_id)
            .order_by(func.count().desc(), Ticket.responsible_unit_id)
        )
    ]
    by_channel = [
        (channel, int(count))
        for channel, count in session.execute(
            select(Ticket.channel, func.count())
            .where(*where)
            .group_by(Ticket.channel)
            .order_by(func.count().desc(), Ticket.channel)
        )
    ]
    ticket_month = _local_month(session, Ticket.created_at)
    tickets_by_month = dict(
        session.execute(
            select(ticket_month, func.count()).where(*where).group_by(ticket_month)
        ).all()
    )
    survey_month = _local_month(session, Survey.sent_at)
    surveys_by_month = {
        month: (int(answered), float(average) if average is not None else None)
        for month, answered, average in session.execute(
            select(survey_month, func.count(Survey.score), func.avg(Survey.score))
            .where(*_survey_filter(period, unit_id))
            .group_by(survey_month)
        )
    }
    by_month = []
    month = period.first_day
    while month < period.end_day:
        key = f"{month:%Y-%m}"
        answered, average = surveys_by_month.get(key, (0, None))
        by_month.append((key, int(tickets_by_month.get(key, 0)), answered, average))
        month = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    overdue, overdue_total = _overdue(session, period, unit_id)
    previous_period = period.previous()
    return Report(
        period=period,
        previous_period=previous_period,
        unit_id=unit_id,
        summary=summarise(session, period, unit_id),
        previous=summarise(session, previous_period, unit_id),
        by_kind_category=by_kind_category,
        by_unit=by_unit,
        by_channel=by_channel,
        by_month=by_month,
        overdue=overdue,
        overdue_total=overdue_total,
        low_comments=_low_comments(session, period, unit_id),
    )


def ticket_rows(session: Session, period: Period, unit_id: str | None = None):  # type: ignore[no-untyped-def]
    """The underlying ticket rows (no personal data), streamed for CSV / XLSX exports."""
    return session.execute(
        select(
            Ticket.code,
            Ticket.kind,
            Ticket.category,
            Ticket.responsible_unit_id,
            Ticket.channel,
            Ticket.language,
            Ticket.status,
            Ticket.created_at,
            Ticket.first_response_at,
            Ticket.resolved_at,
            Ticket.due_at,
        )
        .where(*_ticket_filter(period, unit_id))
        .order_by(Ticket.created_at, Ticket.id)
        .execution_options(yield_per=5000)
    )


def survey_rows(session: Session, period: Period, unit_id: str | None = None):  # type: ignore[no-untyped-def]
    return session.execute(
        select(
            Survey.token,
            Survey.trigger,
            Ticket.code,
            Survey.handoff_id,
            Survey.unit_id,
            Survey.channel,
            Survey.language,
            Survey.sent_at,
            Survey.answered_at,
            Survey.score,
            Survey.late,
            Survey.comment,
        )
        .outerjoin(Ticket, Ticket.id == Survey.ticket_id)
        .where(*_survey_filter(period, unit_id))
        .order_by(Survey.sent_at, Survey.id)
        .execution_options(yield_per=5000)
    )
