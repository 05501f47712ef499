"""The ticket status lifecycle: the one table of allowed moves, and the errors it raises.

received → assigned → in_progress → resolved → closed; rejected (with a reason) from any
status before resolution; reopened from resolved or closed, and from there back to work.
"""

from __future__ import annotations

RECEIVED = "received"
ASSIGNED = "assigned"
IN_PROGRESS = "in_progress"
RESOLVED = "resolved"
CLOSED = "closed"
REJECTED = "rejected"
REOPENED = "reopened"

STATUSES = (RECEIVED, ASSIGNED, IN_PROGRESS, RESOLVED, CLOSED, REJECTED, REOPENED)

# Still waiting for someone at the unit: counted by "my open tickets", overdue checks
# and the duplicate hint.
OPEN_STATUSES = frozenset({RECEIVED, ASSIGNED, IN_PROGRESS, REOPENED})

TRANSITIONS: dict[str, frozenset[str]] = {
    RECEIVED: frozenset({ASSIGNED, REJECTED}),
    ASSIGNED: frozenset({IN_PROGRESS, REJECTED}),
    IN_PROGRESS: frozenset({RESOLVED, REJECTED}),
    RESOLVED: frozenset({CLOSED, REOPENED}),
    CLOSED: frozenset({REOPENED}),
    REJECTED: frozenset(),
    REOPENED: frozenset({ASSIGNED, IN_PROGRESS, RESOLVED}),
}


class TicketError(Exception):
    """A request the ticket domain refuses; the message says why in plain words."""


class TicketNotFound(TicketError, LookupError):
    def __init__(self, code: str) -> None:
        super().__init__(f"no ticket with code {code!r}")
        self.code = code


class IllegalTransition(TicketError):
    def __init__(self, code: str, from_status: str, to_status: str, why: str = "") -> None:
        message = f"cannot move {code} from {from_status} to {to_status}"
        if why:
            message = f"{message}: {why}"
        elif to_status in STATUSES:
            allowed = ", ".join(sorted(TRANSITIONS.get(from_status, ()))) or "nothing (final)"
            message = f"{message} (allowed from {from_status}: {allowed})"
        else:
            message = f"{message} ({to_status!r} is not a status)"
        super().__init__(message)
        self.code, self.from_status, self.to_status = code, from_status, to_status


class ReasonRequired(TicketError):
    """Rejecting a ticket needs a reason the resident will read (the public note)."""


class InvalidTicket(TicketError, ValueError):
    """A field of a new ticket is not acceptable; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def can_move(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, frozenset())


def check_transition(code: str, from_status: str, to_status: str) -> None:
    if not can_move(from_status, to_status):
        raise IllegalTransition(code, from_status, to_status)
