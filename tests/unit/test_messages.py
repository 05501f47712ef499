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


def test_a_spool_remembered_empty_still_sees_what_another_process_puts_in_it(
    tmp_path: Path, monkeypatch
) -> None:
    """`has_entries` is asked on every message; it remembers an empty folder by its time,
    and a message another gateway spooled there since is not missed."""
    import time

    monkeypatch.setattr(messages, "SPOOL_QUIET_NS", 0)
    ours, theirs = messages.Spool(tmp_path / "spool"), messages.Spool(tmp_path / "spool")
    assert not ours.has_entries()  # no folder yet
    theirs.put({"kind": "message", "text": "a"})
    [(path, _)] = theirs.entries()
    path.unlink()
    time.sleep(0.05)
    assert not ours.has_entries() and not ours.has_entries()  # remembered as empty
    time.sleep(0.05)
    theirs.put({"kind": "message", "text": "b"})
    assert ours.has_entries() and len(ours) == 1
