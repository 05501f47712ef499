"""Widget sessions and origins: the server issues a random session id signed with the
secret key (the widget keeps it in the embedding site's localStorage), and only the
gateway's own site and the sites in WIDGET_ALLOWED_ORIGINS may open a widget connection."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from urllib.parse import urlsplit

from bot.settings import Settings

SESSION_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
# Without a configured secret (a developer's first run) sessions last as long as the process.
_PROCESS_KEY = secrets.token_bytes(32)


def signing_key(settings: Settings) -> bytes:
    """A key of its own for widget sessions, derived from the secret key (which also signs
    console cookies), so a value signed for one purpose is never valid for the other."""
    secret = settings.secret_key.encode() if settings.secret_key else _PROCESS_KEY
    return hmac.new(secret, b"tiepdan widget session", hashlib.sha256).digest()


def sign(key: bytes, session_id: str) -> str:
    mac = hmac.new(key, session_id.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{session_id}.{mac}"


def verify(key: bytes, token: object) -> str | None:
    """The session id of a token we signed, or None for anything else."""
    if not isinstance(token, str) or len(token) > 128:
        return None
    session_id, dot, _ = token.partition(".")
    if not dot or not SESSION_ID.fullmatch(session_id):
        return None
    return session_id if hmac.compare_digest(sign(key, session_id), token) else None


def new_session() -> str:
    return secrets.token_urlsafe(16)


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def origin_allowed(origin: str | None, *, host: str | None, settings: Settings) -> bool:
    """Whether a page from `origin` may talk to the widget endpoints of this gateway.

    Same-origin pages (the Origin's host is the Host the request came to) and the public
    base URL are always allowed, other sites only when listed. No Origin header means no
    browser page is involved (a browser always sends one on WebSocket and cross-site POST).
    """
    if origin is None:
        return True
    origin = origin.strip().rstrip("/").lower()
    if origin == "null" or "://" not in origin:
        return False
    if origin in settings.widget_allowed_origins:
        return True
    if origin == _origin_of(settings.public_base_url):
        return True
    return bool(host) and urlsplit(origin).netloc == str(host).lower()
