"""The complaint form and status look-ups: adapters over `bot.complaints`."""

from __future__ import annotations

import uuid
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet

from actions.catalog import catalog, latest_entity
from actions.common import language, send, sessions
from bot import complaints as flow
from bot.db import transaction

# Intents that interrupt a form (answered, then the form goes on) rather than answer it.
INTERRUPTIONS = {
    "cancel",
    "request_human",
    "ask_office_hours",
    "ask_service_info",
    "ask_contact",
    "check_status",
    "bot_challenge",
    "ask_capabilities",
}


def intent_of(tracker: Tracker) -> str:
    return (tracker.latest_message.get("intent") or {}).get("name") or ""


def text_of(tracker: Tracker) -> str:
    return tracker.latest_message.get("text") or ""


def form_slots(tracker: Tracker) -> dict[str, Any]:
    return {name: tracker.get_slot(name) for name in (*flow.FORM_SLOTS, flow.DRAFT)}


def reset_form() -> list[dict[str, Any]]:
    return [SlotSet(name, None) for name in (*flow.FORM_SLOTS, flow.DRAFT)]


def correction(value: Any, tracker: Tracker) -> dict[str, Any] | None:
    """ "sửa địa chỉ" at any step: forget that answer (and the confirmation) to ask again.
    The words are read from what the resident wrote, even when the value came from an intent
    (a command misread as `affirm` must not submit the report)."""
    text = value if isinstance(value, str) else text_of(tracker)
    target = flow.correction_target(text) if not text.startswith("/") else None
    if target is None:
        return None
    reset = {target: None, flow.CONFIRM: None}
    if tracker.get_slot("requested_slot") not in (target, flow.CONFIRM):
        reset[tracker.get_slot("requested_slot")] = None
    return reset


class ValidateComplaintForm(FormValidationAction):
    def name(self) -> str:
        return "validate_complaint_form"

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> list[str]:
        return flow.required_slots(
            tracker.sender_id,
            tracker.get_slot(flow.CONSENT),
            tracker.get_slot(flow.DUPLICATE),
            tracker.get_slot(flow.SAME),
        )

    async def run(self, dispatcher, tracker, domain) -> list[dict[str, Any]]:
        events = await super().run(dispatcher, tracker, domain)
        if not tracker.get_slot(flow.DRAFT):
            # One draft id per report: a repeated confirmation opens the ticket only once.
            events.append(SlotSet(flow.DRAFT, uuid.uuid4().hex))
        return events

    async def extract_complaint_description(self, dispatcher, tracker, domain) -> dict[str, Any]:
        text, intent = text_of(tracker), intent_of(tracker)
        requested = tracker.get_slot("requested_slot")
        if (
            requested == flow.DESCRIPTION
            and intent not in INTERRUPTIONS
            and not text.startswith("/")
        ):
            return {flow.DESCRIPTION: text}
        if (
            requested is None
            and intent == "file_complaint"
            and not tracker.get_slot(flow.DESCRIPTION)
        ):
            opening = flow.description_from_opening(text)
            return {flow.DESCRIPTION: opening} if opening else {}
        return {}

    def validate_complaint_category(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        fixed = correction(value, tracker)
        if fixed is not None:
            return fixed
        category = flow.valid_category(value) or flow.valid_category(
            latest_entity(tracker, "category")
        )
        return {flow.CATEGORY: category}

    def validate_complaint_description(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        fixed = correction(value, tracker)
        if fixed is not None:
            return fixed
        description, problem = flow.check_description(value, language(tracker))
        if problem:
            dispatcher.utter_message(text=problem)
        return {flow.DESCRIPTION: description}

    def validate_complaint_location(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        fixed = correction(value, tracker)
        if fixed is not None:
            return fixed
        location, problem = flow.check_location(value, language(tracker))
        if problem:
            dispatcher.utter_message(text=problem)
            return {flow.LOCATION: None}
        with transaction(sessions()) as session:
            duplicate = flow.possible_duplicate(
                session, tracker.sender_id, tracker.get_slot(flow.CATEGORY), location
            )
        return {flow.LOCATION: location, flow.DUPLICATE: duplicate}

    def validate_complaint_same(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        if isinstance(value, bool):
            return {flow.SAME: value}
        return {flow.SAME: flow.yes_or_no(intent_of(tracker), str(value or ""))}

    def validate_complaint_phone(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        fixed = correction(value, tracker)
        if fixed is not None:
            return fixed
        phone, problem = flow.check_phone(
            latest_entity(tracker, "phone") or value, language(tracker)
        )
        if problem:
            dispatcher.utter_message(text=problem)
        return {flow.PHONE: phone}

    def validate_complaint_consent(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        if isinstance(value, bool):
            return {flow.CONSENT: value}
        return {flow.CONSENT: flow.yes_or_no(intent_of(tracker), str(value or ""))}

    def validate_complaint_confirm(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        fixed = correction(value, tracker)
        if fixed is not None:
            return fixed
        answer = (
            value
            if isinstance(value, bool)
            else flow.yes_or_no(intent_of(tracker), str(value or ""))
        )
        if answer is False:
            send(dispatcher, flow.ask_what_to_fix(language(tracker)))
        return {flow.CONFIRM: True if answer else None}


class AskComplaintCategory(Action):
    def name(self) -> str:
        return "action_ask_complaint_category"

    async def run(self, dispatcher, tracker, domain) -> list[dict[str, Any]]:
        send(dispatcher, flow.ask_category(catalog(), language(tracker)))
        return []


class AskComplaintSame(Action):
    def name(self) -> str:
        return "action_ask_complaint_same"

    async def run(self, dispatcher, tracker, domain) -> list[dict[str, Any]]:
        with transaction(sessions()) as session:
            reply = flow.ask_same_problem(
                session, tracker.get_slot(flow.DUPLICATE), language(tracker)
            )
        send(dispatcher, reply)
        return []


class AskComplaintConsent(Action):
    def name(self) -> str:
        return "action_ask_complaint_consent"

    async def run(self, dispatcher, tracker, domain) -> list[dict[str, Any]]:
        send(dispatcher, flow.ask_consent(language(tracker)))
        return []


class AskComplaintConfirm(Action):
    def name(self) -> str:
        return "action_ask_complaint_confirm"

    async def run(self, dispatcher, tracker, domain) -> list[dict[str, Any]]:
        if intent_of(tracker) == "deny" and tracker.get_slot(flow.CONSENT) is True:
            return []  # the validator has just asked what to change
        send(dispatcher, flow.summary(catalog(), form_slots(tracker), language(tracker)))
        return []


class SubmitComplaint(Action):
    def name(self) -> str:
        return "action_submit_complaint"

    async def run(self, dispatcher, tracker, domain) -> list[dict[str, Any]]:
        lang, slots = language(tracker), form_slots(tracker)
        if slots[flow.CONSENT] is False:
            send(dispatcher, flow.no_consent(lang))
        elif slots[flow.CONFIRM] is True or slots[flow.SAME] is True:
            with transaction(sessions()) as session:
                submitted = flow.submit(
                    session, catalog(), sender_id=tracker.sender_id, slots=slots, lang=lang
                )
            send(dispatcher, submitted.reply)
        return reset_form()


class CancelComplaint(Action):
    def name(self) -> str:
        return "action_cancel_complaint"

    async def run(self, dispatcher, tracker, domain) -> list[dict[str, Any]]:
        send(dispatcher, flow.cancelled(language(tracker)))
        return reset_form()


class CheckStatus(Action):
    def name(self) -> str:
        return "action_check_status"

    async def run(self, dispatcher, tracker, domain) -> list[dict[str, Any]]:
        code = latest_entity(tracker, "ticket_code") or tracker.get_slot("status_code")
        with transaction(sessions()) as session:
            reply = flow.status_reply(
                session,
                catalog(),
                sender_id=tracker.sender_id,
                text=text_of(tracker),
                code=code,
                lang=language(tracker),
            )
        send(dispatcher, reply)
        return [SlotSet("status_code", code)]
