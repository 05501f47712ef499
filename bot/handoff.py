"""Reaching a person. Until the staff console and live handoff exist, the assistant is honest:
it says it cannot connect the chat to staff yet and gives the resident care team's phone
number and whether it is open now."""

from __future__ import annotations

from datetime import datetime

from bot.catalog import Catalog, opening_status
from bot.catalog.answers import unit_name
from bot.catalog.formatting import format_phone
from bot.replies import Button, Reply, intent_payload, say

CARE_UNIT = "customer_care"


def offer_human(catalog: Catalog, lang: str, now: datetime) -> Reply:
    unit = catalog.units[CARE_UNIT]
    phone = format_phone(unit.hotline or unit.phone)
    status = opening_status(unit, now, catalog.calendar)
    if status.open_now:
        when = say(lang, "Tổ đang làm việc, anh/chị gọi ngay được ạ.", "They are open now.")
    else:
        when = say(
            lang,
            "Hiện ngoài giờ làm việc; anh/chị có thể gửi phản ánh để cán bộ liên hệ lại ạ.",
            "They are closed right now; you can send a report and staff will get back to you.",
        )
    return Reply(
        say(
            lang,
            f"Dạ, kênh chat này chưa chuyển trực tiếp được sang nhân viên. Anh/chị vui lòng gọi "
            f"{unit_name(unit, 'vi')} theo số {phone}. {when}",
            f"I can't pass this chat to a member of staff yet. Please call the "
            f"{unit_name(unit, 'en')} on {phone}. {when}",
        ),
        [Button(say(lang, "Gửi phản ánh", "Report a problem"), intent_payload("file_complaint"))],
    )
