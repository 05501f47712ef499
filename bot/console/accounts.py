"""Staff accounts: create, disable, reset a password, log in (argon2 hashes, lock-out after
repeated failures kept in the database so it holds across restarts and replicas)."""

from __future__ import annotations

from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.console.audit import record_action
from bot.console.models import StaffAccount
from bot.outbox import _utc

ROLES = ("agent", "supervisor", "trainer", "admin")
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
ONLINE_WINDOW = timedelta(minutes=1)
MIN_PASSWORD = 10

_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps the timing the same.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class AccountError(ValueError):
    """An account change the console refuses; the message says why."""


class LoginRefused(Exception):
    """Wrong user name or password, a disabled account, or a locked one (`locked`)."""

    def __init__(self, locked: bool = False) -> None:
        super().__init__("account locked" if locked else "wrong user name or password")
        self.locked = locked


def get_staff(session: Session, username: str) -> StaffAccount | None:
    return session.execute(
        select(StaffAccount).where(StaffAccount.username == username.strip().lower())
    ).scalar_one_or_none()


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password needs at least {MIN_PASSWORD} characters")


def create_staff(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    unit_id: str | None = None,
    display_name: str | None = None,
    actor: str = "cli",
    now: datetime | None = None,
) -> StaffAccount:
    username = username.strip().lower()
    if (
        not username
        or len(username) > 64
        or not username.replace(".", "").replace("_", "").isalnum()
    ):
        raise AccountError("the user name must be letters, digits, '.' or '_' (1 to 64)")
    if role not in ROLES:
        raise AccountError(f"the role must be one of {', '.join(ROLES)}, not {role!r}")
    if role in ("agent", "supervisor") and not unit_id:
        raise AccountError(f"an {role} needs a unit (e.g. customer_care)")
    if get_staff(session, username) is not None:
        raise AccountError(f"the user {username!r} already exists")
    _check_password(password)
    account = StaffAccount(
        username=username,
        display_name=display_name or username,
        password_hash=_hasher.hash(password),
        role=role,
        unit_id=unit_id,
        active=True,
        failed_logins=0,
        created_at=_utc(now),
    )
    session.add(account)
    session.flush()
    record_action(session, actor=actor, action="staff_add", target=username, detail=role, now=now)
    return account


def _require(session: Session, username: str) -> StaffAccount:
    account = get_staff(session, username)
    if account is None:
        raise AccountError(f"no user {username!r}")
    return account


def disable_staff(
    session: Session, username: str, *, actor: str = "cli", now: datetime | None = None
) -> StaffAccount:
    account = _require(session, username)
    account.active = False
    record_action(session, actor=actor, action="staff_disable", target=account.username, now=now)
    return account


def reset_password(
    session: Session,
    username: str,
    password: str,
    *,
    actor: str = "cli",
    now: datetime | None = None,
) -> StaffAccount:
    account = _require(session, username)
    _check_password(password)
    account.password_hash = _hasher.hash(password)
    account.failed_logins = 0
    account.locked_until = None
    record_action(
        session, actor=actor, action="staff_reset_password", target=account.username, now=now
    )
    return account


def authenticate(
    session: Session, username: str, password: str, *, now: datetime | None = None
) -> StaffAccount:
    """The account for these credentials; raises LoginRefused. Every attempt is audited."""
    now = _utc(now)
    account = get_staff(session, username)
    if account is None:
        try:
            _hasher.verify(_DUMMY_HASH, password)
        except VerificationError:
            pass
        record_action(session, actor=username[:64] or "?", action="login_failed", now=now)
        raise LoginRefused()
    if account.locked_until is not None and account.locked_until > now:
        record_action(session, actor=account.username, action="login_locked", now=now)
        raise LoginRefused(locked=True)
    try:
        _hasher.verify(account.password_hash, password)
        ok = account.active
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        account.failed_logins = (account.failed_logins or 0) + 1
        if account.failed_logins >= MAX_FAILED_LOGINS:
            account.locked_until = now + LOCKOUT
            account.failed_logins = 0
        record_action(session, actor=account.username, action="login_failed", now=now)
        raise LoginRefused(locked=account.locked_until is not None and account.locked_until > now)
    account.failed_logins = 0
    account.locked_until = None
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = _hasher.hash(password)
    record_action(session, actor=account.username, action="login", now=now)
    return account


def mark_seen(session: Session, username: str, now: datetime | None = None) -> None:
    account = get_staff(session, username)
    if account is not None:
        account.last_seen_at = _utc(now)


def staff_online(session: Session, unit_id: str, now: datetime | None = None) -> int:
    """How many active agents or supervisors of the unit (or admins) were seen in the last
    minute."""
    since = _utc(now) - ONLINE_WINDOW
    rows = session.execute(
        select(StaffAccount.unit_id, StaffAccount.role).where(
            StaffAccount.active.is_(True),
            StaffAccount.last_seen_at.is_not(None),
            StaffAccount.last_seen_at >= since,
        )
    ).all()
    return sum(
        1
        for unit, role in rows
        if role == "admin" or (role in ("agent", "supervisor") and unit == unit_id)
    )
