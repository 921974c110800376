"""Several workers behind nginx on one PostgreSQL, one of them killed mid-run, then the
database restarted mid-run.

    python bench/cluster.py                  # 500 users; 1 worker, 3 with a SIGKILL, 3 with a restart
    python bench/cluster.py --users 50       # smaller
    python bench/cluster.py --quick          # 20 users, 2 workers: what the test suite runs

The production set-up of `deploy/cluster.py`: a throwaway PostgreSQL, `python -m bot serve`
workers, nginx with `deploy/nginx.conf`. The fake Bot API (`tests.fake_telegram`) runs in
this process in webhook mode: it POSTs every update to nginx, each chat's updates in order,
different chats concurrently, and POSTs an update again when a POST fails, as Telegram
does. Counselors (20, weekdays 09:00-18:00) are imported with `python -m bot counselors
import` so every booking finds room.

Every simulated user registers (구직등록, 16 messages) and books a consultation (/book →
취업상담 → (the centre, the only place: chosen by the bot) → 상관없음 → a day → a time →
건너뛰기 → 제출, another time when
theirs was taken meanwhile), sending each message after the answer to the previous one.
Three phases on fresh databases in the same run: 1 worker; N workers (default 3) of
which worker 0 is killed with SIGKILL when half the expected messages are answered (not
restarted: nginx and Telegram's retries must carry the load to the others); N workers with
PostgreSQL stopped (`pg_ctl stop -m fast`, every connection cut) when half the messages are
answered and started again `--outage` seconds later. A person answered "잠시 후 다시 시도해
주세요" sends the same again a second later; the workers must reconnect on their own.

Checked at the end, and printed: users finished (errors: a user who got stuck); in the
database, registrations whose stored answers are not the script's (a message handled twice
or out of order puts an answer into the wrong question: "twice/disorder"), users without
their registration or booking ("lost"), users with two ("doubled"); webhook POSTs that
failed and were retried, questions shown again for a redelivered message ("re-shown":
a redelivered update is not run again, the person is shown where they are), and polite
answers during the outage ("unavailable"). Figures: messages/s, p50/p99 latency (update
pushed → answer at the fake; a message sent again counts from the first try), CPU cores
used meanwhile (the machine, the workers, this process: the fake and the people), and the
throughput of 1 vs N workers. Exit code 0 when every check holds, 1 otherwise,
2 when the set-up did not start (nginx or PostgreSQL missing).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder comes first on sys.path, where bench/matching.py would
# shadow the `matching` package the bot imports: the repository goes first instead.
sys.path[:] = [str(REPO), *(p for p in sys.path if Path(p or ".").resolve() not in (REPO, REPO / "bench"))]

import asyncpg  # noqa: E402

from bench.kakao import counselors_csv  # noqa: E402
from bench.throughput import (  # noqa: E402
    REGISTRATION,
    UserFailed,
    _is_answer,
    _labels,
    _machine_busy,
    _percentile,
    _self_cpu,
    _wait_answer,
)
from deploy.cluster import Cluster, ClusterError, find_nginx  # noqa: E402
from kernel.i18n import translator  # noqa: E402
from tests.fake_telegram import Call, FakeTelegram  # noqa: E402
from tests.pg import PostgresServer, PostgresUnavailable  # noqa: E402

TOKEN = "123:CLUSTER"
FIRST_USER = 3_000_001
DAY = re.compile(r"^\d{1,2}/\d{1,2}")
TIME = re.compile(r"^\d{2}:\d{2}")
# (kind, what to type or which button, what the answer shows: text or a button label); then
# a day, a time, 건너뛰기 (note), 제출, answered as the bot asks.
BOOKING: tuple[tuple[str, str | re.Pattern[str], str | re.Pattern[str]], ...] = (
    ("text", "/book", "취업상담"),
    # The centre is the only place: the bot answers that question itself and asks the counselor.
    ("press", "취업상담", "상관없음"),
)
BOOKED = "예약되었어요"
# A message redelivered after its worker died is not run again: the person is shown where they
# are, which after a 제출 is the menu (the registration or booking is checked in the database).
MENU = translator("ko")("menu.title")
# What a turn answers while the database is unreachable; the person sends the same again.
UNAVAILABLE = translator("ko")("error.unavailable")
REGISTERED = re.compile(f"구직등록이 완료|{re.escape(MENU)}")
# Booking: any answer that asks something or ends it (a bare notice is followed by the question;
# a day whose times are all gone offers only 이전).
ANY_ANSWER = re.compile(f"{BOOKED}|{re.escape(MENU)}|{TIME.pattern}|{DAY.pattern}|건너뛰기|제출|이전")
STEPS = len(REGISTRATION) + len(BOOKING) + 5


@dataclass
class User:
    uid: int
    latencies: list[float] = field(default_factory=list)
    pushed_at: list[int] = field(default_factory=list)  # fake.calls index when each message was sent
    error: str | None = None
    last: Call | None = None
    rng: random.Random = field(default_factory=random.Random)
    trail: list[str] = field(default_factory=list)  # the booking answers, for the error message
    unavailable: int = 0  # "잠시 후 다시 시도해 주세요" answers (the database was down)

    def __post_init__(self) -> None:
        self.rng.seed(self.uid)


@dataclass
class Phase:
    workers: int
    users: list[User]
    seconds: float
    fault: str
    extras: list[int]
    registrations: dict[int, int]
    bookings: dict[int, int]
    webhook_retries: int
    wrong: int
    cores: tuple[float, float, float]  # CPU cores used meanwhile: the whole machine, the workers, this process

    @property
    def messages(self) -> int:
        return sum(len(u.latencies) for u in self.users)

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    @property
    def latencies(self) -> list[float]:
        return [x for u in self.users for x in u.latencies]

    @property
    def errors(self) -> list[str]:
        return [u.error for u in self.users if u.error]

    @property
    def lost(self) -> int:
        return sum(1 for u in self.users if self.bookings.get(u.uid, 0) == 0 and not u.error) + sum(
            1 for u in self.users if self.registrations.get(u.uid, 0) == 0 and not u.error)

    def reshown(self, baseline: int) -> int:
        """Answers beyond a clean run's: questions shown again for a redelivered message."""
        return sum(max(0, extra - baseline) for extra in self.extras)

    @property
    def unavailable(self) -> int:
        return sum(u.unavailable for u in self.users)

    @property
    def doubled(self) -> int:
        return sum(1 for n in [*self.bookings.values(), *self.registrations.values()] if n > 1)


def _shown(call: Call) -> str:
    return str(call.params.get("text", "")) + "\n" + "\n".join(label for label, _ in _labels(call))


def _fits(call: Call, expect: str | re.Pattern[str]) -> bool:
    if isinstance(expect, str):
        return expect in _shown(call)
    return any(expect.match(label) for label, _ in _labels(call)) or bool(expect.search(_shown(call)))


def _button(call: Call, value: str | re.Pattern[str], rng: random.Random) -> str:
    """The callback data of a button like `value` in this message ("" if none); a pattern picks
    one of its matches at random, so people spread over days and times."""
    if not isinstance(call.result, dict):
        return ""
    found = [d for label, d in _labels(call)
             if d and (value in label if isinstance(value, str) else value.match(label))]
    return rng.choice(found) if found else ""


async def _step(fake: FakeTelegram, user: User, kind: str, value: str | re.Pattern[str],
                expect: str | re.Pattern[str] | None, timeout: float) -> Call:
    since = len(fake.calls)
    user.pushed_at.append(since)
    pushed = time.time()
    if kind == "text":
        assert isinstance(value, str)

        def send() -> dict[str, Any]:
            return fake.user_sends(user.uid, str(value))
    else:
        last = user.last
        if last is None or not isinstance(last.result, dict):
            raise UserFailed("nothing to press")
        data = _button(last, value, user.rng)
        if not data:
            raise UserFailed(f"no button {value!r} in {[x for x, _ in _labels(last)][:12]}")
        message_id = int(last.result["message_id"])

        def send() -> dict[str, Any]:
            return fake.user_presses(user.uid, message_id, data)
    update = send()
    deadline = time.monotonic() + timeout
    retaps = 0
    while True:
        # A turn may answer with several messages (a confirmation, then the menu): the one the
        # step waits for is the first that fits; one that never comes fails the user.
        try:
            answer = await _wait_answer(fake, user.uid, since, max(0.0, deadline - time.monotonic()))
        except UserFailed as exc:
            shown = [_shown(c)[:80] for c in fake.calls[since:] if c.chat_id == user.uid and _is_answer(c)]
            posts = [d.status for d in fake.webhook_deliveries if d.update_id == update["update_id"]]
            raise UserFailed(f"{kind} {value!r}: expected {expect!r}: {exc}; got {shown}; POSTs {posts}") from None
        since = answer.index + 1
        if UNAVAILABLE in _shown(answer):
            # The database was down for this turn and nothing of it was kept: the person waits a
            # moment and sends the same again, as the answer asks.
            user.unavailable += 1
            if user.unavailable > 100:
                raise UserFailed(f"{kind} {value!r}: '{UNAVAILABLE}' 100 times")
            await asyncio.sleep(1.0)
            since = len(fake.calls)
            user.pushed_at.append(since)
            update = send()
            continue
        if expect is None or _fits(answer, expect):
            break
        again = _button(answer, value, user.rng) if kind == "press" and retaps < 5 else ""
        if again:
            # The question shown again (the time was taken meanwhile, or a redelivered message
            # made the old buttons stale): the person taps on the newest message, as anyone would.
            retaps += 1
            user.pushed_at.append(len(fake.calls))
            fake.user_presses(user.uid, int(answer.result["message_id"]), again)
    user.latencies.append(answer.time - pushed)
    user.last = answer
    return answer


async def journey(fake: FakeTelegram, user: User, timeout: float) -> None:
    try:
        await _step(fake, user, "text", "/register", "동의합니다", timeout)
        for step in REGISTRATION[1:-1]:
            await _step(fake, user, step.kind, step.value, step.expect, timeout)
        await _step(fake, user, "press", REGISTRATION[-1].value, REGISTERED, timeout)
        for kind, value, expect in BOOKING[:3]:
            await _step(fake, user, kind, value, expect, timeout)
        # From here the answers depend on what others booked meanwhile (a time or a whole day
        # gone): the person answers whatever the bot asks, until the booking is made.
        for _ in range(30):
            shown = _shown(user.last) if user.last else ""
            if BOOKED in shown or (MENU in shown and user.latencies):
                return
            # No time left on the chosen day: back (이전) to the days.
            for choice in (TIME, DAY, "건너뛰기", "제출", "이전"):
                if _button(user.last, choice, user.rng) if user.last else "":
                    await _step(fake, user, "press", choice, ANY_ANSWER, timeout)
                    user.trail.append(f"{choice if isinstance(choice, str) else choice.pattern} → "
                                      + _shown(user.last).replace("\n", " | ")[:200])
                    break
            else:
                raise UserFailed(f"nothing to answer in {shown[:160]!r}")
        raise UserFailed("no booking after 30 answers; the last ones:\n    " + "\n    ".join(user.trail[-6:]))
    except UserFailed as exc:
        user.error = f"user {user.uid}: {exc}"


def extra_answers(fake: FakeTelegram, users: list[User]) -> list[int]:
    """Per user, answers beyond one per message sent. Some turns answer with two messages (the
    registration's confirmation, then the menu); a redelivered message adds where the person is."""
    return [sum(1 for c in fake.calls if c.chat_id == u.uid and c.ok and _is_answer(c)) - len(u.pushed_at)
            for u in users]


async def _wrong_profiles(dsn: str, uids: list[int]) -> int:
    """Registrations whose answers are not the script's: a message handled twice or out of order
    puts an answer into the wrong question (or fails it)."""
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval(
            "SELECT count(*) FROM seeker_profiles s JOIN identities i ON i.user_id = s.user_id "
            "WHERE i.channel = 'telegram' AND i.external_id = ANY($1::text[]) AND NOT ("
            "s.name = '김서울' AND s.birth_year = 1999 AND s.school_name = '서울대학교' "
            "AND s.desired_jobs::jsonb = '[\"웹 개발\"]'::jsonb AND s.skills::jsonb = '[\"Python\"]'::jsonb "
            "AND s.experience_years = 0)", [str(u) for u in uids]))
    finally:
        await conn.close()


async def _per_user(dsn: str, table: str, uids: list[int]) -> dict[int, int]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            f"SELECT i.external_id, count(t.user_id) FROM identities i LEFT JOIN {table} t ON t.user_id = i.user_id"
            f"{' AND t.status = $2' if table == 'bookings' else ''} WHERE i.channel = 'telegram' "
            "AND i.external_id = ANY($1::text[]) GROUP BY i.external_id",
            [str(u) for u in uids], *(["booked"] if table == "bookings" else []))
    finally:
        await conn.close()
    found = {int(r[0]): int(r[1]) for r in rows}
    return {u: found.get(u, 0) for u in uids}


def _process_cpu(pid: int) -> float:
    """utime + stime of a live process (0 once it is gone), from /proc/<pid>/stat."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_phase(pg: PostgresServer, workers: int, users: int, *, fault: str | None, timeout: float,
                    first: int = FIRST_USER, outage: float = 3.0) -> Phase:
    """`fault`: "kill" (worker 0 SIGKILLed halfway), "restart" (PostgreSQL stopped halfway for
    `outage` seconds and started again) or None."""
    async with FakeTelegram(webhook_retry=0.2) as fake:
        cluster = Cluster(workers, pg=pg, database=f"cluster_{workers}_{first}",
                          env={"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": fake.base_url,
                               "TELEGRAM_OVERALL_RATE": "0"})
        try:
            await asyncio.to_thread(cluster.start)
            with tempfile.TemporaryDirectory() as tmp:
                csv = Path(tmp) / "counselors.csv"
                counselors_csv(csv)
                await asyncio.to_thread(cluster.bot, "counselors", "import", str(csv))
            while sum(1 for c in fake.calls if c.method == "setWebhook") < workers:
                await asyncio.sleep(0.05)
            crowd = [User(first + i) for i in range(users)]
            expected = users * STEPS
            what = "none"
            pids = [p.pid for p in cluster.procs if p is not None]
            gone_cpu = 0.0  # a killed worker's CPU, read just before the kill

            begun = False

            async def fault_halfway() -> None:
                nonlocal what, gone_cpu, begun
                while sum(len(u.latencies) for u in crowd) < expected // 2:
                    await asyncio.sleep(0.02)
                begun = True
                at = sum(len(u.latencies) for u in crowd)
                if fault == "kill":
                    gone_cpu = _process_cpu(pids[0])
                    await asyncio.to_thread(cluster.kill, 0)
                    what = f"worker 0 SIGKILL at {at} messages"
                else:
                    stopped = time.perf_counter()
                    await asyncio.to_thread(pg.pause)
                    await asyncio.sleep(outage)
                    await asyncio.to_thread(pg.resume)
                    what = f"PostgreSQL down at {at} messages for {time.perf_counter() - stopped:.1f} s"

            busy0, self0, workers0 = _machine_busy(), _self_cpu(), sum(_process_cpu(p) for p in pids)
            began = time.perf_counter()
            fault_task = asyncio.create_task(fault_halfway()) if fault else None
            await asyncio.gather(*(journey(fake, u, timeout) for u in crowd))
            seconds = time.perf_counter() - began
            cores = ((_machine_busy() - busy0) / seconds,
                     (sum(_process_cpu(p) for p in pids) + gone_cpu - workers0) / seconds,
                     (_self_cpu() - self0) / seconds)
            if fault_task is not None:
                # An outage under way is seen through (the server started again) before the checks.
                await fault_task if begun else fault_task.cancel()
            dsn = pg.dsn(cluster.database)
            uids = [u.uid for u in crowd]
            return Phase(workers, crowd, seconds, what, extra_answers(fake, crowd),
                         await _per_user(dsn, "seeker_profiles", uids), await _per_user(dsn, "bookings", uids),
                         sum(1 for d in fake.webhook_deliveries if d.error is not None),
                         await _wrong_profiles(dsn, uids), cores)
        finally:
            await asyncio.to_thread(cluster.stop)


def baseline(phases: list[Phase]) -> int:
    """Extra answers per user in the first phase (no fault): the most common count."""
    extras = phases[0].extras
    return max(set(extras), key=extras.count) if extras else 0


def report(phases: list[Phase]) -> None:
    base = baseline(phases)
    print(f"{'workers':>7} {'users':>6} {'msgs':>6} {'secs':>7} {'msg/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'errors':>6} {'twice/disorder':>14} {'lost':>4} {'doubled':>7} {'retried POSTs':>13} "
          f"{'re-shown':>8} {'unavailable':>11} {'cores all/workers/bench':>23}  fault")
    for p in phases:
        lat = p.latencies
        cores = "/".join(f"{c:.2f}" for c in p.cores)
        print(f"{p.workers:>7} {len(p.users):>6} {p.messages:>6} {p.seconds:>7.1f} {p.rate:>7.1f} "
              f"{_percentile(lat, 0.5) * 1000:>7.0f} {_percentile(lat, 0.99) * 1000:>7.0f} {len(p.errors):>6} "
              f"{p.wrong:>14} {p.lost:>4} {p.doubled:>7} {p.webhook_retries:>13} {p.reshown(base):>8} "
              f"{p.unavailable:>11} {cores:>23}  {p.fault}")
    one = next((p for p in phases if p.workers == 1 and p.fault == "none"), None)
    many = next((p for p in phases if p.workers > 1 and "SIGKILL" in p.fault), None)
    if one is not None and many is not None and one.rate:
        print(f"throughput {many.workers} workers (one killed) / 1 worker: {many.rate / one.rate:.2f}x "
              f"on {os.cpu_count()} cores")
    for p in phases:
        for error in p.errors[:5]:
            print(f"  [{p.workers} workers, {p.fault.split(' at ')[0]}] {error}")


def ok(phase: Phase) -> bool:
    return not phase.errors and not phase.wrong and not phase.lost and not phase.doubled


async def main_async(users: int, workers: int, timeout: float, outage: float) -> int:
    if find_nginx() is None:
        print("error: nginx is not installed (apt-get install nginx)", file=sys.stderr)
        return 2
    try:
        pg = await asyncio.to_thread(PostgresServer().start)
    except PostgresUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        phases = [await run_phase(pg, 1, users, fault=None, timeout=timeout)]
        phases.append(await run_phase(pg, workers, users, fault="kill", timeout=timeout, first=FIRST_USER + users))
        if outage > 0:
            phases.append(await run_phase(pg, workers, users, fault="restart", timeout=timeout,
                                          first=FIRST_USER + 2 * users, outage=outage))
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        await asyncio.to_thread(pg.stop)
    report(phases)
    return 0 if all(ok(p) for p in phases) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds a user waits for one answer")
    parser.add_argument("--outage", type=float, default=3.0,
                        help="seconds PostgreSQL is down in the third phase (0: no third phase)")
    parser.add_argument("--quick", action="store_true", help="20 users, 2 workers")
    args = parser.parse_args()
    if args.quick:
        args.users, args.workers = 20, 2
    return asyncio.run(main_async(args.users, args.workers, args.timeout, args.outage))


if __name__ == "__main__":
    sys.exit(main())
