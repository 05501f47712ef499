"""What a trainer does with an inbox item: accept it (possibly edited) as an example of an
intent, mark it out of scope, or ignore it. Accepting writes the example into the data
folder's file for that language and intent; every decision is audited."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from bot.console import record_action
from bot.text import clean
from bot.trainer.inbox import (
    ACCEPTED,
    IGNORED,
    OUT_OF_SCOPE,
    PENDING,
    InboxItem,
    get_item,
    normalised,
    utcnow,
)
from bot.trainer.masking import contains_mask
from bot.trainer.nlu_files import (
    LANGUAGES,
    DataFileError,
    add_example,
    intent_catalogue,
    plain_example,
)


class ReviewError(ValueError):
    """A decision that cannot be applied; the message says why, for the trainer."""

    def __init__(self, vi: str, en: str) -> None:
        super().__init__(en)
        self.vi, self.en = vi, en

    def say(self, lang: str) -> str:
        return self.en if lang == "en" else self.vi


@dataclass(frozen=True)
class Decision:
    item_id: int
    status: str
    intent: str | None = None
    file: str | None = None
    line_number: int | None = None
    added: bool = False


def _pending(session: Session, item_id: int) -> InboxItem:
    item = get_item(session, item_id)
    if item is None:
        raise ReviewError("Không tìm thấy mục này.", "No such inbox item.")
    if item.status != PENDING:
        raise ReviewError(
            "Mục này đã được xử lý rồi.", f"This item was already handled ({item.status})."
        )
    return item


def accept(
    session: Session,
    item_id: int,
    *,
    intent: str,
    text: str,
    actor: str,
    data_dir: Path,
    language: str | None = None,
) -> Decision:
    """Write the (edited) text as an example of `intent` and close the item."""
    item = _pending(session, item_id)
    text = clean(text)
    language = language if language in LANGUAGES else item.language
    if not text:
        raise ReviewError("Câu ví dụ đang để trống.", "The example is empty.")
    if contains_mask(text):
        raise ReviewError(
            "Câu còn chỗ đã che thông tin cá nhân ([phone], [cccd], [email], [number]); "
            "anh/chị sửa thành một câu tự nhiên (ví dụ số điện thoại giả) rồi lưu lại.",
            "The text still has masked personal data ([phone], [cccd], [email], [number]); "
            "rewrite it as a natural sentence (e.g. a made-up number) and save again.",
        )
    catalogue = intent_catalogue(data_dir)
    if intent not in catalogue:
        raise ReviewError(
            f"Không có ý định “{intent}”; anh/chị chọn trong danh sách.",
            f"There is no intent {intent!r}; pick one from the list.",
        )
    wanted = normalised(text)
    for other in catalogue.values():
        if other.name == intent:
            continue
        for example in other.examples.get(language, []):
            if normalised(plain_example(example)) == wanted:
                raise ReviewError(
                    f"Câu này đã là ví dụ của “{other.name}”; hai ý định không được có cùng "
                    "một câu. Anh/chị chọn đúng ý định hoặc sửa câu.",
                    f"This sentence is already an example of {other.name!r}; one sentence "
                    "cannot belong to two intents. Pick that intent or change the text.",
                )
    try:
        written = add_example(data_dir, language, intent, text)
    except DataFileError as error:
        raise ReviewError(f"Không ghi được vào tệp dữ liệu: {error}", str(error)) from error
    item.status = OUT_OF_SCOPE if intent == "out_of_scope" else ACCEPTED
    item.resolved_intent, item.resolved_text = intent, text
    item.resolved_by, item.resolved_at = actor, utcnow()
    if written.added:
        item.data_file, item.data_line = written.relative, written.line
    record_action(
        session,
        actor=actor,
        action="nlu_accept" if intent != "out_of_scope" else "nlu_out_of_scope",
        target=f"nlu_inbox:{item.id}",
        detail=f"{intent} ({language}) {written.relative}:{written.line_number}: {text}"[:2000],
    )
    return Decision(
        item.id, item.status, intent, written.relative, written.line_number, written.added
    )


def mark_out_of_scope(
    session: Session, item_id: int, *, actor: str, data_dir: Path, text: str | None = None
) -> Decision:
    """An example of what the assistant should politely decline (the `out_of_scope` intent)."""
    item = _pending(session, item_id)
    return accept(
        session,
        item_id,
        intent="out_of_scope",
        text=text or item.text,
        actor=actor,
        data_dir=data_dir,
    )


def ignore(session: Session, item_id: int, *, actor: str) -> Decision:
    """Nothing to learn from it (noise, personal chatter, a one-off); it stays counted."""
    item = _pending(session, item_id)
    item.status = IGNORED
    item.resolved_by, item.resolved_at = actor, utcnow()
    record_action(session, actor=actor, action="nlu_ignore", target=f"nlu_inbox:{item.id}")
    return Decision(item.id, IGNORED)
