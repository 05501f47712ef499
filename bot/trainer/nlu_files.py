"""Reading and writing the trainers' NLU files (`<data>/<lang>/<skill>.yml`).

Writes go through ruamel.yaml's round-trip mode, so comments, key order and the literal
`examples: |` blocks stay as the trainers wrote them; the only change to a file is the new
example line (or, for an intent new to that language, a new block at the end of the file).
The data folder is a parameter everywhere (settings `NLU_DATA_DIR`), so tests write into a
copy and never into the real `nlu_data/`.
"""

from __future__ import annotations

import difflib
import io
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.text import clean

LANGUAGES = ("vi", "en")
ANNOTATION = re.compile(r"\[([^\]]*)\](\{[^}]*\}|\([^)]*\))")

# What each intent is for, in the trainers' words (the console's intent list shows them).
DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "greet": ("Chào hỏi, mở đầu cuộc trò chuyện.", "Hello, opening the conversation."),
    "goodbye": ("Chào tạm biệt, kết thúc.", "Goodbye, ending the conversation."),
    "thank": ("Cảm ơn.", "Thanks."),
    "affirm": ("Đồng ý, xác nhận (vâng, đúng rồi, ok).", "Yes, confirming (yes, right, ok)."),
    "deny": ("Từ chối, phủ nhận (không, không phải).", "No, rejecting (no, not that)."),
    "bot_challenge": (
        "Hỏi đây là người hay máy.",
        "Asking whether this is a person or a bot.",
    ),
    "ask_capabilities": ("Hỏi trợ lý làm được những gì.", "Asking what the assistant can do."),
    "ask_service_info": (
        "Hỏi về thủ tục: giấy tờ, lệ phí, thời gian, nộp ở đâu, nộp online.",
        "A procedure: documents, fee, time, where and how to apply.",
    ),
    "ask_contact": (
        "Hỏi cơ quan, đơn vị phụ trách, số điện thoại, địa chỉ, email.",
        "Which office is responsible; its phone, address, e-mail.",
    ),
    "ask_office_hours": (
        "Hỏi giờ làm việc, nghỉ trưa, cuối tuần, lễ tết.",
        "Opening hours, lunch break, weekends, holidays.",
    ),
    "file_complaint": (
        "Phản ánh, khiếu nại một sự việc (mất nước, đèn hỏng, rác, hóa đơn sai…).",
        "Reporting a problem or complaint (no water, broken light, rubbish, wrong bill…).",
    ),
    "check_status": (
        "Tra cứu tình trạng phản ánh đã gửi (mã PA-…).",
        "Checking on a report already sent (code PA-…).",
    ),
    "request_human": ("Muốn gặp nhân viên, người thật.", "Wants to talk to a member of staff."),
    "cancel": ("Thôi, hủy việc đang làm.", "Stop, cancel what is in progress."),
    "out_of_scope": (
        "Ngoài phạm vi dịch vụ công (thời tiết, bóng đá, chuyện riêng…).",
        "Outside public services (weather, football, private matters…).",
    ),
    "inform": (
        "Trả lời câu hỏi của trợ lý: địa chỉ, mô tả, số điện thoại, chọn loại.",
        "Answering the assistant's question: address, description, phone, a choice.",
    ),
}


class DataFileError(ValueError):
    """A data file cannot be read or written; the message names the file and the fix."""


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML()  # round-trip
    yaml.preserve_quotes = True
    yaml.width = 100_000  # never re-wrap long lines
    yaml.indent(mapping=2, sequence=2, offset=0)
    return yaml


def _load(path: Path) -> Any:
    from ruamel.yaml import YAMLError

    try:
        return _yaml().load(path.read_text(encoding="utf-8"))
    except YAMLError as error:
        raise DataFileError(f"{path}: not valid YAML ({error}); fix the file first.") from error


def plain_example(example: str) -> str:
    """An annotated example as a resident wrote it: `[đèn đường]{"entity": …} hỏng` →
    `đèn đường hỏng`."""
    return ANNOTATION.sub(r"\1", example).strip()


def example_lines(block: str) -> list[str]:
    """The examples of an `examples: |` block, without the leading '- '."""
    return [line[2:].strip() for line in str(block).splitlines() if line.startswith("- ")]


@dataclass
class IntentInfo:
    name: str
    description: tuple[str, str]
    examples: dict[str, list[str]] = field(default_factory=dict)  # language -> examples
    files: dict[str, str] = field(default_factory=dict)  # language -> relative path

    def count(self, language: str) -> int:
        return len(self.examples.get(language, []))


def intent_catalogue(data_dir: Path) -> dict[str, IntentInfo]:
    """Every intent in the data folder, with its examples and file per language."""
    intents: dict[str, IntentInfo] = {}
    for language in LANGUAGES:
        for path in sorted((data_dir / language).glob("*.yml")):
            data = _load(path) or {}
            for entry in data.get("nlu") or []:
                name = entry.get("intent") if hasattr(entry, "get") else None
                if not name:
                    continue
                info = intents.setdefault(
                    str(name), IntentInfo(str(name), DESCRIPTIONS.get(str(name), ("", "")))
                )
                info.examples.setdefault(language, []).extend(
                    example_lines(entry.get("examples") or "")
                )
                info.files.setdefault(language, str(path.relative_to(data_dir)))
    return dict(sorted(intents.items()))


def search_intents(catalogue: dict[str, IntentInfo], query: str) -> list[IntentInfo]:
    """Intents whose name, description or examples contain the query (diacritics optional),
    the most relevant first: a match in the name or description, then the intents with the
    most examples containing it (one stray example elsewhere comes after)."""
    from bot.trainer.inbox import normalised

    wanted = normalised(query)
    if not wanted:
        return list(catalogue.values())
    found: list[tuple[bool, int, IntentInfo]] = []
    for info in catalogue.values():
        described = wanted in normalised(
            " | ".join([info.name, info.name.replace("_", " "), *info.description])
        )
        examples = sum(
            wanted in normalised(example)
            for examples in info.examples.values()
            for example in examples
        )
        if described or examples:
            found.append((described, examples, info))
    found.sort(key=lambda item: (not item[0], -item[1]))
    return [info for _, _, info in found]


@dataclass(frozen=True)
class WrittenExample:
    path: Path  # the file changed
    relative: str  # its path relative to the data folder
    line: str  # the exact line added, e.g. "    - nước nhà tôi bị đục"
    line_number: int  # 1-based
    added: bool  # False: the example was already there


def _file_for(data_dir: Path, language: str, intent: str) -> Path:
    catalogue = intent_catalogue(data_dir)
    info = catalogue.get(intent)
    if info is None:
        raise DataFileError(
            f"intent {intent!r} is in no file under {data_dir}; add it to one "
            f"<lang>/<skill>.yml file first (see docs/TRAINING.md)."
        )
    if language in info.files:
        return data_dir / info.files[language]
    # New to this language: the same skill file as in the other language.
    other = next(iter(info.files.values()))
    return data_dir / language / Path(other).name


def add_example(data_dir: Path, language: str, intent: str, text: str) -> WrittenExample:
    """Append `text` to `intent`'s examples in the language's file; returns where it went."""
    from ruamel.yaml.scalarstring import LiteralScalarString

    if language not in LANGUAGES:
        raise DataFileError(f"language must be one of {', '.join(LANGUAGES)}, got {language!r}")
    text = clean(text)
    if not text:
        raise DataFileError("the example is empty")
    path = _file_for(data_dir, language, intent)
    line_text = f"- {text}"
    if path.exists():
        original = path.read_text(encoding="utf-8")
        data = _load(path)
    else:
        original = ""
        data = None
    if data is None:
        from ruamel.yaml.comments import CommentedMap, CommentedSeq

        data = CommentedMap([("version", "3.1"), ("nlu", CommentedSeq())])
    entries = data.get("nlu")
    if entries is None:
        raise DataFileError(f"{path}: has no `nlu:` section; add `nlu:` at the top level.")
    entry = next((e for e in entries if hasattr(e, "get") and e.get("intent") == intent), None)
    if entry is None:
        from ruamel.yaml.comments import CommentedMap

        entry = CommentedMap([("intent", intent), ("examples", LiteralScalarString(""))])
        entries.append(entry)
    block = str(entry.get("examples") or "")
    if text in example_lines(block):
        number = _line_number(original, text)
        return WrittenExample(path, _relative(path, data_dir), f"    {line_text}", number, False)
    if block and not block.endswith("\n"):
        block += "\n"
    entry["examples"] = LiteralScalarString(block + line_text + "\n")
    out = io.StringIO()
    _yaml().dump(data, out)
    updated = out.getvalue()
    _check_only_added(path, original, updated)
    _write_atomically(path, updated)
    return WrittenExample(
        path, _relative(path, data_dir), f"    {line_text}", _line_number(updated, text), True
    )


def _relative(path: Path, data_dir: Path) -> str:
    return str(path.relative_to(data_dir))


def _line_number(content: str, text: str) -> int:
    for number, line in enumerate(content.splitlines(), start=1):
        if line.strip() == f"- {text}":
            return number
    return 0


def _check_only_added(path: Path, before: str, after: str) -> None:
    """A round trip that would change anything but added lines is refused, not written."""
    removed = [
        line
        for line in difflib.ndiff(before.splitlines(), after.splitlines())
        if line.startswith("- ")
    ]
    if removed:
        raise DataFileError(
            f"{path}: writing the example would also change {len(removed)} other line(s) "
            f"(first: {removed[0][2:]!r}); add it by hand and fix the file's formatting."
        )


def _write_atomically(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(content)
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o777)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class PendingLine:
    relative: str  # file relative to the data folder
    line: str  # the exact line written


def export_patch(data_dir: Path, pending: Iterable[PendingLine], label_root: str) -> str:
    """A unified diff (for `git apply`) that adds the pending lines to their files.

    The "before" side is each file as it is now without those lines, so the patch shows the
    trainers' additions alone even if someone edited the file since.
    """
    by_file: dict[str, list[str]] = {}
    for item in pending:
        by_file.setdefault(item.relative, []).append(item.line)
    chunks = []
    for relative, lines in sorted(by_file.items()):
        path = data_dir / relative
        if not path.exists():
            continue
        after = path.read_text(encoding="utf-8").splitlines(keepends=True)
        before = list(after)
        for line in lines:
            for index in range(len(before) - 1, -1, -1):
                if before[index].rstrip("\n") == line:
                    del before[index]
                    break
        label = f"{label_root}/{relative}".lstrip("/")
        chunks.extend(difflib.unified_diff(before, after, f"a/{label}", f"b/{label}"))
    return "".join(chunks)
