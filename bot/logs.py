"""Logs as one JSON object per line, each with the id of the HTTP request it belongs to,
and with phone numbers, ID numbers (CCCD) and e-mail addresses masked before anything is
written. Message bodies are never logged at INFO or above (they go to DEBUG, if anywhere).

    {"ts": "2026-11-21T05:20:01.123Z", "level": "INFO", "logger": "tiepdan.http",
     "msg": "POST /api/chat 200", "request_id": "5f0c2a9e1b7d4c3a", "status": 200, "ms": 41.2}
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any, TextIO

# The request being served (set by the gateway's middleware; copied into threads and tasks
# started while serving it).
REQUEST_ID: ContextVar[str | None] = ContextVar("tiepdan_request_id", default=None)

# Vietnamese phone numbers: 0 or +84/84, then 9 or 10 digits, with spaces, dots or dashes
# between groups (0912 345 678, 0912.345.678, +84 912 345 678, 028 3829 6052).
# Not inside a sender id (tg:8412345678 is a Telegram chat, not a phone).
_PHONE = re.compile(
    r"(?<![\w.+])(?<!tg:)(?<!zalo:)(?:(?:\+84|84)[\s.-]?|0)[1-9](?:[\s.-]?\d){7,9}(?!\w)"
)
# Citizen identity card (CCCD): 12 digits; the old CMND: 9 digits are left (too many ids).
_CCCD = re.compile(r"(?<!\d)\d{12}(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# The attributes every LogRecord has; anything else was passed with `extra=` and is logged.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def _phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return f"[phone …{digits[-2:]}]"


def mask(text: str) -> str:
    """The text with phone numbers, 12-digit ID numbers and e-mail addresses hidden."""
    text = _EMAIL.sub("[email]", text)
    text = _CCCD.sub("[id]", text)
    return _PHONE.sub(_phone, text)


class MaskingFilter(logging.Filter):
    """Masks the message, its arguments, the traceback and the `extra` fields of a record.

    Put it on a handler (not a logger): handler filters see the records of every logger."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, mask(value))
        return True


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, request_id, extra fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        at = datetime.fromtimestamp(record.created, timezone.utc)
        line: dict[str, Any] = {
            "ts": at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            line["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and key != "request_id" and not key.startswith("_"):
                line[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


def handler(stream: TextIO | None = None) -> logging.Handler:
    """A handler writing masked JSON lines with request ids."""
    out = logging.StreamHandler(stream or sys.stderr)
    out.addFilter(RequestIdFilter())
    out.addFilter(MaskingFilter())
    out.setFormatter(JsonFormatter())
    return out


def configure(level: str | int = "INFO", stream: TextIO | None = None) -> logging.Handler:
    """Make the root logger write masked JSON lines (replacing its handlers)."""
    # Nothing we write needs the caller's file and line, thread or process names: the
    # logging module's documented switches (its "Optimization" section) skip collecting
    # them for every record.
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    new = handler(stream)
    root.addHandler(new)
    root.setLevel(getattr(logging, str(level).upper(), logging.INFO) if isinstance(level, str)
                  else level)  # fmt: skip
    return new


def protect_handlers(logger: logging.Logger | None = None) -> None:
    """Add masking and request ids to handlers someone else installed (Rasa's, Sanic's)."""
    for existing in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, MaskingFilter) for f in existing.filters):
            existing.addFilter(RequestIdFilter())
            existing.addFilter(MaskingFilter())


# Loggers that Rasa, rasa-sdk and Sanic give handlers of their own.
OTHERS = ("rasa", "rasa_sdk", "sanic.root", "sanic.error", "sanic.access", "tensorflow")


def take_over(level: str | int = "INFO", names: tuple[str, ...] = OTHERS) -> None:
    """In the Rasa and action server processes: every record, theirs included, goes out
    through one masked JSON handler on the root logger, as in the gateway."""
    configure(level)
    for name in names:
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.propagate = True
