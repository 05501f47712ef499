"""Complaints, problem reports, requests and suggestions: the ticket domain.

Import services and results from here; `bot.tickets.messages` has the resident-facing
text and `bot.tickets.validation` the form checks.
"""

from bot.tickets.codes import CODE_ALPHABET, CODE_PATTERN, new_code, normalise_code
from bot.tickets.dates import DEFAULT_DUE_DAYS, due_date, format_date, local_date
from bot.tickets.lifecycle import (
    OPEN_STATUSES,
    STATUSES,
    TRANSITIONS,
    IllegalTransition,
    InvalidTicket,
    ReasonRequired,
    TicketError,
    TicketNotFound,
    can_move,
)
from bot.tickets.models import (
    CATEGORIES,
    CHANNELS,
    KINDS,
    LANGUAGES,
    PRIORITIES,
    Ticket,
    TicketAttachment,
    TicketEvent,
    TicketLookupMiss,
)
from bot.tickets.services import (
    LOOKUP_MISS_LIMIT,
    LOOKUP_MISS_WINDOW,
    NewAttachment,
    add_resident_details,
    assign,
    change_status,
    default_priority,
    escalate_overdue,
    find_overdue,
    find_possible_duplicate,
    get_status_for,
    get_ticket,
    list_open_for,
    location_key,
    open_ticket,
)
from bot.tickets.validation import (
    DescriptionCheck,
    format_phone,
    normalise_phone,
    validate_description,
)
from bot.tickets.views import LookupRefused, StatusView

__all__ = [
    "add_resident_details",
    "CATEGORIES",
    "CHANNELS",
    "CODE_ALPHABET",
    "CODE_PATTERN",
    "DEFAULT_DUE_DAYS",
    "KINDS",
    "LANGUAGES",
    "LOOKUP_MISS_LIMIT",
    "LOOKUP_MISS_WINDOW",
    "OPEN_STATUSES",
    "PRIORITIES",
    "STATUSES",
    "TRANSITIONS",
    "DescriptionCheck",
    "IllegalTransition",
    "InvalidTicket",
    "LookupRefused",
    "NewAttachment",
    "ReasonRequired",
    "StatusView",
    "Ticket",
    "TicketAttachment",
    "TicketError",
    "TicketEvent",
    "TicketLookupMiss",
    "TicketNotFound",
    "assign",
    "can_move",
    "change_status",
    "default_priority",
    "due_date",
    "escalate_overdue",
    "find_overdue",
    "find_possible_duplicate",
    "format_date",
    "format_phone",
    "get_status_for",
    "get_ticket",
    "list_open_for",
    "local_date",
    "location_key",
    "new_code",
    "normalise_code",
    "normalise_phone",
    "open_ticket",
    "validate_description",
]
