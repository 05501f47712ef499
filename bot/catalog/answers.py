"""What the assistant says about services and offices, in Vietnamese and English.

Every function returns a `Reply`: a short text with the most useful fact first and at most
one or two follow-up buttons whose payloads are Rasa intent payloads. Tone and formats
follow VOICE.md: "Dạ, …", anh/chị, dd/mm/yyyy, "50.000 đồng", "0236 3 555 101". Internal
ids appear only in button payloads, never in the text a resident reads.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

from bot.catalog import hours as h
from bot.catalog.facets import FACETS, detect_facet
from bot.catalog.formatting import (
    format_date,
    format_day,
    format_interval,
    format_money,
    format_phone,
    format_time,
    weekday_name,
)
from bot.catalog.matching import resolve
from bot.catalog.model import Catalog, Match, Service, Unit, normalize_lang
from bot.replies import Button, Reply

# Intents the buttons trigger (domain.yml). Payload entities: `service` (a service id),
# `unit` (a unit id) and `facet` (one of bot.catalog.facets.FACETS).
INTENT_SERVICE = "ask_service_info"
INTENT_CONTACT = "ask_contact"
INTENT_HOURS = "ask_office_hours"
INTENT_HUMAN = "request_human"
INTENT_COMPLAINT = "file_complaint"

# In a follow-up ("còn lệ phí thì sao?"), only a text search this strong switches to
# another service; anything weaker stays with the service already being discussed.
_CONFIDENT = 0.9

_CLOSING_SOON = timedelta(minutes=30)


def payload(intent: str, **entities: str) -> str:
    """'/ask_service_info{"service":"birth_registration","facet":"fee"}'."""
    values = {key: value for key, value in entities.items() if value}
    if not values:
        return f"/{intent}"
    return f"/{intent}{json.dumps(values, ensure_ascii=False, separators=(',', ':'))}"


def _t(lang: str, vi: str, en: str) -> str:
    return en if lang == "en" else vi


# -- buttons -----------------------------------------------------------------------------

_SERVICE_BUTTONS = {
    "documents": ("Xem giấy tờ cần nộp", "Documents needed"),
    "fee": ("Xem lệ phí", "See the fee"),
    "processing_time": ("Bao lâu có kết quả?", "How long it takes"),
    "submission": ("Nộp hồ sơ ở đâu?", "Where to apply"),
    "hours": ("Xem giờ làm việc", "Opening hours"),
    "phone": ("Số điện thoại", "Phone number"),
}

# After answering one facet, the one follow-up most residents want next.
_NEXT_FACET = {
    "overview": "documents",
    "documents": "submission",
    "fee": "documents",
    "processing_time": "submission",
    "submission": "hours",
    "eligibility": "documents",
    "unit": "hours",
    "phone": "hours",
    "hours": "phone",
}


def service_payload(service_id: str, facet: str | None = None) -> str:
    """Hours and contact questions go to their own intents; the rest carry a facet."""
    if facet == "hours":
        return payload(INTENT_HOURS, service=service_id)
    if facet in ("phone", "unit"):
        return payload(INTENT_CONTACT, service=service_id)
    return payload(INTENT_SERVICE, service=service_id, facet=facet if facet != "overview" else None)


def unit_payload(unit_id: str, facet: str | None = None) -> str:
    if facet == "hours":
        return payload(INTENT_HOURS, unit=unit_id)
    return payload(INTENT_CONTACT, unit=unit_id)


def _service_button(service: Service, facet: str, lang: str) -> Button:
    vi, en = _SERVICE_BUTTONS[facet]
    return Button(_t(lang, vi, en), service_payload(service.id, facet))


def _unit_button(unit: Unit, facet: str, lang: str) -> Button:
    vi, en = _SERVICE_BUTTONS[facet]
    return Button(_t(lang, vi, en), unit_payload(unit.id, facet))


def human_button(lang: str) -> Button:
    return Button(_t(lang, "Gặp nhân viên", "Talk to a person"), payload(INTENT_HUMAN))


def complaint_button(lang: str) -> Button:
    return Button(_t(lang, "Gửi phản ánh", "Send a report"), payload(INTENT_COMPLAINT))


# -- naming ------------------------------------------------------------------------------


def _in_sentence(name: str) -> str:
    """'Đăng ký khai sinh' → 'đăng ký khai sinh' (but keep 'UBND …', 'VNeID …')."""
    if len(name) > 1 and name[1].isupper():
        return name
    return name[:1].lower() + name[1:]


def unit_name(unit: Unit, lang: str) -> str:
    """The unit's official name; in English, the Vietnamese name with an English gloss."""
    if lang == "en":
        return f"{unit.name.vi} ({unit.name.en})"
    return unit.name.vi


# -- services ----------------------------------------------------------------------------


def answer_service(
    catalog: Catalog, service: Service, facet: str, lang: str, now: datetime
) -> Reply:
    """Answer one facet (see bot.catalog.facets.FACETS) of a service."""
    lang = normalize_lang(lang)
    unit = catalog.unit(service.unit)
    if facet == "hours":
        return answer_hours(catalog, unit, lang, now)
    if facet == "phone":
        contact = answer_unit_contact(catalog, unit, lang)
        lead = _t(
            lang,
            f"Dạ, {_in_sentence(service.name.vi)} do {unit.name.vi} giải quyết.",
            f"{service.name.en} is handled by {unit_name(unit, lang)}.",
        )
        text = lead + "\n" + _strip_greeting(contact.text, lang)
        return Reply(text, [_service_button(service, "hours", lang)])
    build = {
        "documents": _documents,
        "fee": _fee,
        "processing_time": _processing_time,
        "submission": _submission,
        "eligibility": _eligibility,
        "unit": _unit,
    }.get(facet, _overview)
    text = build(catalog, service, unit, lang, now)
    next_facet = _NEXT_FACET.get(facet, "documents")
    return Reply(text, [_service_button(service, next_facet, lang)])


def _strip_greeting(text: str, lang: str) -> str:
    """Drop the first line ("Dạ, thông tin liên hệ …:") when a reply is nested in another."""
    return text.split("\n", 1)[1] if "\n" in text else text


def _fee_phrase(service: Service, lang: str) -> str:
    fee = service.fee
    if fee.amount is None:
        return _t(lang, "tùy từng trường hợp", "depends on the case")
    if fee.amount == 0:
        return _t(lang, "miễn phí", "free")
    return format_money(fee.amount, lang)


def _processing_phrase(service: Service, lang: str) -> str:
    days = service.processing_days
    if days == 0:
        return _t(lang, "trong ngày làm việc", "the same working day")
    return _t(lang, f"{days} ngày làm việc", f"{days} working day{'s' if days > 1 else ''}")


def _channels_phrase(service: Service, lang: str) -> str:
    submission = service.submission
    parts = []
    if "in_person" in submission.channels:
        parts.append(submission.where.get(lang))
    if "online" in submission.channels:
        parts.append(_t(lang, "trực tuyến tại ", "online at ") + str(submission.portal_url))
    if "post" in submission.channels:
        parts.append(_t(lang, "qua bưu điện", "by post"))
    return _t(lang, " hoặc ", " or ").join(parts)


def _overview(catalog, service, unit, lang, now) -> str:
    lines = [
        _t(lang, f"Dạ, {_in_sentence(service.name.vi)}:", f"{service.name.en}:"),
        _sentence(service.description.get(lang)),
        _t(lang, "- Lệ phí: ", "- Fee: ") + _fee_phrase(service, lang),
        _t(lang, "- Thời hạn giải quyết: ", "- Processing time: ")
        + _processing_phrase(service, lang),
        _t(lang, "- Nơi nộp: ", "- Where to apply: ") + _channels_phrase(service, lang),
        _t(lang, "Thông tin cập nhật ngày ", "Information checked on ")
        + format_date(service.last_reviewed)
        + ".",
    ]
    return "\n".join(lines)


def _documents(catalog, service, unit, lang, now) -> str:
    head = _t(
        lang,
        f"Dạ, hồ sơ {_in_sentence(service.name.vi)} gồm:",
        f"Here is what you need for {_in_sentence(service.name.en)}:",
    )
    return "\n".join([head, *(f"- {item}" for item in service.documents.get(lang))])


def _fee(catalog, service, unit, lang, now) -> str:
    fee = service.fee
    name = _in_sentence(service.name.get(lang))
    if fee.amount is None:
        first = _t(
            lang,
            f"Dạ, lệ phí {name} tùy từng trường hợp.",
            f"The fee for {name} depends on the case.",
        )
    elif fee.amount == 0:
        first = _t(lang, f"Dạ, {name}: miễn lệ phí.", f"{service.name.en}: free of charge.")
    else:
        first = _t(
            lang,
            f"Dạ, lệ phí {name}: {format_money(fee.amount, lang)}.",
            f"The fee for {name} is {format_money(fee.amount, lang)}.",
        )
    lines = [first]
    if fee.note:
        lines.append(_sentence(fee.note.get(lang)))
    basis = fee.legal_basis or service.legal_basis
    lines.append(_t(lang, "Căn cứ: ", "Legal basis: ") + _sentence(basis))
    return "\n".join(lines)


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def expected_result_date(catalog: Catalog, service: Service, now: datetime) -> tuple[date, date]:
    """(the day an application made now is received, the day its result is due).

    Received today while the handling office is still open, otherwise at its next session;
    processing counts working days after the day of receipt (holidays and make-up days
    from the catalog). A same-day procedure received on a non-working day (the one-stop
    desk's Saturday morning) is due on the next working day.
    """
    now = h.to_vietnam_time(now)
    unit = catalog.unit(service.unit)
    status = h.opening_status(unit, now, catalog.calendar)
    if status.open_now:
        received = now.date()
    elif status.next_open is not None:
        received = status.next_open.date()
    else:
        received = catalog.calendar.next_working_day(now.date() + timedelta(days=1))
    if service.processing_days == 0:
        return received, catalog.calendar.next_working_day(received)
    return received, catalog.calendar.add_working_days(received, service.processing_days)


def _processing_time(catalog, service, unit, lang, now) -> str:
    name = service.name.get(lang)
    days = service.processing_days
    if days == 0:
        first = _t(
            lang,
            f"Dạ, {_in_sentence(name)} được giải quyết trong ngày làm việc.",
            f"{name} is done the same working day.",
        )
    else:
        first = _t(
            lang,
            f"Dạ, thời hạn giải quyết {_in_sentence(name)} là {days} ngày làm việc "
            "(không tính thứ Bảy, Chủ nhật và ngày lễ).",
            f"{name} takes {_processing_phrase(service, lang)} "
            "(weekends and public holidays don't count).",
        )
    lines = [first]
    if service.processing_note:
        lines.append(_sentence(service.processing_note.get(lang)))
    received, due = expected_result_date(catalog, service, now)
    today = h.to_vietnam_time(now).date()
    if received == today == due:
        lines.append(
            _t(
                lang,
                f"Nếu nộp hồ sơ hôm nay ({format_date(today)}), anh/chị có kết quả trong ngày.",
                f"If you apply today ({format_date(today)}), you get the result the same day.",
            )
        )
    elif received == today:
        lines.append(
            _t(
                lang,
                f"Nếu nộp hồ sơ hôm nay ({format_date(today)}), dự kiến có kết quả vào "
                f"{format_day(due, lang)}.",
                f"If you apply today ({format_date(today)}), expect the result on "
                f"{format_day(due, lang)}.",
            )
        )
    else:
        lines.append(
            _t(
                lang,
                f"Nếu nộp vào {format_day(received, lang)}, dự kiến có kết quả vào "
                f"{format_day(due, lang)}.",
                f"If you apply on {format_day(received, lang)}, expect the result on "
                f"{format_day(due, lang)}.",
            )
        )
    return "\n".join(lines)


def _submission(catalog, service, unit, lang, now) -> str:
    submission = service.submission
    name = _in_sentence(service.name.get(lang))
    lines = []
    if "in_person" in submission.channels:
        lines.append(
            _t(
                lang,
                f"Dạ, anh/chị nộp hồ sơ {name} tại {submission.where.vi}.",
                f"You can apply for {name} in person at {submission.where.en}.",
            )
        )
    if "online" in submission.channels:
        if lines:
            lines.append(
                _t(
                    lang,
                    f"Anh/chị cũng có thể nộp trực tuyến tại {submission.portal_url}",
                    f"You can also apply online at {submission.portal_url}",
                )
            )
        else:
            lines.append(
                _t(
                    lang,
                    f"Dạ, {name} chỉ nộp trực tuyến tại {submission.portal_url}",
                    f"{service.name.en} is online only: {submission.portal_url}",
                )
            )
    if "post" in submission.channels:
        lines.append(_t(lang, "Hoặc gửi hồ sơ qua bưu điện.", "Or send your application by post."))
    return "\n".join(lines)


def _eligibility(catalog, service, unit, lang, now) -> str:
    text = _sentence(service.eligibility.get(lang))
    return _t(lang, f"Dạ, {_in_sentence(text)}", text)


def _unit(catalog, service, unit, lang, now) -> str:
    name = service.name.get(lang)
    lines = [
        _t(
            lang,
            f"Dạ, {_in_sentence(name)} do {unit.name.vi} giải quyết.",
            f"{name} is handled by {unit_name(unit, lang)}.",
        ),
        _t(lang, "Nơi nộp hồ sơ: ", "Where to apply: ")
        + _sentence(service.submission.where.get(lang)),
        _t(lang, "Điện thoại: ", "Phone: ") + format_phone(unit.phone),
    ]
    return "\n".join(lines)


# -- units -------------------------------------------------------------------------------


def answer_unit_contact(catalog: Catalog, unit: Unit, lang: str) -> Reply:
    """Phone first, then the 24/7 hotline, e-mail, address and map."""
    lang = normalize_lang(lang)
    lines = [
        _t(
            lang,
            f"Dạ, thông tin liên hệ {unit.name.vi}:",
            f"How to reach {unit_name(unit, lang)}:",
        ),
        _t(lang, "- Điện thoại: ", "- Phone: ") + format_phone(unit.phone),
    ]
    if unit.hotline:
        if unit.hotline_24h:
            label = _t(lang, "- Đường dây nóng 24/7: ", "- 24/7 hotline: ")
        else:
            label = _t(lang, "- Đường dây nóng: ", "- Hotline: ")
        lines.append(label + format_phone(unit.hotline))
    lines.append(f"- Email: {unit.email}")
    lines.append(_t(lang, "- Địa chỉ: ", "- Address: ") + unit.address.get(lang))
    if unit.map_url:
        lines.append(_t(lang, "- Bản đồ: ", "- Map: ") + unit.map_url)
    buttons = [_unit_button(unit, "hours", lang)]
    if unit.categories and "other" not in unit.categories:
        buttons.append(complaint_button(lang))
    return Reply("\n".join(lines), buttons)


def _weekly_schedule(unit: Unit, lang: str) -> list[str]:
    """'- Thứ Hai – thứ Sáu: 7h30–11h30, 13h30–17h00' lines, days with equal hours grouped."""
    lines = []
    day = 0
    closed_days = []
    while day < 7:
        intervals = unit.hours_on(day)
        last = day
        while last + 1 < 7 and unit.hours_on(last + 1) == intervals:
            last += 1
        if not intervals:
            closed_days.extend(range(day, last + 1))
        else:
            days = weekday_name(day, lang)
            if last > day:
                days += " – " + weekday_name(last, lang)
            slots = ", ".join(format_interval(i, lang) for i in intervals)
            note = ""
            if unit.saturday_morning_receipt and day == last == h.SATURDAY:
                note = _t(lang, " (chỉ tiếp nhận hồ sơ)", " (applications received only)")
            lines.append(f"- {_capitalize(days)}: {slots}{note}")
        day = last + 1
    closed = [weekday_name(d, lang) for d in closed_days]
    closed.append(_t(lang, "ngày lễ", "public holidays"))
    joined = _t(lang, ", ", ", ").join(closed)
    lines.append(f"- {_capitalize(joined)}: " + _t(lang, "nghỉ", "closed"))
    return lines


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def _when(moment: datetime, now: datetime, lang: str) -> str:
    """'lúc 13h30 hôm nay' / 'lúc 7h30 sáng mai (thứ Ba, 17/03/2026)' / 'lúc 7h30 thứ Hai, …'."""
    at = format_time(moment.time(), lang)
    if moment.date() == now.date():
        return _t(lang, f"lúc {at} hôm nay", f"at {at} today")
    if moment.date() == now.date() + timedelta(days=1):
        return _t(
            lang,
            f"lúc {at} ngày mai ({format_day(moment.date(), lang)})",
            f"at {at} tomorrow ({format_day(moment.date(), lang)})",
        )
    return _t(
        lang,
        f"lúc {at} {format_day(moment.date(), lang)}",
        f"at {at} on {format_day(moment.date(), lang)}",
    )


def _status_line(catalog: Catalog, unit: Unit, lang: str, now: datetime) -> str:
    status = h.opening_status(unit, now, catalog.calendar)
    vi_name, en_name = unit.name.vi, unit_name(unit, lang)
    if status.open_now:
        closes = format_time(status.closes_at.time(), lang)
        if status.closes_at - now <= _CLOSING_SOON:
            return _t(
                lang,
                f"Dạ, {vi_name} sắp hết giờ làm việc: đóng cửa lúc {closes}.",
                f"{en_name} closes soon, at {closes}.",
            )
        if status.reason == h.SATURDAY_RECEIPT:
            return _t(
                lang,
                f"Dạ, sáng thứ Bảy {vi_name} đang tiếp nhận hồ sơ, đến {closes}.",
                f"{en_name} is receiving applications this Saturday morning, until {closes}.",
            )
        if status.reason == h.MAKEUP_DAY:
            return _t(
                lang,
                f"Dạ, hôm nay là ngày làm bù, {vi_name} làm việc như ngày thường, đến {closes}.",
                f"Today is an official make-up working day: {en_name} is open as on a "
                f"weekday, until {closes}.",
            )
        return _t(
            lang,
            f"Dạ, {vi_name} đang làm việc, đến {closes}.",
            f"{en_name} is open now, until {closes}.",
        )
    if status.next_open is None:
        return _t(
            lang,
            f"Dạ, {vi_name} hiện không tiếp dân trực tiếp.",
            f"{en_name} does not receive visitors at the moment.",
        )
    again = _when(status.next_open, now, lang)
    if status.reason == h.LUNCH_BREAK:
        return _t(
            lang,
            f"Dạ, {vi_name} đang nghỉ trưa, làm việc lại {again}.",
            f"{en_name} is on its lunch break; it reopens {again}.",
        )
    if status.reason == h.BEFORE_OPENING:
        return _t(
            lang,
            f"Dạ, {vi_name} chưa mở cửa, sẽ làm việc {again}.",
            f"{en_name} is not open yet; it opens {again}.",
        )
    if status.reason == h.HOLIDAY:
        holiday = catalog.holiday_on(now.date())
        name_vi = holiday.name.vi if holiday else "ngày lễ"
        name_en = holiday.name.en if holiday else "public holiday"
        return _t(
            lang,
            f"Dạ, hôm nay là ngày nghỉ: {name_vi}. {vi_name} không làm việc, mở cửa lại {again}.",
            f"Today is a day off: {name_en}. {en_name} is closed and opens again {again}.",
        )
    if status.reason == h.WEEKEND:
        day_vi = weekday_name(now.weekday(), "vi")
        day_en = weekday_name(now.weekday(), "en")
        return _t(
            lang,
            f"Dạ, {vi_name} không làm việc vào {day_vi}. Mở cửa lại {again}.",
            f"{en_name} is closed on {day_en}s. It opens again {again}.",
        )
    return _t(
        lang,
        f"Dạ, {vi_name} hiện đã hết giờ làm việc. Mở cửa lại {again}.",
        f"{en_name} is closed now. It opens again {again}.",
    )


def answer_hours(catalog: Catalog, unit: Unit, lang: str, now: datetime) -> Reply:
    """Open right now? When next? Then the weekly hours (lunch break, Saturday) and hotline."""
    lang = normalize_lang(lang)
    now = h.to_vietnam_time(now)
    lines = [_status_line(catalog, unit, lang, now)]
    lines.append(_t(lang, "Giờ làm việc:", "Opening hours:"))
    lines += _weekly_schedule(unit, lang)
    if unit.hotline and unit.hotline_24h:
        lines.append(
            _t(
                lang,
                f"Đường dây nóng 24/7 (kể cả ngoài giờ): {format_phone(unit.hotline)}.",
                f"The 24/7 hotline answers outside office hours too: {format_phone(unit.hotline)}.",
            )
        )
    return Reply("\n".join(lines), [_unit_button(unit, "phone", lang)])


# -- choosing and not finding ------------------------------------------------------------


def answer_choose(matches: list[Match], lang: str, facet: str | None = None) -> Reply:
    """Ask which of 2–3 candidates the resident means, one button each."""
    lang = normalize_lang(lang)
    buttons = []
    for match in matches[:3]:
        if match.kind == "service":
            buttons.append(Button(match.item.name.get(lang), service_payload(match.id, facet)))
        else:
            buttons.append(Button(match.item.label(lang), unit_payload(match.id, facet)))
    if matches and matches[0].kind == "unit":
        text = _t(lang, "Dạ, anh/chị muốn hỏi cơ quan nào ạ?", "Which office do you mean?")
    else:
        text = _t(lang, "Dạ, anh/chị muốn hỏi thủ tục nào ạ?", "Which one do you mean?")
    return Reply(text, buttons)


def answer_not_found(catalog: Catalog, lang: str) -> Reply:
    """Nothing matched: say so, offer the desks that help with any procedure, or a person."""
    lang = normalize_lang(lang)
    text = _t(
        lang,
        "Dạ, em chưa tìm thấy thủ tục phù hợp với câu hỏi của anh/chị. Anh/chị thử nói tên "
        "thủ tục (ví dụ: đăng ký khai sinh), chọn cơ quan bên dưới, hoặc gặp nhân viên ạ.",
        "Sorry, I couldn't find a matching service. Try the name of the procedure (for "
        "example: birth registration), pick an office below, or talk to a person.",
    )
    buttons = []
    for category in ("admin_procedure", "other"):
        unit = catalog.unit_for_category(category)
        button = Button(unit.label(lang), unit_payload(unit.id))
        if button not in buttons:
            buttons.append(button)
    buttons.append(human_button(lang))
    return Reply(text, buttons)


def answer_service_question(
    catalog: Catalog,
    text: str,
    lang: str,
    now: datetime,
    entity: str | None = None,
    previous: str | None = None,
    facet: str | None = None,
) -> Reply:
    """The whole `ask_service_info` turn: which service, which facet, which answer.

    entity: the NLU `service` entity (an id or the words that matched), if any.
    previous: the service discussed so far (a slot), so that a follow-up such as
    "còn lệ phí thì sao?" answers the fee of that service.
    facet: from a button payload; otherwise detected in `text`.
    """
    return service_turn(catalog, text, lang, now, entity, previous, facet)[0]


def service_turn(
    catalog: Catalog,
    text: str,
    lang: str,
    now: datetime,
    entity: str | None = None,
    previous: str | None = None,
    facet: str | None = None,
) -> tuple[Reply, str | None]:
    """`answer_service_question` plus the id of the service answered (None when the
    resident must choose or nothing matched), which the caller keeps for follow-ups."""
    facet = facet if facet in FACETS else detect_facet(text)
    if entity:
        outcome = resolve(catalog.find_services(entity))
    else:
        outcome = resolve(catalog.find_services(text))
        weak = outcome.best is None or outcome.best.score < _CONFIDENT
        if weak and previous in catalog.services:
            service = catalog.services[previous]
            return answer_service(catalog, service, facet, lang, now), service.id
    if outcome.outcome == "answer":
        service = outcome.best.item
        return answer_service(catalog, service, facet, lang, now), service.id
    if outcome.outcome == "choose":
        return answer_choose(list(outcome.matches), lang, facet), None
    return answer_not_found(catalog, lang), None


def find_unit(
    catalog: Catalog,
    text: str = "",
    unit: str | None = None,
    category: str | None = None,
    service: str | None = None,
) -> Unit | list[Match] | None:
    """The office a contact or hours question is about.

    In order: a unit id, a complaint category (street_lighting → the lighting company),
    a service (→ the unit that handles it), then the resident's words. Returns the unit,
    2–3 candidates to choose from, or None.
    """
    if unit in catalog.units:
        return catalog.units[unit]
    if category:
        return catalog.unit_for_category(category)
    if service:
        outcome = resolve(catalog.find_services(service))
        if outcome.outcome == "answer":
            return catalog.unit(outcome.best.item.unit)
    for outcome in (resolve(catalog.find_units(text)), resolve(catalog.find_services(text))):
        if outcome.outcome == "answer":
            item = outcome.best.item
            return item if isinstance(item, Unit) else catalog.unit(item.unit)
        if outcome.outcome == "choose":
            return list(outcome.matches)
    return None


def answer_unit_question(
    catalog: Catalog,
    text: str,
    lang: str,
    now: datetime,
    hours: bool = False,
    unit: str | None = None,
    category: str | None = None,
    service: str | None = None,
) -> Reply:
    """The whole `ask_contact` / `ask_office_hours` turn ("who do I call about a broken
    street light?", "UBND phường mấy giờ mở cửa?")."""
    found = find_unit(catalog, text, unit=unit, category=category, service=service)
    if isinstance(found, Unit):
        if hours or detect_facet(text) == "hours":
            return answer_hours(catalog, found, lang, now)
        return answer_unit_contact(catalog, found, lang)
    if found:
        return answer_choose(found, lang, "hours" if hours else "phone")
    return answer_not_found(catalog, lang)
