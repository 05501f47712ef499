"""Record keeping: survey answers are deleted after their retention period; closed tickets
past theirs keep their figures (dates, category, unit, status) but lose the personal data
(phone, description, location; the sender id is replaced by a keyed hash)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from bot.surveys import Survey
from bot.tickets.lifecycle import CLOSED
from bot.tickets.models import Ticket

ANONYMISED_PREFIX = "anon:"
REMOVED = "[đã xoá dữ liệu cá nhân / personal data removed]"


@dataclass(frozen=True)
class PurgeResult:
    surveys: int
    tickets: int
    surveys_before: datetime
    tickets_closed_before: datetime
    dry_run: bool


def hash_sender(sender_id: str, key: str) -> str:
    digest = hmac.new(key.encode(), sender_id.encode(), hashlib.sha256).hexdigest()[:20]
    return f"{ANONYMISED_PREFIX}{digest}"


def purge(
    session: Session,
    *,
    now: datetime,
    survey_retention_days: int,
    personal_data_retention_days: int,
    key: str,
    dry_run: bool,
) -> PurgeResult:
    survey_cutoff = now - timedelta(days=survey_retention_days)
    ticket_cutoff = now - timedelta(days=personal_data_retention_days)
    old_surveys = Survey.offered_at < survey_cutoff
    old_tickets = [
        Ticket.status == CLOSED,
        Ticket.closed_at < ticket_cutoff,
        Ticket.sender_id.not_like(f"{ANONYMISED_PREFIX}%"),
    ]
    surveys = session.execute(
        select(func.count()).select_from(Survey).where(old_surveys)
    ).scalar_one()
    tickets = session.execute(
        select(func.count()).select_from(Ticket).where(*old_tickets)
    ).scalar_one()
    if not dry_run:
        session.execute(
            delete(Survey).where(old_surveys).execution_options(synchronize_session=False)
        )
        for ticket_id, sender_id, location in session.execute(
            select(Ticket.id, Ticket.sender_id, Ticket.location).where(*old_tickets)
        ).all():
            session.execute(
                update(Ticket)
                .where(Ticket.id == ticket_id)
                .values(
                    phone=None,
                    description=REMOVED,
                    location=REMOVED if location else None,
                    sender_id=hash_sender(sender_id, key),
                )
                .execution_options(synchronize_session=False)
            )
    return PurgeResult(int(surveys), int(tickets), survey_cutoff, ticket_cutoff, dry_run)
