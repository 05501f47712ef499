"""Read and check the catalog files (catalog/*.yml) and build a `Catalog`.

Operators edit these files by hand, so every problem is reported as
`<file>:<line>: <entry>: <what is wrong> — <how to fix it>`, and `check_catalog` reports all
of them at once (for `tiepdan catalog check` in CI) instead of stopping at the first.
"""

from __future__ import annotations

import difflib
import functools
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, TextIO

from ruamel.yaml import YAML
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from bot.calendar import VIETNAM
from bot.catalog.model import (
    CATEGORY_IDS,
    CHANNELS,
    LANGS,
    WEEKDAYS,
    Bilingual,
    BilingualList,
    Catalog,
    Category,
    Fee,
    Holiday,
    Interval,
    MakeupDay,
    Service,
    Submission,
    Unit,
)

DEFAULT_DIRECTORY = Path(__file__).resolve().parents[2] / "catalog"

UNITS_FILE = "units.yml"
SERVICES_FILE = "services.yml"
CATEGORIES_FILE = "categories.yml"
HOLIDAYS_FILE = "holidays.yml"

_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_INTERVAL = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_PHONE_CHARS = re.compile(r"^[0-9 .()+-]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URL = re.compile(r"^https?://\S+$")


class CatalogError(Exception):
    """The catalog files are invalid. `problems` lists every problem found, one per line."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def load_catalog(directory: Path | str | None = None) -> Catalog:
    """Load and validate the catalog in `directory` (default: the project's catalog/)."""
    catalog, problems = _load(Path(directory) if directory is not None else DEFAULT_DIRECTORY)
    if problems or catalog is None:
        raise CatalogError(problems)
    return catalog


def check_catalog(directory: Path | str | None = None) -> list[str]:
    """Every problem in the catalog files, as `file:line: message` strings ([] when valid)."""
    _, problems = _load(Path(directory) if directory is not None else DEFAULT_DIRECTORY)
    return problems


def main_check(directory: Path | str | None = None, out: TextIO | None = None) -> int:
    """`tiepdan catalog check`: print every problem; exit code 0 when the catalog is valid."""
    out = out or sys.stdout
    directory = Path(directory) if directory is not None else DEFAULT_DIRECTORY
    catalog, problems = _load(directory)
    if problems or catalog is None:
        for problem in problems:
            print(problem, file=out)
        count = len(problems)
        print(f"\n{count} problem{'s' if count != 1 else ''} in {_display(directory)}", file=out)
        return 1
    print(
        f"catalog OK: {len(catalog.units)} units, {len(catalog.services)} services, "
        f"{len(catalog.categories)} categories, {len(catalog.holidays)} holidays, "
        f"{len(catalog.makeup_days)} make-up working days ({_display(directory)})",
        file=out,
    )
    return 0


# -- reading YAML with line numbers ------------------------------------------------------


class _Constructor(RoundTripConstructor):
    """Round-trip constructor that leaves dates as text, so a bad date ("2025-02-30")
    becomes a reported problem with a line number instead of a bare ValueError."""


_Constructor.add_constructor(
    "tag:yaml.org,2002:timestamp", lambda self, node: str(self.construct_scalar(node))
)


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


@dataclass
class _Report:
    problems: list[str] = field(default_factory=list)

    def add(self, file: str, line: int | None, context: str, message: str) -> None:
        location = f"{file}:{line + 1}" if line is not None else file
        self.problems.append(
            f"{location}: {context}: {message}" if context else f"{location}: {message}"
        )


@dataclass(frozen=True)
class _At:
    """Where a value sits: file, 0-based line, and the entry it belongs to."""

    report: _Report
    file: str
    line: int | None
    context: str

    def problem(self, message: str) -> None:
        self.report.add(self.file, self.line, self.context, message)

    def at(self, line: int | None) -> _At:
        return _At(self.report, self.file, line if line is not None else self.line, self.context)

    def key(self, mapping: Any, key: str) -> _At:
        return self.at(_key_line(mapping, key))

    def item(self, sequence: Any, index: int) -> _At:
        return self.at(_item_line(sequence, index))


def _key_line(mapping: Any, key: str) -> int | None:
    try:
        return mapping.lc.key(key)[0]
    except (AttributeError, KeyError, TypeError):
        return getattr(getattr(mapping, "lc", None), "line", None)


def _item_line(sequence: Any, index: int) -> int | None:
    try:
        return sequence.lc.item(index)[0]
    except (AttributeError, KeyError, TypeError, IndexError):
        return getattr(getattr(sequence, "lc", None), "line", None)


def _read_yaml(path: Path, report: _Report) -> Any | None:
    file = _display(path)
    if not path.is_file():
        report.add(
            file,
            None,
            "",
            f"file not found — the catalog directory needs {UNITS_FILE}, {SERVICES_FILE}, "
            f"{CATEGORIES_FILE} and {HOLIDAYS_FILE}",
        )
        return None
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    try:
        data = yaml.load(path.read_text(encoding="utf-8"))
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        what = " ".join(str(part) for part in (error.context, error.problem) if part)
        hint = (
            "each key may appear only once in an entry"
            if "duplicate key" in what
            else "check the indentation, and quote text that contains ': ' or starts with "
            "'*', '&', '!', '[' or '{'"
        )
        report.add(file, mark.line if mark else None, "", f"YAML syntax error: {what} — {hint}")
        return None
    except (YAMLError, UnicodeDecodeError) as error:
        report.add(file, None, "", f"cannot read the file: {error} — save it as UTF-8 YAML")
        return None
    if data is None:
        report.add(file, 0, "", "the file is empty")
        return None
    return data


# -- field readers: each reports its own problems and returns None when unusable --------

_MISSING = object()


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" — did you mean '{close[0]}'?" if close else ""


def _check_keys(
    mapping: Any, at: _At, required: Iterable[str], optional: Iterable[str], what: str = ""
) -> None:
    required, optional = tuple(required), tuple(optional)
    allowed = required + optional
    prefix = f"{what}: " if what else ""
    for key in mapping:
        if key not in allowed:
            at.key(mapping, key).problem(
                f"{prefix}unknown key '{key}'{_suggest(str(key), allowed)} "
                f"(allowed: {', '.join(allowed)})"
            )
    for key in required:
        if key not in mapping:
            at.problem(f"{prefix}missing required field '{key}'")


def _is_mapping(value: Any) -> bool:
    return isinstance(value, dict)


def _expect_mapping(value: Any, at: _At, what: str, example: str) -> bool:
    if _is_mapping(value):
        return True
    at.problem(f"{what} must be a mapping, got {_describe(value)} — write it as {example}")
    return False


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text '{value}'"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _text(mapping: Any, key: str, at: _At, required: bool = True) -> str | None:
    value = mapping.get(key, _MISSING) if _is_mapping(mapping) else _MISSING
    if value is _MISSING or value is None:
        if required and value is None:
            at.key(mapping, key).problem(f"{key}: is empty — write a text")
        return None
    if not isinstance(value, str) or not value.strip():
        at.key(mapping, key).problem(f"{key}: must be a non-empty text, got {_describe(value)}")
        return None
    return value.strip()


def _bilingual(
    mapping: Any, key: str, at: _At, required: bool = True, allow_plain: bool = False
) -> Bilingual | None:
    value = mapping.get(key, _MISSING)
    here = at.key(mapping, key)
    if value is _MISSING:
        return None  # a missing required key is reported by _check_keys
    if allow_plain and isinstance(value, str) and value.strip():
        return Bilingual(value.strip(), value.strip())
    if not _expect_mapping(value, here, key, f"{key}: {{vi: '…', en: '…'}}"):
        return None
    for lang_key in value:
        if lang_key not in LANGS:
            here.key(value, lang_key).problem(
                f"{key}: unknown language '{lang_key}'{_suggest(str(lang_key), LANGS)} "
                "(use 'vi' and 'en')"
            )
    texts = {}
    for lang in LANGS:
        text = value.get(lang)
        if text is None:
            here.problem(
                f"{key}: missing '{lang}' text — every user-facing text needs both 'vi' and 'en'"
            )
        elif not isinstance(text, str) or not text.strip():
            here.key(value, lang).problem(
                f"{key}.{lang}: must be a non-empty text, got {_describe(text)}"
            )
        else:
            texts[lang] = " ".join(text.split())
    if len(texts) != len(LANGS):
        return None
    return Bilingual(texts["vi"], texts["en"])


def _bilingual_list(
    mapping: Any, key: str, at: _At, same_length: bool = False
) -> BilingualList | None:
    value = mapping.get(key, _MISSING)
    here = at.key(mapping, key)
    if value is _MISSING:
        return None
    if not _expect_mapping(value, here, key, f"{key}: {{vi: ['…'], en: ['…']}}"):
        return None
    for lang_key in value:
        if lang_key not in LANGS:
            here.key(value, lang_key).problem(
                f"{key}: unknown language '{lang_key}'{_suggest(str(lang_key), LANGS)} "
                "(use 'vi' and 'en')"
            )
    lists: dict[str, tuple[str, ...]] = {}
    for lang in LANGS:
        items = value.get(lang)
        if items is None:
            here.problem(
                f"{key}: missing '{lang}' list — every user-facing text needs both 'vi' and 'en'"
            )
            continue
        if not isinstance(items, list) or not items:
            here.key(value, lang).problem(
                f"{key}.{lang}: must be a non-empty list of texts, got {_describe(items)}"
            )
            continue
        good = True
        for index, item in enumerate(items):
            if not isinstance(item, str) or not item.strip():
                here.item(items, index).problem(
                    f"{key}.{lang}[{index + 1}]: must be a non-empty text, got {_describe(item)}"
                )
                good = False
        if good:
            lists[lang] = tuple(" ".join(item.split()) for item in items)
    if len(lists) != len(LANGS):
        return None
    if same_length and len(lists["vi"]) != len(lists["en"]):
        here.problem(
            f"{key}: 'vi' lists {len(lists['vi'])} items but 'en' lists {len(lists['en'])} — "
            "translate the lists item by item"
        )
        return None
    return BilingualList(lists["vi"], lists["en"])


def _bool(mapping: Any, key: str, at: _At, default: bool = False) -> bool:
    value = mapping.get(key, _MISSING)
    if value is _MISSING:
        return default
    if not isinstance(value, bool):
        at.key(mapping, key).problem(f"{key}: must be true or false, got {_describe(value)}")
        return default
    return value


def _int(mapping: Any, key: str, at: _At, minimum: int = 0) -> int | None:
    value = mapping.get(key, _MISSING)
    if value is _MISSING:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        at.key(mapping, key).problem(
            f"{key}: must be a whole number, got {_describe(value)} — write digits only, e.g. 50000"
        )
        return None
    if value < minimum:
        at.key(mapping, key).problem(f"{key}: must be {minimum} or more, got {value}")
        return None
    return value


def _date(value: Any, at: _At, what: str) -> date | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    at.problem(
        f"{what}: '{value}' is not a valid date — write YYYY-MM-DD with a real day, e.g. 2026-02-17"
    )
    return None


def _url(mapping: Any, key: str, at: _At) -> str | None:
    value = _text(mapping, key, at, required=False)
    if value is not None and not _URL.match(value):
        at.key(mapping, key).problem(f"{key}: '{value}' is not a web address — start with https://")
        return None
    return value


def _phone(mapping: Any, key: str, at: _At) -> str | None:
    value = mapping.get(key, _MISSING)
    if value is _MISSING or value is None:
        return None
    here = at.key(mapping, key)
    if isinstance(value, int) and not isinstance(value, bool):
        here.problem(
            f"{key}: {value} was read as a number, which drops the leading 0 — quote it, "
            f'e.g. {key}: "0236 3 555 101"'
        )
        return None
    if not isinstance(value, str) or not _PHONE_CHARS.match(value):
        here.problem(f"{key}: '{value}' is not a phone number — use digits and spaces only")
        return None
    digits = re.sub(r"\D", "", value)
    if not 3 <= len(digits) <= 12:
        here.problem(f"{key}: '{value}' has {len(digits)} digits — expected 3 to 12")
        return None
    return digits


def _id(entry: Any, at: _At, kind: str) -> str | None:
    value = entry.get("id")
    if value is None:
        return None
    if not isinstance(value, str) or not _ID.match(value):
        at.key(entry, "id").problem(
            f"{kind} id {value!r} must be lower_snake_case (letters, digits, '_'), "
            "e.g. birth_registration"
        )
        return None
    return value


def _top_level(data: Any, file: str, report: _Report, keys: tuple[str, ...]) -> bool:
    """Check that a file is a mapping of the expected top-level lists."""
    at = _At(report, file, 0, "")
    if not _is_mapping(data):
        listed = ", ".join(f"'{key}:'" for key in keys)
        at.problem(f"the file must be a mapping with the top-level list(s) {listed}")
        return False
    _check_keys(data, at, keys[:1], keys[1:])
    return True


def _entries(data: Any, key: str, file: str, report: _Report) -> list:
    """The entries of a top-level list, each checked to be a mapping."""
    at = _At(report, file, 0, "")
    items = data.get(key)
    if items is None:
        return []
    if not isinstance(items, list):
        at.key(data, key).problem(f"'{key}' must be a list of entries (each starting with '- ')")
        return []
    good = []
    for index, item in enumerate(items):
        if not _is_mapping(item):
            at.item(items, index).problem(
                f"{key} entry {index + 1} must be a mapping of fields, got {_describe(item)}"
            )
        else:
            good.append(item)
    return good


def _unique_ids(entries: list, file: str, report: _Report, kind: str) -> list[tuple[str, Any, _At]]:
    """(id, entry, location) for entries with a valid, first-seen id."""
    seen: dict[str, int | None] = {}
    out = []
    for entry in entries:
        line = _key_line(entry, "id")
        at = _At(report, file, line, f"{kind} {entry.get('id')!r}")
        if "id" not in entry:
            _At(report, file, getattr(entry.lc, "line", None), kind).problem(
                "missing required field 'id'"
            )
            continue
        entry_id = _id(entry, at, kind)
        if entry_id is None:
            continue
        if entry_id in seen:
            first = seen[entry_id]
            at.problem(
                f"{kind} id '{entry_id}' is already used at line "
                f"{first + 1 if first is not None else '?'} — ids must be unique; rename one"
            )
            continue
        seen[entry_id] = line
        out.append((entry_id, entry, at))
    return out


# -- units -------------------------------------------------------------------------------

_UNIT_REQUIRED = ("id", "name", "handles", "phone", "email", "address", "hours", "supervisor")
_UNIT_OPTIONAL = (
    "short_name",
    "aliases",
    "hotline",
    "hotline_24h",
    "saturday_morning_receipt",
    "map_url",
)


@dataclass
class _UnitDraft:
    unit: Unit | None
    at: _At
    entry: Any


def _parse_hours(entry: Any, at: _At) -> tuple[tuple[Interval, ...], ...] | None:
    hours = entry.get("hours", _MISSING)
    if hours is _MISSING:
        return None
    here = at.key(entry, "hours")
    example = "hours: {mon: ['07:30-11:30', '13:30-17:00'], …, sun: []}"
    if not _expect_mapping(hours, here, "hours", example):
        return None
    _check_keys(hours, here, WEEKDAYS, (), "hours")
    days: list[tuple[Interval, ...]] = []
    ok = True
    for day in WEEKDAYS:
        value = hours.get(day)
        day_at = here.key(hours, day)
        if day not in hours:
            ok = False
            continue
        if value is None:
            value = []
        if not isinstance(value, list):
            day_at.problem(
                f"hours.{day}: must be a list of 'HH:MM-HH:MM' intervals ([] when closed), "
                f"got {_describe(value)}"
            )
            ok = False
            continue
        intervals: list[Interval] = []
        for index, text in enumerate(value):
            item_at = day_at.item(value, index)
            interval = _parse_interval(text)
            if interval is None:
                item_at.problem(
                    f"hours.{day}: {text!r} is not a valid interval — write 'HH:MM-HH:MM' "
                    "(24-hour clock, in quotes) with the start before the end, "
                    "e.g. '07:30-11:30'"
                )
                ok = False
                continue
            if intervals and interval.start < intervals[-1].end:
                item_at.problem(
                    f"hours.{day}: {text!r} starts before the previous interval ends "
                    f"({intervals[-1].end:%H:%M}) — list intervals in order, without overlaps"
                )
                ok = False
                continue
            intervals.append(interval)
        days.append(tuple(intervals))
    return tuple(days) if ok else None


def _parse_interval(text: Any) -> Interval | None:
    if not isinstance(text, str):
        return None
    found = _INTERVAL.match(text)
    if not found:
        return None
    h1, m1, h2, m2 = (int(g) for g in found.groups())
    if h2 == 24 and m2 == 0:
        h2, m2 = 23, 59
    if not (0 <= h1 <= 23 and 0 <= h2 <= 23 and 0 <= m1 <= 59 and 0 <= m2 <= 59):
        return None
    start, end = time(h1, m1), time(h2, m2)
    if start >= end:
        return None
    return Interval(start, end)


def _string_list(mapping: Any, key: str, at: _At, what: str) -> tuple[str, ...]:
    value = mapping.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        at.key(mapping, key).problem(f"{what}: must be a list of ids, got {_describe(value)}")
        return ()
    out = []
    for index, item in enumerate(value):
        if not isinstance(item, str):
            at.item(value, index).problem(
                f"{what}[{index + 1}]: must be an id, got {_describe(item)}"
            )
        else:
            out.append(item)
    return tuple(out)


def _parse_unit(unit_id: str, entry: Any, at: _At) -> Unit | None:
    _check_keys(entry, at, _UNIT_REQUIRED, _UNIT_OPTIONAL)
    before = len(at.report.problems)
    name = _bilingual(entry, "name", at)
    short_name = _bilingual(entry, "short_name", at, required=False)
    aliases = _bilingual_list(entry, "aliases", at) if "aliases" in entry else BilingualList()
    handles = entry.get("handles", _MISSING)
    categories: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    if handles is not _MISSING:
        handles_at = at.key(entry, "handles")
        if handles is None:
            handles = {}
        if _expect_mapping(
            handles, handles_at, "handles", "handles: {categories: [], services: []}"
        ):
            _check_keys(handles, handles_at, (), ("categories", "services"), "handles")
            categories = _string_list(handles, "categories", handles_at, "handles.categories")
            services = _string_list(handles, "services", handles_at, "handles.services")
    phone = _phone(entry, "phone", at)
    hotline = _phone(entry, "hotline", at)
    hotline_24h = _bool(entry, "hotline_24h", at)
    if hotline_24h and "hotline" not in entry:
        at.key(entry, "hotline_24h").problem(
            "hotline_24h is true but there is no 'hotline' — add the 24/7 number"
        )
    email = _text(entry, "email", at)
    if email is not None and not _EMAIL.match(email):
        at.key(entry, "email").problem(f"email: '{email}' is not an e-mail address")
    address = _bilingual(entry, "address", at, allow_plain=True)
    hours = _parse_hours(entry, at)
    receipt = _bool(entry, "saturday_morning_receipt", at)
    if receipt and hours is not None and not hours[5]:
        at.key(entry, "saturday_morning_receipt").problem(
            "saturday_morning_receipt is true but hours.sat is empty — add the receipt "
            "session, e.g. sat: ['07:30-11:30']"
        )
    map_url = _url(entry, "map_url", at)
    supervisor = _text(entry, "supervisor", at)
    if len(at.report.problems) > before or None in (name, phone, email, address, hours, supervisor):
        return None
    return Unit(
        id=unit_id,
        name=name,
        short_name=short_name,
        aliases=aliases,
        categories=categories,
        services=services,
        phone=phone,
        hotline=hotline,
        hotline_24h=hotline_24h,
        email=email,
        address=address,
        hours=hours,
        saturday_morning_receipt=receipt,
        map_url=map_url,
        supervisor=supervisor,
    )


# -- services ----------------------------------------------------------------------------

_SERVICE_REQUIRED = (
    "id",
    "name",
    "aliases",
    "description",
    "eligibility",
    "documents",
    "fee",
    "processing_days",
    "submission",
    "unit",
    "legal_basis",
    "last_reviewed",
)
_SERVICE_OPTIONAL = ("processing_note",)


def _parse_fee(entry: Any, at: _At) -> Fee | None:
    fee = entry.get("fee", _MISSING)
    if fee is _MISSING:
        return None
    here = at.key(entry, "fee")
    if not _expect_mapping(fee, here, "fee", "fee: {amount: 0, note: {vi: '…', en: '…'}}"):
        return None
    _check_keys(fee, here, ("amount",), ("note", "legal_basis"), "fee")
    before = len(here.report.problems)
    amount: int | None = None
    if "amount" in fee and fee["amount"] is not None:
        amount = _int(fee, "amount", here)
    note = _bilingual(fee, "note", here, required=False)
    if "amount" in fee and fee["amount"] is None and "note" not in fee:
        here.key(fee, "amount").problem(
            "fee.amount is empty (the fee depends on the case) but there is no fee.note — "
            "explain how the fee is worked out in note: {vi: '…', en: '…'}"
        )
    legal_basis = _text(fee, "legal_basis", here, required=False)
    if len(here.report.problems) > before:
        return None
    return Fee(amount=amount, note=note, legal_basis=legal_basis)


def _parse_submission(entry: Any, at: _At) -> Submission | None:
    value = entry.get("submission", _MISSING)
    if value is _MISSING:
        return None
    here = at.key(entry, "submission")
    example = "submission: {channels: [in_person, online], portal_url: 'https://…', where: {vi: '…', en: '…'}}"
    if not _expect_mapping(value, here, "submission", example):
        return None
    _check_keys(value, here, ("channels", "where"), ("portal_url",), "submission")
    before = len(here.report.problems)
    channels = value.get("channels")
    if "channels" in value and (not isinstance(channels, list) or not channels):
        here.key(value, "channels").problem(
            f"submission.channels: must be a non-empty list of {', '.join(CHANNELS)}"
        )
        channels = []
    channels = list(channels or [])
    for index, channel in enumerate(channels):
        if channel not in CHANNELS:
            here.item(value["channels"], index).problem(
                f"submission.channels: unknown channel {channel!r}"
                f"{_suggest(str(channel), CHANNELS)} (allowed: {', '.join(CHANNELS)})"
            )
    if len(set(channels)) != len(channels):
        here.key(value, "channels").problem("submission.channels: a channel is listed twice")
    portal_url = _url(value, "portal_url", here)
    if "online" in channels and "portal_url" not in value:
        here.key(value, "channels").problem(
            "submission: 'online' is listed but there is no portal_url — add the address "
            "residents apply at"
        )
    where = _bilingual(value, "where", here)
    if len(here.report.problems) > before or where is None:
        return None
    return Submission(channels=tuple(channels), portal_url=portal_url, where=where)


def _parse_service(service_id: str, entry: Any, at: _At) -> tuple[Service | None, str | None]:
    _check_keys(entry, at, _SERVICE_REQUIRED, _SERVICE_OPTIONAL)
    before = len(at.report.problems)
    name = _bilingual(entry, "name", at)
    aliases = _bilingual_list(entry, "aliases", at)
    description = _bilingual(entry, "description", at)
    eligibility = _bilingual(entry, "eligibility", at)
    documents = _bilingual_list(entry, "documents", at, same_length=True)
    fee = _parse_fee(entry, at)
    processing_days = _int(entry, "processing_days", at)
    processing_note = _bilingual(entry, "processing_note", at, required=False)
    submission = _parse_submission(entry, at)
    unit = _text(entry, "unit", at)
    legal_basis = _text(entry, "legal_basis", at)
    last_reviewed = None
    if "last_reviewed" in entry:
        last_reviewed = _date(
            entry["last_reviewed"], at.key(entry, "last_reviewed"), "last_reviewed"
        )
        if last_reviewed is not None and last_reviewed > datetime.now(VIETNAM).date():
            at.key(entry, "last_reviewed").problem(
                f"last_reviewed: {last_reviewed.isoformat()} is in the future — write the "
                "date the entry was last checked"
            )
            last_reviewed = None
    required = (name, aliases, description, eligibility, documents, fee, processing_days)
    if (
        len(at.report.problems) > before
        or None in required
        or None in (submission, unit, legal_basis, last_reviewed)
    ):
        return None, unit
    return (
        Service(
            id=service_id,
            name=name,
            aliases=aliases,
            description=description,
            eligibility=eligibility,
            documents=documents,
            fee=fee,
            processing_days=processing_days,
            processing_note=processing_note,
            submission=submission,
            unit=unit,
            legal_basis=legal_basis,
            last_reviewed=last_reviewed,
        ),
        unit,
    )


# -- holidays ----------------------------------------------------------------------------


def _parse_days(
    entries: list, file: str, report: _Report, kind: str, build: Callable[[Any, _At, date], Any]
) -> list[tuple[Any, _At]]:
    out = []
    for entry in entries:
        at = _At(report, file, getattr(entry.lc, "line", None), kind)
        optional = ("replaces",) if kind == "make-up working day" else ()
        _check_keys(entry, at, ("date", "name"), optional)
        if "date" not in entry:
            continue
        day = _date(entry["date"], at.key(entry, "date"), "date")
        if day is None:
            continue
        at = _At(report, file, _key_line(entry, "date"), f"{kind} {day.isoformat()}")
        before = len(report.problems)
        item = build(entry, at, day)
        if item is not None and len(report.problems) == before:
            out.append((item, at))
    return out


def _build_holiday(entry: Any, at: _At, day: date) -> Holiday | None:
    name = _bilingual(entry, "name", at)
    return Holiday(day, name) if name else None


def _build_makeup(entry: Any, at: _At, day: date) -> MakeupDay | None:
    name = _bilingual(entry, "name", at)
    replaces = None
    if "replaces" in entry:
        replaces = _date(entry["replaces"], at.key(entry, "replaces"), "replaces")
        if replaces is None:
            return None
    if day.weekday() < 5:
        at.key(entry, "date").problem(
            f"a make-up working day must fall on a weekend, but {day.isoformat()} is a "
            f"{day.strftime('%A')} — check the date"
        )
        return None
    return MakeupDay(day, name, replaces) if name else None


# -- the whole catalog -------------------------------------------------------------------


def _load(directory: Path) -> tuple[Catalog | None, list[str]]:
    report = _Report()
    if not directory.is_dir():
        report.add(_display(directory), None, "", "catalog directory not found")
        return None, report.problems

    names = (UNITS_FILE, SERVICES_FILE, CATEGORIES_FILE, HOLIDAYS_FILE)
    files = {name: _display(directory / name) for name in names}
    data = {name: _read_yaml(directory / name, report) for name in names}
    top_level = {
        UNITS_FILE: ("units",),
        SERVICES_FILE: ("services",),
        CATEGORIES_FILE: ("categories",),
        HOLIDAYS_FILE: ("holidays", "makeup_working_days"),
    }
    for name, keys in top_level.items():
        if data[name] is not None and not _top_level(data[name], files[name], report, keys):
            data[name] = None

    categories = _load_categories(data[CATEGORIES_FILE], files[CATEGORIES_FILE], report)
    units = _load_units(data[UNITS_FILE], files[UNITS_FILE], report)
    services, service_units = _load_services(
        data[SERVICES_FILE], files, report, units if data[UNITS_FILE] is not None else None
    )
    if data[UNITS_FILE] is not None:
        _check_routing(
            units,
            categories,
            service_units if data[SERVICES_FILE] is not None else None,
            files,
            report,
        )
    holidays, makeup_days = _load_holidays(data[HOLIDAYS_FILE], files[HOLIDAYS_FILE], report)

    if report.problems:
        return None, report.problems
    catalog = Catalog.build(
        units=[draft.unit for draft in units.values() if draft.unit is not None],
        services=list(services.values()),
        categories=[category for category, _ in categories.values()],
        holidays=holidays,
        makeup_days=makeup_days,
        directory=directory,
    )
    return catalog, []


def _load_categories(data: Any, file: str, report: _Report) -> dict[str, tuple[Category, _At]]:
    categories: dict[str, tuple[Category, _At]] = {}
    if data is None:
        return categories
    entries = _entries(data, "categories", file, report)
    for category_id, entry, at in _unique_ids(entries, file, report, "category"):
        _check_keys(entry, at, ("id", "name"), ())
        name = _bilingual(entry, "name", at)
        if category_id not in CATEGORY_IDS:
            at.problem(
                f"unknown category '{category_id}'{_suggest(category_id, CATEGORY_IDS)} — "
                f"the NLU and the ticket flow know only: {', '.join(CATEGORY_IDS)}"
            )
        elif name is not None:
            categories[category_id] = (Category(category_id, name), at)
    defined = {entry.get("id") for entry in entries}
    for category_id in CATEGORY_IDS:
        if category_id not in defined:
            report.add(
                file,
                None,
                "",
                f"category '{category_id}' is missing — add it with its name in both languages",
            )
    return categories


def _load_units(data: Any, file: str, report: _Report) -> dict[str, _UnitDraft]:
    units: dict[str, _UnitDraft] = {}
    if data is None:
        return units
    for unit_id, entry, at in _unique_ids(
        _entries(data, "units", file, report), file, report, "unit"
    ):
        units[unit_id] = _UnitDraft(_parse_unit(unit_id, entry, at), at, entry)
    return units


def _load_services(
    data: Any, files: dict[str, str], report: _Report, units: dict[str, _UnitDraft] | None
) -> tuple[dict[str, Service], dict[str, str]]:
    """Valid services by id, and the unit id every service names (valid or not)."""
    services: dict[str, Service] = {}
    service_units: dict[str, str] = {}
    if data is None:
        return services, service_units
    file = files[SERVICES_FILE]
    entries = _entries(data, "services", file, report)
    for service_id, entry, at in _unique_ids(entries, file, report, "service"):
        service, unit_id = _parse_service(service_id, entry, at)
        if unit_id is not None:
            service_units[service_id] = unit_id
            if units is not None and unit_id not in units:
                at.key(entry, "unit").problem(
                    f"unit '{unit_id}' does not exist{_suggest(unit_id, units)} "
                    f"(known units: {', '.join(units)}) — use one of them or add the unit "
                    f"to {files[UNITS_FILE]}"
                )
                service = None
        if service is not None:
            services[service_id] = service
    return services, service_units


def _check_routing(
    units: dict[str, _UnitDraft],
    categories: dict[str, tuple[Category, _At]],
    service_units: dict[str, str] | None,
    files: dict[str, str],
    report: _Report,
) -> None:
    """Every category goes to exactly one unit; handles.services agrees with services.yml."""
    routed: dict[str, str] = {}
    for unit_id, draft in units.items():
        handles = draft.entry.get("handles")
        if not _is_mapping(handles):
            continue
        handles_at = draft.at.key(draft.entry, "handles")
        for index, category_id in enumerate(handles.get("categories") or []):
            if not isinstance(category_id, str):
                continue
            item_at = handles_at.item(handles["categories"], index)
            if category_id not in CATEGORY_IDS:
                item_at.problem(
                    f"handles.categories: unknown category '{category_id}'"
                    f"{_suggest(category_id, CATEGORY_IDS)} (known: {', '.join(CATEGORY_IDS)})"
                )
            elif category_id in routed:
                item_at.problem(
                    f"handles.categories: category '{category_id}' is already handled by "
                    f"unit '{routed[category_id]}' — each category goes to exactly one unit; "
                    "remove it from one of them"
                )
            else:
                routed[category_id] = unit_id
        if service_units is None:
            continue
        for index, service_id in enumerate(handles.get("services") or []):
            if not isinstance(service_id, str):
                continue
            item_at = handles_at.item(handles["services"], index)
            if service_id not in service_units:
                item_at.problem(
                    f"handles.services: service '{service_id}' does not exist"
                    f"{_suggest(service_id, service_units)} in {files[SERVICES_FILE]}"
                )
            elif service_units[service_id] != unit_id and service_units[service_id] in units:
                item_at.problem(
                    f"handles.services: service '{service_id}' has unit "
                    f"'{service_units[service_id]}' in {files[SERVICES_FILE]} — make the two "
                    "files agree"
                )
    for category_id in CATEGORY_IDS:
        if category_id in routed:
            continue
        message = (
            f"category '{category_id}' is not routed to any unit — add it to "
            f"handles.categories of exactly one unit in {files[UNITS_FILE]}"
        )
        if category_id in categories:
            categories[category_id][1].problem(message)
        else:
            report.add(files[UNITS_FILE], None, "", message)


def _load_holidays(data: Any, file: str, report: _Report) -> tuple[list[Holiday], list[MakeupDay]]:
    holidays: list[Holiday] = []
    makeup_days: list[MakeupDay] = []
    if data is None:
        return holidays, makeup_days
    seen: dict[date, int | None] = {}
    entries = _entries(data, "holidays", file, report)
    for holiday, at in _parse_days(entries, file, report, "holiday", _build_holiday):
        if holiday.day in seen:
            at.problem(
                f"{holiday.day.isoformat()} is already listed at line "
                f"{(seen[holiday.day] or 0) + 1} — list each day once"
            )
            continue
        seen[holiday.day] = at.line
        holidays.append(holiday)
    holiday_days = {h.day for h in holidays}
    entries = _entries(data, "makeup_working_days", file, report)
    for makeup, at in _parse_days(entries, file, report, "make-up working day", _build_makeup):
        if makeup.day in seen:
            at.problem(
                f"{makeup.day.isoformat()} is already listed at line "
                f"{(seen[makeup.day] or 0) + 1} — a day is either a holiday or a make-up "
                "working day"
            )
            continue
        if makeup.replaces is not None and makeup.replaces not in holiday_days:
            at.problem(
                f"replaces {makeup.replaces.isoformat()}, which is not listed under holidays "
                "— list the bridged day off as a holiday too"
            )
            continue
        seen[makeup.day] = at.line
        makeup_days.append(makeup)
    return holidays, makeup_days


@functools.lru_cache(maxsize=4)
def cached_catalog(directory: Path) -> Catalog:
    """The catalog of `directory`, loaded (and validated) once per process; long-running
    processes (gateway, action server) read it through this."""
    return load_catalog(directory)
