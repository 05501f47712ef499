"""An atomic Redis lock store for Rasa, so several Rasa processes can share conversations.

Rasa processes one conversation's messages one at a time, in the order they arrived, through
a ticket lock: each message takes a ticket, waits until its ticket is first in line, and
gives it back when done; a ticket expires after its lifetime so a crashed process cannot
block a conversation for good. Rasa's open-source `RedisLockStore` keeps that ticket queue
as one JSON value that every process reads, changes and writes back, so two processes can
take the same ticket number or overwrite each other's queue (RasaHQ/rasa#9213).

Here the same semantics live in Redis itself, and every change is one Lua script, which
Redis runs atomically:

- issue: the next number from a counter (`INCR`), queued in a sorted set by that number;
  the member is a random token, so only its owner can remove it (compare-and-delete);
- acquire: drop expired tickets (by Redis's own clock, not the callers'), then the ticket
  holds the lock when it is first in the queue; a ticket that expired while waiting raises
  Rasa's `LockError`, as Rasa's stores do;
- release: remove the token and wake the next ticket's owner (a push to a list only that
  owner waits on with `BLPOP`, so a turn passes on at once, without polling); the last one
  out deletes the keys.

Every key carries a TTL past the longest ticket, so nothing is left behind if a process dies.

When Redis cannot be reached, the process keeps answering: it takes turns on a lock of its
own per conversation (first come, first served) and says so in its log once, until Redis is
back. Two processes could then hold one conversation at once only if a resident's messages
reached both during the outage, and the gateways already hold a resident's later message
until the earlier one is answered (`bot.conversation`).
Plug it in by module path in Rasa's endpoints file (`tiepdan run` writes it when
`TIEPDAN_REDIS_URL` is set):

    lock_store:
      type: bot.lockstore.AtomicRedisLockStore
      url: redis://127.0.0.1:6379/1
      key_prefix: tiepdan
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis
import redis.asyncio as aioredis
from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore

log = logging.getLogger(__name__)

DEFAULT_URL = "redis://127.0.0.1:6379/1"
# A waiter is woken when its turn comes; it also looks again this often, to notice a
# holder whose ticket expired (a crashed process). Rasa's own stores poll once a second.
RECHECK_SECONDS = 0.25
# After Redis failed, the lock is taken locally this long before Redis is tried again.
RETRY_REDIS_AFTER = 2.0
# Keys outlive the longest ticket by this much, then Redis forgets them.
KEY_GRACE_MS = 60_000

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local dead = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
for _, token in ipairs(dead) do
  redis.call('ZREM', KEYS[2], token)
  redis.call('ZREM', KEYS[3], token)
end
"""

# KEYS: counter, queue, expiries. ARGV: token, lifetime in ms. Returns the ticket number.
ISSUE = (
    _NOW
    + """
local number = redis.call('INCR', KEYS[1])
local expires = now + tonumber(ARGV[2])
redis.call('ZADD', KEYS[2], number, ARGV[1])
redis.call('ZADD', KEYS[3], expires, ARGV[1])
local keep = tonumber(ARGV[2]) + tonumber(ARGV[3])
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], keep) end
return {number, expires}
"""
)

# KEYS: counter, queue, expiries, the ticket's wake-up list. ARGV: token.
# Returns 1 (your turn), 0 (wait), -1 (your ticket expired).
ACQUIRE = (
    _NOW
    + """
local first = redis.call('ZRANGE', KEYS[2], 0, 0)
if first[1] == ARGV[1] then
  redis.call('DEL', KEYS[4])
  return 1
end
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 0 end
return -1
"""
)

# KEYS: counter, queue, expiries. ARGV: token. Removes only the caller's own ticket and
# wakes the owner of the next one.
RELEASE = """
local removed = redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
local first = redis.call('ZRANGE', KEYS[2], 0, 0)
if first[1] then
  local turn = KEYS[1] .. ':turn:' .. first[1]
  redis.call('RPUSH', turn, 1)
  redis.call('PEXPIRE', turn, 60000)
else
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
end
return removed
"""


class RedisUnavailable(LockError):
    """Redis did not answer; the caller may fall back to this process's own lock."""


class AtomicRedisLockStore(LockStore):
    """Rasa's ticket lock, kept atomically in Redis (see the module docstring)."""

    def __init__(
        self,
        endpoint_config: Any = None,
        *,
        url: str | None = None,
        key_prefix: str | None = None,
        socket_timeout: float = 10.0,
    ) -> None:
        kwargs = dict(getattr(endpoint_config, "kwargs", None) or {})
        self.url = url or getattr(endpoint_config, "url", None) or DEFAULT_URL
        prefix = key_prefix or kwargs.get("key_prefix") or "tiepdan"
        self.key_prefix = f"{prefix}:lock:"
        self.socket_timeout = float(kwargs.get("socket_timeout", socket_timeout))
        # One asyncio client per event loop (a client's connections belong to one loop).
        self._clients: dict[int, aioredis.Redis] = {}
        # Used only while Redis is unreachable; a lock lives while someone holds or waits.
        self._local: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._down = False
        self._skip_until = 0.0
        # A synchronous client for Rasa's synchronous inspection methods.
        self._sync = redis.Redis.from_url(self.url, socket_timeout=self.socket_timeout)
        super().__init__()
        # Say at start-up, with the address, when Redis does not answer; start anyway (a
        # Rasa restarted during a Redis outage must come back) and take turns locally.
        try:
            self._sync.ping()
        except redis.RedisError as error:
            self._redis_down(f"cannot reach {self.url}: {error}")

    def _client(self) -> aioredis.Redis:
        loop = asyncio.get_running_loop()
        client = self._clients.get(id(loop))
        if client is None:
            client = aioredis.Redis.from_url(
                self.url, socket_timeout=self.socket_timeout, socket_connect_timeout=1
            )
            self._clients[id(loop)] = client
        return client

    def _keys(self, conversation_id: str) -> list[str]:
        base = self.key_prefix + conversation_id
        return [f"{base}:next", f"{base}:queue", f"{base}:expires"]

    async def issue(self, conversation_id: str, lifetime: float = LOCK_LIFETIME) -> Ticket:
        """Take the next ticket for the conversation (its place in line); returns the ticket
        with its token attached as `ticket.token`."""
        token = secrets.token_hex(12)
        try:
            number, expires = await self._client().eval(
                ISSUE,
                3,
                *self._keys(conversation_id),
                token,
                int(lifetime * 1000),
                KEY_GRACE_MS,
            )
        except redis.RedisError as error:
            raise RedisUnavailable(
                f"Error while issuing a ticket for '{conversation_id}': {error}"
            ) from error
        ticket = Ticket(int(number), int(expires) / 1000)
        ticket.token = token  # type: ignore[attr-defined]
        return ticket

    async def wait_for_turn(self, conversation_id: str, ticket: Ticket) -> TicketLock:
        """Return once the ticket is first in line; raise LockError if it expired first."""
        turn = f"{self._keys(conversation_id)[0]}:turn:{ticket.token}"
        while True:
            try:
                state = await self._client().eval(
                    ACQUIRE, 4, *self._keys(conversation_id), turn, ticket.token
                )
            except redis.RedisError as error:
                raise RedisUnavailable(
                    f"Error while acquiring lock for '{conversation_id}': {error}"
                ) from error
            if state == 1:
                return TicketLock(conversation_id, deque([ticket]))
            if state == -1:
                raise LockError(
                    f"Could not acquire lock for conversation_id '{conversation_id}': "
                    f"ticket {ticket.number} expired while waiting."
                )
            try:
                await self._client().blpop(turn, timeout=RECHECK_SECONDS)
            except redis.RedisError as error:
                raise RedisUnavailable(
                    f"Error while waiting for '{conversation_id}': {error}"
                ) from error

    async def release(self, conversation_id: str, ticket: Ticket) -> None:
        try:
            await self._client().eval(RELEASE, 3, *self._keys(conversation_id), ticket.token)
        except redis.RedisError as error:
            # The ticket expires on its own; the next message waits at most its lifetime.
            log.warning("lock store: releasing '%s' failed: %s", conversation_id, error)

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = RECHECK_SECONDS,
    ) -> AsyncIterator[TicketLock]:
        """Rasa's entry point: hold the conversation's lock for the body of the block."""
        ticket: Ticket | None = None
        held: TicketLock | None = None
        try:
            if time.monotonic() < self._skip_until:
                raise RedisUnavailable("Redis failed moments ago")
            ticket = await self.issue(conversation_id, lock_lifetime)
            held = await self.wait_for_turn(conversation_id, ticket)
        except RedisUnavailable as error:
            self._redis_down(error)
            if ticket is not None:
                await self.release(conversation_id, ticket)  # best effort; it expires anyway
        if held is None:
            async with self._local_lock(conversation_id):
                yield TicketLock(conversation_id, deque([Ticket(0, time.time() + lock_lifetime)]))
            return
        assert ticket is not None
        if self._down:
            log.warning("lock store: Redis is back; conversations take turns across processes")
            self._down = False
        try:
            yield held
        finally:
            await self.release(conversation_id, ticket)

    def _redis_down(self, error: object) -> None:
        # Messages meanwhile do not each wait for a connection attempt to a dead server.
        self._skip_until = max(self._skip_until, time.monotonic() + RETRY_REDIS_AFTER)
        if not self._down:
            log.warning(
                "lock store: Redis unavailable (%s); this Rasa process takes turns on its own "
                "until it is back",
                error,
            )
            self._down = True

    def _local_lock(self, conversation_id: str) -> asyncio.Lock:
        lock = self._local.get(conversation_id)
        if lock is None:
            lock = self._local[conversation_id] = asyncio.Lock()
        return lock

    # Rasa's synchronous API, for tools that inspect a lock. Tickets are only ever changed
    # by the scripts above: writing a whole lock back is exactly the race this store avoids.

    def get_lock(self, conversation_id: str) -> TicketLock | None:
        _, queue, expiries = self._keys(conversation_id)
        members = self._sync.zrange(queue, 0, -1, withscores=True)
        if not members:
            return None
        expires = dict(self._sync.zrange(expiries, 0, -1, withscores=True))
        now = time.time()
        tickets = [
            Ticket(int(number), expires.get(token, 0) / 1000)
            for token, number in members
            if expires.get(token, 0) / 1000 > now
        ]
        return TicketLock(conversation_id, deque(tickets)) if tickets else None

    def delete_lock(self, conversation_id: str) -> None:
        deleted = self._sync.delete(*self._keys(conversation_id))
        self._log_deletion(conversation_id, bool(deleted))

    def save_lock(self, lock: TicketLock) -> None:
        raise NotImplementedError(
            "AtomicRedisLockStore changes tickets only atomically; use lock() instead."
        )

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        raise NotImplementedError(
            "AtomicRedisLockStore issues tickets asynchronously; use lock() instead."
        )
