"""Widget session tokens and the origin check."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings
from channels.widget.sessions import new_session, origin_allowed, sign, signing_key, verify


def settings_with(tmp_path: Path, **environ: str):
    return load_settings({"TIEPDAN_HOME": str(tmp_path), **environ})


def test_a_signed_session_verifies_and_any_change_does_not(tmp_path: Path) -> None:
    key = signing_key(settings_with(tmp_path, TIEPDAN_SECRET_KEY="s" * 32))
    session_id = new_session()
    token = sign(key, session_id)
    assert verify(key, token) == session_id
    mac = token.split(".", 1)[1]
    flipped = mac[:-1] + ("0" if mac[-1] != "0" else "1")
    other_id = session_id[:-1] + ("A" if session_id[-1] != "A" else "B")
    for forged in (
        session_id,
        f"{session_id}.{flipped}",
        f"{other_id}.{mac}",
        f"{session_id}.{mac}.x",
        "",
        None,
        42,
        "../../etc.passwd",
        "a" * 200,
    ):
        assert verify(key, forged) is None, forged


def test_tokens_of_another_secret_or_purpose_are_refused(tmp_path: Path) -> None:
    one = signing_key(settings_with(tmp_path, TIEPDAN_SECRET_KEY="a" * 32))
    other = signing_key(settings_with(tmp_path, TIEPDAN_SECRET_KEY="b" * 32))
    session_id = new_session()
    assert verify(other, sign(one, session_id)) is None
    # The widget key is derived from the secret, not the secret itself (which signs cookies).
    assert one != b"a" * 32


def test_session_ids_are_random_and_url_safe() -> None:
    ids = {new_session() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) >= 20 and i.replace("-", "").replace("_", "").isalnum() for i in ids)


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        (None, "gateway.example:8080", True),
        ("http://gateway.example:8080", "gateway.example:8080", True),
        ("https://gateway.example:8080", "GATEWAY.example:8080", True),
        ("https://www.songthu.gov.vn", "gateway.example", True),
        ("https://WWW.songthu.gov.vn/", "gateway.example", True),
        ("http://localhost:8080", "127.0.0.1:8080", True),
        ("https://songthu.gov.vn", "gateway.example", False),
        ("https://www.songthu.gov.vn.evil.example", "gateway.example", False),
        ("null", "gateway.example", False),
        ("gateway.example", "gateway.example", False),
        ("http://gateway.example:9090", "gateway.example:8080", False),
    ],
)
def test_origin_check(tmp_path: Path, origin, host, allowed) -> None:
    settings = settings_with(
        tmp_path,
        WIDGET_ALLOWED_ORIGINS="https://www.songthu.gov.vn, https://cong.songthu.gov.vn",
        PUBLIC_BASE_URL="http://localhost:8080",
    )
    assert origin_allowed(origin, host=host, settings=settings) is allowed


def test_allowed_origins_are_normalised(tmp_path: Path) -> None:
    settings = settings_with(
        tmp_path, WIDGET_ALLOWED_ORIGINS=" HTTPS://A.example/ ,http://b.example:8000,,"
    )
    assert settings.widget_allowed_origins == ("https://a.example", "http://b.example:8000")
    assert settings_with(tmp_path).widget_allowed_origins == ()


@pytest.mark.parametrize("value", ["a.example", "ftp://a.example", "https://a.example/path", "*"])
def test_an_origin_that_is_not_scheme_and_host_is_a_settings_error(
    tmp_path: Path, value: str
) -> None:
    with pytest.raises(SettingsError, match="WIDGET_ALLOWED_ORIGINS"):
        settings_with(tmp_path, WIDGET_ALLOWED_ORIGINS=value)
