"""The complaint conversation: what to ask, how to read the answers, what to save.

The Rasa form (`complaint_form`) and its validator in `actions/` only adapt; the rules —
which questions a channel needs, how a correction is recognised, what the summary says,
how a ticket is opened exactly once, how status is looked up — live here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from bot.attachments import take_pending
from bot.catalog import Catalog
from bot.catalog.answers import unit_name
from bot.nlu.commands import correction_target  # noqa: F401  (the form's edit commands)
from bot.replies import Button, Reply, intent_payload, say
from bot.text import clean, fold
from bot.tickets import (
    CATEGORIES,
    LookupRefused,
    add_resident_details,
    find_possible_duplicate,
    format_phone,
    get_status_for,
    get_ticket,
    list_open_for,
    normalise_code,
    normalise_phone,
    open_ticket,
    validate_description,
)
from bot.tickets import messages as ticket_messages

CATEGORY = "complaint_category"
DESCRIPTION = "complaint_description"
LOCATION = "complaint_location"
PHONE = "complaint_phone"
CONSENT = "complaint_consent"
CONFIRM = "complaint_confirm"
DRAFT = "complaint_draft"
# Set when the report looks like one of the resident's open tickets (its code), and the
# answer to "is it the same problem?".
DUPLICATE = "complaint_duplicate_of"
SAME = "complaint_same"
FORM_SLOTS = (CATEGORY, DESCRIPTION, LOCATION, SAME, PHONE, CONSENT, CONFIRM, DUPLICATE)

MAX_LOCATION = 300
SENDER_CHANNELS = {"tg": "telegram", "web": "widget", "zalo": "zalo", "api": "api"}
# Channels whose sender id is a lasting account we can reply to; on the others (an anonymous
# web session, an integration) staff may need a phone number to reach the resident.
IDENTIFYING_CHANNELS = {"telegram", "zalo"}


def channel_of(sender_id: str) -> str:
    return SENDER_CHANNELS.get(sender_id.split(":", 1)[0], "api")


def required_slots(
    sender_id: str, consent: object, duplicate_of: object = None, same: object = None
) -> list[str]:
    slots = [CATEGORY, DESCRIPTION, LOCATION]
    if duplicate_of:
        slots.append(SAME)
        if same is True:  # added to the existing ticket: nothing more to ask
            return slots
    if channel_of(sender_id) not in IDENTIFYING_CHANNELS:
        slots.append(PHONE)
    slots.append(CONSENT)
    if consent is not False:  # without consent there is nothing to confirm
        slots.append(CONFIRM)
    return slots


def category_buttons(catalog: Catalog, lang: str) -> list[Button]:
    return [
        Button(catalog.categories[c].name.get(lang), intent_payload("inform", category=c))
        for c in CATEGORIES
        if c in catalog.categories
    ]


def ask_category(catalog: Catalog, lang: str) -> Reply:
    return Reply(
        say(
            lang,
            "Dạ, anh/chị muốn phản ánh về lĩnh vực nào ạ?",
            "What is the problem about?",
        ),
        category_buttons(catalog, lang),
    )


def valid_category(value: object) -> str | None:
    return value if isinstance(value, str) and value in CATEGORIES else None


def check_description(text: object, lang: str) -> tuple[str | None, str | None]:
    """(cleaned description, None) or (None, what to tell the resident)."""
    result = validate_description(text if isinstance(text, str) else None)
    if result.problem:
        return None, ticket_messages.description_problem(result.problem, lang)
    return result.text, None


def check_location(text: object, lang: str) -> tuple[str | None, str | None]:
    value = clean(text) if isinstance(text, str) else ""
    if len(re.sub(r"\W", "", value)) < 3:
        return None, say(
            lang,
            "Dạ, anh/chị cho em xin địa chỉ cụ thể hơn (số nhà, tên đường, phường) ạ.",
            "Could you give a more precise address (house number, street, ward)?",
        )
    if len(value) > MAX_LOCATION:
        return None, say(
            lang,
            f"Dạ, địa chỉ dài quá {MAX_LOCATION} ký tự, anh/chị ghi ngắn gọn lại giúp em ạ.",
            f"That address is longer than {MAX_LOCATION} characters; please shorten it.",
        )
    return value, None


def check_phone(text: object, lang: str) -> tuple[str | None, str | None]:
    phone = normalise_phone(text if isinstance(text, str) else None)
    if phone is None:
        return None, ticket_messages.invalid_phone(lang)
    return phone, None


_YES = {
    "co",
    "dong y",
    "ok",
    "oke",
    "uh",
    "u",
    "um",
    "vang",
    "da",
    "dung",
    "yes",
    "y",
    "sure",
    "agree",
    "i agree",
    "gui",
    "send",
    "xac nhan",
    "confirm",
}
_NEGATIONS = {"khong", "ko", "k", "hong", "hok", "chua", "no", "not", "dont", "nope"}
_NO = {"khong", "ko", "k", "khong dong y", "no", "n", "nope", "disagree", "thoi"}


def yes_or_no(intent: str | None, text: str) -> bool | None:
    """A yes/no answer from the intent, or from the words when the NLU was unsure."""
    if intent == "affirm":
        return True
    if intent == "deny":
        return False
    phrase = " ".join(re.sub(r"[^\w ]", " ", fold(text)).split()) + " "
    # "không đồng ý", "dạ không": a negation among the first words makes it a no.
    if any(phrase.startswith(f"{no} ") for no in _NO) or _NEGATIONS & set(phrase.split()[:3]):
        return False
    if any(phrase.startswith(f"{yes} ") for yes in _YES):
        return True
    return None


def ask_consent(lang: str) -> Reply:
    return Reply(
        say(
            lang,
            "Dạ, để xử lý phản ánh, Tiếp Dân cần lưu nội dung, địa chỉ và số điện thoại "
            "anh/chị cung cấp. Thông tin chỉ dùng để giải quyết phản ánh này (Luật Bảo vệ "
            "dữ liệu cá nhân số 91/2025/QH15). Anh/chị đồng ý không ạ?",
            "To handle your report, Tiếp Dân needs to store the description, address and "
            "phone number you give. They are used only to resolve this report (Law "
            "91/2025/QH15 on personal data protection). Do you agree?",
        ),
        [
            Button(say(lang, "Đồng ý", "I agree"), intent_payload("affirm")),
            Button(say(lang, "Không đồng ý", "I don't agree"), intent_payload("deny")),
        ],
    )


def summary(catalog: Catalog, slots: Mapping[str, object], lang: str) -> Reply:
    category = str(slots.get(CATEGORY) or "other")
    unit = catalog.unit_for_category(category)
    lines = [
        say(lang, "Dạ, anh/chị kiểm tra lại giúp em:", "Please check your report:"),
        f"• {say(lang, 'Lĩnh vực', 'Category')}: {catalog.categories[category].name.get(lang)}",
        f"• {say(lang, 'Nội dung', 'Description')}: {slots.get(DESCRIPTION)}",
        f"• {say(lang, 'Địa điểm', 'Location')}: {slots.get(LOCATION)}",
    ]
    if slots.get(PHONE):
        lines.append(f"• {say(lang, 'Điện thoại', 'Phone')}: {format_phone(str(slots[PHONE]))}")
    lines.append(f"• {say(lang, 'Đơn vị xử lý', 'Handled by')}: {unit_name(unit, lang)}")
    lines.append(
        say(
            lang,
            'Anh/chị bấm "Gửi phản ánh" để gửi, hoặc nhắn "sửa địa chỉ", "sửa nội dung"… để chỉnh ạ.',
            'Press "Send report" to send it, or type "change address", "change description"… to edit.',
        )
    )
    return Reply(
        "\n".join(lines),
        [
            Button(say(lang, "Gửi phản ánh", "Send report"), intent_payload("affirm")),
            Button(
                say(lang, "Sửa địa chỉ", "Change address"),
                say(lang, "sửa địa chỉ", "change address"),
            ),
            Button(say(lang, "Hủy", "Cancel"), intent_payload("cancel")),
        ],
    )


def ask_what_to_fix(lang: str) -> Reply:
    return Reply(
        say(lang, "Dạ, anh/chị muốn sửa thông tin nào ạ?", "What would you like to change?"),
        [
            Button(
                say(lang, "Nội dung", "Description"),
                say(lang, "sửa nội dung", "change description"),
            ),
            Button(say(lang, "Địa chỉ", "Address"), say(lang, "sửa địa chỉ", "change address")),
            Button(say(lang, "Lĩnh vực", "Category"), say(lang, "sửa lĩnh vực", "change category")),
        ],
    )


def cancelled(lang: str) -> Reply:
    return Reply(
        say(
            lang,
            "Dạ, em đã hủy phản ánh đang soạn, chưa có thông tin nào được gửi đi. Anh/chị cần gì thêm cứ nhắn em ạ.",
            "OK, I've cancelled the report; nothing was sent. Let me know if you need anything else.",
        )
    )


def no_consent(lang: str) -> Reply:
    return Reply(
        say(
            lang,
            "Dạ, em hiểu. Khi chưa có sự đồng ý, em không lưu phản ánh này. Anh/chị có thể "
            "gặp nhân viên hoặc đến trực tiếp Bộ phận Một cửa để được hỗ trợ ạ.",
            "Understood. Without your consent I won't store this report. You can talk to a "
            "member of staff or visit the one-stop desk in person.",
        ),
        [Button(say(lang, "Gặp nhân viên", "Talk to staff"), intent_payload("request_human"))],
    )


def possible_duplicate(
    session: Session, sender_id: str, category: object, location: str, now: datetime | None = None
) -> str | None:
    """The code of an open ticket of this resident that looks like the same problem."""
    if not valid_category(category):
        return None
    ticket = find_possible_duplicate(session, sender_id, str(category), location, now)
    return ticket.code if ticket else None


def ask_same_problem(session: Session, code: str, lang: str) -> Reply:
    ticket = get_ticket(session, code)
    text = ticket_messages.duplicate_question(
        code=code,
        opened_on=ticket.created_at.date(),
        status=ticket.status,
        language=lang,
    )
    return Reply(
        text,
        [
            Button(
                say(lang, "Bổ sung vào phản ánh cũ", "Add to that report"), intent_payload("affirm")
            ),
            Button(say(lang, "Gửi phản ánh mới", "Send a new report"), intent_payload("deny")),
        ],
    )


@dataclass(frozen=True)
class Submitted:
    code: str
    reply: Reply


def submit(
    session: Session,
    catalog: Catalog,
    *,
    sender_id: str,
    slots: Mapping[str, object],
    lang: str,
    now: datetime | None = None,
) -> Submitted:
    """Open the ticket (once per draft, however often the confirmation arrives), or add the
    details to the resident's existing ticket when they said it is the same problem."""
    if slots.get(SAME) is True and slots.get(DUPLICATE):
        code = str(slots[DUPLICATE])
        details = f"{slots.get(DESCRIPTION)} ({slots.get(LOCATION)})"
        add_resident_details(session, code, sender_id, details, now)
        return Submitted(
            code,
            Reply(
                say(
                    lang,
                    f"Dạ, em đã bổ sung thông tin vào phản ánh {code}. Anh/chị có thể nhắn "
                    f'"kiểm tra {code}" để xem tiến độ ạ.',
                    f'Done — I\'ve added this to report {code}. Send "check {code}" to follow it.',
                )
            ),
        )
    category = valid_category(slots.get(CATEGORY)) or "other"
    ticket = open_ticket(
        session,
        kind="problem_report",
        category=category,
        description=str(slots.get(DESCRIPTION) or ""),
        location=str(slots.get(LOCATION) or "") or None,
        sender_id=sender_id,
        channel=channel_of(sender_id),
        language=lang,
        phone=str(slots[PHONE]) if slots.get(PHONE) else None,
        # Photos sent on the resident's channel while the report was being filled in.
        attachments=take_pending(session, sender_id, now),
        idempotency_key=str(slots.get(DRAFT) or "") or None,
        calendar=catalog.calendar,
        unit_for_category=lambda c: catalog.unit_for_category(c).id,
        now=now,
    )
    unit = catalog.units[ticket.responsible_unit_id]
    text = ticket_messages.acknowledgement(
        code=ticket.code,
        unit_name=unit_name(unit, lang),
        due_at=ticket.due_at,
        language=lang,
        kind=ticket.kind,
    )
    return Submitted(ticket.code, Reply(text))


_LAST4 = re.compile(r"(?<!\d)(\d{4})(?!\d)")


def status_reply(
    session: Session,
    catalog: Catalog,
    *,
    sender_id: str,
    text: str,
    code: str | None,
    lang: str,
    now: datetime | None = None,
) -> Reply:
    """The answer to "kiểm tra PA-…" (or to "hồ sơ của tôi tới đâu rồi" without a code)."""
    code = normalise_code(code) if code else None
    if code is None:
        views = list_open_for(session, sender_id, limit=5)
        if not views:
            return Reply(
                say(
                    lang,
                    "Dạ, hiện anh/chị chưa có phản ánh nào đang xử lý trên kênh này. Nếu có mã "
                    "phản ánh (dạng PA-2611-K7M3Q), anh/chị nhắn mã giúp em ạ.",
                    "You have no open reports on this channel. If you have a reference "
                    "(like PA-2611-K7M3Q), send it to me.",
                ),
                [
                    Button(
                        say(lang, "Gửi phản ánh", "Report a problem"),
                        intent_payload("file_complaint"),
                    )
                ],
            )
        return Reply(ticket_messages.open_tickets(views, lang))
    remainder = text.replace(code, " ")
    digits = [d for d in _LAST4.findall(remainder) if d != code[3:7]]
    result = get_status_for(
        session, code, sender_id=sender_id, phone_last4=digits[-1] if digits else None, now=now
    )
    if isinstance(result, LookupRefused):
        return Reply(ticket_messages.rate_limited(lang, result.retry_after_minutes))
    if result is None:
        return Reply(ticket_messages.not_found(lang, code))
    unit = catalog.units.get(result.responsible_unit_id or "")
    return Reply(ticket_messages.status_view(result, lang, unit_name(unit, lang) if unit else None))


# Words that only say "I want to complain", not what is wrong.
_REQUEST_WORDS = set(
    [
        "toi",
        "minh",
        "em",
        "tui",
        "chung",
        "chau",
        "anh",
        "chi",
        "a",
        "e",
        "muon",
        "can",
        "xin",
        "gui",
        "phan",
        "anh",
        "khieu",
        "nai",
        "to",
        "cao",
        "bao",
        "cao",
        "ve",
        "viec",
        "cho",
        "hoi",
        "lam",
        "sao",
        "de",
        "nhu",
        "the",
        "nao",
        "the",
        "nao",
        "a",
        "nhe",
        "nha",
        "oi",
        "voi",
        "duoc",
        "dc",
        "dk",
        "khong",
        "ko",
        "i",
        "we",
        "want",
        "would",
        "like",
        "need",
        "to",
        "file",
        "make",
        "send",
        "submit",
        "report",
        "a",
        "an",
        "complaint",
        "complain",
        "about",
        "problem",
        "issue",
        "there",
        "is",
        "please",
        "can",
        "how",
        "do",
    ]
)


def description_from_opening(text: str) -> str | None:
    """The problem itself when the resident's first message already describes it
    ("đèn đường trước nhà tôi bị hỏng"), None when it only asks to complain."""
    if not text or text.startswith("/"):
        return None
    words = [w for w in re.sub(r"[^\w ]", " ", fold(text)).split() if w not in _REQUEST_WORDS]
    if len(words) < 4:
        return None
    description, problem = check_description(text, "vi")
    return description if problem is None else None
