"""KakaoTalk delivery results: who an Event API message did not reach is marked blocked.

Kakao's answer to an Event API call (`KakaoNotifier`) only says the message was accepted.
Whether its recipient got it is in the task result, `GET KAKAO_TASK_URL` (reference §5):
`{taskId, status: "ALL SUCCESS" | "N FAIL", allRequestCount, successCount, fail: {count, list}}`.
A user who blocked the channel (or never added it) is a failure there. Without reading it,
every later message to them would be paid for (15 KRW + VAT) and lost.

`check_tasks` (a periodic job, every `INTERVAL_SECONDS`; without the Event API it only gives up
the tasks left from when it was configured, after the cut-off):
1. Tasks never given a final answer `KAKAO_TASK_GIVE_UP_HOURS` after their call, and asked
   about at least once, are given up and logged.
2. Batches of `KAKAO_TASK_BATCH` due tasks (`KAKAO_TASK_CHECK_SECONDS` after the call) are
   claimed in the database (`storage.kakao.claim_tasks`), so with several workers on one
   PostgreSQL each task is asked by one of them, and asked, a few at a time, each with a timeout.
3. A final answer that lists failures marks the recipient blocked through the same code as a
   Telegram 403 (`scheduler.outbox.record_blocked`: audiences, reminders and broadcasts leave
   them out, their pending messages are not sent, /metrics counts them), once, unless they
   wrote to the bot since the call; the outbox row the call carried goes from `sent` to
   `blocked`. Writing to the bot again makes them reachable again (`storage.users.seen`).
4. Anything else is asked again later, with a growing pause: a task not final yet, a network
   error, HTTP 429 (the round stops, the rest waits) or 5xx, an answer that is not the JSON
   expected. Nothing here stops the scheduler; logs name tasks, never whole user keys.

Each call carries one user, so a final answer with failures is about that user, even when
`fail.list` cannot be read: its items are not documented precisely, and strings or objects
with the key under "id", "botUserKey", "userId" or "user" are accepted; other items are counted
and logged.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.kakao import CHANNEL, EVENT_API_TIMEOUT, retry_after
from kernel import metrics
from kernel.config import Settings
from kernel.core import Clock, Job
from scheduler import outbox as dispatch
from storage import kakao as store
from storage import outbox

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 30
CONCURRENCY = 8  # task results asked at once
MAX_BATCHES = 20  # per round; the rest waits for the next round
LEASE = dt.timedelta(minutes=5)  # a claimed task is left alone this long by other workers
MAX_PAUSE = dt.timedelta(hours=1)
KEY_FIELDS = ("id", "botUserKey", "userId", "user")
_FAIL_STATUS = re.compile(r"(\d+)\s*FAIL(ED)?")


def masked(user_key: str) -> str:
    """A user key as logs may show it: its first characters only."""
    return user_key[:6] + "…" if len(user_key) > 6 else "…"


# --- reading one answer ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Verdict:
    """What one task result says: `delivered`, `failed`, `pending` (not final yet, ask again)
    or `unreadable` (not the JSON expected, ask again); `detail` is for the logs."""

    state: str
    detail: str = ""
    unread_items: int = 0  # fail.list items without a key we can read
    others: int = 0  # keys listed that are not this task's recipient


def _key_of(item: Any) -> str | None:
    if isinstance(item, str) and item.strip():
        return item.strip()
    if isinstance(item, dict):
        for name in KEY_FIELDS:
            value = item.get(name)
            if isinstance(value, dict):
                value = value.get("id")
            if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
                return str(value).strip()
    return None


def read_result(answer: Any, user_key: str) -> Verdict:
    """The verdict on a task sent to `user_key` alone, from Kakao's JSON answer."""
    if not isinstance(answer, dict) or not isinstance(answer.get("status"), str):
        return Verdict("unreadable", "no status")
    status = answer["status"].strip().upper()
    if status == "ALL SUCCESS":
        return Verdict("delivered")
    match = _FAIL_STATUS.fullmatch(status)
    if match is None:
        return Verdict("pending", status[:30])
    if int(match.group(1)) == 0:
        return Verdict("delivered")
    fail = answer.get("fail")
    items = fail.get("list") if isinstance(fail, dict) else None
    keys = [_key_of(item) for item in items] if isinstance(items, list) else []
    return Verdict("failed", status[:30], unread_items=sum(key is None for key in keys),
                   others=sum(key is not None and key != user_key for key in keys))


# --- one round ---------------------------------------------------------------------------------------


def pause(settings: Settings, attempts: int) -> dt.timedelta:
    """How long before asking about a task again after `attempts` asks: doubling, at most an hour."""
    return min(MAX_PAUSE, dt.timedelta(seconds=settings.kakao_task_check_seconds * 2 ** min(attempts - 1, 10)))


async def give_up(sessions: async_sessionmaker[AsyncSession], settings: Settings, now: dt.datetime, *,
                  asked: bool = True) -> None:
    """Tasks without a final result `KAKAO_TASK_GIVE_UP_HOURS` after their call are given up (logged)."""
    async with sessions() as session, session.begin():
        expired = await store.expire_tasks(session, now - dt.timedelta(hours=settings.kakao_task_give_up_hours), now,
                                           asked=asked)
    if expired:
        log.warning("kakao: %s event api tasks had no final result after %s h: given up", expired,
                    settings.kakao_task_give_up_hours)


class TaskChecker:
    """One round of `check_tasks` (see the module docstring)."""

    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession], clock: Clock,
                 http: aiohttp.ClientSession) -> None:
        self.settings = settings
        self.sessions = sessions
        self.clock = clock
        self.http = http
        self._gate = asyncio.Semaphore(CONCURRENCY)
        self._throttled: float | None = None

    async def run(self) -> int:
        """Ask about every due task (batches, at most `MAX_BATCHES`); returns how many were asked."""
        now = self.clock.now()
        await give_up(self.sessions, self.settings, now)
        asked = 0
        for _ in range(MAX_BATCHES):
            async with self.sessions() as session, session.begin():
                # The lease runs from this batch's claim: a slow endpoint makes a round long.
                tasks = await store.claim_tasks(session, now, self.settings.kakao_task_batch,
                                                self.clock.now() + LEASE)
            if not tasks:
                break
            verdicts = await asyncio.gather(*(self._ask(task) for task in tasks))
            await self._record(tasks, verdicts)
            asked += len(tasks)
            if self._throttled is not None or len(tasks) < self.settings.kakao_task_batch:
                break
        return asked

    async def _ask(self, task: store.Task) -> Verdict:
        async with self._gate:
            if self._throttled is not None:
                return Verdict("throttled")
            url = self.settings.kakao_task_url.format(task_id=quote(task.task_id, safe=""))
            headers = {"Authorization": f"KakaoAK {self.settings.kakao_rest_api_key}"}
            try:
                async with self.http.get(url, headers=headers, allow_redirects=False,
                                         timeout=aiohttp.ClientTimeout(total=EVENT_API_TIMEOUT)) as resp:
                    if resp.status == 429:
                        self._throttled = retry_after(resp.headers.get("Retry-After", ""), 60.0)
                        return Verdict("throttled", "HTTP 429")
                    if resp.status != 200:
                        return Verdict("unreadable", f"HTTP {resp.status}")
                    try:
                        answer = await resp.json(content_type=None)
                    except ValueError:
                        return Verdict("unreadable", "not JSON")
            except (aiohttp.ClientError, TimeoutError) as exc:
                return Verdict("unreadable", type(exc).__name__)
            return read_result(answer, task.user_key)

    async def _record(self, tasks: Sequence[store.Task], verdicts: Sequence[Verdict]) -> None:
        now = self.clock.now()
        final: list[tuple[int, str]] = []
        later: list[tuple[int, dt.datetime]] = []
        failed: list[store.Task] = []
        for task, verdict in zip(tasks, verdicts, strict=True):
            if verdict.state in ("delivered", "failed"):
                final.append((task.id, verdict.state))
            else:
                wait = pause(self.settings, task.attempts)
                if verdict.state == "throttled" and self._throttled is not None:
                    wait = max(wait, dt.timedelta(seconds=self._throttled))
                later.append((task.id, now + wait))
            if verdict.state == "failed":
                failed.append(task)
                if verdict.unread_items or verdict.others:
                    log.warning("kakao task %s (%s): fail.list had %s items without a readable key and %s other "
                                "keys; its one recipient %s counts as not reached", task.task_id, verdict.detail,
                                verdict.unread_items, verdict.others, masked(task.user_key))
            elif verdict.state == "pending":
                log.info("kakao task %s not final yet (%s): asked again later", task.task_id, verdict.detail)
            elif verdict.state == "unreadable":
                log.warning("kakao task %s result not read (%s): asked again later", task.task_id, verdict.detail)
        if self._throttled is not None:
            log.warning("kakao task results: HTTP 429, the rest waits %.0f s", self._throttled)
        async with self.sessions() as session, session.begin():
            await store.finish_tasks(session, final, now)
            await store.retry_tasks(session, later)
            # A staff member's alert that did not arrive waits for their next message (held), as on
            # Telegram; anyone else's is not sent again.
            staff, held_before = await dispatch.staff_among(session, {(CHANNEL, t.user_key) for t in failed},
                                                            self.settings)
            lost = [(t.outbox_id, (CHANNEL, t.user_key) in staff) for t in failed if t.outbox_id is not None]
            await outbox.undelivered(session, [row for row, of_staff in lost if not of_staff],
                                     "blocked", dispatch.BLOCKED_ERROR)
            await outbox.undelivered(session, [row for row, of_staff in lost if of_staff], "held", outbox.HELD_ERROR)
            keys = await store.to_mark_blocked(session, [(t.user_key, t.created_at) for t in failed])
            await dispatch.record_blocked(session, [(CHANNEL, key, now) for key in keys], settings=self.settings,
                                          staff=staff, held_before=held_before, now=now)
        for key in keys:
            metrics.BLOCKED.labels(CHANNEL).inc()
            log.info("recipient blocked the bot channel=kakao user=%s", masked(key))


async def check_tasks(sessions: async_sessionmaker[AsyncSession], settings: Settings, clock: Clock) -> int:
    """The scheduler's job (see the module docstring); queues nothing, so returns 0.

    Without the Event API nothing is asked; tasks left from when it was configured are given
    up after the cut-off, so that no broadcast report waits for them for ever."""
    try:
        if not settings.kakao_event_api:
            await give_up(sessions, settings, clock.now(), asked=False)
            return 0
        async with aiohttp.ClientSession() as http:
            await TaskChecker(settings, sessions, clock, http).run()
    except Exception:  # a database outage or a bug: the tasks stay, the next round tries again
        log.exception("kakao task results not checked this round")
    return 0


# Who KakaoTalk's Event API messages did not reach (blocked the channel): marked blocked.
JOBS = [Job("kakao-tasks", check_tasks, every=INTERVAL_SECONDS)]
