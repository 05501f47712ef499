"""Who answers a resident's message: the assistant (Rasa) unless something else holds the
conversation — a satisfaction survey waiting for its answer, or a member of staff who has
taken over (handoff). Every channel's message passes through `intercept` before Rasa.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.replies import Reply


@dataclass(frozen=True)
class Inbound:
    """A stored resident message, as the interceptors see it."""

    message_id: int
    channel: str
    sender_id: str
    text: str
    language: str


# Each takes the message inside the caller's transaction and returns the replies to send
# (possibly none, e.g. a message forwarded to staff) or None to let the next one — and at
# the end Rasa — answer. Order matters: staff first, then surveys.
Interceptor = Callable[[Session, Inbound], "list[Reply] | None"]
INTERCEPTORS: list[Interceptor] = []


def intercept(session: Session, message: Inbound) -> list[Reply] | None:
    for interceptor in INTERCEPTORS:
        replies = interceptor(session, message)
        if replies is not None:
            return replies
    return None
