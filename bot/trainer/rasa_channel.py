"""Rasa's REST channel, plus what the NLU understood of the message (for the NLU inbox).

Registered in `credentials.yml` in place of `rest:`; it keeps the name "rest", so the URL
(`/webhooks/rest/webhook`) and the `input_channel` stored in trackers do not change. Called
with `?nlu=1` it answers `{"messages": [...], "nlu": {...}}` instead of the bare list of
messages: the intent, its confidence, the three best intents and the detected language.

Why this way and not another:
- The message is parsed exactly once. The webhook asks the agent's processor to parse it
  (the same `parse_message` Rasa would call, with the same metadata), hands the result to
  Rasa on the `UserMessage` (`parse_data`, which the processor uses instead of parsing
  again) and returns it. Nothing is computed twice and nothing extra is read or written:
  no tracker fetch after the answer (a database read of the whole session), no second
  parse through `/model/parse` (a second pass through DIET), no event broker to run.
- An action only sees the message when the dialogue calls that action, so reading it there
  would miss low-confidence messages that a rule answered anyway.
The parse runs before Rasa takes the conversation's lock, which is harmless: parsing reads
no conversation state (our components use only the text and the metadata).

It also swaps models (`PUT /webhooks/rest/model?token=…`, body `{"model_file": path}`).
Rasa's own `PUT /model` builds the new model inside the server's event loop: every message
waits for the whole load (measured: several seconds, long enough for residents to get the
"busy" reply). Here the model is built in a worker thread by the running agent
(`Agent.load_model`), which switches to the new processor only once it is complete; messages
in between are answered by the old one. The token is Rasa's API token (RASA_TOKEN).

This module runs inside the Rasa server; it imports Rasa, the standard library and, once at
start-up, the settings (for the token).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from asyncio import CancelledError
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.tracker_guard import TrackerStoreDown

logger = logging.getLogger(__name__)
RANKING_SIZE = 3
_SWAP = asyncio.Lock()  # one model load at a time


def nlu_summary(parse_data: dict[str, Any] | None) -> dict[str, Any] | None:
    """The part of Rasa's parse result the gateway needs (small, no entities' internals)."""
    if not parse_data:
        return None
    intent = parse_data.get("intent") or {}
    language = next(
        (e.get("value") for e in parse_data.get("entities") or [] if e.get("entity") == "language"),
        None,
    )
    return {
        "intent": intent.get("name"),
        "confidence": round(float(intent.get("confidence") or 0.0), 4),
        "ranking": [
            {"name": item.get("name"), "confidence": round(float(item.get("confidence") or 0), 4)}
            for item in (parse_data.get("intent_ranking") or [])[:RANKING_SIZE]
        ],
        "language": language,
    }


class NluRestInput(RestInput):
    """`rest` with the parse result returned alongside the bot's messages on request, and
    a model swap that keeps answering while the new model loads."""

    def __init__(self, token: str = "") -> None:
        self.token = token

    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> NluRestInput:
        # The token is a secret: it comes from the settings (RASA_TOKEN, as for the rest of
        # Rasa's HTTP API), never from credentials.yml, which is committed.
        from bot.settings import load_settings

        return cls(token=load_settings().rasa_token)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("tiepdan_rest_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            text = self._extract_message(request)
            collector = CollectingOutputChannel()
            message = UserMessage(
                text,
                collector,
                await self._extract_sender(request),
                input_channel=self._extract_input_channel(request),
                metadata=self.get_metadata(request),
            )
            parse_data = await _parse(request, message)
            message.parse_data = parse_data  # None: Rasa parses it itself, as usual
            try:
                await on_new_message(message)
            except CancelledError:  # what the resident wrote is logged at DEBUG only
                logger.error("rest message of %s timed out", message.sender_id)
                logger.debug("the message that timed out: %r", text)
            except TrackerStoreDown as error:  # not handled: the gateway holds it, sends again
                logger.error("rest message of %s not handled: %s", message.sender_id, error)
                return response.json({"message": str(error)}, status=503)
            except Exception:
                logger.exception("rest message of %s failed", message.sender_id)
                logger.debug("the message that failed: %r", text)
            if request.args.get("nlu") in ("1", "true"):
                return response.json(
                    {"messages": collector.messages, "nlu": nlu_summary(parse_data)}
                )
            return response.json(collector.messages)

        @webhook.route("/settled/<sender_id:path>", methods=["GET"])
        async def settled(request: Request, sender_id: str) -> HTTPResponse:
            """Returns once Rasa has finished whatever it is doing in this conversation (it
            holds the conversation's lock until the last action has answered): 204, or 409
            after `wait` seconds. Before the gateway reads a tracker to learn whether a
            message was handled, so that a message Rasa is still handling (a call that timed
            out on the gateway's side) is not taken for one it never saw and sent again."""
            given = request.args.get("token") or ""
            if not self.token or not hmac.compare_digest(given.encode(), self.token.encode()):
                return response.json({"message": "token missing or wrong"}, status=401)
            agent = getattr(request.app.ctx, "agent", None)
            if agent is None or agent.lock_store is None:
                return response.empty(status=204)
            try:
                wait = min(max(float(request.args.get("wait") or 30), 0.0), 120.0)
            except ValueError:
                return response.json({"message": "wait must be a number of seconds"}, status=400)
            try:
                await asyncio.wait_for(_pass_through(agent.lock_store, sender_id), wait)
            except asyncio.TimeoutError:
                return response.json({"message": "still answering"}, status=409)
            return response.empty(status=204)

        @webhook.route("/model", methods=["PUT"])
        async def replace_model(request: Request) -> HTTPResponse:
            given = request.args.get("token") or ""
            if not self.token or not hmac.compare_digest(given.encode(), self.token.encode()):
                return response.json({"message": "token missing or wrong"}, status=401)
            model_file = (request.json or {}).get("model_file") if request.body else None
            if not model_file or not Path(model_file).is_file():
                return response.json({"message": f"no model file {model_file!r}"}, status=400)
            agent = getattr(request.app.ctx, "agent", None)
            if agent is None:
                return response.json({"message": "no agent to load the model into"}, status=409)
            async with _SWAP:
                try:
                    await asyncio.to_thread(_load_gently, agent, model_file)
                except Exception as error:  # the old processor is still in place
                    logger.exception("loading %s failed", model_file)
                    return response.json({"message": f"cannot load: {error}"}, status=400)
            logger.info("now serving %s", model_file)
            return response.empty(status=204)

        return webhook


async def _pass_through(lock_store: Any, sender_id: str) -> None:
    """Take the conversation's lock after everyone already waiting for it, and let go."""
    async with lock_store.lock(sender_id, lock_lifetime=10, wait_time_in_seconds=0.05):
        pass


def _load_gently(agent: Any, model_file: str) -> None:
    """Build the new model at a lower CPU priority than the thread answering residents
    (Linux: per-thread nice), then switch the agent to it."""
    import os
    import threading

    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):
        pass  # not Linux, or not allowed: load at normal priority
    agent.load_model(model_file)


async def _parse(request: Request, message: UserMessage) -> dict[str, Any] | None:
    """Parse with the model being served right now (None: no model loaded yet, Rasa will
    answer as it always does)."""
    agent = getattr(request.app.ctx, "agent", None)
    processor = getattr(agent, "processor", None) if agent is not None else None
    if processor is None or not agent.is_ready():
        return None
    try:
        return await processor.parse_message(message)
    except Exception:  # the message must still be answered: let Rasa parse it its own way
        logger.exception("parsing ahead of the dialogue failed; Rasa parses it instead")
        return None
