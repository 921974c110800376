"""A broadcast to 20,000 people through the outbox and the real Telegram channel.

    python bench/broadcast.py             # 20,000 recipients, SQLite in a temporary directory
    python bench/broadcast.py --quick     # 2,000 recipients: a smoke check
    python bench/broadcast.py --flood 0   # without 429 answers
    python bench/broadcast.py --photo     # with a KakaoTalk admin's photo: uploaded once, then by file id

What it does:

1. A fresh, migrated SQLite database gets `--people` users with a Telegram identity each
   (bulk insert), plus the admin who sends.
2. The broadcast is queued the way `/broadcast` → 발송 does it: `storage.audience.recipients`
   for "everyone", a draft, then `storage.broadcasts.queue` (one outbox row per person,
   batched INSERTs). The time of that step is printed.
3. The fake Bot API (`tests.fake_telegram.FakeTelegram`, in a child process: in
   production the Bot API is another machine) is told that 2 % of the recipients blocked
   the bot (403) and that a random `--flood` share of them (0.5 %) get one 429 answer
   with retry_after=1 on their first message.
4. `scheduler.outbox.Dispatcher` at 1,000 messages/s (Telegram's paid broadcast tier)
   sends through the real `TelegramChannel` (python-telegram-bot; PTB's overall limiter
   off, TELEGRAM_OVERALL_RATE=0, so that only the dispatcher paces) until no row is
   left to send, then `handlers.broadcast.finish_broadcasts` closes the broadcast.

With `--photo` the broadcast carries a photo kept in `served_files` as a KakaoTalk admin's
is (no Telegram file id yet): the first send uploads it, concurrent sends wait for that
upload, and every later one goes by the returned file id, without a database query.
Printed besides: the uploads (target 1); compare the rate with a run without `--photo`.

Printed: the achieved rate as the fake saw messages arrive, against the 1,000/s limit,
both over the whole run and over the time not spent in flood waits (a 429 answer makes
the dispatcher pause all sending for `retry_after`, as Telegram's limits are per bot:
that pause is the platform's, not the dispatcher's, and each one costs about a second
here); duplicates (more than one message reached a recipient; target 0); lost
(recipients whose row is not sent, blocked or failed at the end; target 0); the rows
by final state; the broadcast's status and its report.

The figures are reported, not asserted; the exit code is 1 only on a duplicate, a
lost recipient or (`--photo`) more than one upload. Bounded: the dispatcher is stopped after `--timeout` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import logging
import multiprocessing
import os
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder comes first on sys.path, where bench/matching.py would
# shadow the `matching` package the bot imports: the repository goes first instead.
sys.path[:] = [str(REPO), *(p for p in sys.path if Path(p or ".").resolve() not in (REPO, REPO / "bench"))]

from sqlalchemy import func, insert, select  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker  # noqa: E402

from tests.fake_telegram import FakeTelegram, Upload  # noqa: E402

RATE = 1000.0
TARGET = 0.95
CHAT_BASE = 2_000_000_000
POSTER = b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(range(256)) * 1024  # a 256 KB "JPEG"


# --- the fake Bot API, in a child process -------------------------------------------------------


def _serve_fake(conn: Connection) -> None:
    asyncio.run(_fake_main(conn))


async def _fake_main(conn: Connection) -> None:
    """Serve until "stop"; ("block", ids), ("flood", ids) set faults up; "report" sends what happened."""
    async with FakeTelegram() as fake:
        conn.send(fake.base_url)
        loop = asyncio.get_running_loop()
        while (command := await loop.run_in_executor(None, conn.recv)) != "stop":
            if command[0] == "block":
                for chat in command[1]:
                    fake.block(chat)
                conn.send("ok")
            elif command[0] == "flood":
                for chat in command[1]:
                    fake.fail_next(chat, None, error_code=429, retry_after=1)  # its first message, text or photo
                conn.send("ok")
            elif command[0] == "report":
                sends = [(int(c.chat_id), c.time) for c in fake.calls
                         if c.method in ("sendMessage", "sendPhoto") and c.ok and isinstance(c.chat_id, int)]
                floods = [c.time for c in fake.calls if c.error_code == 429]
                blocked = sum(1 for c in fake.calls if c.error_code == 403)
                uploads = sum(1 for c in fake.calls if c.ok and isinstance(c.params.get("photo"), Upload))
                conn.send((sends, floods, blocked, _cpu(), uploads))
            elif command[0] == "cpu":
                conn.send(_cpu())


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_cpu() -> float:
    """CPU seconds every process on the machine has used (/proc/stat), to see other load."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class FakeProcess:
    def __init__(self) -> None:
        self.conn, child = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("spawn").Process(target=_serve_fake, args=(child,), daemon=True)
        self.process.start()
        self.base_url: str = self.conn.recv()

    def command(self, name: str, ids: list[int]) -> None:
        self.conn.send((name, ids))
        assert self.conn.recv() == "ok"

    def report(self) -> tuple[list[tuple[int, float]], list[float], int, float, int]:
        self.conn.send(("report",))
        sends, floods, blocked, cpu, uploads = self.conn.recv()
        return sends, floods, blocked, cpu, uploads

    def cpu(self) -> float:
        self.conn.send(("cpu",))
        return float(self.conn.recv())

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send("stop")
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()


# --- people and the broadcast -------------------------------------------------------------------


async def add_people(sessions: async_sessionmaker[AsyncSession], n: int, now: dt.datetime) -> int:
    """Bulk-insert the admin (id 1) and `n` people with a Telegram identity each; returns the admin's id."""
    from storage.models import Identity, User

    async with sessions() as session, session.begin():
        for start in range(0, n + 1, 5000):
            ids = range(start + 1, min(start + 5000, n + 1) + 1)
            await session.execute(insert(User), [
                {"id": i, "locale": "ko", "role": "admin" if i == 1 else "user", "created_at": now,
                 "last_seen_at": now, "announcements_opt_out": False} for i in ids])
            await session.execute(insert(Identity), [
                {"id": i, "user_id": i, "channel": "telegram", "external_id": str(CHAT_BASE + i),
                 "chat_id": str(CHAT_BASE + i)} for i in ids])
    return 1


async def queue_broadcast(sessions: async_sessionmaker[AsyncSession], admin_id: int,
                          now: dt.datetime, photo: bool = False) -> tuple[int, int]:
    """What 발송 does: recipients of "everyone", a draft, then one outbox row each; with
    `photo`, a poster kept as `keep_attachment` keeps a KakaoTalk admin's photo."""
    from handlers.broadcast import message
    from storage import audience, broadcasts, files

    async with sessions() as session, session.begin():
        recipients = await audience.recipients(session, "everyone", now)
        attachment = None
        if photo:
            kept = await files.keep(session, filename="photo.jpg", mime="image/jpeg", data=POSTER, now=now,
                                    ttl=dt.timedelta(days=1))
            attachment = {"kind": "photo", "channel": "kakao", "ref": "https://talk.kakaocdn.net/dn/poster.jpg",
                          "file": kept.id, "filename": kept.filename, "mime": kept.mime,
                          "expires": int(kept.expires_at.timestamp())}
        row = await broadcasts.create_draft(
            session, admin_id=admin_id, audience={"segment": "everyone", "answers": {"audience": "everyone"}},
            text="📣 3월 채용박람회 안내\n\n3월 20일 서울시청 다목적홀에서 열립니다.", attachment=attachment,
            button_label="신청하기", button_url="https://job.seoul.go.kr", recipients=len(recipients), now=now)
        queued = await broadcasts.queue(session, row, recipients, message(row).to_payload(), now)
        return row.id, queued


def flood_windows(floods: list[float], seconds: float = 1.0) -> float:
    """Seconds covered by the union of [t, t + retry_after] after each 429 answer."""
    total, end = 0.0, -1.0
    for t in sorted(floods):
        start, stop = max(t, end), t + seconds
        if stop > start:
            total += stop - start
        end = max(end, stop)
    return total


async def run(args: argparse.Namespace, url: str, fake: FakeProcess) -> bool:
    from bot.app import build_engine
    from bot.channels.telegram import TelegramChannel, build_application
    from handlers.broadcast import finish_broadcasts
    from kernel.config import load_settings
    from kernel.core import SystemClock
    from scheduler.outbox import Dispatcher
    from storage import broadcasts
    from storage.db import create_engine, session_factory
    from storage.migrate import upgrade
    from storage.models import Broadcast, OutboxMessage

    engine = create_engine(url)
    try:
        await upgrade(engine)
        sessions = session_factory(engine)
        clock = SystemClock()
        now = clock.now()
        began = time.perf_counter()
        admin_id = await add_people(sessions, args.people, now)
        people_s = time.perf_counter() - began
        began = time.perf_counter()
        broadcast_id, queued = await queue_broadcast(sessions, admin_id, now, args.photo)
        queue_s = time.perf_counter() - began
        print(f"people inserted        {args.people + 1:,} in {people_s:.2f} s")
        print(f"broadcast queued       {queued:,} outbox rows in {queue_s:.2f} s (recipients + draft + batched rows)")

        rng = random.Random(args.seed)
        chats = [CHAT_BASE + i for i in range(2, args.people + 2)]
        blocked = rng.sample(chats, round(len(chats) * args.blocked))
        rest = sorted(set(chats) - set(blocked))
        flooded = rng.sample(rest, round(len(chats) * args.flood))
        fake.command("block", blocked)
        fake.command("flood", flooded)

        settings = load_settings(
            _env_file=None, database_url=url, telegram_bot_token="123:BENCH", telegram_api_base_url=fake.base_url,
            telegram_overall_rate=0, admin_telegram_ids="", webhook_url="", webhook_secret="")
        application = build_application(settings)
        channel = TelegramChannel(build_engine(settings, sessions), application)
        await application.initialize()
        dispatcher = Dispatcher(sessions, [channel], clock=clock, rate=RATE)
        deadline = time.perf_counter() + args.timeout
        fake_cpu0, machine0, cpu0 = fake.cpu(), machine_cpu(), time.process_time()
        began = time.perf_counter()
        try:
            while time.perf_counter() < deadline:
                await dispatcher.run_once()
                async with sessions() as session:
                    left = await broadcasts.open_rows(session, broadcast_id)
                if not left:
                    break
                await asyncio.sleep(0.01)  # rows put back by a 429 come due a second later
        finally:
            wall = time.perf_counter() - began
            cpu, machine = time.process_time() - cpu0, machine_cpu() - machine0
            await dispatcher.close()
            await application.shutdown()
        await finish_broadcasts(sessions, settings, clock)

        sends, floods, refusals, fake_cpu, uploads = fake.report()
        fake_cpu -= fake_cpu0
        other = max(0.0, machine - cpu - fake_cpu) / wall
        per_chat = Counter(chat for chat, _ in sends)
        times = sorted(t for _, t in sends)
        span = times[-1] - times[0] if len(times) > 1 else 0.0
        paused = flood_windows(floods)
        overall = (len(times) - 1) / span if span else 0.0
        active = (len(times) - 1) / (span - paused) if span > paused else 0.0
        duplicates = sum(n - 1 for n in per_chat.values() if n > 1)
        async with sessions() as session:
            states = dict((await session.execute(
                select(OutboxMessage.status, func.count()).where(OutboxMessage.kind == "broadcast")
                .group_by(OutboxMessage.status))).all())
            row = await session.get(Broadcast, broadcast_id)
            report = (await session.scalars(select(OutboxMessage.payload)
                                            .where(OutboxMessage.kind == "broadcast.report"))).first()
        settled = sum(states.get(s, 0) for s in ("sent", "blocked", "failed"))
        lost = queued - settled
        expected = set(rest)
        missing = len(expected - set(per_chat))

        print(f"recipients             {queued:,}: {len(blocked):,} blocked the bot (2 %), {len(flooded):,} get one "
              f"429 (retry_after=1)")
        print(f"dispatch               {wall:.1f} s wall; messages arrived over {span:.1f} s, of which {paused:.1f} s "
              f"in flood waits ({len(floods)} answers 429)")
        print(f"rate, whole run        {overall:8.1f}/s  = {overall / RATE:6.1%} of the {RATE:.0f}/s limit")
        verdict = "ok" if active / RATE >= TARGET else "BELOW TARGET"
        print(f"rate, outside waits    {active:8.1f}/s  = {active / RATE:6.1%} of the limit ({verdict}, target "
              f">= {TARGET:.0%})")
        print(f"CPU per message        dispatcher (this process) {cpu * 1000 / max(len(times), 1):.2f} ms, fake API "
              f"{fake_cpu * 1000 / max(len(times), 1):.2f} ms; other load {other:.2f} cores of {os.cpu_count()} "
              f"(well above 0: disturbed figures, run again)")
        print(f"duplicates             {duplicates} (target 0)")
        print(f"lost                   {lost} (rows not sent/blocked/failed; target 0); reachable recipients "
              f"without a message: {missing}")
        print(f"403 answers            {refusals} (one per blocked recipient: {refusals == len(blocked)})")
        if args.photo:
            print(f"photo uploads          {uploads} (target 1; every other photo went by its file id)")
        print(f"rows by state          {dict(sorted(states.items()))}")
        print(f"broadcast              #{broadcast_id} {row.status if row else '?'}; report: "
              f"{(report or {}).get('text', '(none)')!r}")
        return duplicates == 0 and lost == 0 and missing == 0 and (not args.photo or uploads == 1)
    finally:
        await engine.dispose()


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--quick", action="store_true", help="2,000 recipients")
    parser.add_argument("--blocked", type=float, default=0.02, help="share of recipients who blocked the bot")
    parser.add_argument("--flood", type=float, default=0.005, help="share of recipients getting one 429")
    parser.add_argument("--timeout", type=float, default=170.0, help="stop dispatching after this many seconds")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--photo", action="store_true", help="the broadcast carries a KakaoTalk admin's photo")
    args = parser.parse_args(argv)
    if args.quick:
        args.people = 2_000
    # The expected 429 and 403 answers are logged as warnings; keep the figures readable.
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)  # each injected 429, with a trace
    print(f"broadcast bench: python {sys.version.split()[0]}, fake Bot API in a child process, "
          f"dispatcher at {RATE:.0f}/s")
    fake = FakeProcess()
    try:
        with tempfile.TemporaryDirectory(prefix="jobhub-broadcast-bench-") as tmp:
            ok = await run(args, f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}", fake)
    finally:
        fake.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

