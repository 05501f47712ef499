"""The edit commands the complaint summary tells residents to type ("sửa địa chỉ", "đổi sđt",
"change address"), recognised by their wording rather than by the statistical model.

The summary says: type "sửa địa chỉ" / "change address"… to edit. A command the assistant
itself teaches must work every time, and a model trained on a few dozen such commands
confused them with complaints ("đèn hư không ai sửa"), contact questions ("change address"
→ ask_contact) and even with `affirm` — which at the summary step submits the report.
Measured with `tiepdan nlu eval`: adding the commands as `inform` examples cost about one
point of macro-F1 on the held-out Vietnamese sets, so they are matched here instead.

`bot.nlu.command_classifier.CorrectionCommandClassifier` (after the intent classifiers,
before FallbackClassifier) makes a short message that is such a command `inform` with full
confidence; the complaint form (actions.complaints) reads which answer to redo with
`correction_target`. This module does not import Rasa (the action server uses it).
"""

from __future__ import annotations

import re
import unicodedata

from bot.text import fold, has_diacritics

SLOTS = {
    "complaint_description": r"(?:noi dung|mo ta|van de|description|details|problem)",
    "complaint_location": r"(?:dia chi|vi tri|dia diem|address|location|place)",
    "complaint_phone": r"(?:so dien thoai|sdt|dien thoai|so dt|phone number|phone|number)",
    "complaint_category": r"(?:loai|linh vuc|danh muc|category|type)",
}
# A command starts with its verb, after at most a polite opening ("cho em", "I want to").
_OPENING = (
    r"(?:(?:da|vay|thoi|ok|oh|oops)\s+)?"
    r"(?:(?:cho|xin)\s+(?:em|minh|toi|tui|anh|chi)\s+"
    r"|(?:em|minh|toi|tui|anh|chi)\s+(?:muon|can|xin)\s+"
    r"|(?:i\s+(?:want|need|would like)\s+to|can\s+i|let\s+me|please|pls|plz)\s+)?"
)
_VERB = r"(?:sua|doi|thay doi|chinh|nhap|ghi|change|edit|fix|update)"
_FILLER = r"(?:\s+(?:lai|the|my|cai|phan|giup|gium|thong tin|that))*"
# The same verbs with their diacritics: typed with accents, "đội" (team) is not "đổi".
_ACCENTED_VERBS = ("sửa", "đổi", "chỉnh", "nhập", "ghi", "change", "edit", "fix", "update")
_QUESTION = re.compile(r"\?|\b(?:bao nhieu|o dau|the nao|lam sao|how|where|what|which)\b")
_COMMANDS = {
    slot: re.compile(rf"^{_OPENING}{_VERB}{_FILLER}\s+{target}(?:\s+\S+){{0,3}}$")
    for slot, target in SLOTS.items()
}
# Longer messages are descriptions or questions that happen to contain the words
# ("đường hư lâu rồi không ai sửa, địa chỉ 12 Lê Lợi").
MAX_WORDS = 8


def correction_target(text: str) -> str | None:
    """The form slot a short edit command names ("sửa địa chỉ" → complaint_location)."""
    folded = " ".join(re.sub(r"[^\w?]+", " ", fold(text)).split())
    if not folded or len(folded.split()) > MAX_WORDS or _QUESTION.search(folded):
        return None
    if has_diacritics(text):
        lowered = unicodedata.normalize("NFC", text).lower()
        if not any(verb in lowered for verb in _ACCENTED_VERBS):
            return None
    for slot, command in _COMMANDS.items():
        if command.match(folded):
            return slot
    return None
