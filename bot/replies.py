"""What the assistant says, channel-neutral: text plus optional buttons.

Domain services return these; rasa-sdk actions send them with
`dispatcher.utter_message(**reply.as_message())`; channels render them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True)
class Reply:
    text: str = ""
    buttons: list[Button] = field(default_factory=list)
    image: str | None = None

    def as_dict(self) -> dict:
        """The shape of one message in the gateway's JSON answers."""
        return {
            "text": self.text,
            "buttons": [{"title": b.title, "payload": b.payload} for b in self.buttons],
            "image": self.image,
        }

    def as_message(self) -> dict:
        message: dict = {"text": self.text}
        if self.buttons:
            message["buttons"] = [{"title": b.title, "payload": b.payload} for b in self.buttons]
        return message


def intent_payload(intent: str, **entities: str) -> str:
    """A button payload that Rasa parses as `intent` with `entities`, skipping the NLU."""
    if not entities:
        return f"/{intent}"
    return f"/{intent}{json.dumps(entities, ensure_ascii=False, separators=(',', ':'))}"


def say(lang: str, vi: str, en: str) -> str:
    return en if lang == "en" else vi
