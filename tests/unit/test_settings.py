import re
from pathlib import Path

import pytest

from bot.settings import SettingsError, ensure_env_file, load_settings


def test_defaults_use_documented_ports_and_sqlite_under_var(tmp_path: Path) -> None:
    settings = load_settings({"TIEPDAN_HOME": str(tmp_path)})
    assert (settings.rasa_port, settings.actions_port, settings.gateway_port) == (5005, 5055, 8080)
    assert settings.database_url == f"sqlite:///{tmp_path / 'var' / 'tiepdan.db'}"
    assert settings.tracker_store_url == f"sqlite:///{tmp_path / 'var' / 'rasa.db'}"
    assert settings.rasa_url == "http://127.0.0.1:5005"


def test_environment_wins_over_env_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("GATEWAY_PORT=9000\nTIEPDAN_API_TOKEN=from-file\n")
    settings = load_settings({"TIEPDAN_HOME": str(tmp_path), "GATEWAY_PORT": "9100"})
    assert settings.gateway_port == 9100
    assert settings.api_token == "from-file"


@pytest.mark.parametrize("value", ["abc", "0", "70000", ""])
def test_bad_port_names_the_variable(tmp_path: Path, value: str) -> None:
    with pytest.raises(SettingsError, match="RASA_PORT must be a port number"):
        load_settings({"TIEPDAN_HOME": str(tmp_path), "RASA_PORT": value})


STRONG = {
    "TIEPDAN_API_TOKEN": "api-Qm7xT2vL9pR4kW8z",
    "RASA_TOKEN": "rasa-Hn3bY6cJ1sD5fG0a",
    "TIEPDAN_SECRET_KEY": "key-Zp8uE2rN6tV4mX9q",
}


def _production(tmp_path: Path, **values: str) -> dict[str, str]:
    return {"TIEPDAN_HOME": str(tmp_path), "TIEPDAN_ENV": "production", **STRONG, **values}


def test_production_starts_with_strong_distinct_secrets(tmp_path: Path) -> None:
    assert load_settings(_production(tmp_path)).env == "production"


@pytest.mark.parametrize("name", sorted(STRONG))
@pytest.mark.parametrize("value", ["", "change-me", "  CHANGE-ME "])
def test_production_refuses_an_empty_or_placeholder_secret_and_says_how_to_make_one(
    tmp_path: Path, name: str, value: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(_production(tmp_path, **{name: value}))
    message = str(refused.value)
    assert message.startswith(f"{name} is empty or a placeholder")
    assert "secrets.token_urlsafe(32)" in message


@pytest.mark.parametrize("value", ["short-Ab3", "x" * 40, "abababababababababab"])
def test_production_refuses_a_weak_secret(tmp_path: Path, value: str) -> None:
    with pytest.raises(SettingsError, match="RASA_TOKEN is too weak"):
        load_settings(_production(tmp_path, RASA_TOKEN=value))


def test_production_refuses_one_value_for_two_secrets(tmp_path: Path) -> None:
    environ = _production(tmp_path, RASA_TOKEN=STRONG["TIEPDAN_API_TOKEN"])
    with pytest.raises(SettingsError, match="RASA_TOKEN has the same value as TIEPDAN_API_TOKEN"):
        load_settings(environ)


def test_production_telegram_webhook_needs_its_own_secret(tmp_path: Path) -> None:
    bot = {"TELEGRAM_BOT_TOKEN": "123456:ABCdefGhIJKlmNoPQRstuVWxyz"}
    with pytest.raises(SettingsError, match="TELEGRAM_WEBHOOK_SECRET is empty"):
        load_settings(_production(tmp_path, **bot))
    # Long polling has no webhook to protect.
    assert load_settings(_production(tmp_path, **bot, TELEGRAM_POLLING="1")).env == "production"
    secret = "tg-Wb7nK3pQ9vR2xT5m"
    assert load_settings(_production(tmp_path, **bot, TELEGRAM_WEBHOOK_SECRET=secret))


def test_production_zalo_on_needs_its_secrets(tmp_path: Path) -> None:
    zalo = {"ZALO_APP_ID": "1234567890", "ZALO_REFRESH_TOKEN": "r-token"}
    with pytest.raises(SettingsError, match="ZALO_OA_SECRET_KEY is empty .* Zalo is on"):
        load_settings(_production(tmp_path, **zalo))
    with pytest.raises(SettingsError, match="ZALO_APP_SECRET is empty"):
        load_settings(_production(tmp_path, **zalo, ZALO_OA_SECRET_KEY="oa-secret-from-zalo"))
    complete = {**zalo, "ZALO_OA_SECRET_KEY": "oa-secret", "ZALO_APP_SECRET": "app-secret"}
    assert load_settings(_production(tmp_path, **complete)).env == "production"


def test_development_starts_without_secrets_and_is_what_make_run_writes(tmp_path: Path) -> None:
    assert load_settings({"TIEPDAN_HOME": str(tmp_path), "TIEPDAN_ENV": "development"})
    example = (Path(__file__).parents[2] / ".env.example").read_text()
    (tmp_path / ".env.example").write_text(example)
    ensure_env_file(tmp_path)
    generated = (tmp_path / ".env").read_text()
    assert "TIEPDAN_ENV=development" in generated.splitlines()
    settings = load_settings({"TIEPDAN_HOME": str(tmp_path)})
    assert settings.is_development and len(settings.secret_key) >= 32
    # The tokens make run generates would also pass the production checks.
    production = load_settings({"TIEPDAN_HOME": str(tmp_path), "TIEPDAN_ENV": "production"})
    assert production.api_token == settings.api_token


def test_first_run_generates_random_tokens_once(tmp_path: Path) -> None:
    (tmp_path / ".env.example").write_text("TIEPDAN_API_TOKEN=change-me\nRASA_PORT=5005\n")
    assert ensure_env_file(tmp_path) == ["TIEPDAN_API_TOKEN"]
    first = (tmp_path / ".env").read_text()
    assert "change-me" not in first and "RASA_PORT=5005" in first
    assert ensure_env_file(tmp_path) == []
    assert (tmp_path / ".env").read_text() == first


def test_env_example_documents_every_variable_the_settings_read() -> None:
    example = (Path(__file__).parents[2] / ".env.example").read_text()
    source = (Path(__file__).parents[2] / "bot" / "settings.py").read_text()
    read = set(re.findall(r'values\.get\("([A-Z_]+)"', source)) - {"TIEPDAN_HOME"}
    missing = {name for name in read if name not in example}
    assert not missing, f"document these in .env.example: {sorted(missing)}"


def test_production_without_secrets_starts_nothing_and_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import os
    import subprocess
    import sys

    from bot.cli import main

    monkeypatch.setenv("TIEPDAN_HOME", str(tmp_path))
    monkeypatch.setenv("TIEPDAN_ENV", "production")
    for name in ("TIEPDAN_API_TOKEN", "RASA_TOKEN", "TIEPDAN_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert main(["db", "upgrade"]) == 2
    assert "TIEPDAN_API_TOKEN is empty or a placeholder" in capsys.readouterr().err
    assert not (tmp_path / "var").exists()  # not even the database was created
    gateway = subprocess.run(
        [sys.executable, "-m", "channels"], env=dict(os.environ), capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert gateway.returncode == 1
    assert gateway.stderr.strip().startswith("gateway: TIEPDAN_API_TOKEN is empty")
