"""The corpus through the real stack: Rasa's pipeline (our tokenizer, featurizers, language
detector, entity extractors), its policies and the action server take every hostile text a
resident could send, answer each in words, and stay healthy; none of it files a report."""

from __future__ import annotations

import time

import pytest
import requests
from sqlalchemy import create_engine, func, select

from bot.text import NotText, resident_text
from bot.tickets.models import Ticket
from tests.badinput.conftest import corpus_strings

pytestmark = pytest.mark.integration
PER_KIND = 8


def sample() -> list[dict[str, str]]:
    """Up to PER_KIND texts of each kind that the API accepts (it refuses the others with
    a reason: the API suite checks that)."""
    taken: dict[str, int] = {}
    chosen = []
    for case in corpus_strings():
        try:
            text = resident_text(case["text"])
        except NotText:
            continue
        if not text.strip() or len(text) > 2000 or taken.get(case["kind"], 0) >= PER_KIND:
            continue
        taken[case["kind"]] = taken.get(case["kind"], 0) + 1
        chosen.append(case)
    return chosen


def answer(stack, sender: str, text: str) -> list[dict]:
    """The assistant's answer; on a busy machine the gateway first says it is busy (503) and
    the answer follows as a notification, as a resident would see it."""
    response = requests.post(
        f"{stack.url}/api/chat",
        json={"sender": sender, "text": text},
        headers={"Authorization": f"Bearer {stack.token}"},
        timeout=60,
    )
    assert response.status_code in (200, 503), response.text
    if response.status_code == 200:
        return response.json()["messages"]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        late = stack.notifications(sender)
        if late:
            return late
        time.sleep(0.5)
    raise AssertionError(f"no answer followed the busy reply for {text[:40]!r}")


def test_hostile_texts_get_answers_in_words_and_the_stack_stays_healthy(stack) -> None:
    engine = create_engine(f"sqlite:///{stack.var_dir / 'tiepdan.db'}")
    with engine.connect() as connection:
        tickets_before = connection.scalar(select(func.count()).select_from(Ticket))
    cases = sample()
    assert len(cases) > 80
    for number, case in enumerate(cases):
        # A fresh resident each time: one garbled message, not one long odd conversation.
        replies = answer(stack, f"badinput-{number}", case["text"])
        assert replies, case
        assert all(reply["text"].strip() for reply in replies), case
        # Never an echo of markup as an instruction, never a raw template.
        assert not any("{{" in reply["text"] or "utter_" in reply["text"] for reply in replies)
    assert requests.get(f"{stack.url}/healthz", timeout=10).status_code == 200
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Ticket)) == tickets_before
    engine.dispose()
