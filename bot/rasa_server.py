"""Starts the Rasa server: REST channel and HTTP API, bound to 127.0.0.1, token required.

Run as `python -m bot.rasa_server --model models/tiepdan-….tar.gz`; `tiepdan run` does it.
The token comes from the settings (not the command line, where `ps` would show it).

What stock `rasa run` does per message that we do once (profiled with py-spy under
`python -m bench.load`; figures in bench/README.md):
- every answer of the action server is checked with `jsonschema.validate`, which first
  checks Rasa's schema itself against the meta-schema: a third of Rasa's CPU time under
  load. We check the schema once and keep one validator;
- calls to the action server reuse one pooled HTTP session instead of opening a new
  session and connection for every action;
- the SQLite tracker store keeps its connection open (SQLAlchemy 1.4 opens and closes a
  file database for every query, and closing the last connection checkpoints the WAL)
  and runs in WAL mode with `synchronous=NORMAL`; the tracker store is written
  synchronously on Rasa's event loop, so every fsync stalls every conversation;
- the model is warmed up before the server accepts its first message (TensorFlow traces
  its graphs on the first call: the first resident would otherwise wait for it).

And one thing it does that we do not: fall back to an in-memory tracker store when the
database fails mid-run (bot.tracker_guard: the message gets a 503 and is sent again later).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sqlite3
import time
from typing import Any

from bot import logs, tracker_guard
from bot.runtime import tensorflow_env, write_endpoints
from bot.settings import load_settings

log = logging.getLogger("tiepdan.rasa")

# One sentence per language and kind, so every branch of the pipeline has run once.
WARM_UP_TEXTS = (
    "xin chào",
    "làm giấy khai sinh cần giấy tờ gì",
    "dang ky tam tru can giay to gi",
    "who do I call about a broken street light",
    "kiểm tra PA-2611-K7M3Q",
)


def use_sqlite_wal() -> None:
    """WAL and synchronous=NORMAL for every SQLite connection this process opens."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=15000")
            cursor.close()


def structlog_through_logging(level: int) -> None:
    """Rasa writes many of its events with structlog, which only Rasa's command line
    configures; served through `rasa.api.run` they go, at every level and unmasked, straight
    to stdout (a resident's words and phone number in each debug line). Routed instead
    through the standard loggers: filtered at our level, masked, as JSON lines."""
    import structlog

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.processors.KeyValueRenderer(key_order=["event"], drop_missing=True),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=True,
    )


def validate_action_results_once() -> None:
    """One compiled validator for the action server's answers, same errors as Rasa's."""
    from jsonschema import ValidationError, validators
    from jsonschema.exceptions import best_match
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    schema = RemoteAction.action_response_format_spec()
    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)

    def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        error: ValidationError | None = best_match(validator.iter_errors(result))
        if error is None:
            return True
        error.message += (
            ". Failed to validate Action server response from API, make sure your response "
            f"from the Action endpoint is valid. For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise error

    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]


def keep_sqlite_connections() -> None:
    """Rasa's SQL tracker store on SQLite: one connection per thread, kept open (Rasa uses
    it from its event loop's thread only)."""
    from rasa.core import tracker_store
    from sqlalchemy.pool import SingletonThreadPool

    engine_kwargs = tracker_store.create_engine_kwargs

    def create_engine_kwargs(url: Any) -> dict[str, Any]:
        kwargs = engine_kwargs(url)
        if str(url).startswith("sqlite"):
            kwargs["poolclass"] = SingletonThreadPool
        return kwargs

    tracker_store.create_engine_kwargs = create_engine_kwargs


class _Borrowed:
    """`async with` over a shared session that must stay open afterwards."""

    def __init__(self, session: Any) -> None:
        self.session = session

    async def __aenter__(self) -> Any:
        return self.session

    async def __aexit__(self, *_exc: object) -> bool:
        return False


def pool_endpoint_sessions() -> None:
    """Rasa opens (and closes) a new aiohttp session, hence a new TCP connection, for every
    call to an endpoint such as the action server; keep one per endpoint and event loop."""
    from rasa.utils.endpoints import EndpointConfig

    make_session = EndpointConfig.session
    shared: dict[tuple[int, int], Any] = {}

    def session(self: EndpointConfig) -> Any:
        key = (id(self), id(asyncio.get_running_loop()))
        current = shared.get(key)
        if current is None or current.closed:
            current = shared[key] = make_session(self)
        return _Borrowed(current)

    EndpointConfig.session = session  # type: ignore[method-assign]


async def warm_up(agent: Any) -> float:
    """Parse a few sentences and predict once on a throwaway in-memory tracker (nothing is
    written to the tracker store); returns the seconds it took."""
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    started = time.perf_counter()
    for text in WARM_UP_TEXTS:
        parsed = await agent.parse_message(text)
        if agent.processor is None or agent.domain is None:
            continue
        tracker = DialogueStateTracker.from_events(
            "warm-up",
            [
                ActionExecuted("action_listen"),
                UserUttered(text, parsed.get("intent"), parsed.get("entities"), parsed),
            ],
            slots=agent.domain.slots,
        )
        agent.processor.predict_next_with_tracker(tracker)
    return time.perf_counter() - started


def warm_up_after_loading() -> None:
    """Load the model, then warm it up, both before the server takes connections."""
    import rasa.core.run

    load = rasa.core.run.load_agent_on_start

    async def load_and_warm_up(*args: Any, **kwargs: Any) -> Any:
        # Sanic has set up its loggers by now: from here on every line is masked JSON.
        logs.take_over(load_settings().log_level)
        agent = await load(*args, **kwargs)
        try:
            log.info("model warmed up in %.1f s", await warm_up(agent))
        except Exception:  # a failed warm-up only costs the first resident some time
            log.exception("warming the model up failed; serving anyway")
        return agent

    rasa.core.run.load_agent_on_start = load_and_warm_up


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    args = parser.parse_args()
    settings = load_settings()
    if not settings.rasa_token:
        raise SystemExit("RASA_TOKEN is empty: Rasa's HTTP API is only enabled with a token.")
    os.environ.update(tensorflow_env(dict(os.environ)))

    import rasa.api
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.tensorflow.environment import setup_tf_environment

    # Only Rasa's command line applies the TF_* thread settings; `rasa.api.run` does not.
    setup_tf_environment()

    level = getattr(logging, settings.log_level, logging.INFO)
    configure_logging_and_warnings(level)
    structlog_through_logging(level)
    use_sqlite_wal()
    keep_sqlite_connections()
    validate_action_results_once()
    pool_endpoint_sessions()
    tracker_guard.install()
    warm_up_after_loading()
    rasa.api.run(
        model=args.model,
        endpoints=str(write_endpoints(settings)),
        credentials=str(settings.root / "credentials.yml"),
        interface="127.0.0.1",
        port=settings.rasa_port,
        enable_api=True,
        auth_token=settings.rasa_token,
    )


if __name__ == "__main__":
    main()
