"""Every sentence the assistant can say exists in Vietnamese and in English."""

from __future__ import annotations

import yaml

from bot.settings import PROJECT_ROOT


def test_every_response_has_a_vietnamese_default_and_an_english_variation() -> None:
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    missing = []
    for name, variations in domain["responses"].items():
        default = [v for v in variations if not v.get("condition")]
        english = [
            v
            for v in variations
            if {"type": "slot", "name": "language", "value": "en"} in (v.get("condition") or [])
        ]
        if not default or not english:
            missing.append(name)
        for variation in english:
            assert "anh/chị" not in variation["text"], f"{name}: Vietnamese in the English text"
        for variation in default:
            assert variation["text"].startswith("Dạ"), f"{name}: Vietnamese answers open with Dạ"
    assert not missing, f"responses without both languages: {missing}"


def test_buttons_match_between_languages() -> None:
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    for name, variations in domain["responses"].items():
        payloads = {tuple(b["payload"] for b in v.get("buttons", [])) for v in variations}
        assert len(payloads) == 1, f"{name}: the two languages offer different buttons"
