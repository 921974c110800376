"""The outbox dispatcher: sends due rows through each channel's notifier (DESIGN.md §3).

What it does. A run claims a chunk of due rows (`pending` → `sending`, committed before
the platform is called, conditional on `pending`), sends them through the channel's
`Notifier`, and records the outcomes in batches every `flush_interval`. Channels translate
their platform's errors into four outcomes, so the rules live here once: a blocked
recipient is marked and skipped from then on; a flood-control answer pauses all sending
and postpones the row by the time asked (a wait up to `SHORT_FLOOD_WAIT` is sat out by
the run's workers with the rows they claimed, a longer one ends the run); a network error
is retried with backoff and given up after `max_attempts`; anything else fails the row. A
platform that says only later who was not reached (KakaoTalk's task results,
`bot.channels.kakao_tasks`) marks them through `record_blocked`; `SENDING_ROW` tells its
notifier which row it is sending.

Invariants:
* Nothing delivered is sent again. No row is claimed twice; a stopped run hands back to
  `pending` only the rows it did not hand to the platform; rows are claimed only about
  `lookahead` seconds before their send slot. A row still `sending` `stale_after` after
  its claim (a crash between the platform call and the batched `sent`) is marked `failed`
  ("unknown: process stopped while sending") and logged at ERROR, never re-sent: the
  platform cannot say whether it arrived, and a second reminder is worse than a visible,
  logged failure.
* One sender per database. On PostgreSQL a process sends only while it holds a
  session-level advisory lock on a connection it keeps open; when it dies the lock is
  freed and the first stand-by to tick takes over. Dispatchers on the same engine share
  the lock and take turns, so a throwaway one (a test, a CLI command) never locks out the
  long-lived one. SQLite is one process by design: no lock.
* Pacing. One gate spaces sends `1/rate` apart and catches up by at most `slack` after a
  late wake-up: in any window of W seconds at most `rate × (W + slack) + 2` messages go
  out. Per chat, messages go in order and at least `per_chat_interval` apart; a row whose
  chat is busy for longer than `lookahead` is deferred in the table, not held.
* Overlap. Sends overlap; workers are added while every one waits on the platform and
  rows are queued, up to rate × the fastest recent uncontended round trip, doubled, plus
  one (Little's law), and never more than `concurrency`.
* Staff are not skipped. For admins and counselors (`storage.users.staff_chats`) a
  "blocked" answer (also Telegram's for someone who never opened the bot) becomes `held`:
  the row and everything queued for that chat wait until the person next writes
  (`storage.outbox.release_held`), and the reachable admins are told once per stretch
  (logged at WARNING when nobody can be told). Ordinary people who blocked the bot, and
  broadcasts to staff, are skipped as blocked.

Why these choices, with the figures behind them: bench/README.md, `outbox.py` and
`broadcast.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import math
import time
import weakref
from collections import deque
from collections.abc import Callable, Collection, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from kernel import metrics
from kernel.config import Settings
from kernel.core import Clock, Reply
from kernel.i18n import Translator, translator
from storage import broadcasts, outbox, users
from storage.db import lock_key
from storage.outbox import Outcome

log = logging.getLogger(__name__)

LOCK_NAME = "outbox-dispatcher"
BLOCKED_ERROR = "blocked by the user"
ChatKey = tuple[str, str]


class Blocked(Exception):
    """The recipient blocked the bot or deleted their account."""


SHORT_FLOOD_WAIT = 5.0  # seconds a run may wait out a flood-control pause itself
# A send that failed on the network is retried after 2, 4, 8, ... seconds (a short outage passes
# quickly, a long one is not hammered), never more than this apart, so a larger max_attempts does
# not leave a message waiting for hours between tries.
RETRY_MAX_SECONDS = 300


class RetryAfter(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds}s")
        self.seconds = seconds


class TransientError(Exception):
    """Network trouble or a server error: worth trying again later."""


class Notifier(Protocol):
    channel: str

    async def send(self, chat_id: str, message: dict[str, Any]) -> None: ...


# The outbox row a notifier's `send` is delivering (None outside the dispatcher): for platforms
# that say only later whether it arrived (KakaoTalk's task results), so the answer finds its row.
SENDING_ROW: ContextVar[int | None] = ContextVar("outbox_sending_row", default=None)


async def record_blocked(session: AsyncSession, chats: Sequence[tuple[str, str, dt.datetime]], *,
                         settings: Settings | None = None, staff: dict[ChatKey, users.StaffChat] | None = None,
                         held_before: set[ChatKey] | None = None,
                         now: dt.datetime | None = None) -> dict[ChatKey, users.StaffChat]:
    """These (channel, chat id, when) blocked the bot: the identity is marked (audiences and
    reminders leave it out from now on, /metrics counts it) and its pending rows will not be sent.

    Staff among them (`staff`, looked up when not given; configured admins need `settings`) are
    marked too, but their pending rows are held for them; when that makes the first rows held
    for someone (`held_before`: who had some already, if rows were held since the caller looked),
    the admins are told (at `now`, else the newest of `chats`; see the module docstring).
    Returns the staff chats."""
    if not chats and not staff:
        return {}
    if staff is None:
        staff = await users.staff_chats(session, {(c, i) for c, i, _ in chats}, _admin_ids(settings))
    if held_before is None:
        held_before = await outbox.held_chats(session, list(staff))
    await users.mark_blocked(session, chats)
    await outbox.skip_chats(session, [c for c in chats if (c[0], c[1]) not in staff])
    await outbox.hold_chats(session, [(c, i) for c, i, _ in chats if (c, i) in staff], not_kinds=(broadcasts.KIND,))
    # Told once per stretch, when its first alert is held: rows stay held from then to the
    # person's next message. (Not when they are marked: a configured admin who never wrote has
    # no identity to mark, and a broadcast they missed is no alert.)
    first = await outbox.held_chats(session, list(staff)) - held_before
    if first:
        unreachable = {(c, i) for c, i, _ in chats} | staff.keys()
        at = now or max(at for _c, _i, at in chats)
        for key in sorted(first):
            await _tell_admins(session, settings, key, staff[key], unreachable, at)
    return staff


async def staff_among(session: AsyncSession, chats: Collection[ChatKey],
                      settings: Settings | None) -> tuple[dict[ChatKey, users.StaffChat], set[ChatKey]]:
    """Which of these chats are staff's, and which of those had messages held already: what a
    caller settling undelivered rows needs before `record_blocked` (their rows are held, not
    blocked; the admins are told only of a chat's first held rows)."""
    staff = await users.staff_chats(session, chats, _admin_ids(settings))
    return staff, await outbox.held_chats(session, list(staff))


def _admin_ids(settings: Settings | None) -> frozenset[int]:
    return settings.admin_telegram_ids if settings is not None else frozenset()


async def _tell_admins(session: AsyncSession, settings: Settings | None, key: ChatKey, who: users.StaffChat,
                       unreachable: set[ChatKey], now: dt.datetime) -> None:
    """Tell the admins who may be reached that this staff member must open the bot; WARNING if none."""
    channel, chat_id = key
    configured = sorted(_admin_ids(settings))
    # Logs name people by internal ids only: a configured admin who never wrote has none, so
    # their place in ADMIN_TELEGRAM_IDS stands in for them.
    if who.user_id is not None:
        person = f"user={who.user_id}"
    elif chat_id.isdigit() and int(chat_id) in configured:
        person = f"configured admin #{configured.index(int(chat_id)) + 1} of ADMIN_TELEGRAM_IDS"
    else:
        person = "an unknown chat"

    def render(t: Translator) -> dict[str, Any]:
        if who.counselor is not None:
            line = t("staff.unreachable.counselor", name=who.counselor)
        elif channel == "telegram":
            line = t("staff.unreachable.admin", id=chat_id)
        else:
            line = t("staff.unreachable.admin_on", channel=t(f"channel.{channel}"))
        return Reply(line + "\n\n" + t("staff.unreachable.how")).to_payload()

    told = 0
    known: set[str] = set()
    for user, identity in await users.admins(session):
        if identity.channel == "telegram":
            known.add(identity.external_id)
        if identity.blocked_at is not None or (identity.channel, identity.chat_id) in unreachable | {key}:
            continue
        await outbox.enqueue(session, channel=identity.channel, chat_id=identity.chat_id, user_id=user.id,
                             kind="staff.unreachable", payload=render(translator(user.locale)), now=now)
        told += 1
    # Configured admins who never wrote may well be reached (they are only tried when sent to),
    # except those already found unreachable: their messages are held.
    never_wrote = [("telegram", str(i)) for i in configured if str(i) not in known]
    held = await outbox.held_chats(session, never_wrote)
    for admin in never_wrote:
        if admin in held or admin in unreachable or admin == key:
            continue
        locale = settings.default_locale if settings is not None else "ko"
        await outbox.enqueue(session, channel=admin[0], chat_id=admin[1], kind="staff.unreachable",
                             payload=render(translator(locale)), now=now)
        told += 1
    if told:
        log.info("staff cannot be reached (%s): their alerts are held until they write; %s admins told",
                 person, told)
    else:
        log.warning("staff cannot be reached (%s) and no admin can be told: their alerts are held until they "
                    "write to the bot", person)


# --- leadership ------------------------------------------------------------------------------

_DB_ERRORS = (SQLAlchemyError, OSError, TimeoutError)
_background: set[asyncio.Task[None]] = set()


class _Lease:
    """This process's right to send for one database, shared by the Dispatchers on one engine.

    On PostgreSQL it is a session-level advisory lock on a dedicated AUTOCOMMIT
    connection (never idle in a transaction, so nothing times it out or holds back
    vacuum); the connection is kept while the process stands by too, to try again at
    every tick without churning the pool. `busy` makes the sharing Dispatchers take
    turns, so one process sends at the configured rate, not a multiple of it.
    """

    def __init__(self, engine: AsyncEngine, key: int) -> None:
        # Weak, so that the registry entry goes away with the engine.
        self._engine = weakref.ref(engine)
        self.postgres = engine.dialect.name == "postgresql"
        self.key = key
        self.leader = not self.postgres
        self.holders = 0
        self.busy = asyncio.Lock()
        self._guard = asyncio.Lock()
        self._conn: AsyncConnection | None = None

    async def ensure(self) -> bool:
        """Whether this process may send now: check the lock it holds, or try to take it."""
        if not self.postgres:
            return True
        async with self._guard:
            try:
                if self._conn is None:
                    engine = self._engine()
                    if engine is None:
                        return False
                    conn = await engine.connect()
                    self._conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                if self.leader:
                    await self._conn.execute(text("SELECT 1"))
                else:
                    result = await self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key})
                    self.leader = bool(result.scalar())
                    if self.leader:
                        log.info("outbox dispatcher took the leader lock")
            except _DB_ERRORS:
                log.warning("outbox leader lock: no database connection (was leader: %s)", self.leader)
                await self._drop()
            return self.leader

    async def _drop(self) -> None:
        conn, self._conn, self.leader = self._conn, None, False
        if conn is not None:
            with contextlib.suppress(*_DB_ERRORS):
                await conn.invalidate()
            with contextlib.suppress(*_DB_ERRORS):
                await conn.close()

    def join(self) -> None:
        self.holders += 1

    def leave(self) -> asyncio.Task[None] | None:
        """One Dispatcher fewer; the last one out releases the lock (in a task: this may run in a finaliser)."""
        self.holders -= 1
        if self.holders > 0 or self._conn is None:
            return None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop any more: the connection goes with the process
            return None
        task = loop.create_task(self._release())
        _background.add(task)
        task.add_done_callback(_background.discard)
        return task

    async def _release(self) -> None:
        async with self._guard:
            if self.holders > 0 or self._conn is None:
                return  # someone joined meanwhile, or it is gone already
            conn, self._conn = self._conn, None
            was_leader, self.leader = self.leader, False
            try:
                if was_leader:
                    await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
                    log.info("outbox dispatcher released the leader lock")
                await conn.close()
            except _DB_ERRORS:
                with contextlib.suppress(*_DB_ERRORS):
                    await conn.invalidate()


_leases: weakref.WeakKeyDictionary[AsyncEngine, _Lease] = weakref.WeakKeyDictionary()


def _lease_for(sessions: async_sessionmaker[AsyncSession]) -> _Lease:
    engine = sessions.kw.get("bind")
    if not isinstance(engine, AsyncEngine):
        raise ValueError("the dispatcher needs a session factory bound to an AsyncEngine")
    lease = _leases.get(engine)
    if lease is None:
        lease = _leases[engine] = _Lease(engine, lock_key(LOCK_NAME))
    return lease


# --- one run -----------------------------------------------------------------------------------


@dataclass(eq=False)
class _Item:
    """A claimed row on its way to the platform."""

    id: int
    channel: str
    chat_id: str
    payload: dict[str, Any]
    attempts: int
    due_at: dt.datetime
    last_error: str | None
    after: asyncio.Event | None  # the previous claimed row to the same chat, in this run
    done: asyncio.Event = field(default_factory=asyncio.Event)
    handed: bool = False  # given to the notifier: from here on, delivery is possible

    @property
    def key(self) -> ChatKey:
        return (self.channel, self.chat_id)


@dataclass(eq=False)
class _Run:
    """One drain of the due rows: what is claimed and not settled yet, and the per-chat order."""

    open: dict[int, _Item] = field(default_factory=dict)
    lanes: dict[ChatKey, asyncio.Event] = field(default_factory=dict)
    blocked: set[ChatKey] = field(default_factory=set)
    queue: asyncio.Queue[_Item] | None = None
    workers: list[asyncio.Task[None]] = field(default_factory=list)
    sending: int = 0  # workers waiting on the platform right now
    sent: int = 0


class Dispatcher:
    """Sends due outbox rows; `run_once` is the scheduler's tick (see the module docstring).

    `rate` is messages per second for the whole bot, `per_chat_interval` seconds between
    two messages to one chat; `batch` caps the rows claimed at once; `concurrency` caps
    the sends in flight (by default enough for 250 ms round trips at `rate`); a row left
    in `sending` longer than `stale_after` is marked failed and never re-sent.
    """

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
        concurrency: int | None = None,
        slack: float = 0.02,
        lookahead: float = 0.5,
        flush_interval: float = 0.1,
        stale_after: dt.timedelta = dt.timedelta(minutes=5),
        settings: Settings | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.notifiers = {n.channel: n for n in notifiers}
        self.clock = clock
        self.rate = rate
        self.interval = 1.0 / rate
        self.per_chat_interval = per_chat_interval
        self.batch = batch
        self.max_attempts = max_attempts
        # Enough for 250 ms round trips at the full rate; PTB's connection pool holds 256.
        self.concurrency = concurrency or min(256, max(4, math.ceil(rate / 4)))
        self.slack = slack
        self.lookahead = lookahead
        self.flush_interval = flush_interval
        self.stale_after = stale_after
        self.on_kick: Callable[[], None] = lambda: None
        # Claim about `lookahead` seconds of sending at a time, no more than `batch` rows.
        self._chunk = max(1, min(batch, math.ceil(rate * lookahead)))
        self._lease = _lease_for(sessions)
        self._lease.join()
        # A Dispatcher dropped without close() gives its share of the lease back when collected.
        self._finalizer = weakref.finalize(self, self._lease.leave)
        self._kicked = False
        self._stopping = False
        self._stopped = asyncio.Event()  # wakes whatever sits out a flood wait when stop() comes
        self._gate = asyncio.Lock()
        self._next_slot = 0.0
        # A flood wait pauses all sending (Telegram's limits are per bot), without sleeping in a job.
        self._paused_until = 0.0
        self._chat_free: dict[ChatKey, float] = {}  # monotonic time a chat may take its next message
        self._chat_sent: dict[ChatKey, float] = {}  # monotonic time of the last send to a chat
        # Outcomes not written yet; kept across runs, so a failed write is retried at the next tick.
        self._outcomes: list[Outcome] = []
        self._newly_blocked: dict[ChatKey, dt.datetime] = {}
        # Rows settled `blocked`, by chat, that are held instead if the chat is a staff member's.
        self._blocked_rows: dict[int, ChatKey] = {}
        self._next_sweep: dt.datetime | None = None
        self._round_trips: deque[float] = deque(maxlen=50)  # recent sends' round trips, seconds
        self._unsampled = 0

    @property
    def is_leader(self) -> bool:
        """Whether this process is the one that sends (as of the last tick; always on SQLite)."""
        return self._lease.leader

    def add_notifier(self, notifier: Notifier) -> None:
        self.notifiers[notifier.channel] = notifier

    def kick(self) -> None:
        """New rows were committed: send now rather than at the next tick."""
        self._kicked = True
        if not self._lease.busy.locked():
            self.on_kick()

    def stop(self) -> None:
        """Stop sending: a run in progress hands its unsent claims back and returns; later runs do nothing."""
        self._stopping = True
        self._stopped.set()

    async def close(self) -> None:
        """Stop, and give the leader lock up if no other Dispatcher of this process shares it."""
        self.stop()
        if self._finalizer.detach() is not None:
            task = self._lease.leave()
            if task is not None:
                await task

    def _halted(self) -> bool:
        """Stopped, or in a flood wait too long to sit out within a run."""
        return self._stopping or self._paused_until - time.monotonic() > SHORT_FLOOD_WAIT

    async def _nap(self, seconds: float) -> None:
        """Sleep, but wake at once on stop()."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), seconds)

    async def run_once(self) -> int:
        """Send everything due; returns how many rows were delivered.

        Does nothing while another process leads, during a flood wait and after `stop()`.
        """
        if not self.notifiers or self._stopping:
            return 0
        sent = 0
        async with self._lease.busy:
            if not await self._lease.ensure():
                return 0
            await self._flush()
            await self._sweep_stale()
            while True:
                while not self._halted():
                    self._kicked = False
                    sent += await self._drain()
                    if not self._kicked:
                        break
                # A short flood wait (Telegram usually asks for a second or two) that began as the
                # drain ended is sat out here, so sending resumes when it ends rather than at the next
                # tick (within a drain the workers sit it out at the gate); long ones end the run.
                wait = self._paused_until - time.monotonic()
                if self._stopping or wait <= 0 or wait > SHORT_FLOOD_WAIT:
                    break
                await self._nap(wait)
        return sent

    async def _sweep_stale(self) -> None:
        """Mark rows abandoned in `sending` as failed (see the module docstring); every few minutes."""
        now = self.clock.now()
        if self._next_sweep is not None and now < self._next_sweep:
            return
        self._next_sweep = now + min(self.stale_after / 4, dt.timedelta(minutes=1))
        async with self.sessions() as session, session.begin():
            stale = await outbox.fail_stale(session, now - self.stale_after)
        for row_id in stale:
            log.error("outbox=%s was left in 'sending' by a stopped process: marked failed, not sent again", row_id)

    # --- the pipeline: claim → per-chat order → pace → send → record ---------------------------

    async def _drain(self) -> int:
        """Claim and send until nothing is due (or the run is halted); returns how many were sent."""
        self._forget_idle_chats()
        run = _Run()
        items, exhausted = await self._claim(run)
        if not items:
            return 0
        queue: asyncio.Queue[_Item] = asyncio.Queue(maxsize=self._chunk)
        run.queue = queue
        self._add_worker(run)
        finished = asyncio.Event()
        flusher = asyncio.create_task(self._flush_every(finished))
        try:
            while True:
                for item in items:
                    await queue.put(item)
                if exhausted or self._halted() or not await self._lease.ensure():
                    break
                items, exhausted = await self._claim(run)
            await queue.join()
        finally:
            # Normally every worker is idle by now. After an error or a cancellation, sends in
            # flight are cut off (they stay `sending`) and claimed rows not yet sent go back.
            for task in run.workers:
                task.cancel()
            finished.set()
            await asyncio.gather(*run.workers, flusher, return_exceptions=True)
            self._abandon(run)
            await asyncio.shield(self._flush())
        return run.sent

    async def _claim(self, run: _Run) -> tuple[list[_Item], bool]:
        """Claim the next chunk of due rows; rows whose chat is busy beyond `lookahead` are deferred."""
        now = self.clock.now()
        async with self.sessions() as session, session.begin():
            rows = await outbox.due(session, now, self._chunk, list(self.notifiers))
            mono = time.monotonic()
            take = []
            later: list[tuple[int, dt.datetime]] = []
            queued_behind: dict[ChatKey, int] = {}
            for row in rows:
                key = (row.channel, row.chat_id)
                ready = max(mono, self._chat_free.get(key, 0.0))
                if ready - mono > self.lookahead and key not in run.blocked:
                    n = queued_behind[key] = queued_behind.get(key, 0) + 1
                    wait = ready - mono + (n - 1) * self.per_chat_interval
                    later.append((row.id, now + dt.timedelta(seconds=wait)))
                    continue
                self._chat_free[key] = ready + self.per_chat_interval
                take.append(row)
            claimed = await outbox.claim(session, [row.id for row in take], now)
            await outbox.defer(session, later, "paced")
        items = []
        for row in take:
            if row.id not in claimed:
                continue
            key = (row.channel, row.chat_id)
            item = _Item(row.id, row.channel, row.chat_id, row.payload, row.attempts, row.due_at, row.last_error,
                         after=run.lanes.get(key))
            run.lanes[key] = item.done
            run.open[item.id] = item
            items.append(item)
        return items, len(rows) < self._chunk

    def _workers_needed(self) -> int:
        """Sends to overlap to keep the pace (see the module docstring); two before any is measured."""
        if not self._round_trips:
            return min(2, self.concurrency)
        return min(self.concurrency, math.ceil(2 * self.rate * min(self._round_trips)) + 1)

    def _sample_round_trip(self, seconds: float, alone: bool) -> None:
        """Keep the round trips of sends that had the platform to themselves: with others in
        flight a send also waits for this process's own work. Take one in 100 anyway, so a
        platform that became slower, with which no send is alone any more, is noticed."""
        self._unsampled += 1
        if alone or self._unsampled >= 100:
            self._round_trips.append(seconds)
            self._unsampled = 0

    def _add_worker(self, run: _Run) -> None:
        run.workers.append(asyncio.create_task(self._work(run)))

    async def _work(self, run: _Run) -> None:
        assert run.queue is not None
        while True:
            item = await run.queue.get()
            try:
                await self._deliver(item, run)
            except Exception:  # a bug, not a platform answer: the row stays open for `_abandon`
                log.exception("outbox=%s: dispatcher error", item.id)
            finally:
                item.done.set()
                run.queue.task_done()
            if len(run.workers) > self._workers_needed():
                # More than the round trip needs (an early slow send overestimated it): retire.
                run.workers.remove(cast("asyncio.Task[None]", asyncio.current_task()))
                return

    async def _deliver(self, item: _Item, run: _Run) -> None:
        if item.after is not None:
            await item.after.wait()  # the chat's previous message first
        if item.key in run.blocked:
            self._note_blocked_row(item)
            self._settle(run, item, Outcome(item.id, "blocked", item.attempts, error=BLOCKED_ERROR))
            return
        wait = self._chat_sent.get(item.key, -math.inf) + self.per_chat_interval - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        if not await self._pace():  # stopped or flood wait: hand the row back untouched
            self._settle(run, item, Outcome(item.id, "pending", item.attempts, at=item.due_at, error=item.last_error))
            return
        # No await between the gate and the notifier call: the send starts in the paced slot.
        item.handed = True
        sent_at = self._chat_sent[item.key] = time.monotonic()
        self._chat_free[item.key] = max(self._chat_free.get(item.key, 0.0), sent_at + self.per_chat_interval)
        run.sending += 1
        alone = run.sending == 1
        if run.sending == len(run.workers) < self._workers_needed() and run.queue is not None \
                and not run.queue.empty():
            self._add_worker(run)  # everyone waits on the platform and rows are queued: overlap one more
        row = SENDING_ROW.set(item.id)
        try:
            await self.notifiers[item.channel].send(item.chat_id, item.payload)
        except Blocked:
            metrics.BLOCKED.labels(item.channel).inc()
            log.info("recipient blocked the bot outbox=%s", item.id)
            run.blocked.add(item.key)
            self._newly_blocked[item.key] = self.clock.now()
            self._note_blocked_row(item)
            self._settle(run, item, Outcome(item.id, "blocked", item.attempts, error=BLOCKED_ERROR))
        except RetryAfter as exc:
            metrics.RATE_LIMITED.labels(item.channel).inc()
            log.warning("flood control outbox=%s retry_after=%s", item.id, exc.seconds)
            self._paused_until = max(self._paused_until, time.monotonic() + exc.seconds)
            at = self.clock.now() + dt.timedelta(seconds=exc.seconds)
            self._settle(run, item, Outcome(item.id, "pending", item.attempts, at=at, error=str(exc)))
        except TransientError as exc:
            attempts = item.attempts + 1
            if attempts >= self.max_attempts:
                metrics.OUTBOX_FAILED.labels(item.channel).inc()
                log.error("outbox=%s failed after %s attempts", item.id, attempts)
                self._settle(run, item, Outcome(item.id, "failed", attempts, error=str(exc)))
            else:
                at = self.clock.now() + dt.timedelta(seconds=min(RETRY_MAX_SECONDS, 2 ** attempts))
                self._settle(run, item, Outcome(item.id, "pending", attempts, at=at, error=str(exc)))
        except Exception as exc:
            metrics.OUTBOX_FAILED.labels(item.channel).inc()
            log.exception("outbox=%s cannot be sent", item.id)
            self._settle(run, item, Outcome(item.id, "failed", item.attempts, error=f"{type(exc).__name__}: {exc}"))
        else:
            metrics.OUTBOX_SENT.labels(item.channel).inc()
            run.sent += 1
            self._settle(run, item, Outcome(item.id, "sent", item.attempts, at=self.clock.now()))
        finally:
            SENDING_ROW.reset(row)
            run.sending -= 1
            self._sample_round_trip(time.monotonic() - sent_at, alone)

    async def _pace(self) -> bool:
        """Pass the gate at the next slot, `interval` after the previous one (see the module docstring).

        A short flood wait is sat out here, holding the gate, so no worker sends until it ends
        and the claimed rows keep their place. False when the dispatcher stopped or a long
        flood wait began: do not send.
        """
        async with self._gate:
            while not self._halted():
                now = time.monotonic()
                if now < self._paused_until:
                    await self._nap(self._paused_until - now)
                    continue
                # Make up for a late wake-up of at most `slack`; after a longer gap (idle, a stall or
                # a flood wait) start afresh instead of bursting to catch up with time nobody is owed.
                slot = self._next_slot if self._next_slot >= now - self.slack else now
                if slot > now:
                    await asyncio.sleep(slot - now)
                    if time.monotonic() < self._paused_until:
                        continue  # a flood wait began meanwhile
                self._next_slot = slot + self.interval
                return not self._halted()
            return False

    def _note_blocked_row(self, item: _Item) -> None:
        """A row not delivered because its chat blocked the bot: the flush holds it instead if the
        chat is a staff member's, unless it is a broadcast (an announcement, not an alert: it goes
        stale, and the broadcast's report counts it as not reached)."""
        if not item.payload.get("broadcast"):
            self._blocked_rows[item.id] = item.key

    def _settle(self, run: _Run, item: _Item, outcome: Outcome) -> None:
        run.open.pop(item.id, None)
        self._outcomes.append(outcome)

    def _abandon(self, run: _Run) -> None:
        """The run ends with rows still open: hand back those never sent; in-flight ones stay ambiguous."""
        for item in run.open.values():
            if item.handed:
                log.warning("outbox=%s interrupted while sending: left in 'sending'", item.id)
            else:
                self._outcomes.append(Outcome(item.id, "pending", item.attempts, at=item.due_at,
                                              error=item.last_error))
        run.open.clear()

    async def _flush_every(self, finished: asyncio.Event) -> None:
        """Write outcomes every `flush_interval` until the run is over (never cut off mid-write)."""
        while not finished.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(finished.wait(), self.flush_interval)
            try:
                await self._flush()
            except _DB_ERRORS:
                log.exception("outbox outcomes not written; retrying")

    async def _flush(self) -> None:
        """Write the outcomes gathered so far in one transaction; on failure keep them for the next try."""
        outcomes, self._outcomes = self._outcomes, []
        blocked, self._newly_blocked = self._newly_blocked, {}
        blocked_rows, self._blocked_rows = self._blocked_rows, {}
        if not outcomes and not blocked:
            return
        try:
            async with self.sessions() as session, session.begin():
                if not blocked_rows and not blocked:
                    await outbox.settle(session, outcomes)
                else:
                    # Rows of a chat found blocked in an earlier flush of this run count too.
                    staff, held_before = await staff_among(session, {*blocked_rows.values(), *blocked},
                                                           self.settings)
                    await outbox.settle(session, [
                        dataclasses.replace(o, status="held", error=outbox.HELD_ERROR)
                        if o.status == "blocked" and blocked_rows.get(o.id) in staff else o for o in outcomes])
                    chats = [(channel, chat_id, at) for (channel, chat_id), at in blocked.items()]
                    await record_blocked(session, chats, settings=self.settings, staff=staff, held_before=held_before,
                                         now=self.clock.now())
                    if staff:
                        self._kicked = True  # the admins may have been told: send that in this run
        except BaseException:
            self._outcomes[:0] = outcomes
            self._newly_blocked = {**blocked, **self._newly_blocked}
            self._blocked_rows = {**blocked_rows, **self._blocked_rows}
            raise

    def _forget_idle_chats(self) -> None:
        """Drop per-chat times that no longer constrain anything, so the maps stay small."""
        if len(self._chat_free) < 4096:
            return
        now = time.monotonic()
        self._chat_free = {k: t for k, t in self._chat_free.items() if t > now}
        self._chat_sent = {k: t for k, t in self._chat_sent.items() if t + self.per_chat_interval > now}
