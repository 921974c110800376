"""KakaoTalk skill server under load: simulated people registering and booking over HTTP.

    python bench/kakao.py                 # 200 people, human think time (about 3 minutes)
    python bench/kakao.py --think 1-3     # 1-3 s before every message: about twice the load
    python bench/kakao.py --think 0       # no think time: as fast as the server answers
    python bench/kakao.py --quick         # 5 people: a smoke check

The bot under test runs as in production: `python -m bot kakao` in a subprocess, SQLite
in a temporary directory (migrated at start), log level WARNING, a temporary working
directory (so no `.env` is read). Twenty counselors with weekday hours 09:00-18:00 are
imported first with `python -m bot counselors import`, so 200 bookings find room.

Each simulated person (`tests.fake_kakao.KakaoUser`, Kakao's payload shape with the
pressed button's `extra` as `action.clientExtra`) does a whole job-seeker registration
(구직등록: consent, 14 answers, 제출; the district question has 26 choices, so they page
with "더보기") and then books a consultation: /book → 취업상담 → the centre → 상관없음 →
a random day → a random time of the first page → 건너뛰기 → 제출, picking another time
when someone else took theirs meanwhile. Every answer is checked for what the step
expects; a wrong answer, an HTTP error or an answer slower than Kakao's 5 s counts as an
error and ends that person's run.

Think time (default `--think human`): people arrive spread over the first 10 seconds;
before tapping a button a person reads the answer and taps, 2-5 s (uniform); before a
typed answer (a name, a school, a phone number) they read and type, 4-10 s. Those are
quick people: nobody types a phone number on a phone keyboard in less. `--think 1-3`
uses 1-3 s before every message (about twice the load: a stress run), `--think 0` none.

Baseline, measured in the same run: a bare aiohttp server (this file with `--echo-server`,
in a subprocess) that checks the secret header, parses the JSON and answers a fixed
SkillResponse, driven by the same number of people sending the same number of requests
of the same shape with the same think times. It shows what HTTP and the driver cost on
this machine, so the JobHub figures can be read against it.

Printed per server: requests, seconds, requests/s, p50/p99/max latency (request sent →
answer parsed, in the driver), the server's CPU ms per request (/proc/<pid>/stat), and
errors. Exit code 0 whatever the figures; 1 if a person did not finish; 2 if a server did
not start.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

REPO = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder comes first on sys.path, where bench/matching.py would
# shadow the `matching` package the bot imports: the repository goes first instead.
sys.path[:] = [str(REPO), *(p for p in sys.path if Path(p or ".").resolve() not in (REPO, REPO / "bench"))]

from tests.conftest import REGISTRATION  # noqa: E402
from tests.fake_kakao import SECRET_HEADER, KakaoUser, StepFailed, payload  # noqa: E402

SECRET = "bench-kakao-secret"
KAKAO_LIMIT = 5.0
TARGET_P99_MS = 300.0
HUMAN = (-1.0, -1.0)
HUMAN_TAP = (2.0, 5.0)
HUMAN_TYPE = (4.0, 10.0)
ARRIVAL_SECONDS = 10.0
DAY = re.compile(r"^\d{1,2}/\d{1,2}")
TIME = re.compile(r"^\d{2}:\d{2}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def machine_busy() -> float:
    """CPU seconds every process on the machine has used (/proc/stat), to see other load."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the echo baseline ---------------------------------------------------------------------------


def echo_server(port: int) -> None:
    answer = {"version": "2.0", "template": {"outputs": [{"simpleText": {"text": "안녕하세요"}}],
                                             "quickReplies": [{"label": "메뉴", "action": "message",
                                                               "messageText": "메뉴", "extra": {"payload": "m"}}]}}

    async def skill(request: web.Request) -> web.Response:
        if request.headers.get(SECRET_HEADER) != SECRET:
            return web.json_response({"ok": False}, status=403)
        json.loads(await request.read())
        return web.json_response(answer)

    app = web.Application()
    app.router.add_post("/kakao/skill", skill)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# --- simulated people ------------------------------------------------------------------------------


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    by_step: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    finished: int = 0
    first: float = 0.0
    last: float = 0.0


class Person:
    def __init__(self, http: aiohttp.ClientSession, url: str, key: str, stats: Stats, think: tuple[float, float],
                 rng: random.Random) -> None:
        self.http, self.url, self.stats, self.think, self.rng = http, url, stats, think, rng
        self.user = KakaoUser(self.post, key)
        self.requests = 0
        self.taps: list[bool] = []  # per request: a button (True) or typed text

    async def post(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        await asyncio.sleep(self.think_before(body))
        started = time.perf_counter()
        self.stats.first = self.stats.first or started
        async with self.http.post(self.url, json=body, headers={SECRET_HEADER: SECRET}) as resp:
            answer = await resp.json()
            status = resp.status
        elapsed = time.perf_counter() - started
        self.stats.last = max(self.stats.last, time.perf_counter())
        self.stats.latencies.append(elapsed)
        step = body["userRequest"]["utterance"]
        step = "day" if DAY.match(step) else "time" if TIME.match(step) else step[:16]
        self.stats.by_step.setdefault(step, []).append(elapsed)
        self.requests += 1
        if elapsed > KAKAO_LIMIT:
            raise StepFailed(f"answer after {elapsed:.1f} s")
        return status, answer

    def think_before(self, body: dict[str, Any]) -> float:
        if self.think is HUMAN:
            if not self.requests:
                return self.rng.uniform(0, ARRIVAL_SECONDS)
            pressed = bool(body["action"].get("clientExtra"))
            self.taps.append(pressed)
            return self.rng.uniform(*(HUMAN_TAP if pressed else HUMAN_TYPE))
        return self.rng.uniform(*self.think) if self.think[1] else 0.0

    def expect(self, words: str) -> None:
        if words not in self.user.text:
            raise StepFailed(f"expected {words!r}, got {self.user.text[:200]!r}")

    async def pick(self, pattern: re.Pattern[str]) -> None:
        found = [b for b in self.user.template.get("quickReplies", []) if pattern.match(b.get("messageText", ""))]
        if not found:
            raise StepFailed(f"no choice like {pattern.pattern}: {self.user.labels}")
        await self.user.tap(self.rng.choice(found))

    async def journey(self) -> None:
        user = self.user
        await user.say("구직등록")
        self.expect("동의")
        for action, value in REGISTRATION:
            await (user.press(value) if action == "press" else user.say(value))
        self.expect("확인해 주세요")
        await user.press("제출")
        self.expect("구직등록이 완료")
        await user.say("/book")
        await user.press("취업상담")
        if "서울일자리플러스센터" in user.labels:  # with one place the bot answers that question itself
            await user.press("서울일자리플러스센터")
        await user.press("상관없음")
        await self.pick(DAY)
        await self.pick(TIME)
        await user.press("건너뛰기")
        for _ in range(5):
            await user.press("제출")
            if "예약되었어요" in user.text:
                return
            await self.pick(TIME)  # someone took that time meanwhile: the bot asks again
        raise StepFailed(f"no booking: {user.text[:200]!r}")

    async def echo(self, taps: list[bool]) -> None:
        for i, tap in enumerate(taps):
            extra = {"payload": f"f1:c{i}"} if tap else None
            status, answer = await self.post(payload(self.user.key, f"메시지 {i}", extra=extra))
            if status != 200 or answer.get("version") != "2.0":
                raise StepFailed(f"echo answered {status}")


async def drive(url: str, people: int, think: tuple[float, float], seed: int,
                run: Callable[[Person], Awaitable[None]]) -> tuple[Stats, list[Person]]:
    stats = Stats()
    rng = random.Random(seed)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as http:
        crowd = [Person(http, url, f"bench-{seed}-{i:04d}", stats, think, random.Random(rng.random()))
                 for i in range(people)]

        async def one(person: Person) -> None:
            try:
                await run(person)
                stats.finished += 1
            except (StepFailed, aiohttp.ClientError, TimeoutError, ValueError) as exc:
                stats.errors.append(f"{person.user.key}: {type(exc).__name__}: {exc}"[:300])

        await asyncio.gather(*(one(p) for p in crowd))
    return stats, crowd


# --- servers ---------------------------------------------------------------------------------------


def counselors_csv(path: Path, n: int = 20) -> None:
    lines = ["telegram_id,display_name,types,place_kind,place_name,weekday,start,end,video_link"]
    for i in range(n):
        for day in ("mon", "tue", "wed", "thu", "fri"):
            lines.append(f"{800001 + i},상담사{i:02d},job_counselling|document_clinic,centre,,{day},09:00,18:00,")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


async def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("server did not start")


def stop(proc: subprocess.Popen[bytes]) -> str:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
    return (proc.stderr.read() if proc.stderr else b"").decode(errors="replace")


def p99_ms(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000 if ordered else 0.0


def report(name: str, stats: Stats, cpu: float, other: float) -> None:
    n = len(stats.latencies)
    lat = sorted(stats.latencies)
    seconds = max(stats.last - stats.first, 1e-9)
    p99 = lat[min(n - 1, int(n * 0.99))] * 1000 if n else 0.0
    print(f"{name:<8} {n:>8} {seconds:>8.1f} {n / seconds:>10.1f} {statistics.median(lat) * 1000 if n else 0:>8.1f} "
          f"{p99:>8.1f} {lat[-1] * 1000 if n else 0:>8.1f} {cpu / max(n, 1) * 1000:>10.2f} {other:>11.2f} "
          f"{len(stats.errors):>7}")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--think", default="human",
                        help="human (default: 2-5 s before a tap, 4-10 s before typing), MIN-MAX or 0")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="5 people, a smoke check")
    parser.add_argument("--start-timeout", type=float, default=60)
    args = parser.parse_args()
    people = 5 if args.quick else args.users
    if args.think == "human":
        think = HUMAN
    else:
        low, _, high = args.think.partition("-")
        think = (float(low), float(high or low))

    with tempfile.TemporaryDirectory(prefix="bench-kakao-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}", "KAKAO_SKILL_SECRET": SECRET,
               "WEBHOOK_LISTEN": "127.0.0.1", "WEBHOOK_PORT": str(port), "LOG_LEVEL": "WARNING",
               "TELEGRAM_BOT_TOKEN": "", "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO),
                                                                                     os.environ.get("PYTHONPATH")]))}
        counselors_csv(workdir / "counselors.csv")
        subprocess.run([sys.executable, "-m", "bot", "counselors", "import", str(workdir / "counselors.csv")],
                       cwd=workdir, env=env, check=True, stdout=subprocess.DEVNULL)
        bot = subprocess.Popen([sys.executable, "-m", "bot", "kakao"], cwd=workdir, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        echo_port = free_port()
        echo = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--echo-server", str(echo_port)],
                                cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            await wait_listening(port, bot, args.start_timeout)
            await wait_listening(echo_port, echo, args.start_timeout)
        except RuntimeError as exc:
            print(f"error: {exc}\n{stop(bot)[-2000:]}", file=sys.stderr)
            stop(echo)
            return 2
        try:
            # One person first, so imports and caches are warm before the crowd comes.
            await drive(f"http://127.0.0.1:{port}/kakao/skill", 1, (0, 0), 999, Person.journey)
            cpu0, busy0, self0, t0 = cpu_seconds(bot.pid), machine_busy(), self_cpu(), time.monotonic()
            stats, crowd = await drive(f"http://127.0.0.1:{port}/kakao/skill", people, think, args.seed,
                                       Person.journey)
            cpu = cpu_seconds(bot.pid) - cpu0
            other = (machine_busy() - busy0 - cpu - (self_cpu() - self0)) / (time.monotonic() - t0)
            per_person = max(1, round(statistics.mean(p.requests for p in crowd)))
            # The echo people send what a JobHub person sent: as many requests, taps and texts in the same order.
            script = max(crowd, key=lambda p: p.requests)
            taps = script.taps if len(script.taps) == script.requests else [i % 2 == 1 for i in range(per_person)]
            ecpu0, busy0, self0, t0 = cpu_seconds(echo.pid), machine_busy(), self_cpu(), time.monotonic()
            estats, _ = await drive(f"http://127.0.0.1:{echo_port}/kakao/skill", people, think, args.seed,
                                    lambda p: p.echo(taps))
            ecpu = cpu_seconds(echo.pid) - ecpu0
            eother = (machine_busy() - busy0 - ecpu - (self_cpu() - self0)) / (time.monotonic() - t0)
        finally:
            log = stop(bot)
            stop(echo)
        print(f"{people} people, think time {args.think} s, {per_person} requests each on average "
              f"(registration + booking); server on 127.0.0.1, SQLite")
        print(f"{'server':<8} {'requests':>8} {'seconds':>8} {'requests/s':>10} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'max ms':>8} {'CPU ms/req':>10} {'other load':>11} {'errors':>7}")
        report("echo", estats, ecpu, eother)
        report("jobhub", stats, cpu, other)
        slowest = sorted(stats.by_step.items(), key=lambda kv: -p99_ms(kv[1]))[:6]
        print("jobhub's slowest steps (p99 ms): " + ", ".join(f"{k} {p99_ms(v):.0f}" for k, v in slowest))
        p99 = p99_ms(stats.latencies)
        verdict = "PASS" if not stats.errors and p99 <= TARGET_P99_MS else "FAIL"
        print(f"target: 0 errors and p99 <= {TARGET_P99_MS:.0f} ms -> {verdict} "
              f"({len(stats.errors)} errors, p99 {p99:.1f} ms); {stats.finished}/{people} people finished")
        for line in stats.errors[:5]:
            print("  error:", line)
        noisy = [line for line in log.splitlines() if " ERROR " in line or "Traceback" in line]
        if noisy:
            print(f"bot logged {len(noisy)} error lines, first: {noisy[0][:200]}")
        return 0 if stats.finished == people else 1


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--echo-server":
        echo_server(int(sys.argv[2]))
        sys.exit(0)
    sys.exit(asyncio.run(main()))
