"""The bad-input suite reuses the channel tests' gateway (real app, real SQLite database,
the fake Telegram and Zalo servers) and the console's logged-in client."""

from __future__ import annotations

import json
from pathlib import Path

from tests.unit.channels.conftest import (  # noqa: F401  (fixtures)
    quick_retries,
    rasa,
    start_gateway,
    telegram_api,
    zalo_api,
)

CORPUS = Path(__file__).parent / "corpus"


def corpus_strings() -> list[dict[str, str]]:
    return json.loads((CORPUS / "strings.json").read_text(encoding="ascii"))


def case_id(case: dict[str, str]) -> str:
    return f"{case['kind']}-{case['text'][:12].encode('unicode_escape').decode()}"
