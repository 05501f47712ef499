"""What every action needs: the resident's language, the settings, sending a Reply."""

from __future__ import annotations

from functools import lru_cache

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import sessionmaker

from bot.db import make_engine, make_session_factory
from bot.replies import Reply
from bot.settings import Settings, load_settings


def language(tracker: Tracker) -> str:
    return "en" if tracker.get_slot("language") == "en" else "vi"


@lru_cache(maxsize=1)
def settings() -> Settings:
    return load_settings()


def send(dispatcher: CollectingDispatcher, reply: Reply) -> None:
    dispatcher.utter_message(**reply.as_message())


def user_intents(tracker: Tracker) -> list[str]:
    return [
        (event.get("parse_data") or {}).get("intent", {}).get("name") or ""
        for event in tracker.events
        if event.get("event") == "user"
    ]


@lru_cache(maxsize=1)
def sessions() -> sessionmaker:
    """One engine and connection pool per action server process."""
    return make_session_factory(make_engine(settings().database_url))
