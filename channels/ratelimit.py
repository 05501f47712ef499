"""Rate limits on the gateway's public surface: per client address and per resident.

- Per address (sliding 60-second window): every request to the widget, the demo portal and
  the console counts; the console's log-in form has its own, much smaller budget.
- Per address, for the authenticated entry points (`/api/…`, `/webhooks/…`): only refused
  requests count (401/403: a wrong token, a forged signature). An integration or Telegram
  sends every resident's traffic from a few addresses, so their good traffic is limited per
  resident instead; someone guessing tokens is stopped by address.
- Per resident: `sender_wait(app, sender_id)` says how long a resident who sends faster than
  any person types must wait; each channel decides what to tell them.

Counters live in the gateway's memory: with several replicas each replica counts for itself
(the limits are per replica, which only makes them looser by the number of replicas).
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from channels.keys import SETTINGS

WINDOW_SECONDS = 60.0
MAX_KEYS = 50_000  # least recently seen keys are forgotten beyond this
AUTHENTICATED_PREFIXES = ("/api/", "/webhooks/")
UNLIMITED_PREFIXES = ("/healthz",)
LOGIN_PATH = "/console/login"


class SlidingWindow:
    """At most `limit` events per key in any `window` seconds; `limit` 0 means no limit."""

    def __init__(self, limit: int, window: float = WINDOW_SECONDS, max_keys: int = MAX_KEYS):
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._events: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> deque[float]:
        events = self._events.get(key)
        if events is None:
            events = self._events[key] = deque()
            if len(self._events) > self.max_keys:
                self._events.popitem(last=False)
        else:
            self._events.move_to_end(key)
        while events and now - events[0] >= self.window:
            events.popleft()
        return events

    def wait(self, key: str, now: float | None = None) -> float:
        """Seconds until `key` may act again (0.0: it may now); does not count an event."""
        if self.limit <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        events = self._recent(key, now)
        if len(events) < self.limit:
            return 0.0
        return max(events[0] + self.window - now, 0.001)

    def hit(self, key: str, now: float | None = None) -> float:
        """Count one event for `key` when allowed; returns the wait when it is not."""
        if self.limit <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        wait = self.wait(key, now)
        if wait == 0.0:
            self._events[key].append(now)
        return wait


@dataclass
class RateLimits:
    per_address: SlidingWindow
    login: SlidingWindow
    refused: SlidingWindow
    per_sender: SlidingWindow


RATE_LIMITS = web.AppKey("rate_limits", RateLimits)


def client_address(request: web.Request) -> str:
    """The caller's address; behind a trusted reverse proxy, the first X-Forwarded-For hop."""
    if request.app[SETTINGS].trust_forwarded_for:
        forwarded = request.headers.get("X-Forwarded-For", "").split(",")[0].strip()
        if forwarded:
            return forwarded
    return request.remote or "unknown"


def too_many(request: web.Request, wait: float) -> web.Response:
    """429 in the shape the caller expects: JSON for the API and webhooks, text otherwise."""
    seconds = max(int(wait + 0.999), 1)
    headers = {"Retry-After": str(seconds)}
    if request.path.startswith(AUTHENTICATED_PREFIXES):
        return web.json_response(
            {
                "error": {
                    "code": "rate_limited",
                    "message": f"Too many requests; retry after {seconds} s.",
                }
            },
            status=429,
            headers=headers,
        )
    text = (
        f"Dạ, có quá nhiều yêu cầu từ địa chỉ của anh/chị. Anh/chị vui lòng thử lại sau "
        f"{seconds} giây ạ.\nToo many requests from your address; please try again in "
        f"{seconds} seconds."
    )
    return web.Response(text=text, status=429, headers=headers, content_type="text/plain")


@web.middleware
async def rate_limit_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    path = request.path
    if path.startswith(UNLIMITED_PREFIXES):
        return await handler(request)
    limits = request.app[RATE_LIMITS]
    address = client_address(request)
    if path.startswith(AUTHENTICATED_PREFIXES):
        wait = limits.refused.wait(address)
        if wait:
            return too_many(request, wait)
        response = await handler(request)
        if response.status in (401, 403):
            limits.refused.hit(address)
        return response
    wait = limits.per_address.hit(address)
    if not wait and path == LOGIN_PATH and request.method == "POST":
        wait = limits.login.hit(address)
    if wait:
        return too_many(request, wait)
    return await handler(request)


def sender_wait(app: web.Application, sender_id: str) -> float:
    """Count one message from `sender_id`; the seconds to wait when over the limit."""
    limits = app.get(RATE_LIMITS)
    return limits.per_sender.hit(sender_id) if limits is not None else 0.0


def setup_rate_limits(app: web.Application) -> None:
    settings = app[SETTINGS]
    app[RATE_LIMITS] = RateLimits(
        per_address=SlidingWindow(settings.rate_limit_per_address),
        login=SlidingWindow(settings.rate_limit_login),
        refused=SlidingWindow(settings.rate_limit_refused),
        per_sender=SlidingWindow(settings.rate_limit_per_sender),
    )
    app.middlewares.append(rate_limit_middleware)
