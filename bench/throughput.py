"""End-to-end throughput: N simulated users registering through the Telegram channel.

    python bench/throughput.py --users 50      # from the repo root
    python bench/throughput.py --quick         # 3 users: a smoke check

The fake Bot API (`tests.fake_telegram.FakeTelegram`) and the simulated users run in
this process; the bot under test runs as a subprocess, exactly as in production
(`python -m bot run`, SQLite in a temporary directory, long polling against the fake).
For comparison a bare python-telegram-bot echo bot (`bench/echo_bot.py`) is driven
through the same script of texts and button presses (also on JobHub's aiohttp transport,
`echo-aiohttp`, to compare over the same HTTP client), each on a fresh fake, one after
the other in the same run: `--rounds` times (default 3) alternating echo and JobHub, so
a burst of other load on the machine hits both; the medians are compared.

Every user sends its next message only after the bot's answer to the previous one, like
a person. The answer to a step is the first reply to the chat that is a new message or
carries a keyboard (an edit that only strips the pressed question's buttons is not the
answer); it must contain the text that step expects, else the user fails. Latency is
from pushing the update to the fake receiving that answer. A handled message is one user
update (a text or a press). CPU is the bot process's utime+stime (/proc/<pid>/stat) over
the measured phase. The figures are reported, not asserted: the exit code is 0 even
below the target, 1 if any user failed or the bot got an API error, 2 on a timeout or
a bot that did not start.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import resource
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.fake_telegram import Call, FakeTelegram  # noqa: E402

TOKEN = "123:BENCH"
TARGET = 0.60  # JobHub's messages/s as a share of the echo bot's
# AIORateLimiter(overall_max_rate=0) builds no overall limiter at all (PTB 22,
# telegram/ext/_aioratelimiter.py: `if overall_max_rate and overall_time_period`), and its
# per-group limiter only applies to negative (group) chat ids, so 0 means "not throttled".
OVERALL_RATE = "0"
WARMUP_USER = 900_000_001
FIRST_USER = 1_000_001
STOP_SECONDS = 15.0
BOTS = ("echo-bare", "echo-aiohttp", "echo", "jobhub")


@dataclass(frozen=True)
class Step:
    kind: str  # "text" or "press"
    value: str  # the text typed, or (a part of) the label of the button pressed
    expect: str  # JobHub's answer contains this (in its text or a button label)


# One registration, as in tests/test_telegram.py: 16 user updates.
REGISTRATION = (
    Step("text", "/register", "동의합니다"),
    Step("press", "동의합니다", "이름을 입력"),
    Step("text", "김서울", "출생연도"),
    Step("text", "1999", "청년층"),
    Step("press", "청년층", "대학교"),
    Step("press", "대학교", "학교 이름"),
    Step("text", "서울대학교", "희망 직무"),
    Step("text", "웹 개발", "보유 기술"),
    Step("text", "Python", "마포구"),
    Step("press", "마포구", "✅ 마포구"),
    Step("press", "선택 완료", "4년제"),
    Step("press", "4년제", "신입"),
    Step("press", "신입", "건너뛰기"),
    Step("press", "건너뛰기", "건너뛰기"),
    Step("press", "건너뛰기", "제출"),
    Step("press", "제출", "구직등록이 완료"),
)


class BenchError(Exception):
    """The run cannot go on (the bot died or never started)."""


class UserFailed(Exception):
    """One simulated user could not finish its script."""


# --------------------------------------------------------------------------- the bot processes


@dataclass
class Bot:
    name: str
    argv: list[str]
    env: dict[str, str]
    kind: str  # "jobhub" (buttons from its keyboards, answers checked) or "echo"
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    def start(self) -> None:
        self.log_path = self.workdir / f"{self.name}.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.argv, cwd=self.workdir, env=self.env, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT)
        _CHILDREN.append(self.proc)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def cpu_seconds(self) -> float:
        """utime + stime of the bot process (all its threads), from /proc/<pid>/stat."""
        assert self.proc is not None
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()  # after "pid (comm)"; fields[0] is field 3
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def stop(self) -> None:
        """SIGTERM and wait without blocking the loop (the fake must answer the bot's last calls)."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        while proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    def log_tail(self, lines: int = 25) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def log_lines(self) -> int:
        if self.log_path is None or not self.log_path.exists():
            return 0
        return len(self.log_path.read_text(errors="replace").splitlines())


_CHILDREN: list[subprocess.Popen[bytes]] = []


def _kill_children() -> None:
    """Last resort (timeout, Ctrl-C, crash): no bot process outlives the benchmark."""
    for proc in _CHILDREN:
        if proc.poll() is None:
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)


def _env(fake: FakeTelegram, workdir: Path, concurrency: int | None, extra: dict[str, str]) -> dict[str, str]:
    # A clean environment (no WEBHOOK_URL etc. leaking in) and a cwd without a .env.
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR") if key in os.environ}
    env.update({
        # The repo first; a PYTHONPATH given to the benchmark is kept (e.g. to try a package).
        "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "PYTHONUNBUFFERED": "1",
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "LOG_LEVEL": "WARNING",
        **extra,
    })
    if concurrency is not None:
        env["TELEGRAM_CONCURRENCY"] = str(concurrency)
    return env


# --------------------------------------------------------------------------- simulated users


@dataclass
class UserResult:
    latencies: list[float] = field(default_factory=list)
    error: str | None = None


def _labels(call: Call) -> list[tuple[str, str]]:
    """(label, callback_data) of the inline keyboard sent with this call."""
    markup = call.params.get("reply_markup")
    if not isinstance(markup, dict):
        return []
    return [(str(b.get("text", "")), str(b.get("callback_data", "")))
            for row in markup.get("inline_keyboard", []) for b in row]


def _is_answer(call: Call) -> bool:
    return call.method == "sendMessage" or bool(_labels(call))


async def _wait_answer(fake: FakeTelegram, chat_id: int, since: int, timeout: float,
                       bot: Bot | None = None) -> Call:
    """The first reply to the chat at call index >= since that is an answer (see module doc)."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise UserFailed(f"no answer within {timeout:.0f}s")
        if bot is not None and not bot.alive():
            raise BenchError(f"{bot.name} exited with code {bot.proc.returncode if bot.proc else '?'}")
        try:
            # Short waits when watching a starting bot, so a crash is noticed at once.
            call = await fake.wait_reply(chat_id, timeout=min(remaining, 0.5 if bot else remaining), since=since)
        except AssertionError:
            continue
        if _is_answer(call):
            return call
        since = call.index + 1


async def run_user(fake: FakeTelegram, bot: Bot, user_id: int, script: tuple[Step, ...], timeout: float,
                   first_timeout: float | None = None) -> UserResult:
    result = UserResult()
    last: Call | None = None
    try:
        for n, step in enumerate(script):
            since = len(fake.calls)
            if step.kind == "text":
                expect = step.value if bot.kind == "echo" else step.expect
                pushed = time.time()
                fake.user_sends(user_id, step.value)
            else:
                if last is None or not isinstance(last.result, dict):
                    raise UserFailed(f"step {n + 1}: nothing to press")
                if bot.kind == "echo":
                    data = f"b:{step.value}"  # the echo bot's messages have no keyboard; any data does
                    expect = f"pressed {data}"
                else:
                    data = next((d for label, d in _labels(last) if step.value in label and d), "")
                    if not data:
                        raise UserFailed(f"step {n + 1}: no button {step.value!r} in {[x for x, _ in _labels(last)]}")
                    expect = step.expect
                pushed = time.time()
                fake.user_presses(user_id, int(last.result["message_id"]), data)
            if n == 0 and first_timeout is not None:  # the bot may still be starting: watch it
                answer = await _wait_answer(fake, user_id, since, first_timeout, bot)
            else:
                answer = await _wait_answer(fake, user_id, since, timeout)
            result.latencies.append(answer.time - pushed)
            shown = str(answer.params.get("text", "")) + "\n" + "\n".join(label for label, _ in _labels(answer))
            if expect not in shown:
                raise UserFailed(f"step {n + 1} ({step.kind} {step.value!r}): expected {expect!r}, "
                                 f"got {shown[:120]!r}")
            last = answer
    except UserFailed as exc:
        result.error = f"user {user_id}: {exc}"
    return result


# --------------------------------------------------------------------------- one measured bot


@dataclass
class Row:
    bot: str
    users: int
    messages: int
    seconds: float
    cpu_seconds: float
    driver_cpu_seconds: float
    other_cpu_seconds: float  # every other process on the machine, over the same time
    api_calls: int
    api_errors: list[str]
    latencies: list[float]
    user_errors: list[str]
    notes: list[str] = field(default_factory=list)
    round: int = 1

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0

    @property
    def per_message(self) -> int:
        """Divisor for per-message figures (never 0, even if no update was answered)."""
        return max(self.messages, 1)

    @property
    def errors(self) -> int:
        return len(self.user_errors) + len(self.api_errors)


def _percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _machine_busy() -> float:
    """CPU seconds all processes on the machine have used (from /proc/stat), to see other load."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    busy = sum(ticks[:8]) - idle  # user nice system idle iowait irq softirq steal; guest is in user
    return busy / os.sysconf("SC_CLK_TCK")


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _gather_watching(bot: Bot, tasks: list[asyncio.Task[UserResult]]) -> list[UserResult]:
    """Wait for all users, but stop at once if the bot process dies meanwhile."""
    pending = set(tasks)
    try:
        while pending:
            _done, pending = await asyncio.wait(pending, timeout=0.5)
            if not bot.alive():
                raise BenchError(f"{bot.name} exited during the run (code {bot.proc.returncode if bot.proc else '?'})")
    finally:
        for task in pending:
            task.cancel()
    return [task.result() for task in tasks]


async def measure(name: str, kind: str, users: int, args: argparse.Namespace, root: Path) -> Row:
    workdir = root / name
    workdir.mkdir()
    # "echo-bare" is the echo bot with python-telegram-bot's defaults (updates one at a time),
    # the "bare echo bot" of the issue; "echo-aiohttp" is the same on JobHub's HTTP transport;
    # "echo" uses the same concurrency as JobHub.
    bare = kind in ("echo-bare", "echo-aiohttp")
    transport = "aiohttp" if kind == "echo-aiohttp" else "httpx"
    kind = "echo" if kind.startswith("echo") else kind
    async with FakeTelegram() as fake:
        if kind == "jobhub":
            db = workdir / "jobhub.sqlite3"
            env = _env(fake, workdir, args.concurrency,
                       {"DATABASE_URL": f"sqlite:///{db}", "TELEGRAM_OVERALL_RATE": OVERALL_RATE})
            argv = [sys.executable, "-m", "bot", "run"]
        else:
            env = _env(fake, workdir, 1 if bare else args.concurrency,
                       {"ECHO_ANSWER_CALLBACKS": "0" if args.echo_no_callback_answers else "1",
                        "ECHO_TRANSPORT": transport})
            argv = [sys.executable, str(REPO / "bench" / "echo_bot.py")]
        bot = Bot(name, argv, env, kind, workdir)
        bot.start()
        try:
            # Warm-up: the first answer means the bot is polling; one whole registration
            # also loads every lazily imported module and warms the database.
            warm = await run_user(fake, bot, WARMUP_USER, REGISTRATION, args.step_timeout,
                                  first_timeout=args.start_timeout)
            if warm.error:
                raise BenchError(f"{name} warm-up failed: {warm.error}")
            await asyncio.sleep(0.3)  # let the warm-up's trailing messages (the menu) go out

            calls0, cpu0, self0, busy0 = len(fake.calls), bot.cpu_seconds(), _self_cpu(), _machine_busy()
            t0 = time.perf_counter()
            tasks = [asyncio.create_task(run_user(fake, bot, FIRST_USER + i, REGISTRATION, args.step_timeout))
                     for i in range(users)]
            results = await _gather_watching(bot, tasks)
            seconds = time.perf_counter() - t0
            cpu = bot.cpu_seconds() - cpu0
            driver_cpu = _self_cpu() - self0
            other_cpu = max(0.0, _machine_busy() - busy0 - cpu - driver_cpu)
            if not bot.alive():
                raise BenchError(f"{name} exited during the run")
            phase = [c for c in fake.calls[calls0:] if c.method != "getUpdates"]
            api_errors = [f"{c.method} chat={c.chat_id}: {c.error_code} {c.description}"
                          for c in fake.calls[calls0:] if not c.ok]
            polls = sum(1 for c in fake.calls[calls0:] if c.method == "getUpdates")
        except BaseException:
            tail = bot.log_tail()
            if tail:
                print(f"--- last lines of {name}'s output:\n{tail}\n---", file=sys.stderr)
            raise
        finally:
            await bot.stop()
    latencies = [lat for r in results for lat in r.latencies]  # one per answered update
    row = Row(name, users, len(latencies), seconds, cpu, driver_cpu, other_cpu, len(phase), api_errors,
              latencies, [r.error for r in results if r.error])
    row.notes.append(f"getUpdates calls: {polls}, {row.messages / max(polls, 1):.1f} updates per poll")
    if kind == "jobhub":
        with contextlib.closing(sqlite3.connect(workdir / "jobhub.sqlite3")) as conn:
            saved = conn.execute("SELECT count(*) FROM seeker_profiles").fetchone()[0]
        if saved != users + 1:  # + the warm-up user
            row.user_errors.append(f"{saved} seeker profiles in the database, expected {users + 1}")
    if lines := bot.log_lines():
        row.notes.append(f"bot output: {lines} lines (log level WARNING), last: {bot.log_tail(1)[:200]}")
    return row


# --------------------------------------------------------------------------- report


def _cells(label: str, r: Row) -> tuple[str, ...]:
    return (label, str(r.users), str(r.messages), f"{r.seconds:.2f}", f"{r.rate:.1f}",
            f"{_percentile(r.latencies, 0.50) * 1000:.1f}", f"{_percentile(r.latencies, 0.99) * 1000:.1f}",
            f"{r.cpu_seconds * 1000 / r.per_message:.2f}", f"{r.api_calls / r.per_message:.2f}",
            f"{r.driver_cpu_seconds * 1000 / r.per_message:.2f}", f"{r.other_cpu_seconds / r.seconds:.2f}",
            str(r.errors))


def _median_cells(label: str, rows: list[Row]) -> tuple[str, ...]:
    """Each column's median over the rounds (errors: the sum)."""
    def med(values: list[float]) -> float:
        return statistics.median(values)
    r = rows[0]
    return (label, str(r.users), str(r.messages), f"{med([x.seconds for x in rows]):.2f}",
            f"{med([x.rate for x in rows]):.1f}",
            f"{med([_percentile(x.latencies, 0.50) for x in rows]) * 1000:.1f}",
            f"{med([_percentile(x.latencies, 0.99) for x in rows]) * 1000:.1f}",
            f"{med([x.cpu_seconds * 1000 / x.per_message for x in rows]):.2f}",
            f"{med([x.api_calls / x.per_message for x in rows]):.2f}",
            f"{med([x.driver_cpu_seconds * 1000 / x.per_message for x in rows]):.2f}",
            f"{med([x.other_cpu_seconds / x.seconds for x in rows]):.2f}",
            str(sum(x.errors for x in rows)))


def report(rows: list[Row], args: argparse.Namespace) -> None:
    header = ("bot", "users", "messages", "seconds", "messages/s", "p50 ms", "p99 ms", "CPU ms/msg",
              "API calls/msg", "driver CPU ms/msg", "other load", "errors")
    names = list(dict.fromkeys(r.bot for r in rows))
    rounds = max(r.round for r in rows)
    table: list[tuple[str, ...] | None] = [header, None]
    for name in names:
        mine = [r for r in rows if r.bot == name]
        if rounds > 1:
            table += [_cells(f"{name} #{r.round}", r) for r in mine]
            table.append(_median_cells(f"{name} median", mine))
        else:
            table += [_cells(name, r) for r in mine]
    widths = [max(len(line[i]) for line in table if line) for i in range(len(header))]
    print()
    for line in table:
        cells = line or tuple("-" * w for w in widths)
        padded = [c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(cells, widths, strict=True))]
        print("  ".join(padded))
    rate = {n: statistics.median([r.rate for r in rows if r.bot == n]) for n in names}
    cpu = {n: statistics.median([r.cpu_seconds / r.per_message for r in rows if r.bot == n]) for n in names}
    what = "median messages/s over the rounds" if rounds > 1 else "messages/s"
    for base, meaning, judged in (("echo-bare", "a bare PTB echo bot, PTB defaults: the issue's baseline", True),
                                  ("echo-aiohttp", "the bare echo bot on JobHub's aiohttp transport: a stricter "
                                                   "comparison (JobHub's own cost over the same HTTP client)", False),
                                  ("echo", "the echo bot with JobHub's concurrency: a stricter comparison", False)):
        if "jobhub" not in rate or base not in rate or rate[base] <= 0:
            continue
        ratio = rate["jobhub"] / rate[base]
        verdict = ""
        if judged:
            verdict = f" -> {'PASS' if ratio >= TARGET else 'FAIL'} (target >= {TARGET * 100:.0f} %)"
        print(f"\njobhub/{base}: {ratio * 100:.0f} % ({what}){verdict}\n  ({meaning})")
        if cpu["jobhub"] > 0:
            print(f"  by CPU per message: {cpu[base] / cpu['jobhub'] * 100:.0f} % ({base} {cpu[base] * 1000:.2f} ms / "
                  f"jobhub {cpu['jobhub'] * 1000:.2f} ms: the rate ratio to expect when each bot's CPU is the limit)")
    if args.users < 20:
        print(f"(only {args.users} users: the bots are not loaded, so the ratios say little; use --users 50)")
    print()
    print(f"TELEGRAM_OVERALL_RATE={OVERALL_RATE} for jobhub: PTB's AIORateLimiter builds no overall limiter for 0, "
          f"so sends are not throttled against the fake (the default 30/s would cap the run, not measure the bot); "
          f"private chats get no per-group limit.")
    concurrency = args.concurrency if args.concurrency is not None else "64 (JobHub's default)"
    answers = "answerCallbackQuery + one message" if not args.echo_no_callback_answers else "one message only"
    print(f"echo and jobhub: long polling, concurrent updates {concurrency}; echo-bare and echo-aiohttp: PTB's default "
          f"(one at a time); echo answers a press with {answers}, a text with one message. HTTP: jobhub and "
          f"echo-aiohttp on aiohttp (bot/channels/telegram_http.py), echo-bare and echo on PTB's default httpx.")
    print(f"Each user: {len(REGISTRATION)} updates, the next only after the answer to the previous; all users at once, "
          f"after a warm-up registration. Latency: update pushed -> answer received by the fake.")
    print("CPU ms/msg: the bot process (utime+stime); driver CPU ms/msg: this process (fake API + users); "
          f"other load: CPU cores used by every other process meanwhile (of {os.cpu_count()}) -- "
          "when it is well above 0 the figures are disturbed, run again.")
    for r in rows:
        label = f"{r.bot} #{r.round}" if rounds > 1 else r.bot
        for note in r.notes:
            print(f"{label}: {note}")
        for err in (r.user_errors + r.api_errors)[:10]:
            print(f"{label}: ERROR {err}")
        if r.errors > 10:
            print(f"{label}: ... {r.errors - 10} more errors")


async def run_all(args: argparse.Namespace) -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="jobhub-bench-") as tmp:
        for round_ in range(1, args.rounds + 1):
            for name in args.bots:  # alternating, so a burst of other load hits both bots alike
                tag = f" (round {round_}/{args.rounds})" if args.rounds > 1 else ""
                print(f"running {name}{tag}: {args.users} users x {len(REGISTRATION)} messages ...", flush=True)
                row = await measure(f"{name}-{round_}", name, args.users, args, Path(tmp))
                row.bot, row.round = name, round_
                print(f"  {row.messages} messages in {row.seconds:.2f} s, {row.rate:.1f}/s, "
                      f"{len(row.user_errors)} failed users", flush=True)
                rows.append(row)
    return rows


async def main_async(args: argparse.Namespace) -> list[Row]:
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    return await asyncio.wait_for(run_all(args), args.timeout)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=50, help="simulated users at once (default 50)")
    parser.add_argument("--quick", action="store_true", help="a tiny run (3 users) as a smoke check")
    parser.add_argument("--rounds", type=int, default=3,
                        help="measure each bot this many times, alternating; medians are compared (default 3)")
    parser.add_argument("--bots", default="echo-bare,echo-aiohttp,echo,jobhub",
                        help="which bots, in order (default echo-bare,echo-aiohttp,echo,jobhub)")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="TELEGRAM_CONCURRENCY for both bots (default: JobHub's default, 64)")
    parser.add_argument("--echo-no-callback-answers", action="store_true",
                        help="the echo bot skips answerCallbackQuery (one API call per update)")
    parser.add_argument("--timeout", type=float, default=600, help="global time limit in seconds (default 600)")
    parser.add_argument("--step-timeout", type=float, default=30, help="max wait for one answer (default 30 s)")
    parser.add_argument("--start-timeout", type=float, default=60, help="max wait for a bot to start (default 60 s)")
    args = parser.parse_args(argv)
    if args.quick:
        args.users, args.rounds = 3, 1
        args.timeout = min(args.timeout, 180)
    args.bots = [b.strip() for b in args.bots.split(",") if b.strip()]
    if not args.bots or any(b not in BOTS for b in args.bots):
        parser.error(f"--bots takes any of {', '.join(BOTS)}")
    if args.users < 1 or args.rounds < 1:
        parser.error("--users and --rounds must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        rows = asyncio.run(main_async(args))
    except TimeoutError:
        print(f"error: the benchmark did not finish within {args.timeout:.0f} s", file=sys.stderr)
        return 2
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        _kill_children()
    report(rows, args)
    return 1 if any(r.errors for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
