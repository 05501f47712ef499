"""What the three processes need at run time, derived from the settings.

Rasa reads its endpoints from a YAML file; we write it under `var/run/` from the settings
so ports and databases have one source of truth. The committed `endpoints.yml` shows the
same defaults for people who run `rasa` by hand.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from sqlalchemy.engine import make_url

from bot.settings import Settings

# Thread pools of TensorFlow in the Rasa process (an operator's own values in the
# environment win). Rasa answers one message at a time on one event loop, and the models are
# small: on 2 cores, splitting one small matrix product over threads saves little, and the
# gateway and the action server need the other core. Not yet measured apart from the rest
# (bench/README.md); compare with `make bench` and TF_INTRA_OP_PARALLELISM_THREADS=2.
TENSORFLOW_THREADS = {
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "TF_INTER_OP_PARALLELISM_THREADS": "1",
    "TF_INTRA_OP_PARALLELISM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
}


def tensorflow_env(environ: dict[str, str]) -> dict[str, str]:
    """The TensorFlow thread settings for the Rasa process: `environ`'s, else ours."""
    return {name: environ.get(name, value) for name, value in TENSORFLOW_THREADS.items()}


def tracker_store_config(url: str) -> dict[str, object]:
    """Rasa's SQL tracker store options for a SQLAlchemy URL (SQLite or PostgreSQL)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return {"type": "SQL", "dialect": "sqlite", "db": parsed.database}
    config: dict[str, object] = {
        "type": "SQL",
        "dialect": parsed.drivername,
        "url": parsed.host or "127.0.0.1",
        "db": parsed.database,
    }
    if parsed.port:
        config["port"] = parsed.port
    if parsed.username:
        config["username"] = parsed.username
    if parsed.password:
        config["password"] = parsed.password
    return config


def endpoints_config(settings: Settings) -> dict[str, object]:
    config: dict[str, object] = {
        "action_endpoint": {"url": f"{settings.actions_url}/webhook"},
        "tracker_store": tracker_store_config(settings.tracker_store_url),
    }
    if settings.redis_url:
        # Several Rasa processes share conversations: our atomic lock store (bot/lockstore.py).
        config["lock_store"] = {
            "type": "bot.lockstore.AtomicRedisLockStore",
            "url": settings.redis_url,
            "key_prefix": "tiepdan",
        }
    return config


def write_endpoints(settings: Settings) -> Path:
    path = settings.var_dir / "run" / "endpoints.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(endpoints_config(settings), sort_keys=False), encoding="utf-8")
    path.chmod(0o600)  # may hold a database password
    return path


@dataclass(frozen=True)
class ProcessSpec:
    """One supervised process: how to start it and how to know it is ready."""

    name: str
    argv: list[str]
    health_url: str
    env: dict[str, str] = field(default_factory=dict)
    start_timeout: float = 60.0


def process_specs(settings: Settings, model: Path) -> list[ProcessSpec]:
    """Rasa, the action server and the gateway, each started by module name."""
    python = sys.executable
    return [
        ProcessSpec(
            name="actions",
            argv=[
                python,
                "-m",
                "bot.action_server",
                "--actions",
                "actions",
                "--port",
                str(settings.actions_port),
            ],
            health_url=f"{settings.actions_url}/health",
            env={"SANIC_HOST": "127.0.0.1"},
        ),
        ProcessSpec(
            name="rasa",
            argv=[python, "-m", "bot.rasa_server", "--model", str(model)],
            health_url=f"{settings.rasa_url}/status?token={settings.rasa_token}",
            # Loading rebuilds DIET's and TED's graphs (a training step on dummy data): about
            # 40 s on a quiet 2-core machine, several minutes when others load its CPUs.
            start_timeout=480.0,
        ),
        ProcessSpec(
            name="gateway",
            argv=[python, "-m", "channels"],
            health_url=f"{settings.gateway_url}/healthz/live",
        ),
    ]
