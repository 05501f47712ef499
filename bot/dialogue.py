"""Conversation rules that are not about one domain: what to do when the assistant is unsure.

On a low-confidence message the assistant offers its two best guesses as buttons; after a
second failure in a row it offers a person. A guess is only ever a button: a low-confidence
message never starts a complaint by itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bot.replies import Button, Reply, intent_payload, say

# Button labels for intents a resident might have meant (short verbs, both languages).
INTENT_LABELS: dict[str, tuple[str, str]] = {
    "ask_service_info": ("Hỏi thủ tục, giấy tờ, lệ phí", "Ask about a procedure"),
    "ask_contact": ("Tìm nơi phụ trách, số điện thoại", "Find the right office"),
    "ask_office_hours": ("Hỏi giờ làm việc", "Ask about opening hours"),
    "file_complaint": ("Gửi phản ánh", "Report a problem"),
    "check_status": ("Tra cứu phản ánh", "Check a report"),
    "request_human": ("Gặp nhân viên", "Talk to staff"),
    "ask_capabilities": ("Em giúp được gì?", "What can you do?"),
    "bot_challenge": ("Bạn là người hay máy?", "Are you a bot?"),
}
NOT_A_GUESS = {
    "nlu_fallback",
    "out_of_scope",
    "inform",
    "affirm",
    "deny",
    "greet",
    "goodbye",
    "thank",
}
FALLBACK = "nlu_fallback"


def consecutive_fallbacks(user_intents: Iterable[str]) -> int:
    """How many of the latest user messages in a row ended in fallback (newest last)."""
    count = 0
    for intent in reversed(list(user_intents)):
        if intent != FALLBACK:
            break
        count += 1
    return count


def best_guesses(ranking: Iterable[Mapping[str, object]], limit: int = 2) -> list[str]:
    guesses = []
    for entry in ranking:
        name = str(entry.get("name", ""))
        if name in INTENT_LABELS and name not in NOT_A_GUESS and name not in guesses:
            guesses.append(name)
        if len(guesses) == limit:
            break
    return guesses


def clarify(ranking: Iterable[Mapping[str, object]], lang: str, failures: int) -> Reply:
    """The answer to a message the assistant did not understand well enough."""
    human = Button(say(lang, *INTENT_LABELS["request_human"]), intent_payload("request_human"))
    if failures >= 2:
        return Reply(
            say(
                lang,
                "Dạ, em xin lỗi, em vẫn chưa hiểu ý anh/chị. Anh/chị có muốn nói chuyện với "
                "nhân viên không ạ? Hoặc anh/chị có thể chọn một việc bên dưới.",
                "Sorry, I still don't understand. Would you like to talk to a member of staff? "
                "Or pick one of the options below.",
            ),
            [
                human,
                Button(
                    say(lang, *INTENT_LABELS["file_complaint"]), intent_payload("file_complaint")
                ),
                Button(
                    say(lang, *INTENT_LABELS["ask_capabilities"]),
                    intent_payload("ask_capabilities"),
                ),
            ],
        )
    guesses = best_guesses(ranking)
    if not guesses:
        return Reply(
            say(
                lang,
                "Dạ, em chưa hiểu ý anh/chị. Anh/chị nói rõ hơn giúp em được không ạ?",
                "Sorry, I didn't quite understand. Could you say it another way?",
            ),
            [
                Button(
                    say(lang, *INTENT_LABELS["ask_capabilities"]),
                    intent_payload("ask_capabilities"),
                )
            ],
        )
    return Reply(
        say(lang, "Dạ, ý anh/chị là…?", "Did you mean…?"),
        [Button(say(lang, *INTENT_LABELS[g]), intent_payload(g)) for g in guesses],
    )
