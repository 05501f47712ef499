"""Staff of the console: accounts with roles and units, password log-in with lock-out, and
the audit log of everything staff do."""

from bot.console.accounts import (
    LOCKOUT,
    MAX_FAILED_LOGINS,
    ROLES,
    AccountError,
    LoginRefused,
    authenticate,
    create_staff,
    disable_staff,
    get_staff,
    mark_seen,
    reset_password,
    staff_online,
)
from bot.console.audit import record_action
from bot.console.models import AuditEntry, StaffAccount

__all__ = [
    "LOCKOUT",
    "MAX_FAILED_LOGINS",
    "ROLES",
    "AccountError",
    "AuditEntry",
    "LoginRefused",
    "StaffAccount",
    "authenticate",
    "create_staff",
    "disable_staff",
    "get_staff",
    "mark_seen",
    "record_action",
    "reset_password",
    "staff_online",
]
