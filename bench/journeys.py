"""Resident journeys the load generator replays: what residents really send, in Vietnamese
with and without diacritics and in English, one conversation per simulated resident.

Texts starting with "/" are button payloads (the channels send a pressed button's payload
to Rasa as the message). A journey ends where the resident would stop; the handoff journey
ends with the request, since staff hold the conversation after it.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class Journey:
    name: str
    language: str
    steps: tuple[str, ...]
    weight: int = 1


def _survey_press(score: int) -> str:
    # The score button of a survey invitation; its token is per invitation.
    return '/survey{"id":"' + uuid.uuid4().hex[:12] + '","score":' + str(score) + "}"


JOURNEYS: tuple[Journey, ...] = (
    Journey(
        "services_vi",
        "vi",
        (
            "xin chào",
            "làm giấy khai sinh cần giấy tờ gì",
            "còn lệ phí thì sao?",
            "thứ bảy phường có làm việc không",
            "cảm ơn em nhiều",
            "tạm biệt",
        ),
        weight=3,
    ),
    Journey(
        "services_vi_plain",
        "vi",
        (
            "chao ban",
            "dang ky tam tru can giay to gi vay",
            "nop ho so o dau",
            "sdt cong ty cap nuoc la bao nhieu",
            "cam on",
        ),
        weight=3,
    ),
    Journey(
        "services_en",
        "en",
        (
            "hi",
            "who do I call about a broken street light",
            "how much does a certified copy cost",
            "what are the opening hours of the justice office",
            "thanks",
            "bye",
        ),
        weight=2,
    ),
    Journey(
        "complaint_vi",
        "vi",
        (
            "đèn đường trước nhà tôi bị hỏng",
            "trước số 42 Lê Lợi, phường 7",
            "0905 123 456",
            "/affirm",
            "/affirm",
            "phản ánh của tôi tới đâu rồi",
        ),
        weight=2,
    ),
    Journey(
        "complaint_en",
        "en",
        (
            "hello",
            "I want to report a problem",
            '/inform{"category":"waste_collection"}',
            "Garbage has not been collected for a week",
            "12 Tran Phu street, ward 2",
            "0912345678",
            "/affirm",
            "/affirm",
            "check my report status",
        ),
        weight=1,
    ),
    Journey(
        "status_vi_plain",
        "vi",
        ("kiem tra PA-2611-K7M3Q", "phan anh cua toi toi dau roi", "cam on nhe"),
        weight=2,
    ),
    Journey("survey_vi", "vi", ("SURVEY:5", "rất hài lòng, cảm ơn"), weight=1),
    Journey("survey_en", "en", ("SURVEY:2", "the office was closed when I came"), weight=1),
    Journey("handoff_vi", "vi", ("chào em", "cho tôi nói chuyện với nhân viên"), weight=1),
    Journey("handoff_en", "en", ("hello", "can I talk to a real person please"), weight=1),
)


def concrete(step: str) -> str:
    """The text to send for a step (survey presses get a fresh invitation token)."""
    if step.startswith("SURVEY:"):
        return _survey_press(int(step.split(":", 1)[1]))
    return step


class JourneyPicker:
    """Journeys in proportion to their weights, reproducibly from a seed."""

    def __init__(self, seed: int = 7, journeys: tuple[Journey, ...] = JOURNEYS) -> None:
        self.random = random.Random(seed)
        self.journeys = journeys
        self.weights = [j.weight for j in journeys]

    def next(self) -> Journey:
        return self.random.choices(self.journeys, weights=self.weights, k=1)[0]


def messages_per_journey(journeys: tuple[Journey, ...] = JOURNEYS) -> float:
    total = sum(j.weight for j in journeys)
    return sum(j.weight * len(j.steps) for j in journeys) / total
