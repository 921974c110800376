"""Outbox dispatch: a big table, a broadcast coming due at once, the real Telegram channel.

    python bench/outbox.py            # SQLite in a temporary directory
    python bench/outbox.py --pg       # and again on a throwaway PostgreSQL (tests/pg.py)
    python bench/outbox.py --quick    # 10,000 rows, 1,000 due: a smoke check

Per database: a fresh, migrated database gets 100,000 pending outbox rows (bulk
insert); 10,000 of them, every tenth id, have the same due time just past (a broadcast
scheduled for one moment), the rest are due over the next 30 days. Printed:

* the time to select due rows with the dispatcher's own query (`storage.outbox.due`,
  served by `ix_outbox_status_due`): the claim chunk (200 rows, median of 20) and all
  10,000 at once, with the database's plan for it;
* the dispatcher (`scheduler.outbox.Dispatcher`) sending through the real
  `TelegramChannel` (python-telegram-bot, with AIORateLimiter set to twice the
  dispatcher's rate so that only the dispatcher paces) to the fake Bot API
  (`tests.fake_telegram.FakeTelegram`), each row to its own chat: first at 30/s until
  300 rows went out (then stopped, as at shutdown: the rows it had claimed go back),
  then at 1,000/s (the paid broadcast tier) for the rest of the due rows;
* per phase: the rate achieved, as the fake saw it arrive (first to last send) and
  over the whole run (claims and final writes included), its share of the configured
  rate (target >= 95 %), and the bench process's CPU per message;
* duplicates: messages per outbox row counted at the fake (target 0), and the rows'
  final states in the database (every due row `sent`, none left `sending`).

The fake runs in a child process: the Bot API is another machine in production, and
the bot process should not pay for the server's work. The figures are reported, not
asserted; the exit code is 1 only on a duplicate or a row left unsent.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder comes first on sys.path, where bench/matching.py would
# shadow the `matching` package the bot imports: the repository goes first instead.
sys.path[:] = [str(REPO), *(p for p in sys.path if Path(p or ".").resolve() not in (REPO, REPO / "bench"))]

from sqlalchemy import event, func, insert, select, text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker  # noqa: E402

from tests.fake_telegram import FakeTelegram  # noqa: E402

TARGET = 0.95
SLOW_RATE, FAST_RATE = 30.0, 1000.0
CHAT_BASE = 1_000_000_000


# --- the fake Bot API, in a child process -------------------------------------------------


def _serve_fake(conn: Connection) -> None:
    asyncio.run(_fake_main(conn))


async def _fake_main(conn: Connection) -> None:
    """Serve until told to stop; on "report", send the sendMessage calls since the last report."""
    import resource

    async with FakeTelegram() as fake:
        conn.send(fake.base_url)
        loop = asyncio.get_running_loop()
        seen = 0
        while (command := await loop.run_in_executor(None, conn.recv)) != "stop":
            assert command == "report"
            calls, seen = fake.calls[seen:], len(fake.calls)
            sends = [(int(c.chat_id), c.time) for c in calls if c.method == "sendMessage" and c.ok
                     and isinstance(c.chat_id, int)]
            errors = sum(1 for c in calls if not c.ok)
            usage = resource.getrusage(resource.RUSAGE_SELF)
            conn.send((sends, errors, usage.ru_utime + usage.ru_stime))


@dataclass
class FakeReport:
    sends: list[tuple[int, float]]
    errors: int
    cpu: float


def machine_cpu() -> float:
    """CPU seconds every process on the machine has used (/proc/stat), to see other load."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class FakeProcess:
    def __init__(self) -> None:
        self.conn, child = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("spawn").Process(target=_serve_fake, args=(child,), daemon=True)
        self.process.start()
        self.base_url: str = self.conn.recv()

    def report(self) -> FakeReport:
        self.conn.send("report")
        sends, errors, cpu = self.conn.recv()
        return FakeReport(sends, errors, cpu)

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send("stop")
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()


# --- filling the table ----------------------------------------------------------------------


async def fill(sessions: async_sessionmaker[AsyncSession], now: dt.datetime, rows: int, due: int) -> float:
    """Bulk-insert `rows` pending rows; `due` of them (evenly spread ids) due at one past moment."""
    from storage.models import OutboxMessage

    every = rows // due
    broadcast = now - dt.timedelta(seconds=1)
    began = time.perf_counter()
    async with sessions() as session, session.begin():
        for start in range(1, rows + 1, 10_000):
            await session.execute(insert(OutboxMessage), [
                {"id": i, "channel": "telegram", "chat_id": str(CHAT_BASE + i), "kind": "bench",
                 "payload": {"text": f"공지 #{i}"}, "status": "pending", "attempts": 0, "created_at": now,
                 "due_at": broadcast if i % every == 0 else now + dt.timedelta(seconds=60 + i * 25)}
                for i in range(start, min(start + 10_000, rows + 1))
            ])
    async with sessions() as session, session.begin():
        await session.execute(text("ANALYZE"))
    return time.perf_counter() - began


async def time_selects(engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession],
                       now: dt.datetime, due: int) -> tuple[float, float, int, list[str]]:
    """The dispatcher's query: median ms for a claim chunk, ms for all due rows, and its plan."""
    from storage import outbox

    chunk: list[float] = []
    for _ in range(20):
        async with sessions() as session, session.begin():
            began = time.perf_counter()
            await outbox.due(session, now, 200, ["telegram"])
            chunk.append((time.perf_counter() - began) * 1000)
            await session.rollback()
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        captured.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        async with sessions() as session, session.begin():
            began = time.perf_counter()
            found = len(await outbox.due(session, now, due, ["telegram"]))
            everything = (time.perf_counter() - began) * 1000
            await session.rollback()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    statement, parameters = next((s, p) for s, p in captured if "FROM outbox" in s)
    explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    async with engine.connect() as conn:
        plan = [" ".join(str(v) for v in row if v is not None)
                for row in (await conn.exec_driver_sql(explain + statement, parameters)).all()]
    return statistics.median(chunk), everything, found, plan


# --- dispatching ------------------------------------------------------------------------------


class StopAfter:
    """The real channel, counting: asks the dispatcher to stop after `limit` messages went out."""

    def __init__(self, inner: Any, limit: int) -> None:
        self.inner = inner
        self.channel = inner.channel
        self.limit = limit
        self.sent = 0
        self.dispatcher: Any = None

    async def send(self, chat_id: str, message: dict[str, Any]) -> None:
        await self.inner.send(chat_id, message)
        self.sent += 1
        if self.sent >= self.limit and self.dispatcher is not None:
            self.dispatcher.stop()


@dataclass
class Phase:
    rate: float
    sent: int
    wall: float
    cpu: float
    fake: FakeReport
    fake_cpu: float  # the fake's CPU seconds during the phase
    other: float  # cores used meanwhile by every other process (PostgreSQL's server included)

    @property
    def arrival_rate(self) -> float:
        times = sorted(t for _, t in self.fake.sends)
        if len(times) < 2 or times[-1] <= times[0]:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])

    @property
    def run_rate(self) -> float:
        return self.sent / self.wall if self.wall else 0.0


async def dispatch(sessions: async_sessionmaker[AsyncSession], channel: Any, fake: FakeProcess,
                   rate: float, limit: int, concurrency: int | None) -> Phase:
    from kernel.core import SystemClock
    from scheduler.outbox import Dispatcher

    notifier = StopAfter(channel, limit)
    dispatcher = Dispatcher(sessions, [notifier], clock=SystemClock(), rate=rate, concurrency=concurrency)
    notifier.dispatcher = dispatcher
    fake_cpu = fake.report().cpu
    machine, cpu, began = machine_cpu(), time.process_time(), time.perf_counter()
    run = asyncio.create_task(dispatcher.run_once())
    done, _ = await asyncio.wait({run}, timeout=limit / rate * 3 + 15)
    if not done:  # far too slow: stop it, as at shutdown, and report what went out
        dispatcher.stop()
    sent = await run
    wall, cpu, machine = time.perf_counter() - began, time.process_time() - cpu, machine_cpu() - machine
    await dispatcher.close()
    report = fake.report()
    fake_cpu = report.cpu - fake_cpu
    return Phase(rate, sent, wall, cpu, report, fake_cpu, max(0.0, machine - cpu - fake_cpu) / wall)


async def bench_database(label: str, url: str, args: argparse.Namespace, fake: FakeProcess) -> bool:
    from bot.app import build_engine
    from bot.channels.telegram import TelegramChannel, build_application
    from kernel.config import load_settings
    from kernel.core import SystemClock
    from storage.db import create_engine, session_factory
    from storage.migrate import upgrade
    from storage.models import OutboxMessage

    engine = create_engine(url)
    try:
        await upgrade(engine)
        sessions = session_factory(engine)
        now = SystemClock().now()
        insert_s = await fill(sessions, now, args.rows, args.due)
        chunk_ms, all_ms, found, plan = await time_selects(engine, sessions, now, args.due)
        print(f"\n== {label}: {args.rows:,} pending rows, {found:,} due at once")
        print(f"bulk insert            {insert_s:8.2f} s")
        print(f"select due, 200 rows   {chunk_ms:8.2f} ms   (the dispatcher's claim query, median of 20)")
        print(f"select due, all {found:,}  {all_ms:6.0f} ms")
        print("plan:                  " + "\n                        ".join(plan))

        settings = load_settings(
            _env_file=None, database_url=url, telegram_bot_token="123:BENCH", telegram_api_base_url=fake.base_url,
            telegram_overall_rate=2 * FAST_RATE, admin_telegram_ids="", webhook_url="", webhook_secret="")
        application = build_application(settings)
        channel = TelegramChannel(build_engine(settings, sessions), application)
        await application.initialize()
        try:
            phases = [await dispatch(sessions, channel, fake, SLOW_RATE, min(args.slow, args.due), args.concurrency),
                      await dispatch(sessions, channel, fake, FAST_RATE, args.due, args.concurrency)]
        finally:
            await application.shutdown()

        print(f"{'rate':>10} {'sent':>7} {'arrival/s':>10} {'share':>7} {'run/s':>8} {'share':>7} "
              f"{'CPU ms/msg: bot':>16} {'fake API':>9} {'other load':>11} {'API errors':>10}")
        for p in phases:
            print(f"{p.rate:>8.0f}/s {p.sent:>7,} {p.arrival_rate:>10.1f} {p.arrival_rate / p.rate:>7.1%} "
                  f"{p.run_rate:>8.1f} {p.run_rate / p.rate:>7.1%} {p.cpu / max(p.sent, 1) * 1000:>16.2f} "
                  f"{p.fake_cpu / max(p.sent, 1) * 1000:>9.2f} {p.other:>11.2f} {p.fake.errors:>10}")
        per_row = Counter(chat for p in phases for chat, _ in p.fake.sends)
        duplicates = sum(n - 1 for n in per_row.values() if n > 1)
        async with sessions() as session:
            states: dict[str, int] = dict((await session.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))).all())
        unsent = args.due - states.get("sent", 0)
        print(f"delivered rows {len(per_row):,} of {args.due:,} due; duplicates {duplicates} (target 0); "
              f"rows by state {dict(sorted(states.items()))}")
        for p in phases:
            verdict = "ok" if p.arrival_rate / p.rate >= TARGET else "BELOW TARGET"
            print(f"  {p.rate:.0f}/s: {p.arrival_rate / p.rate:.1%} of the configured rate ({verdict}, target "
                  f">= {TARGET:.0%})")
        return duplicates == 0 and unsent == 0 and states.get("sending", 0) == 0
    finally:
        await engine.dispose()


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pg", action="store_true", help="also run on a throwaway PostgreSQL (tests/pg.py)")
    parser.add_argument("--quick", action="store_true", help="10,000 rows, 1,000 due, 90 at 30/s")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--slow", type=int, default=300, help="rows to send at 30/s before switching to 1,000/s")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="the dispatcher's cap on sends in flight (default: its own, from the rate)")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.due, args.slow = 10_000, 1_000, 90
    print(f"outbox bench: python {sys.version.split()[0]}, fake Bot API in a child process")
    fake = FakeProcess()
    ok = True
    try:
        with tempfile.TemporaryDirectory(prefix="jobhub-outbox-bench-") as tmp:
            ok &= await bench_database("SQLite", f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}", args, fake)
        if args.pg:
            from tests.pg import PostgresServer

            with PostgresServer() as server:
                await server.acreate_database("bench")
                ok &= await bench_database("PostgreSQL", server.url("bench"), args, fake)
    finally:
        fake.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
