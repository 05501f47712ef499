"""What residents read about their tickets, in Vietnamese and English (see VOICE.md).

Every function takes the language ("vi" or "en", anything else falls back to Vietnamese)
and, where a unit is named, the unit's display name: the catalog owns names, not this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from bot.tickets.dates import format_date
from bot.tickets.lifecycle import OPEN_STATUSES, REJECTED, RESOLVED
from bot.tickets.validation import MAX_DESCRIPTION_CHARS, TOO_LONG
from bot.tickets.views import StatusView

STATUS_NAMES = {
    "vi": {
        "received": "Đã tiếp nhận",
        "assigned": "Đã chuyển đơn vị xử lý",
        "in_progress": "Đang xử lý",
        "resolved": "Đã xử lý xong",
        "closed": "Đã đóng",
        "rejected": "Không được tiếp nhận",
        "reopened": "Đã mở lại",
    },
    "en": {
        "received": "Received",
        "assigned": "Passed to the responsible unit",
        "in_progress": "In progress",
        "resolved": "Resolved",
        "closed": "Closed",
        "rejected": "Not accepted",
        "reopened": "Reopened",
    },
}

KIND_NAMES = {
    # "Phản ánh" is what residents and offices call complaints and problem reports alike.
    "vi": {
        "complaint": "phản ánh",
        "problem_report": "phản ánh",
        "request": "yêu cầu",
        "suggestion": "góp ý",
    },
    "en": {
        "complaint": "complaint",
        "problem_report": "report",
        "request": "request",
        "suggestion": "suggestion",
    },
}

CATEGORY_NAMES = {
    "vi": {
        "water_supply": "Cấp nước",
        "electricity": "Cấp điện",
        "drainage": "Thoát nước, ngập úng",
        "wastewater": "Nước thải",
        "roads": "Đường giao thông",
        "street_lighting": "Chiếu sáng công cộng",
        "waste_collection": "Thu gom rác",
        "noise": "Tiếng ồn",
        "trees": "Cây xanh",
        "urban_order": "Trật tự đô thị",
        "staff_conduct": "Thái độ cán bộ",
        "admin_procedure": "Thủ tục hành chính",
        "billing": "Hóa đơn, phí",
        "other": "Vấn đề khác",
    },
    "en": {
        "water_supply": "Water supply",
        "electricity": "Electricity",
        "drainage": "Drainage and flooding",
        "wastewater": "Wastewater",
        "roads": "Roads",
        "street_lighting": "Street lighting",
        "waste_collection": "Waste collection",
        "noise": "Noise",
        "trees": "Trees",
        "urban_order": "Urban order",
        "staff_conduct": "Staff conduct",
        "admin_procedure": "Administrative procedures",
        "billing": "Bills and fees",
        "other": "Other",
    },
}

PRIORITY_NAMES = {
    "vi": {"low": "thấp", "normal": "bình thường", "high": "cao", "urgent": "khẩn"},
    "en": {"low": "low", "normal": "normal", "high": "high", "urgent": "urgent"},
}


def _lang(language: str) -> str:
    return "en" if language == "en" else "vi"


def status_name(status: str, language: str) -> str:
    return STATUS_NAMES[_lang(language)].get(status, status)


def kind_name(kind: str, language: str) -> str:
    names = KIND_NAMES[_lang(language)]
    return names.get(kind, names["problem_report"])


def category_name(category: str, language: str) -> str:
    names = CATEGORY_NAMES[_lang(language)]
    return names.get(category, names["other"])


def acknowledgement(
    *, code: str, unit_name: str, due_at: date, language: str, kind: str = "problem_report"
) -> str:
    """The receipt sent right after a ticket is opened."""
    due = format_date(due_at)
    if _lang(language) == "en":
        return (
            f"Thanks — your {kind_name(kind, 'en')} is in. Reference {code}. "
            f"{unit_name} will reply by {due}. "
            f'To check progress, send "check {code}".'
        )
    return (
        f"Dạ, {kind_name(kind, 'vi')} của anh/chị đã được tiếp nhận, mã {code}. "
        f"{unit_name} sẽ phản hồi trước ngày {due}. "
        f'Anh/chị có thể nhắn "kiểm tra {code}" để xem tiến độ ạ.'
    )


def status_changed(
    *,
    code: str,
    status: str,
    public_note: str | None,
    language: str,
    kind: str = "problem_report",
) -> str:
    """The notification a resident gets when their ticket moves (sent through the outbox)."""
    lines: list[str] = []
    if _lang(language) == "en":
        lines.append(f"Update on your {kind_name(kind, 'en')} {code}: {status_name(status, 'en')}.")
        if public_note:
            lines.append(
                f"{'Reason' if status == REJECTED else 'Reply from the unit'}: {public_note}"
            )
        if status == RESOLVED:
            lines.append("If the problem is still there, just reply here.")
        return "\n".join(lines)
    lines.append(
        f"Dạ, Tiếp Dân cập nhật {kind_name(kind, 'vi')} {code} của anh/chị: "
        f"{status_name(status, 'vi')}."
    )
    if public_note:
        lines.append(f"{'Lý do' if status == REJECTED else 'Phản hồi của đơn vị'}: {public_note}")
    if status == RESOLVED:
        lines.append("Nếu vấn đề chưa được khắc phục, anh/chị cứ nhắn lại tại đây ạ.")
    return "\n".join(lines)


def status_view(view: StatusView, language: str, unit_name: str | None = None) -> str:
    """The answer to "kiểm tra PA-…": status, unit, due date, the latest reply."""
    en = _lang(language) == "en"
    opened, category = format_date(view.opened_on), category_name(view.category, language)
    if en:
        lines = [
            f"{kind_name(view.kind, 'en').capitalize()} {view.code} ({category}, sent {opened}):",
            f"- Status: {status_name(view.status, 'en')}",
        ]
        if unit_name:
            lines.append(f"- Handled by: {unit_name}")
        if view.status in OPEN_STATUSES:
            lines.append(f"- Reply due by: {format_date(view.due_at)}")
        if view.last_public_note:
            lines.append(f"- Latest reply: {view.last_public_note}")
        return "\n".join(lines)
    lines = [
        f"Dạ, {kind_name(view.kind, 'vi')} {view.code} ({category}, gửi ngày {opened}):",
        f"- Trạng thái: {status_name(view.status, 'vi')}",
    ]
    if unit_name:
        lines.append(f"- Đơn vị xử lý: {unit_name}")
    if view.status in OPEN_STATUSES:
        lines.append(f"- Hạn phản hồi: {format_date(view.due_at)}")
    if view.last_public_note:
        lines.append(f"- Phản hồi mới nhất: {view.last_public_note}")
    return "\n".join(lines)


def open_tickets(views: Sequence[StatusView], language: str) -> str:
    """The resident's own open tickets, newest first."""
    en = _lang(language) == "en"
    if not views:
        if en:
            return "You have no open reports right now."
        return "Dạ, hiện anh/chị không có phản ánh nào đang chờ xử lý ạ."
    lines = []
    for view in views:
        category, status = (
            category_name(view.category, language),
            status_name(view.status, language),
        )
        due = format_date(view.due_at)
        lines.append(f"- {view.code}: {category}, {status}, {'due' if en else 'hạn'} {due}")
    if en:
        count = "1 open report" if len(views) == 1 else f"{len(views)} open reports"
        return "\n".join(
            [f"You have {count}:", *lines, 'Send "check <reference>" for the details.']
        )
    return "\n".join(
        [
            f"Dạ, anh/chị có {len(views)} phản ánh đang chờ xử lý:",
            *lines,
            'Anh/chị nhắn "kiểm tra <mã>" để xem chi tiết ạ.',
        ]
    )


def not_found(language: str, code: str | None = None) -> str:
    """Said alike for a code that does not exist and for someone else's ticket."""
    if _lang(language) == "en":
        which = f"report {code}" if code else "that report"
        return (
            f"Sorry, I couldn't find {which}. Please check the reference. "
            "If someone else sent it, tell me the last 4 digits of the phone number given with it."
        )
    which = f"phản ánh mã {code}" if code else "phản ánh với mã này"
    return (
        f"Dạ, em chưa tìm thấy {which}. Anh/chị vui lòng kiểm tra lại mã. "
        "Nếu phản ánh do người khác gửi, anh/chị cho em xin 4 số cuối "
        "của số điện thoại đã đăng ký ạ."
    )


def rate_limited(language: str, minutes: int = 15) -> str:
    if _lang(language) == "en":
        return (
            "Sorry — several references in a row didn't match, so look-ups are paused "
            f"to protect residents' information. Please try again in {minutes} minutes."
        )
    return (
        "Dạ, em xin lỗi, anh/chị đã tra cứu sai mã nhiều lần nên em tạm dừng tra cứu "
        "để bảo vệ thông tin của người dân. "
        f"Anh/chị vui lòng thử lại sau {minutes} phút ạ."
    )


def duplicate_question(*, code: str, opened_on: date, status: str, language: str) -> str:
    """Asked before opening a ticket that looks like one the resident already sent."""
    opened = format_date(opened_on)
    if _lang(language) == "en":
        return (
            f"You sent a similar report on {opened}, reference {code} "
            f"({status_name(status, 'en')}). Add to that one, or send a new report?"
        )
    return (
        f"Dạ, anh/chị đã gửi một phản ánh tương tự ngày {opened}, mã {code} "
        f"({status_name(status, 'vi')}). Anh/chị muốn bổ sung vào phản ánh đó "
        "hay gửi phản ánh mới ạ?"
    )


def description_problem(problem: str, language: str) -> str:
    """Asks for a better description (see validation.validate_description)."""
    limit = f"{MAX_DESCRIPTION_CHARS:,}"
    if _lang(language) == "en":
        if problem == TOO_LONG:
            return f"That's a little long. Please keep it under {limit} characters."
        return "Could you tell me a bit more: what happened, where, and since when?"
    if problem == TOO_LONG:
        return (
            f"Dạ, nội dung hơi dài. Anh/chị rút gọn giúp em dưới {limit.replace(',', '.')} ký tự ạ."
        )
    return "Dạ, anh/chị mô tả thêm giúp em: chuyện gì xảy ra, ở đâu, từ khi nào ạ."


def invalid_phone(language: str) -> str:
    if _lang(language) == "en":
        return (
            "That phone number doesn't look right. Please send a 10-digit mobile number "
            "(e.g. 0912 345 678) or a landline with its area code (e.g. 0236 3 123 456)."
        )
    return (
        "Dạ, số điện thoại chưa đúng. Anh/chị nhập giúp em số di động 10 số "
        "(ví dụ 0912 345 678) hoặc số cố định có mã vùng (ví dụ 0236 3 123 456) ạ."
    )


def invalid_code(language: str) -> str:
    if _lang(language) == "en":
        return "References look like PA-2611-K7M3Q. Could you check it again?"
    return "Dạ, mã phản ánh có dạng PA-2611-K7M3Q. Anh/chị kiểm tra lại giúp em ạ."


def escalation_notice(
    *,
    code: str,
    category: str,
    priority: str,
    status: str,
    due_at: date,
    unit_id: str | None,
    language: str = "vi",
) -> str:
    """For the unit's supervisor (staff channel), not for residents."""
    due = format_date(due_at)
    if _lang(language) == "en":
        return (
            f"Ticket {code} is overdue (reply was due by {due}). "
            f"Category: {category_name(category, 'en')}; "
            f"priority: {PRIORITY_NAMES['en'].get(priority, priority)}; "
            f"status: {status_name(status, 'en')}; unit: {unit_id or '—'}."
        )
    return (
        f"Phản ánh {code} đã quá hạn phản hồi (hạn {due}). "
        f"Lĩnh vực: {category_name(category, 'vi')}; "
        f"mức ưu tiên: {PRIORITY_NAMES['vi'].get(priority, priority)}; "
        f"trạng thái: {status_name(status, 'vi')}; đơn vị: {unit_id or '—'}."
    )
