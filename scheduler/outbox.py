"""The outbox dispatcher: sends due rows through each channel's notifier (DESIGN.md §3).

Channels implement `Notifier` and translate their platform's errors into the four
outcomes below, so the rules live here once: a blocked recipient is marked and
skipped from then on, a flood-control answer postpones the row by the time asked, a
network error is retried with backoff and given up after `max_attempts`, anything
else fails the row. Sending is paced to the platform (about 30 messages/s overall and
one per second per chat on Telegram).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core import Clock
from storage import outbox, users
from storage.models import OutboxMessage

log = logging.getLogger(__name__)


class Blocked(Exception):
    """The recipient blocked the bot or deleted their account."""


class RetryAfter(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds}s")
        self.seconds = seconds


class TransientError(Exception):
    """Network trouble or a server error: worth trying again later."""


class Notifier(Protocol):
    channel: str

    async def send(self, chat_id: str, message: dict[str, Any]) -> None: ...


class Dispatcher:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        notifiers: Sequence[Notifier],
        *,
        clock: Clock,
        rate: float = 30.0,
        per_chat_interval: float = 1.0,
        batch: int = 200,
        max_attempts: int = 5,
    ) -> None:
        self.sessions = sessions
        self.notifiers = {n.channel: n for n in notifiers}
        self.clock = clock
        self.interval = 1.0 / rate
        self.per_chat_interval = per_chat_interval
        self.batch = batch
        self.max_attempts = max_attempts
        self.on_kick: Callable[[], None] = lambda: None
        self._busy = asyncio.Lock()
        self._kicked = False
        self._next_slot = 0.0
        # A flood wait pauses all sending (Telegram's limits are per bot), without sleeping in a job.
        self._paused_until = 0.0
        self._last_to_chat: dict[tuple[str, str], float] = {}

    def add_notifier(self, notifier: Notifier) -> None:
        self.notifiers[notifier.channel] = notifier

    def kick(self) -> None:
        """New rows were committed: send now rather than at the next tick."""
        self._kicked = True
        if not self._busy.locked():
            self.on_kick()

    async def run_once(self) -> int:
        """Send everything due; returns how many rows were delivered."""
        if not self.notifiers:
            return 0
        sent = 0
        async with self._busy:
            while True:
                self._kicked = False
                async with self.sessions() as session:
                    rows = await outbox.due(session, self.clock.now(), self.batch, list(self.notifiers))
                blocked: set[tuple[str, str]] = set()
                for row in rows:
                    if time.monotonic() < self._paused_until:
                        return sent
                    if (row.channel, row.chat_id) in blocked:
                        continue  # already marked with the rest of that chat's rows
                    delivered = await self._deliver(row)
                    if delivered is None:
                        blocked.add((row.channel, row.chat_id))
                    sent += delivered or 0
                if len(rows) < self.batch and not self._kicked:
                    return sent

    async def _deliver(self, row: OutboxMessage) -> int | None:
        """1 when sent, 0 when not (yet), None when the recipient turned out to block the bot."""
        key = (row.channel, row.chat_id)
        wait = self._last_to_chat.get(key, -1e9) + self.per_chat_interval - time.monotonic()
        if wait > 0:
            async with self.sessions() as session, session.begin():
                due_at = self.clock.now() + dt.timedelta(seconds=wait)
                await outbox.retry_later(session, row.id, due_at, row.attempts, "paced")
            return 0
        await self._pace()
        now = self.clock.now()
        try:
            await self.notifiers[row.channel].send(row.chat_id, row.payload)
        except Blocked:
            log.info("recipient blocked the bot outbox=%s", row.id)
            async with self.sessions() as session, session.begin():
                await outbox.mark(session, row.id, "blocked", now, "blocked by the user")
                await users.mark_blocked(session, row.channel, row.chat_id, now)
                await outbox.skip_chat(session, row.channel, row.chat_id, now)
            return None
        except RetryAfter as exc:
            log.warning("flood control outbox=%s retry_after=%s", row.id, exc.seconds)
            self._paused_until = time.monotonic() + exc.seconds
            async with self.sessions() as session, session.begin():
                await outbox.retry_later(session, row.id, now + dt.timedelta(seconds=exc.seconds), row.attempts,
                                         str(exc))
            return 0
        except TransientError as exc:
            attempts = row.attempts + 1
            async with self.sessions() as session, session.begin():
                if attempts >= self.max_attempts:
                    log.error("outbox=%s failed after %s attempts", row.id, attempts)
                    await outbox.mark(session, row.id, "failed", now, str(exc), attempts=attempts)
                else:
                    backoff = dt.timedelta(seconds=min(300, 2 ** attempts))
                    await outbox.retry_later(session, row.id, now + backoff, attempts, str(exc))
            return 0
        except Exception as exc:
            log.exception("outbox=%s cannot be sent", row.id)
            async with self.sessions() as session, session.begin():
                await outbox.mark(session, row.id, "failed", now, f"{type(exc).__name__}: {exc}")
            return 0
        self._last_to_chat[key] = time.monotonic()
        async with self.sessions() as session, session.begin():
            await outbox.mark(session, row.id, "sent", self.clock.now())
        return 1

    async def _pace(self) -> None:
        now = time.monotonic()
        if self._next_slot > now:
            await asyncio.sleep(self._next_slot - now)
        self._next_slot = max(now, self._next_slot) + self.interval
