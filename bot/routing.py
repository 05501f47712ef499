"""Who answers a resident's message: the assistant (Rasa) unless something else holds the
conversation — a satisfaction survey waiting for its answer, or a member of staff who has
taken over (handoff). Every channel's message passes through `intercept` before Rasa.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot import surveys
from bot.replies import Reply
from bot.surveys import survey_interceptor


class Inbound:
    """A stored resident message, as the interceptors see it. `language` may be given as a
    function: it is then looked up only if an interceptor answers (most messages go to
    Rasa, and the look-up is a query on the message's path)."""

    __slots__ = ("message_id", "channel", "sender_id", "text", "_language")

    def __init__(
        self,
        message_id: int,
        channel: str,
        sender_id: str,
        text: str,
        language: str | Callable[[], str],
    ) -> None:
        self.message_id = message_id
        self.channel = channel
        self.sender_id = sender_id
        self.text = text
        self._language = language

    @property
    def language(self) -> str:
        if callable(self._language):
            self._language = self._language()
        return self._language


# Each takes the message inside the caller's transaction and returns the replies to send
# (possibly none, e.g. a message forwarded to staff) or None to let the next one — and at
# the end Rasa — answer. Order matters: staff first, then surveys.
Interceptor = Callable[[Session, Inbound], "list[Reply] | None"]
INTERCEPTORS: list[Interceptor] = []


# eq=False: compared and hashed by identity (the cache of one-query checks is keyed by
# declarations; an SQL expression's `==` builds SQL instead of comparing).
@dataclass(frozen=True, eq=False)
class Pending:
    """When an interceptor may answer, so that most messages (which none answers) are
    routed by one query instead of one per interceptor: `condition` is an SQL truth value
    on the sender's state (bind parameters "sender" and those `params()` gives), and
    `by_text` says when the text alone calls for the interceptor. When neither holds, the
    interceptor must return None for the message."""

    condition: ColumnElement[bool]
    params: Callable[[], dict[str, Any]]
    by_text: Callable[[str], bool] = lambda _text: False


# An interceptor without a declaration is always asked (no one-query routing then).
PENDING: dict[Interceptor, Pending] = {}


def register(interceptor: Interceptor, pending: Pending | None, first: bool = False) -> None:
    if first:
        INTERCEPTORS.insert(0, interceptor)
    else:
        INTERCEPTORS.append(interceptor)
    if pending is not None:
        PENDING[interceptor] = pending


def declared() -> list[Pending] | None:
    """Every interceptor's declaration, in order; None when one has none."""
    found = [PENDING.get(interceptor) for interceptor in INTERCEPTORS]
    return None if any(p is None for p in found) else found  # type: ignore[return-value]


register(
    survey_interceptor,
    Pending(surveys.PENDING, surveys.pending_params, surveys.is_survey_payload),
)


def intercept(session: Session, message: Inbound) -> list[Reply] | None:
    for interceptor in INTERCEPTORS:
        replies = interceptor(session, message)
        if replies is not None:
            return replies
    return None


# Staff first: a conversation held by a person never reaches a survey or Rasa.
from bot import handoff  # noqa: E402  (it imports Inbound from here)

register(handoff.intercept_for_handoff, Pending(handoff.PENDING, dict), first=True)
