"""The outbox dispatcher under restarts, crashes, flood waits, two processes and pacing (DESIGN.md §3).

Two "processes" are two engines on one database, each with its own Dispatcher: on
PostgreSQL they compete for the leader lock exactly as two bot processes would. Time
that the dispatcher stores comes from the injected clock; pacing uses real monotonic
time, so the pacing test only counts sends per window against a bound that holds
however slow the machine is (see `scheduler.outbox`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from scheduler import outbox as dispatch
from scheduler.jobs import Scheduler
from scheduler.outbox import Dispatcher
from storage import outbox
from storage.db import create_engine, session_factory
from storage.models import OutboxMessage
from tests.conftest import FakeClock, Harness

only_postgresql = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


def _fast(sessions: async_sessionmaker[AsyncSession], notifier: Recorder, clock: FakeClock,
          **options: Any) -> Dispatcher:
    """A dispatcher whose pacing does not matter to the test."""
    return Dispatcher(sessions, [notifier], clock=clock, rate=10_000, per_chat_interval=0, **options)


@dataclass
class Recorder:
    """A notifier that keeps each message's text and when the send started."""

    channel: str = "telegram"
    sent: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    before_send: Callable[[str], Any] | None = None

    async def send(self, chat_id: str, message: dict[str, Any]) -> None:
        self.times.append(time.monotonic())
        if self.before_send is not None:
            result = self.before_send(chat_id)
            if asyncio.iscoroutine(result):
                await result
        self.sent.append(message["text"])


async def _queue(h: Harness, texts: list[str], *, chat: Callable[[int], str] = lambda i: str(1000 + i),
                 due_in: dt.timedelta = dt.timedelta(0)) -> None:
    """One row per text, each to its own chat unless `chat` says otherwise, due (just before
    `due_in` from now) in the order given."""
    start = h.clock.now() + due_in
    async with h.sessions() as s, s.begin():
        for i, t in enumerate(texts):
            await outbox.enqueue(s, channel="telegram", chat_id=chat(i), kind="test", payload={"text": t},
                                 now=h.clock.now(), due_at=start - dt.timedelta(microseconds=len(texts) - i))


def _chat_from(base: int, i: int) -> str:
    return str(base + i)


async def _rows(h: Harness) -> dict[str, OutboxMessage]:
    async with h.sessions() as s:
        return {r.payload["text"]: r for r in await s.scalars(select(OutboxMessage))}


@pytest_asyncio.fixture
async def second_process(harness: Harness) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Another engine on the harness's database: what a second bot process would have."""
    engine: AsyncEngine = create_engine(harness.settings.database_url)
    yield session_factory(engine)
    await engine.dispose()


# --- restart-safety ---------------------------------------------------------------------------


async def test_restart_sends_every_due_row_exactly_once(harness: Harness, clock: FakeClock) -> None:
    """A is stopped mid-run (as at shutdown); B, started later, sends the rest, nothing twice."""
    now_texts = [f"now{i}" for i in range(30)]
    later_texts = [f"later{i}" for i in range(10)]
    await _queue(harness, now_texts)
    await _queue(harness, later_texts, chat=lambda i: str(5000 + i), due_in=dt.timedelta(hours=1))

    first = Recorder()
    a = _fast(harness.sessions, first, clock, concurrency=4)
    first.before_send = lambda _chat: a.stop() if len(first.sent) == 9 else None
    assert await a.run_once() == 10
    await a.close()
    rows = await _rows(harness)
    assert Counter(r.status for r in rows.values()) == {"sent": 10, "pending": 30}
    assert all(r.attempts == 0 for r in rows.values())  # handed back untouched

    clock.advance(hours=2)
    second = Recorder()
    b = _fast(harness.sessions, second, clock, concurrency=4)
    assert await b.run_once() == 30
    assert await b.run_once() == 0
    await b.close()
    assert not set(first.sent) & set(second.sent)
    assert sorted(first.sent + second.sent) == sorted(now_texts + later_texts)
    assert {r.status for r in (await _rows(harness)).values()} == {"sent"}


async def test_row_left_sending_by_a_crash_is_failed_not_resent(
    harness: Harness, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """The process dies while the platform holds one message: that row is never sent again."""
    await _queue(harness, ["a", "b", "c"])
    in_flight = asyncio.Event()

    async def hang_on_b(chat_id: str) -> None:
        if chat_id == "1001":
            in_flight.set()
            await asyncio.Event().wait()  # the platform never answers before the "crash"

    first = Recorder(before_send=hang_on_b)
    a = _fast(harness.sessions, first, clock, concurrency=4)
    run = asyncio.create_task(a.run_once())
    await asyncio.wait_for(in_flight.wait(), 5)
    while len(first.sent) < 2:  # the other two go out meanwhile
        await asyncio.sleep(0.01)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    rows = await _rows(harness)
    assert (rows["a"].status, rows["b"].status, rows["c"].status) == ("sent", "sending", "sent")

    second = Recorder()
    b = _fast(harness.sessions, second, clock)
    assert await b.run_once() == 0  # still within the grace period: it may be in flight
    assert (await _rows(harness))["b"].status == "sending"

    clock.advance(minutes=6)
    with caplog.at_level(logging.ERROR, logger="scheduler.outbox"):
        assert await b.run_once() == 0
    row = (await _rows(harness))["b"]
    assert (row.status, row.last_error, row.sent_at) == ("failed", outbox.STALE_ERROR, None)
    assert f"outbox={row.id} was left in 'sending'" in caplog.text
    assert second.sent == []
    await b.close()
    await a.close()


async def test_flood_wait_hands_unsent_rows_back_untouched(harness: Harness, clock: FakeClock) -> None:
    texts = [f"f{i}" for i in range(10)]
    await _queue(harness, texts)
    due = {t: r.due_at for t, r in (await _rows(harness)).items()}

    flooded: list[str] = []

    def flood_on_f3(chat_id: str) -> None:
        if chat_id == "1003" and not flooded:
            flooded.append(chat_id)
            raise dispatch.RetryAfter(30)

    notifier = Recorder(before_send=flood_on_f3)
    d = _fast(harness.sessions, notifier, clock, concurrency=4)
    sent = await d.run_once()
    rows = await _rows(harness)
    assert sent == len(notifier.sent) and "f3" not in notifier.sent
    assert rows["f3"].status == "pending" and rows["f3"].due_at == clock.now() + dt.timedelta(seconds=30)
    for t in set(texts) - set(notifier.sent) - {"f3"}:
        assert (rows[t].status, rows[t].attempts, rows[t].due_at) == ("pending", 0, due[t])
    assert await d.run_once() == 0  # paused

    d._paused_until = 0  # the flood wait is over (monotonic time is not the injected clock)
    clock.advance(seconds=31)
    await d.run_once()
    await d.close()
    assert sorted(notifier.sent) == sorted(texts)


async def test_short_flood_wait_is_sat_out_by_the_run(harness: Harness, clock: FakeClock) -> None:
    """A flood wait of a second or two: the run keeps its workers and claimed rows, sends
    nothing until the wait is over, then goes on; the flooded row comes due after it."""
    texts = [f"s{i}" for i in range(30)]
    await _queue(harness, texts)
    flooded_at: list[float] = []

    def flood_on_s3(chat_id: str) -> None:
        if chat_id == "1003" and not flooded_at:
            flooded_at.append(time.monotonic())
            raise dispatch.RetryAfter(0.3)

    notifier = Recorder(before_send=flood_on_s3)
    d = _fast(harness.sessions, notifier, clock, concurrency=4)
    sent = await d.run_once()
    rows = await _rows(harness)
    assert sent == 29 and sorted(notifier.sent) == sorted(set(texts) - {"s3"})
    # No send started during the wait (a bound that holds however slow the machine is).
    assert all(t >= flooded_at[0] + 0.3 for t in notifier.times if t > flooded_at[0])
    assert rows["s3"].status == "pending" and rows["s3"].due_at == clock.now() + dt.timedelta(seconds=0.3)
    assert {rows[t].status for t in texts if t != "s3"} == {"sent"}
    clock.advance(seconds=1)
    assert await d.run_once() == 1
    await d.close()


async def test_stop_during_a_short_flood_wait_hands_the_claims_back(harness: Harness, clock: FakeClock) -> None:
    texts = [f"w{i}" for i in range(30)]
    await _queue(harness, texts)
    due = {t: r.due_at for t, r in (await _rows(harness)).items()}
    d: Dispatcher | None = None

    def flood_on_w3(chat_id: str) -> None:
        if chat_id == "1003":
            assert d is not None
            asyncio.get_running_loop().call_later(0.05, d.stop)  # a shutdown while the run waits
            raise dispatch.RetryAfter(4)

    notifier = Recorder(before_send=flood_on_w3)
    d = _fast(harness.sessions, notifier, clock, concurrency=2)
    sent = await d.run_once()
    await d.close()
    rows = await _rows(harness)
    assert sent == len(notifier.sent) < len(texts) - 1
    assert rows["w3"].status == "pending"
    for t in set(texts) - set(notifier.sent) - {"w3"}:
        assert (rows[t].status, rows[t].attempts, rows[t].due_at) == ("pending", 0, due[t])


async def test_one_chat_gets_its_messages_in_order(harness: Harness, clock: FakeClock) -> None:
    texts = [f"o{i}" for i in range(6)]
    await _queue(harness, texts, chat=lambda _i: "77")
    notifier = Recorder()
    d = _fast(harness.sessions, notifier, clock, concurrency=8)
    assert await d.run_once() == 6
    await d.close()
    assert notifier.sent == texts


# --- two processes on one database -------------------------------------------------------------


async def test_two_dispatchers_never_send_a_row_twice(
    harness: Harness, clock: FakeClock, second_process: async_sessionmaker[AsyncSession]
) -> None:
    """Both "processes" tick concurrently; on PostgreSQL only the leader sends at all."""
    one, two = Recorder(), Recorder()
    a = _fast(harness.sessions, one, clock, concurrency=4)
    b = _fast(second_process, two, clock, concurrency=4)
    texts: list[str] = []
    for round_ in range(3):
        batch = [f"r{round_}-{i}" for i in range(25)]
        texts += batch
        await _queue(harness, batch, chat=functools.partial(_chat_from, 10_000 * (round_ + 1)))
        await asyncio.gather(*(d.run_once() for _ in range(4) for d in (a, b)))
    assert sorted(one.sent + two.sent) == sorted(texts)  # every row exactly once
    assert {r.status for r in (await _rows(harness)).values()} == {"sent"}
    if harness.settings.database_url.startswith("postgresql"):
        leader, other = (a, b) if one.sent else (b, a)
        assert leader.is_leader and not other.is_leader
        assert not (one.sent and two.sent)
    await a.close()
    await b.close()


async def _lock_holder_pid(h: Harness) -> int | None:
    async with h.sessions() as s:
        pid: int | None = await s.scalar(text(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"))
        return pid


@only_postgresql
async def test_leader_failover(
    harness: Harness, clock: FakeClock, second_process: async_sessionmaker[AsyncSession]
) -> None:
    one, two = Recorder(), Recorder()
    a = _fast(harness.sessions, one, clock)
    b = _fast(second_process, two, clock)
    await _queue(harness, ["x0", "x1"])
    assert await a.run_once() == 2 and a.is_leader
    await _queue(harness, ["x2"])
    assert await b.run_once() == 0 and not b.is_leader
    assert (await _rows(harness))["x2"].status == "pending"  # the stand-by left it alone

    # A's process dies: its connection drops and PostgreSQL frees the lock.
    pid = await _lock_holder_pid(harness)
    assert pid is not None
    async with harness.sessions() as s:
        await s.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    # pg_terminate_backend only signals; wait (bounded) until the backend is gone and the lock free.
    for _ in range(250):
        if await _lock_holder_pid(harness) != pid:
            break
        await asyncio.sleep(0.02)
    assert await b.run_once() == 1 and b.is_leader
    await _queue(harness, ["x3"], chat=lambda _i: "2001")
    assert await a.run_once() == 0 and not a.is_leader  # A notices and stands by
    assert await b.run_once() == 1

    # B shuts down cleanly: the lock is released and A takes over at its next tick.
    await b.close()
    await _queue(harness, ["x4"], chat=lambda _i: "2002")
    assert await a.run_once() == 1 and a.is_leader
    await a.close()
    assert one.sent == ["x0", "x1", "x4"] and two.sent == ["x2", "x3"]
    assert await _lock_holder_pid(harness) is None


@only_postgresql
async def test_scheduler_shutdown_releases_the_leader_lock(harness: Harness, clock: FakeClock) -> None:
    d = _fast(harness.sessions, Recorder(), clock)
    await d.run_once()
    assert d.is_leader and await _lock_holder_pid(harness) is not None
    await Scheduler(harness.settings, harness.sessions, d, clock=clock).shutdown()
    assert not d.is_leader and await _lock_holder_pid(harness) is None
    assert await d.run_once() == 0  # stopped for good


# --- pacing ------------------------------------------------------------------------------------


async def test_paced_sending_delivers_everything_once(harness: Harness, clock: FakeClock) -> None:
    """Counts only: the rate itself is measured by bench/outbox.py (no timing assertions in tests)."""
    rate, n = 200.0, 40
    texts = [f"p{i}" for i in range(n)]
    await _queue(harness, texts)
    notifier = Recorder()
    d = Dispatcher(harness.sessions, [notifier], clock=clock, rate=rate, per_chat_interval=0, concurrency=8)
    assert await d.run_once() == n
    await d.close()
    assert sorted(notifier.sent) == sorted(texts)


async def test_sends_overlap_when_the_platform_is_slow(harness: Harness, clock: FakeClock) -> None:
    """Slow round trips make sends overlap, never beyond `concurrency` (a count, not a timing)."""
    texts = [f"s{i}" for i in range(60)]
    await _queue(harness, texts)
    in_flight, most = 0, 0

    async def slow(_chat_id: str) -> None:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1

    notifier = Recorder(before_send=slow)
    d = Dispatcher(harness.sessions, [notifier], clock=clock, rate=200, per_chat_interval=0, concurrency=12)
    assert await d.run_once() == 60
    await d.close()
    assert sorted(notifier.sent) == sorted(texts)
    assert 1 < most <= 12
