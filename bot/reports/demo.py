"""Realistic demonstration data: tickets with their history and survey answers across a year,
routed to the catalog's units with working-day due dates. The same generator feeds
`tiepdan demo-data` (inserts in batches through SQLAlchemy) and bench/bench_reports.py
(COPY into PostgreSQL), so both see the same shapes.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from bot.calendar import WorkingCalendar
from bot.tickets.codes import CODE_ALPHABET
from bot.tickets.dates import DEFAULT_DUE_DAYS

VIETNAM_OFFSET = timedelta(hours=7)
KINDS = (("problem_report", 55), ("complaint", 20), ("request", 15), ("suggestion", 10))
CATEGORY_WEIGHTS = (
    ("water_supply", 14), ("electricity", 9), ("drainage", 10), ("wastewater", 4),
    ("roads", 11), ("street_lighting", 8), ("waste_collection", 12), ("noise", 6),
    ("trees", 5), ("urban_order", 8), ("staff_conduct", 2), ("admin_procedure", 6),
    ("billing", 3), ("other", 2),
)  # fmt: skip
CHANNELS = (("zalo", 40), ("widget", 30), ("telegram", 20), ("api", 10))
SENDER_PREFIX = {"zalo": "zalo", "widget": "web", "telegram": "tg", "api": "api"}
DESCRIPTIONS = {
    "water_supply": "Mất nước từ sáng, vòi không chảy",
    "electricity": "Cúp điện cả khu phố từ tối qua",
    "drainage": "Mưa lớn là ngập, cống bị tắc",
    "wastewater": "Nước thải chảy tràn ra đường, bốc mùi",
    "roads": "Ổ gà lớn giữa đường, xe máy dễ té",
    "street_lighting": "Đèn đường hỏng cả tuần nay, tối om",
    "waste_collection": "Rác không được thu gom 3 ngày",
    "noise": "Quán karaoke hát đến khuya",
    "trees": "Cây xanh nghiêng, sợ đổ khi có bão",
    "urban_order": "Hàng quán lấn chiếm hết vỉa hè",
    "staff_conduct": "Cán bộ tiếp dân thiếu niềm nở",
    "admin_procedure": "Hồ sơ khai sinh nộp đã lâu chưa có kết quả",
    "billing": "Hoá đơn tiền nước tháng này tăng bất thường",
    "other": "Đề nghị bố trí thêm ghế chờ ở trụ sở phường",
}
STREETS = ("Bạch Đằng", "Lê Lợi", "Trần Phú", "Hùng Vương", "Nguyễn Văn Linh", "Hải Phòng")
LOW_COMMENTS = (
    "Xử lý chậm, phải gọi nhiều lần mới có người đến.",
    "Báo đã xong nhưng thực tế vẫn chưa sửa.",
    "Nhân viên không liên hệ lại như đã hẹn.",
    "Chỉ sửa tạm, mấy hôm sau lại hỏng.",
    "Không ai giải thích vì sao trễ hạn.",
    "Nothing was fixed, the road is still broken.",
)
OTHER_COMMENTS = (
    "Cảm ơn các anh chị đã xử lý nhanh.",
    "Đội thu gom làm việc tận tình.",
    "Nên nhắn tin báo trước khi đến kiểm tra.",
    "Thanks, quick and polite.",
)
ON_TIME_SCORES = (3, 4, 10, 38, 45)
LATE_SCORES = (15, 17, 25, 28, 15)


@dataclass
class DemoBatch:
    tickets: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    surveys: list[dict[str, Any]] = field(default_factory=list)


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([w[0] for w in weighted], weights=[w[1] for w in weighted])[0]


def _move(
    ticket: dict[str, Any], events: list[dict[str, Any]], to_status: str, at: datetime, actor: str
) -> None:
    events.append(
        dict(ticket_id=ticket["id"], at=at, actor=actor, from_status=ticket["status"],
             to_status=to_status, public_note=None, internal_note=None)
    )  # fmt: skip
    ticket["status"] = to_status
    ticket["updated_at"] = at


def _code(number: int, day: date) -> str:
    suffix = ""
    for _ in range(5):
        number, digit = divmod(number, len(CODE_ALPHABET))
        suffix += CODE_ALPHABET[digit]
    return f"PA-{day:%y%m}-{suffix}"


def generate(
    count: int,
    *,
    seed: int,
    calendar: WorkingCalendar,
    unit_for_category: Callable[[str], str],
    year: int = 2026,
    now: datetime,
    first_id: int = 1,
    first_survey_id: int = 1,
    answer_rate: float = 0.45,
    batch_size: int = 5000,
) -> Iterator[DemoBatch]:
    """Yield `count` tickets (ids from `first_id`) with events and surveys, in batches.

    `now` (naive UTC) is the end of history: nothing happens after it.
    """
    rng = random.Random(seed)
    start = datetime(year, 1, 1) - VIETNAM_OFFSET
    end = min(datetime(year + 1, 1, 1) - VIETNAM_OFFSET, now)
    span = (end - start).total_seconds()
    due_cache: dict[tuple[date, int], date] = {}
    batch = DemoBatch()
    event_id, survey_id = 1, first_survey_id
    for number in range(count):
        ticket_id = first_id + number
        created = start + timedelta(seconds=rng.random() * span)
        local = created + VIETNAM_OFFSET
        if local.weekday() >= 5 and rng.random() < 0.7:  # fewer reports at weekends
            created -= timedelta(days=2)
            if created < start:
                created += timedelta(days=4)
        local_day = (created + VIETNAM_OFFSET).date()
        category = _pick(rng, CATEGORY_WEIGHTS)
        kind = _pick(rng, KINDS)
        channel = _pick(rng, CHANNELS)
        language = "en" if rng.random() < 0.08 else "vi"
        days = DEFAULT_DUE_DAYS[category]
        key = (local_day, days)
        if key not in due_cache:
            due_cache[key] = calendar.add_working_days(local_day, days)
        due = due_cache[key]
        sender = f"{SENDER_PREFIX[channel]}:{rng.randrange(10**6, 10**7)}"
        unit = unit_for_category(category)
        ticket: dict[str, Any] = dict(
            id=ticket_id,
            code=_code(ticket_id, local_day),
            kind=kind,
            category=category,
            description=DESCRIPTIONS[category],
            location=f"{rng.randint(1, 199)} {rng.choice(STREETS)}, Phường 7",
            phone=f"09{rng.randrange(10**7, 10**8)}",
            language=language,
            channel=channel,
            sender_id=sender,
            client_request_id=None,
            responsible_unit_id=unit,
            assignee=None,
            priority="high" if category in ("water_supply", "electricity") else "normal",
            status="received",
            created_at=created,
            updated_at=created,
            due_at=due,
            first_response_at=None,
            resolved_at=None,
            closed_at=None,
            escalated_at=None,
        )
        events = [dict(ticket_id=ticket_id, at=created, actor="resident", from_status=None,
                       to_status="received", public_note=None, internal_note=f"opened on {channel}")]  # fmt: skip

        staff = f"staff:{unit}"
        first = created + timedelta(hours=rng.lognormvariate(1.3, 1.0))
        if first < now:
            ticket["first_response_at"] = first
            _move(ticket, events, "assigned", first, staff)
            if rng.random() < 0.04:
                _move(ticket, events, "rejected", first + timedelta(hours=2), staff)
            else:
                working = first + timedelta(hours=rng.uniform(0.5, 8))
                # A few stall at the unit: they show up as overdue.
                if working < now and rng.random() > 0.03:
                    _move(ticket, events, "in_progress", working, staff)
                    # Most are answered within the due days; a tail is late.
                    hours = rng.lognormvariate(3.5, 1.0) * (days / 5) ** 0.7
                    resolved = created + timedelta(hours=max(hours, 2))
                    if resolved < now:
                        _move(ticket, events, "resolved", resolved, staff)
                        ticket["resolved_at"] = resolved
                        if rng.random() < 0.04 and resolved + timedelta(days=2) < now:
                            reopened = resolved + timedelta(days=rng.uniform(0.5, 2))
                            _move(ticket, events, "reopened", reopened, "resident")
                            again = reopened + timedelta(hours=rng.uniform(4, 72))
                            if again < now:
                                _move(ticket, events, "resolved", again, staff)
                                ticket["resolved_at"] = resolved = again
                            else:
                                ticket["resolved_at"] = None
                        closed = resolved + timedelta(days=3)
                        if ticket["status"] == "resolved" and closed < now and rng.random() < 0.6:
                            _move(ticket, events, "closed", closed, "system")
                            ticket["closed_at"] = closed
        resolved_at = ticket["resolved_at"]
        if resolved_at is not None and rng.random() < 0.8:
            sent = resolved_at + timedelta(hours=1)
            on_time = (resolved_at + VIETNAM_OFFSET).date() <= due
            survey: dict[str, Any] = dict(
                id=survey_id,
                token=f"d{seed % 1000:03d}{survey_id:09d}",
                trigger="ticket",
                ticket_id=ticket_id,
                handoff_id=None,
                unit_id=unit,
                sender_id=sender,
                channel=channel,
                language=language,
                offered_at=resolved_at,
                sent_at=sent,
                expires_at=sent + timedelta(hours=72),
                score=None,
                answered_at=None,
                late=False,
                comment=None,
                commented_at=None,
                comment_until=None,
                flagged_at=None,
            )
            survey_id += 1
            answered = sent + timedelta(hours=rng.lognormvariate(0.5, 1.5))
            if rng.random() < answer_rate and answered < now:
                score = rng.choices(
                    (1, 2, 3, 4, 5), weights=ON_TIME_SCORES if on_time else LATE_SCORES
                )[0]
                survey.update(
                    score=score, answered_at=answered, late=answered > survey["expires_at"]
                )
                pool = LOW_COMMENTS if score <= 2 else OTHER_COMMENTS
                if rng.random() < (0.6 if score <= 2 else 0.15):
                    survey.update(
                        comment=rng.choice(pool), commented_at=answered + timedelta(minutes=1)
                    )
                if score <= 2:
                    survey["flagged_at"] = answered
            batch.surveys.append(survey)
        for event in events:
            event["id"] = event_id
            event_id += 1
        batch.tickets.append(ticket)
        batch.events.extend(events)
        if len(batch.tickets) >= batch_size:
            yield batch
            batch = DemoBatch()
    if batch.tickets:
        yield batch


def insert_demo(
    session: Any, count: int, *, seed: int, catalog: Any, now: datetime
) -> tuple[int, int, int]:
    """Insert demo data after whatever is already there; returns (tickets, events, surveys)."""
    from sqlalchemy import func, insert, select

    from bot.surveys import Survey
    from bot.tickets.models import Ticket, TicketEvent

    first_id = (session.execute(select(func.max(Ticket.id))).scalar() or 0) + 1
    first_survey = (session.execute(select(func.max(Survey.id))).scalar() or 0) + 1
    totals = [0, 0, 0]
    for batch in generate(
        count,
        seed=seed,
        calendar=catalog.calendar,
        unit_for_category=lambda category: catalog.unit_for_category(category).id,
        now=now,
        first_id=first_id,
        first_survey_id=first_survey,
    ):
        session.execute(insert(Ticket), batch.tickets)
        for event in batch.events:
            event.pop("id")
        session.execute(insert(TicketEvent), batch.events)
        if batch.surveys:
            session.execute(insert(Survey), batch.surveys)
        totals[0] += len(batch.tickets)
        totals[1] += len(batch.events)
        totals[2] += len(batch.surveys)
    return totals[0], totals[1], totals[2]
