from pathlib import Path

from sqlalchemy import func, select

from bot import db, messages


def test_redelivered_message_is_stored_once_and_a_rollback_leaves_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    db.upgrade(url)
    sessions = db.make_session_factory(db.make_engine(url))
    with db.transaction(sessions) as session:
        first = messages.record_inbound(
            session, channel="telegram", sender_id="tg:1", text="mất nước", external_id="42"
        )
        again = messages.record_inbound(
            session, channel="telegram", sender_id="tg:1", text="mất nước", external_id="42"
        )
    assert first is not None and again is None
    try:
        with db.transaction(sessions) as session:
            messages.record_inbound(
                session, channel="telegram", sender_id="tg:1", text="x", external_id="43"
            )
            raise RuntimeError("crash before commit")
    except RuntimeError:
        pass
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(messages.InboundMessage)) == 1
