"""Tables of the console: staff accounts, the append-only audit log, and what supervisors
did about escalations."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Integer, String, Text, UniqueConstraint

from bot.db import Base


class StaffAccount(Base):
    __tablename__ = "staff_account"

    id = Column(Integer, primary_key=True)
    username = Column(String(64), nullable=False, unique=True)
    display_name = Column(String(128), nullable=False)
    password_hash = Column(String(256), nullable=False)
    # agent, supervisor, trainer or admin
    role = Column(String(16), nullable=False)
    unit_id = Column(String(64), nullable=True)
    active = Column(Boolean, nullable=False, default=True)
    failed_logins = Column(Integer, nullable=False, default=0)
    locked_until = Column(DateTime, nullable=True)
    # Refreshed by the console's live connection: "an agent is online" means seen lately.
    last_seen_at = Column(DateTime, nullable=True)
    created_at = Column(DateTime, nullable=False)

    def __repr__(self) -> str:
        return f"<StaffAccount {self.username} {self.role}>"


class AuditEntry(Base):
    """Who did what, when, to what. Rows are only ever added."""

    __tablename__ = "audit_entry"

    id = Column(Integer, primary_key=True)
    at = Column(DateTime, nullable=False, index=True)
    actor = Column(String(64), nullable=False)
    action = Column(String(64), nullable=False)
    target = Column(String(128), nullable=True)
    detail = Column(Text, nullable=True)


class EscalationAck(Base):
    """What a supervisor did about one escalation: an overdue ticket (kind "overdue", the
    ticket's id) or a low survey score (kind "low_score", the survey's id). Absent = new."""

    __tablename__ = "escalation_ack"
    __table_args__ = (UniqueConstraint("kind", "ref_id"),)

    id = Column(Integer, primary_key=True)
    kind = Column(String(16), nullable=False)
    ref_id = Column(Integer, nullable=False)
    acknowledged_by = Column(String(64), nullable=True)
    acknowledged_at = Column(DateTime, nullable=True)
    handled_by = Column(String(64), nullable=True)
    handled_at = Column(DateTime, nullable=True)
    note = Column(Text, nullable=True)
