"""Plain results the ticket services return to actions, views and tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class StatusView:
    """What a resident may see about a ticket: never the description, phone or notes for staff."""

    code: str
    kind: str
    category: str
    status: str
    priority: str
    language: str
    opened_on: date  # in Vietnam
    due_at: date
    responsible_unit_id: str | None
    last_public_note: str | None
    updated_at: datetime
    is_owner: bool


@dataclass(frozen=True)
class LookupRefused:
    """Too many failed look-ups from this sender; answer "please try again later"."""

    retry_after_minutes: int
