"""Who answers a resident's message: the assistant (Rasa) unless something else holds the
conversation — a satisfaction survey waiting for its answer, or a member of staff who has
taken over (handoff). Every channel's message passes through `intercept` before Rasa.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

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
INTERCEPTORS.append(survey_interceptor)


def intercept(session: Session, message: Inbound) -> list[Reply] | None:
    for interceptor in INTERCEPTORS:
        replies = interceptor(session, message)
        if replies is not None:
            return replies
    return None


# Staff first: a conversation held by a person never reaches a survey or Rasa.
from bot.handoff import intercept_for_handoff  # noqa: E402  (it imports Inbound from here)

INTERCEPTORS.insert(0, intercept_for_handoff)
