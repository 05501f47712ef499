"""bot.tracker_guard: when Rasa's SQL tracker store fails, the conversation is neither
restarted nor kept in memory; the failure is raised so that the message is held and sent
again (the gateway's recovery), instead of being answered out of context."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.core.agent import Agent
from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from bot import tracker_guard
from bot.tracker_guard import TrackerStoreDown

DOMAIN = Domain.from_dict(
    {"intents": ["greet"], "slots": {"language": {"type": "text", "mappings": []}}}
)


@pytest.fixture
def store(tmp_path: Path) -> SQLTrackerStore:
    """A real SQLite tracker store holding one conversation."""
    return SQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "rasa.db"))


def _break(store: SQLTrackerStore, tmp_path: Path) -> None:
    """The database goes away: every connection now fails inside SQLAlchemy."""
    store.engine = create_engine(f"sqlite:///{tmp_path}/gone/rasa.db")
    store.sessionmaker = sessionmaker(bind=store.engine)


async def _tracker(sender: str) -> DialogueStateTracker:
    return DialogueStateTracker.from_events(
        sender, [UserUttered("xin chào", {"name": "greet"}), SlotSet("language", "vi")]
    )


@pytest.fixture
def strict_agent(store: SQLTrackerStore, monkeypatch: pytest.MonkeyPatch) -> Agent:
    monkeypatch.setattr(Agent, "_create_tracker_store", Agent._create_tracker_store)
    tracker_guard.install()
    return Agent(domain=DOMAIN, tracker_store=store)


async def test_a_working_store_is_used_as_it_is(strict_agent: Agent):
    await strict_agent.tracker_store.save(await _tracker("tg:1"))
    again = await strict_agent.tracker_store.retrieve("tg:1")
    assert again is not None and again.get_slot("language") == "vi"


async def test_a_failing_store_raises_instead_of_restarting_the_conversation(
    strict_agent: Agent, store: SQLTrackerStore, tmp_path: Path
):
    await strict_agent.tracker_store.save(await _tracker("tg:1"))
    _break(store, tmp_path)
    with pytest.raises(TrackerStoreDown, match="read"):
        await strict_agent.tracker_store.retrieve("tg:1")
    with pytest.raises(TrackerStoreDown, match="read"):
        await strict_agent.tracker_store.get_or_create_tracker("tg:1")
    with pytest.raises(TrackerStoreDown, match="write"):
        await strict_agent.tracker_store.save(await _tracker("tg:2"))
    # Nothing was kept aside in memory to be served later as if it were the conversation.
    assert strict_agent.tracker_store._fallback_tracker_store is None


async def test_stock_rasa_would_have_restarted_it(store: SQLTrackerStore, tmp_path: Path):
    """What the guard replaces: the same failure, hidden (the conversation comes back empty)."""
    stock = FailSafeTrackerStore(store)
    await stock.save(await _tracker("tg:1"))
    _break(store, tmp_path)
    assert await stock.retrieve("tg:1") is None
    fresh = await stock.get_or_create_tracker("tg:1")
    assert fresh.get_slot("language") is None
