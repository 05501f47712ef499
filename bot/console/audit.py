"""The audit log: one row per staff action (log-in, reply, status change, account change)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot.console.models import AuditEntry
from bot.outbox import _utc


def record_action(
    session: Session,
    *,
    actor: str,
    action: str,
    target: str | None = None,
    detail: str | None = None,
    now: datetime | None = None,
) -> AuditEntry:
    entry = AuditEntry(at=_utc(now), actor=actor, action=action, target=target, detail=detail)
    session.add(entry)
    session.flush()
    return entry
