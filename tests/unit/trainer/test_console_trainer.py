"""The trainers' console pages over HTTP: the inbox list, teaching an example (written into
the data copy, audited), out of scope, ignore, refusals a trainer can cause, roles, CSRF."""

from __future__ import annotations

import html

from sqlalchemy import select

from bot.console.models import AuditEntry
from bot.db import transaction
from bot.trainer import inbox
from bot.trainer.inbox import InboxItem, Observation
from tests.unit.console.conftest import csrf_in, log_in


def add_item(sessions, text: str, intent: str = "nlu_fallback", language: str = "vi") -> int:  # type: ignore[no-untyped-def]
    with transaction(sessions) as session:
        item = inbox.capture(
            session, Observation(1, "web:abc", text, language, intent, 0.3), inbox.FALLBACK
        )
        return item.id


async def test_the_inbox_lists_items_newest_first_in_vietnamese_by_default(
    client, sessions
) -> None:
    add_item(sessions, "nước nhà tôi có mùi lạ")
    add_item(sessions, "đèn đường hẻm 7 tắt hết")
    csrf = await log_in(client, "tra")
    assert csrf
    page = await (await client.get("/console/trainer/inbox")).text()
    assert "Hộp thư huấn luyện" in page
    assert page.index("đèn đường hẻm 7 tắt hết") < page.index("nước nhà tôi có mùi lạ")
    assert "nlu_fallback" in page and "0.30" in page and "Không hiểu" in page
    english = await (await client.get("/console/trainer/inbox?lang=en")).text()
    assert "NLU inbox" in english and "Not understood" in english


async def test_accepting_an_edited_text_writes_it_into_the_intents_file(
    client, sessions, data_dir
) -> None:
    item_id = add_item(sessions, "nuoc nha toi co mui la, sdt [phone]")
    await log_in(client, "tra")
    page = await (await client.get(f"/console/trainer/inbox/{item_id}")).text()
    assert "file_complaint" in page and "Phản ánh, khiếu nại" in page
    response = await client.post(
        f"/console/trainer/inbox/{item_id}/accept",
        data={"csrf": csrf_in(page), "intent": "file_complaint", "text": "nuoc nha toi co mui la"},
        allow_redirects=False,
    )
    assert response.status == 302
    assert "vi/complaints.yml" in response.headers["Location"]

    assert "    - nuoc nha toi co mui la\n" in (data_dir / "vi" / "complaints.yml").read_text()
    with transaction(sessions) as session:
        item = session.get(InboxItem, item_id)
        assert (item.status, item.resolved_intent, item.resolved_by) == (
            "accepted",
            "file_complaint",
            "tra",
        )
        audit = session.execute(
            select(AuditEntry).where(AuditEntry.action == "nlu_accept")
        ).scalar_one()
        assert audit.actor == "tra" and "vi/complaints.yml" in audit.detail
    pending = await (await client.get("/console/trainer/inbox")).text()
    assert "nuoc nha toi co mui la" not in pending


async def test_text_still_masked_is_refused_with_a_reason(client, sessions, data_dir) -> None:
    item_id = add_item(sessions, "gọi lại cho tôi số [phone]")
    await log_in(client, "tra")
    page = await (await client.get(f"/console/trainer/inbox/{item_id}")).text()
    before = (data_dir / "vi" / "handoff.yml").read_text()
    response = await client.post(
        f"/console/trainer/inbox/{item_id}/accept",
        data={
            "csrf": csrf_in(page),
            "intent": "request_human",
            "text": "gọi lại cho tôi số [phone]",
        },
    )
    assert "thông tin cá nhân" in await response.text()
    assert (data_dir / "vi" / "handoff.yml").read_text() == before
    with transaction(sessions) as session:
        assert session.get(InboxItem, item_id).status == "pending"


async def test_a_sentence_of_another_intent_is_refused(client, sessions, data_dir) -> None:
    catalogue_example = "cho tôi gặp nhân viên"
    assert catalogue_example in (data_dir / "vi" / "handoff.yml").read_text()
    item_id = add_item(sessions, "Cho tôi gặp nhân viên!")
    await log_in(client, "tra")
    page = await (await client.get(f"/console/trainer/inbox/{item_id}?lang=en")).text()
    response = await client.post(
        f"/console/trainer/inbox/{item_id}/accept",
        data={"csrf": csrf_in(page), "intent": "greet", "text": "Cho tôi gặp nhân viên!"},
    )
    assert "already an example of 'request_human'" in html.unescape(await response.text())


async def test_out_of_scope_and_ignore(client, sessions, data_dir) -> None:
    off_topic = add_item(sessions, "tối nay ai đá bóng thắng")
    noise = add_item(sessions, "hihi")
    await log_in(client, "tra")
    page = await (await client.get(f"/console/trainer/inbox/{off_topic}")).text()
    await client.post(
        f"/console/trainer/inbox/{off_topic}/out_of_scope", data={"csrf": csrf_in(page)}
    )
    await client.post(f"/console/trainer/inbox/{noise}/ignore", data={"csrf": csrf_in(page)})

    assert "    - tối nay ai đá bóng thắng\n" in (data_dir / "vi" / "out_of_scope.yml").read_text()
    with transaction(sessions) as session:
        assert session.get(InboxItem, off_topic).status == "out_of_scope"
        assert session.get(InboxItem, noise).status == "ignored"
    ignored = await (await client.get("/console/trainer/inbox?status=ignored")).text()
    assert "hihi" in ignored


async def test_the_intent_list_is_searchable(client) -> None:
    await log_in(client, "tra")
    page = await (await client.get("/console/trainer/intents?q=gio+lam+viec")).text()
    assert "ask_office_hours" in page and "file_complaint" not in page
    assert "vi/services.yml" in page


async def test_the_conversation_link_shows_masked_messages(client, sessions) -> None:
    from bot.messages import InboundMessage

    with transaction(sessions) as session:
        session.add(InboundMessage(channel="widget", sender_id="web:abc", text="số tôi 0905123456"))
        session.flush()
        message_id = session.execute(select(InboundMessage.id)).scalar()
        item = inbox.capture(
            session,
            Observation(message_id, "web:abc", "số tôi 0905123456", "vi", "inform", 0.2),
            inbox.FALLBACK,
        )
        item_id = item.id
    await log_in(client, "tra")
    page = await (await client.get(f"/console/trainer/inbox/{item_id}/conversation")).text()
    assert "số tôi [phone]" in page and "0905123456" not in page


async def test_agents_may_not_open_the_inbox_and_trainers_not_the_model_page(
    client, sessions
) -> None:
    item_id = add_item(sessions, "abc xyz")
    await log_in(client, "an")
    assert (await client.get("/console/trainer/inbox")).status == 403
    await client.post("/console/logout", data={"csrf": ""})
    await log_in(client, "tra")
    assert (await client.get("/console/model")).status == 403
    response = await client.post(f"/console/trainer/inbox/{item_id}/ignore", data={})
    assert response.status == 403  # no CSRF token
    with transaction(sessions) as session:
        assert session.get(InboxItem, item_id).status == "pending"
