"""One settings object, read from the environment and an optional `.env` file.

No other module reads `os.environ`: the settings are built once at the edge (CLI, gateway
entry point, action server) and passed down.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from dotenv import dotenv_values

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEVELOPMENT = "development"
# Values that must never guard a real deployment (they are in .env.example).
PLACEHOLDER_SECRETS = {"", "change-me", "changeme", "secret", "dev", "password", "test"}
MIN_SECRET_LENGTH = 16
MIN_SECRET_DISTINCT = 8


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message says which and how to fix it."""


def _port(name: str, value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise SettingsError(f"{name} must be a port number between 1 and 65535, got {value!r}.")
    return port


def _float(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {value!r}.") from None
    if number <= 0:
        raise SettingsError(f"{name} must be greater than zero, got {value!r}.")
    return number


def _at_least(name: str, value: str, minimum: float, maximum: float | None = None) -> float:
    try:
        number = float(value)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {value!r}.") from None
    if number < minimum or (maximum is not None and number > maximum):
        upper = f" and at most {maximum:g}" if maximum is not None else ""
        raise SettingsError(f"{name} must be at least {minimum:g}{upper}, got {value!r}.")
    return number


def _origins(name: str, value: str) -> tuple[str, ...]:
    """A comma-separated list of web origins, normalised to scheme://host[:port]."""
    origins = []
    for item in value.replace(" ", ",").split(","):
        if not item:
            continue
        origin = item.rstrip("/").lower()
        scheme, sep, host = origin.partition("://")
        if scheme not in {"http", "https"} or not sep or not host or "/" in host:
            raise SettingsError(
                f"{name} must list origins like https://www.example.gov.vn, separated by "
                f"commas (scheme and host, no path); got {item!r}."
            )
        origins.append(origin)
    return tuple(origins)


def _redis_url(value: str) -> str:
    if value and not value.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError(
            f"TIEPDAN_REDIS_URL must look like redis://host:6379/0 (or rediss://, unix://), "
            f"got {value!r}."
        )
    return value


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@dataclass(frozen=True)
class Settings:
    env: str = DEVELOPMENT
    root: Path = PROJECT_ROOT
    var_dir: Path = PROJECT_ROOT / "var"
    models_dir: Path = PROJECT_ROOT / "models"
    catalog_dir: Path = PROJECT_ROOT / "catalog"
    database_url: str = _sqlite_url(PROJECT_ROOT / "var" / "tiepdan.db")
    tracker_store_url: str = _sqlite_url(PROJECT_ROOT / "var" / "rasa.db")
    # Scale-out: Redis for Rasa's lock store and fan-out between gateway replicas (empty:
    # one machine, in-process locks and delivery).
    redis_url: str = ""
    rasa_port: int = 5005
    actions_port: int = 5055
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    api_token: str = ""
    rasa_token: str = ""
    secret_key: str = ""
    public_base_url: str = "http://localhost:8080"
    rasa_timeout: float = 30.0
    # Seconds before a resident still waiting for Rasa is told "busy, your message is recorded"
    # (the answer follows when it comes).
    busy_reply_after: float = 4.0
    # First retry delay of an outbox message the platform did not take (doubles each time).
    outbox_retry_seconds: float = 30.0
    log_level: str = "INFO"
    # Sites allowed to embed the web widget (scheme://host[:port]); its own origin always is.
    widget_allowed_origins: tuple[str, ...] = ()
    # Handoff: treat the care team as open at any hour (tests, demos); minutes of silence
    # after which a conversation with staff goes back to the assistant.
    handoff_always_open: bool = False
    handoff_idle_minutes: float = 30.0
    # Satisfaction surveys and record keeping (bot.surveys, `tiepdan purge`).
    survey_delay_minutes: float = 60.0
    survey_window_days: float = 30.0
    survey_expiry_hours: float = 72.0
    survey_sample_rate: float = 0.0
    survey_retention_days: int = 730
    personal_data_retention_days: int = 365
    # Rate limits per minute (channels.ratelimit; 0 turns one off): requests per client
    # address, log-in attempts per address, refused API/webhook calls per address, messages
    # per resident. Behind a reverse proxy, trust its X-Forwarded-For for the address.
    rate_limit_per_address: int = 600
    rate_limit_login: int = 10
    rate_limit_refused: int = 30
    rate_limit_per_sender: int = 60
    trust_forwarded_for: bool = False
    # Trainers: the NLU data folder the console writes accepted examples into, the
    # confidence below which a message goes to the NLU inbox, and how much held-out
    # macro-F1 a new model may lose before `tiepdan model release` refuses it.
    nlu_data_dir: Path = PROJECT_ROOT / "nlu_data"
    nlu_inbox_threshold: float = 0.6
    release_max_f1_drop: float = 0.02
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def actions_url(self) -> str:
        return f"http://127.0.0.1:{self.actions_port}"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def is_development(self) -> bool:
        return self.env == DEVELOPMENT

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)

    def check_secrets(self) -> None:
        """Outside development, refuse to start with an empty, placeholder, weak or reused
        secret; the error names the variable and says how to make a good one."""
        if self.is_development:
            return
        generate = (
            'e.g. `python -c "import secrets; print(secrets.token_urlsafe(32))"`, '
            "in the environment or .env"
        )
        ours = [
            ("TIEPDAN_API_TOKEN", self.api_token),
            ("RASA_TOKEN", self.rasa_token),
            ("TIEPDAN_SECRET_KEY", self.secret_key),
        ]
        extra = self.extra
        polling = extra.get("TELEGRAM_POLLING", "0").strip().lower() in {"1", "true", "yes", "on"}
        if extra.get("TELEGRAM_BOT_TOKEN", "").strip() and not polling:
            ours.append(("TELEGRAM_WEBHOOK_SECRET", extra.get("TELEGRAM_WEBHOOK_SECRET", "")))
        for name, value in ours:
            value = value.strip()
            if value.lower() in PLACEHOLDER_SECRETS:
                raise SettingsError(
                    f"{name} is empty or a placeholder (TIEPDAN_ENV={self.env}); set a random "
                    f"value of at least {MIN_SECRET_LENGTH} characters, {generate}."
                )
            if len(value) < MIN_SECRET_LENGTH or len(set(value)) < MIN_SECRET_DISTINCT:
                raise SettingsError(
                    f"{name} is too weak (TIEPDAN_ENV={self.env}): it needs at least "
                    f"{MIN_SECRET_LENGTH} characters with {MIN_SECRET_DISTINCT} different ones; "
                    f"generate one, {generate}."
                )
        seen: dict[str, str] = {}
        for name, value in ours:
            if value.strip() in seen:
                raise SettingsError(
                    f"{name} has the same value as {seen[value.strip()]}; each secret must be "
                    f"its own random value, {generate}."
                )
            seen[value.strip()] = name
        # Secrets the platforms issue: we cannot judge their strength, only that they are set.
        platform = []
        if extra.get("ZALO_APP_ID", "").strip():
            platform.append("ZALO_OA_SECRET_KEY")
            if extra.get("ZALO_REFRESH_TOKEN", "").strip():
                platform.append("ZALO_APP_SECRET")
        for name in platform:
            if extra.get(name, "").strip().lower() in PLACEHOLDER_SECRETS:
                raise SettingsError(
                    f"{name} is empty or a placeholder while Zalo is on (ZALO_APP_ID is set); "
                    f"copy it from developers.zalo.me (your app's settings), or clear "
                    f"ZALO_APP_ID to turn the Zalo channel off."
                )


def _per_minute(values: Mapping[str, str], name: str, default: int) -> int:
    return int(_at_least(name, values.get(name, str(default)), 0, 1_000_000))


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: Path | None = None
) -> Settings:
    """Build the settings: environment variables win over `.env`, which wins over defaults."""
    environ = os.environ if environ is None else environ
    root = Path(environ.get("TIEPDAN_HOME") or PROJECT_ROOT).resolve()
    env_file = root / ".env" if env_file is None else env_file
    values: dict[str, str] = {}
    if env_file.is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(environ)

    var_dir = Path(values.get("TIEPDAN_VAR_DIR") or root / "var")
    env = values.get("TIEPDAN_ENV", DEVELOPMENT).strip().lower() or DEVELOPMENT
    if env not in {DEVELOPMENT, "production"}:
        raise SettingsError(f"TIEPDAN_ENV must be 'development' or 'production', got {env!r}.")
    settings = Settings(
        env=env,
        root=root,
        var_dir=var_dir,
        models_dir=Path(values.get("TIEPDAN_MODELS_DIR") or root / "models"),
        catalog_dir=Path(values.get("TIEPDAN_CATALOG_DIR") or root / "catalog"),
        database_url=values.get("TIEPDAN_DATABASE_URL") or _sqlite_url(var_dir / "tiepdan.db"),
        tracker_store_url=values.get("TIEPDAN_TRACKER_STORE_URL")
        or _sqlite_url(var_dir / "rasa.db"),
        redis_url=_redis_url(values.get("TIEPDAN_REDIS_URL", "").strip()),
        rasa_port=_port("RASA_PORT", values.get("RASA_PORT", "5005")),
        actions_port=_port("ACTIONS_PORT", values.get("ACTIONS_PORT", "5055")),
        gateway_host=values.get("GATEWAY_HOST", "127.0.0.1"),
        gateway_port=_port("GATEWAY_PORT", values.get("GATEWAY_PORT", "8080")),
        api_token=values.get("TIEPDAN_API_TOKEN", ""),
        rasa_token=values.get("RASA_TOKEN", ""),
        secret_key=values.get("TIEPDAN_SECRET_KEY", ""),
        public_base_url=values.get("PUBLIC_BASE_URL", "").rstrip("/")
        or f"http://localhost:{values.get('GATEWAY_PORT', '8080')}",
        rasa_timeout=_float("TIEPDAN_RASA_TIMEOUT", values.get("TIEPDAN_RASA_TIMEOUT", "30")),
        outbox_retry_seconds=_at_least(
            "TIEPDAN_OUTBOX_RETRY_SECONDS", values.get("TIEPDAN_OUTBOX_RETRY_SECONDS", "30"), 1
        ),
        busy_reply_after=_at_least(
            "TIEPDAN_BUSY_REPLY_AFTER", values.get("TIEPDAN_BUSY_REPLY_AFTER", "4"), 0.5, 60
        ),
        log_level=values.get("TIEPDAN_LOG_LEVEL", "INFO").upper(),
        widget_allowed_origins=_origins(
            "WIDGET_ALLOWED_ORIGINS", values.get("WIDGET_ALLOWED_ORIGINS", "")
        ),
        handoff_always_open=values.get("TIEPDAN_HANDOFF_ALWAYS_OPEN", "0").strip().lower()
        in {"1", "true", "yes", "on"},
        handoff_idle_minutes=_float(
            "HANDOFF_IDLE_MINUTES", values.get("HANDOFF_IDLE_MINUTES", "30")
        ),
        survey_delay_minutes=_at_least(
            "SURVEY_DELAY_MINUTES", values.get("SURVEY_DELAY_MINUTES", "60"), 0
        ),
        survey_window_days=_at_least(
            "SURVEY_WINDOW_DAYS", values.get("SURVEY_WINDOW_DAYS", "30"), 0
        ),
        survey_expiry_hours=_float("SURVEY_EXPIRY_HOURS", values.get("SURVEY_EXPIRY_HOURS", "72")),
        survey_sample_rate=_at_least(
            "SURVEY_SAMPLE_RATE", values.get("SURVEY_SAMPLE_RATE", "0"), 0, 1
        ),
        survey_retention_days=int(
            _float("SURVEY_RETENTION_DAYS", values.get("SURVEY_RETENTION_DAYS", "730"))
        ),
        personal_data_retention_days=int(
            _float(
                "PERSONAL_DATA_RETENTION_DAYS", values.get("PERSONAL_DATA_RETENTION_DAYS", "365")
            )
        ),
        rate_limit_per_address=_per_minute(values, "RATE_LIMIT_PER_ADDRESS", 600),
        rate_limit_login=_per_minute(values, "RATE_LIMIT_LOGIN", 10),
        rate_limit_refused=_per_minute(values, "RATE_LIMIT_REFUSED", 30),
        rate_limit_per_sender=_per_minute(values, "RATE_LIMIT_PER_SENDER", 60),
        trust_forwarded_for=values.get("TRUST_FORWARDED_FOR", "0").strip().lower()
        in {"1", "true", "yes", "on"},
        nlu_data_dir=Path(values.get("NLU_DATA_DIR") or root / "nlu_data"),
        nlu_inbox_threshold=_at_least(
            "NLU_INBOX_THRESHOLD", values.get("NLU_INBOX_THRESHOLD", "0.6"), 0, 1
        ),
        release_max_f1_drop=_at_least(
            "RELEASE_MAX_F1_DROP", values.get("RELEASE_MAX_F1_DROP", "0.02"), 0, 1
        ),
        extra={k: v for k, v in values.items() if k.startswith(("TELEGRAM_", "ZALO_"))},
    )
    settings.check_secrets()
    return settings


def ensure_env_file(root: Path = PROJECT_ROOT) -> list[str]:
    """Create `.env` from `.env.example` with fresh random tokens on a developer's first run.

    Returns the names of the secrets it generated (empty when `.env` already existed).
    """
    env_file, example = root / ".env", root / ".env.example"
    if env_file.exists() or not example.exists():
        return []
    generated, lines = [], []
    for line in example.read_text(encoding="utf-8").splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#") and value.strip() == "change-me":
            line = f"{name}={secrets.token_urlsafe(32)}"
            generated.append(name.strip())
        lines.append(line)
    env_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    env_file.chmod(0o600)
    return generated


def setting_names() -> list[str]:
    return [f.name for f in fields(Settings)]
