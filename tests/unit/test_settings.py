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


def test_production_refuses_placeholder_secrets(tmp_path: Path) -> None:
    environ = {
        "TIEPDAN_HOME": str(tmp_path),
        "TIEPDAN_ENV": "production",
        "TIEPDAN_API_TOKEN": "change-me",
        "RASA_TOKEN": "x" * 32,
        "TIEPDAN_SECRET_KEY": "y" * 32,
    }
    with pytest.raises(SettingsError, match="TIEPDAN_API_TOKEN is empty or a placeholder"):
        load_settings(environ)
    environ["TIEPDAN_API_TOKEN"] = "z" * 32
    assert load_settings(environ).env == "production"


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
