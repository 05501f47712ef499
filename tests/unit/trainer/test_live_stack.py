"""With the real stack (`tiepdan run`: trained model, Rasa with our REST channel, actions,
gateway): a misunderstood message reaches the NLU inbox masked, and a model is swapped into
the running Rasa while a resident is in the middle of a report, without an error for them.
To avoid training a second model, the release is a copy of the test model under another name.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from bot.conversation import BUSY
from bot.db import make_engine, make_session_factory, transaction
from bot.trainer import release as releases
from bot.trainer.inbox import InboxItem
from tests.conftest import RASA_TOKEN, Stack

pytestmark = pytest.mark.integration
FIGURES = {"macro_f1": 0.9, "per_intent_f1": {"greet": 0.95}, "sets": {"vi": 0.9}}


def texts(messages: list[dict]) -> str:
    return "\n".join(m["text"] for m in messages)


@pytest.fixture
def stack_sessions(stack: Stack):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{stack.var_dir / 'tiepdan.db'}")
    yield make_session_factory(engine)
    engine.dispose()


def rasa_url(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.env['RASA_PORT']}"


def test_a_misunderstood_message_reaches_the_inbox_masked(stack: Stack, stack_sessions) -> None:
    replies = stack.chat("trainer-inbox", "xqzv blorp wmmf gọi 0905123456")
    assert replies and texts(replies) not in BUSY.values()
    item = None
    deadline = time.monotonic() + 15
    while item is None and time.monotonic() < deadline:
        with transaction(stack_sessions) as session:
            item = session.execute(
                select(InboxItem).where(InboxItem.sender_id == "api:trainer-inbox")
            ).scalar_one_or_none()
        time.sleep(0.2)
    assert item is not None, "the message never reached the inbox"
    assert item.text == "xqzv blorp wmmf gọi [phone]"
    # What the model made of it travels with it, whatever the dialogue then did.
    assert item.intent is not None and 0 < item.confidence <= 1
    assert item.reasons in ("fallback", "low_confidence")


def test_a_model_is_swapped_in_during_a_report_without_an_error_for_the_resident(
    stack: Stack, stack_sessions, trained_model: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "tiepdan-hot-swap-copy.tar.gz"
    shutil.copy(trained_model, copy)
    sender = "trainer-swap"
    assert "ở đâu" in texts(stack.chat(sender, "đèn đường trước nhà tôi bị hỏng"))

    outcome: dict[str, object] = {}

    def swap() -> None:
        try:
            outcome["release"] = releases.release(
                stack_sessions,
                releases.RasaServer(rasa_url(stack), RASA_TOKEN),
                copy,
                actor="test",
                evaluate=lambda _path: FIGURES,
                margin=0.02,
            )
        except Exception as error:  # reported below, in the test's thread
            outcome["error"] = error

    swapping = threading.Thread(target=swap)
    started = time.monotonic()
    swapping.start()
    time.sleep(0.5)  # the model is loading
    asked = [
        (
            sender,
            "trước số 42 Lê Lợi, phường 7",
            answer(stack, sender, "trước số 42 Lê Lợi, phường 7"),
        )
    ]
    slowest, n = 0.0, 0
    while swapping.is_alive():
        other = f"trainer-swap-other-{n}"
        sent = time.monotonic()
        asked.append((other, "xin chào", answer(stack, other, "xin chào")))
        slowest, n = max(slowest, time.monotonic() - sent), n + 1
    swapping.join()
    print(
        f"\nswap took {time.monotonic() - started:.1f} s; {n} messages meanwhile, "
        f"slowest {slowest:.1f} s; told 'busy': {sum(not ok for *_, (ok, _) in asked)}"
    )

    assert "error" not in outcome, outcome.get("error")
    assert outcome["release"].swapped
    for who, _text, (answered_at_once, replies) in asked:
        assert replies, f"{who} got no answer"
        if not answered_at_once:
            # Rasa was slower than the busy delay: the resident was told the message is
            # recorded, and the real answer must follow (the outbox, /api/notifications).
            assert wait_for_notification(stack, who), f"{who}'s answer never followed"
        else:
            assert texts(replies) not in BUSY.values()
    served = requests.get(f"{rasa_url(stack)}/status", params={"token": RASA_TOKEN}, timeout=10)
    assert served.json()["model_file"] == copy.name  # Rasa reports the file's name
    # The report goes on where it was: the phone number, the consent, then the summary
    # with the address given while the model was being swapped.
    assert "đồng ý" in texts(stack.chat(sender, "0905 123 456"))
    summary = texts(stack.chat(sender, "/affirm"))
    assert "Chiếu sáng" in summary and "42 Lê Lợi" in summary


def answer(stack: Stack, sender: str, text: str) -> tuple[bool, list[dict]]:
    """(answered at once, the replies): 200 is an answer, 503 the polite "busy, recorded"."""
    response = requests.post(
        f"{stack.url}/api/chat",
        json={"sender": sender, "text": text},
        headers={"Authorization": f"Bearer {stack.token}"},
        timeout=60,
    )
    assert response.status_code in (200, 503), response.text
    return response.status_code == 200, response.json()["messages"]


def wait_for_notification(stack: Stack, sender: str, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stack.notifications(sender):
            return True
        time.sleep(1)
    return False


def test_rasa_says_when_it_has_finished_with_a_conversation(stack: Stack) -> None:
    """The gateway asks before it reads a tracker back (bot.conversation.ask_rasa)."""
    url = f"{rasa_url(stack)}/webhooks/rest/settled/api:settled-1"
    assert requests.get(url, params={"token": "wrong"}, timeout=10).status_code == 401
    assert requests.get(url, timeout=10).status_code == 401
    bad = requests.get(url, params={"token": RASA_TOKEN, "wait": "soon"}, timeout=10)
    assert bad.status_code == 400 and "wait" in bad.json()["message"]
    # Nothing under way: at once. After a message: once its answer is out.
    started = time.monotonic()
    assert requests.get(url, params={"token": RASA_TOKEN}, timeout=10).status_code == 204
    assert time.monotonic() - started < 2
    answered = requests.post(
        f"{rasa_url(stack)}/webhooks/rest/webhook",
        json={"sender": "api:settled-1", "message": "xin chào"},
        params={"token": RASA_TOKEN},
        timeout=60,
    )
    assert answered.status_code == 200 and answered.json()
    assert requests.get(url, params={"token": RASA_TOKEN}, timeout=10).status_code == 204
