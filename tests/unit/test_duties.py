from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from bot import db
from bot.calendar import VIETNAM
from bot.catalog import load_catalog
from bot.outbox import OutboxMessage
from bot.settings import load_settings
from bot.tickets import get_ticket, open_ticket
from channels.app import create_app
from channels.duties import run_escalation
from channels.keys import SESSIONS


def test_overdue_tickets_are_escalated_once_to_the_units_supervisor(tmp_path: Path) -> None:
    settings = load_settings(
        {"TIEPDAN_HOME": str(tmp_path), "TIEPDAN_CATALOG_DIR": str(Path("catalog").resolve())}
    )
    db.upgrade(settings.database_url)
    app = create_app(settings)
    app[SESSIONS] = db.make_session_factory(db.make_engine(settings.database_url))
    catalog = load_catalog()
    opened = datetime(2026, 11, 2, 9, 0, tzinfo=VIETNAM)
    with db.transaction(app[SESSIONS]) as session:
        code = open_ticket(
            session,
            kind="problem_report",
            category="water_supply",
            description="Mất nước hai ngày rồi",
            location="12 Trần Phú",
            sender_id="tg:1",
            channel="telegram",
            language="vi",
            calendar=catalog.calendar,
            unit_for_category=lambda c: catalog.unit_for_category(c).id,
            now=opened,
        ).code
    later = datetime(2026, 11, 20, 9, 0, tzinfo=VIETNAM)
    assert run_escalation(app, later) == 1
    assert run_escalation(app, later) == 0
    with app[SESSIONS]() as session:
        assert get_ticket(session, code).escalated_at is not None
        alerts = (
            session.execute(select(OutboxMessage).where(OutboxMessage.channel == "staff"))
            .scalars()
            .all()
        )
    supervisor = catalog.unit_for_category("water_supply").supervisor
    assert [a.recipient for a in alerts] == [supervisor]
