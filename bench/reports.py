"""/stats for a year and the CSV export on a large database, on SQLite and PostgreSQL.

    python bench/reports.py                 # 100,000 users, 300,000 bookings, 200,000 answers; both engines
    python bench/reports.py --quick         # a tenth of that: a smoke check
    python bench/reports.py --engines sqlite

What it does, per engine (SQLite in a temporary directory; PostgreSQL in a throwaway
cluster from `tests.pg`):

1. Migrates a fresh database and fills it in bulk (SQLAlchemy Core executemany on SQLite,
   COPY on PostgreSQL): `--users` people (60 % registered job seekers, 5 % membership
   applications), 40 counselors at the centre, 10 campus branches, 3 high schools and
   online, `--bookings` sessions spread over 2026 (attended, no-show, cancelled, booked),
   200 events with registrations and check-ins, and survey invitations with `--answers`
   answers (consultations, events, seeker and member follow-ups; one comment in ten has
   a phone number in it). The insert rate is printed.
2. Baseline: one pass over the rows the report reads (`count(*)` of bookings and answers
   in 2026), measured in the same run, so the report's time reads against the cost of
   touching the data at all.
3. `/stats 2026-01-01 2026-12-31` through the conversation engine as an admin would send
   it (all sections, the chart), timed `--repeat` times; the sections and the chart
   are also timed apart.
4. The CSV export of the year as `python -m bot report` writes it (streamed to a file),
   timed; then once more under tracemalloc for the peak Python memory, next to the peak
   of the naive way (all answer rows loaded in one list) as the baseline. The XLSX
   export and the bot's CSV button (the file built in memory for the chat) are timed too.

Targets: /stats and the CSV export under 2 s each (wall time). The CPU time of the bench
process is printed beside them: on a machine shared with other work the wall time also
holds waiting for a core. Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder comes first on sys.path, where bench/matching.py would
# shadow the `matching` package the bot imports: the repository goes first instead.
sys.path[:] = [str(REPO), *(p for p in sys.path if Path(p or ".").resolve() not in (REPO, REPO / "bench"))]

from sqlalchemy import Table, func, insert, select  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine  # noqa: E402

from bot.app import build_engine  # noqa: E402
from kernel.config import load_settings  # noqa: E402
from kernel.core import Incoming  # noqa: E402
from kernel.i18n import translator  # noqa: E402
from reports import chart, export, sections  # noqa: E402
from reports.period import custom  # noqa: E402
from reports.sections import Scope  # noqa: E402
from storage import survey_defs  # noqa: E402
from storage.db import create_engine, session_factory  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import (  # noqa: E402
    Booking,
    Counselor,
    Event,
    EventRegistration,
    Membership,
    Place,
    SeekerProfile,
    SurveyAnswer,
    SurveyRequest,
    User,
)

ADMIN = 1
YEAR = custom("2026-01-01", "2026-12-31")
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
NOW = dt.datetime(2027, 1, 2, 1, tzinfo=dt.UTC)
CHUNK = 20_000
TARGET_S = 2.0
COMMENTS = ("상담이 많이 도움이 됐어요", "시간이 조금 짧았어요", "친절하게 설명해 주셔서 감사합니다",
            "다음에도 신청할게요", "Very helpful, thank you")


def table(model: Any) -> Table:
    return model.__table__  # type: ignore[no-any-return]


class Clock:
    def now(self) -> dt.datetime:
        return NOW


# --- data ----------------------------------------------------------------------------------------------


def when(rng: random.Random) -> dt.datetime:
    """A working-hours moment in 2026 (UTC; 09:00–17:00 Seoul)."""
    day = START + dt.timedelta(days=rng.randrange(365))
    return day + dt.timedelta(hours=rng.randrange(0, 8), minutes=rng.choice((0, 10, 20, 30, 40, 50)))


def generate(users: int, bookings: int, answers: int, seed: int = 7) -> dict[Table, list[dict[str, Any]]]:
    rng = random.Random(seed)
    data: dict[Table, list[dict[str, Any]]] = {}
    data[table(User)] = [{"id": i, "locale": "ko", "role": "user", "created_at": START, "last_seen_at": START,
                          "announcements_opt_out": False} for i in range(1, users + 1)]
    seekers = range(1, int(users * 0.6) + 1)
    data[table(SeekerProfile)] = [
        {"user_id": u, "name": f"구직자{u}", "birth_year": rng.randrange(1965, 2006), "track": rng.choice(
            ("youth", "youth", "youth", "middle")), "school_kind": "university", "school_name": "서울대학교",
         "desired_jobs": ["사무"], "skills": [], "districts": [], "education": "university",
         "experience_years": rng.randrange(0, 10), "desired_salary": None, "phone": None, "consent_at": at,
         "registered_at": at, "updated_at": at}
        for u in seekers for at in (when(rng),)]
    members = range(int(users * 0.6) + 1, int(users * 0.65) + 1)
    data[table(Membership)] = []
    for i, u in enumerate(members, start=1):
        at = when(rng)
        status = rng.choice(("approved", "approved", "pending", "rejected"))
        data[table(Membership)].append({
            "id": i, "user_id": u, "applicant_type": rng.choice(("prospective", "campus_club", "employee",
                                                                 "restarter", "startup")),
            "team_name": f"팀{i}", "idea": "아이디어", "industry": "it", "startup_stage": "idea", "team_size": 2,
            "status": status, "member_stage": rng.choice(("preparation", "maturation", "execution"))
            if status == "approved" else None, "reject_reason": None, "consent_at": at, "applied_at": at,
            "decided_at": at + dt.timedelta(days=3) if status != "pending" else None, "decided_by": None})
    staff = list(range(users - 39, users + 1))
    data[table(Counselor)] = [{"id": i, "user_id": u, "display_name": f"상담사{i}", "types": ["job_counselling"],
                               "active": True, "created_at": START, "deactivated_at": None}
                              for i, u in enumerate(staff, start=1)]
    places = [("centre", "서울일자리플러스센터"), ("online", "화상")]
    places += [("campus", f"캠퍼스{i}") for i in range(10)] + [("high_school", f"특성화고{i}") for i in range(3)]
    data[table(Place)] = [{"id": i, "kind": k, "name": n, "address": None, "video_link": None}
                          for i, (k, n) in enumerate(places, start=1)]
    types = ("job_counselling", "document_clinic", "mentoring", "startup_consulting", "bm_coaching")
    data[table(Booking)] = []
    for i in range(1, bookings + 1):
        at = when(rng)
        data[table(Booking)].append({
            "id": i, "user_id": rng.randrange(1, users - 40), "counselor_id": rng.randrange(1, 41),
            "place_id": rng.randrange(1, len(places) + 1), "type": rng.choice(types), "starts_at": at,
            "ends_at": at + dt.timedelta(hours=1), "status": rng.choices(
                ("attended", "no_show", "cancelled", "booked"), (70, 10, 15, 5))[0], "note": None, "created_at": at,
            "cancelled_at": None, "cancel_reason": None, "rescheduled_from": None})
    data[table(Event)] = []
    data[table(EventRegistration)] = []
    for e in range(1, 201):
        at = when(rng)
        data[table(Event)].append({
            "id": e, "kind": rng.choice(("academy", "demo_day", "networking")), "title": f"행사 {e}",
            "description": "설명", "starts_at": at, "ends_at": at + dt.timedelta(hours=2), "place": "센터",
            "online_link": None, "capacity": 100, "audience": "everyone", "registration_deadline": at,
            "status": "published", "checkin_code": f"C{e:05d}", "created_by": None, "created_at": START,
            "updated_at": START, "published_at": START})
        for seat, u in enumerate(rng.sample(range(1, users - 40), 100), start=1):
            data[table(EventRegistration)].append({
                "event_id": e, "user_id": u, "status": "registered", "seat_no": seat, "offered_until": None,
                "created_at": START, "updated_at": START, "attended_at": at if rng.random() < 0.7 else None})
    requests: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    consultation = survey_defs.latest("consultation")
    seeker_q = survey_defs.latest("seeker_followup")
    member_q = survey_defs.latest("member_followup")
    attended = [b for b in data[table(Booking)] if b["status"] == "attended"]
    rng.shuffle(attended)
    plan = [("member", m) for m in data[table(Membership)] if m["status"] == "approved"]
    plan += [("seeker", u) for u in rng.sample(list(seekers), min(len(seekers), answers // 40))]
    plan += [("booking", b) for b in attended]
    for kind, item in plan:
        if len(rows) >= answers:
            break
        rid = len(requests) + 1
        at = when(rng)
        if kind == "booking":
            survey, user_id, subject = consultation, item["user_id"], f"booking:{item['id']}"
            given: list[tuple[str, str, int | None, str | None]] = [
                ("overall", "rating", rng.choices((1, 2, 3, 4, 5), (3, 5, 12, 40, 40))[0], None),
                ("helpful", "rating", rng.randrange(2, 6), None),
                ("recommend", "choice", None, rng.choice(("yes", "maybe", "no")))]
            if rng.random() < 0.25:
                text = rng.choice(COMMENTS) + (" 010-1234-5678 로 연락 주세요" if rng.random() < 0.1 else "")
                given.append(("comment", "text", None, text))
        elif kind == "seeker":
            survey, user_id, subject = seeker_q, item, "seeker:q1"
            employed = rng.choice(("full_time", "part_time", "searching", "not_searching"))
            given = [("employed", "choice", None, employed)]
            if employed in ("full_time", "part_time"):
                given += [("employer", "text", None, "(주)서울소프트"), ("since", "month", None, "2026-05")]
        else:
            survey, user_id, subject = member_q, item["user_id"], "member:2026h2"
            given = [("operating", "choice", None, rng.choice(("yes", "yes", "paused", "closed"))),
                     ("revenue", "choice", None, rng.choice(("none", "lt_10m", "10m_100m", "100m_1b"))),
                     ("employees", "number", rng.randrange(1, 30), None)]
        requests.append({"id": rid, "user_id": user_id, "survey": survey.key, "version": survey.version,
                         "subject": subject, "booking_id": item["id"] if kind == "booking" else None,
                         "event_id": None, "counselor_id": item["counselor_id"] if kind == "booking" else None,
                         "status": "done", "asking": None, "draft": {}, "created_at": at, "due_at": at,
                         "expires_at": at + dt.timedelta(days=7), "finished_at": at})
        for question, qkind, number, text in given:
            rows.append({"request_id": rid, "survey": survey.key, "version": survey.version, "question": question,
                         "kind": qkind, "value_int": number, "value_text": text, "answered_at": at})
    data[table(SurveyRequest)] = requests
    data[table(SurveyAnswer)] = rows[:answers]
    return data


async def bulk(conn: AsyncConnection, target: Table, rows: Sequence[dict[str, Any]]) -> None:
    """COPY on PostgreSQL, executemany on SQLite, in chunks."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        columns = list(rows[0])
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        records = [tuple(json.dumps(v) if isinstance(v, (dict, list)) else v for v in (r[c] for c in columns))
                   for r in rows]
        await driver.copy_records_to_table(target.name, records=records, columns=columns)
        return
    for i in range(0, len(rows), CHUNK):
        await conn.execute(insert(target), list(rows[i:i + CHUNK]))


async def fill(engine: AsyncEngine, data: dict[Table, list[dict[str, Any]]]) -> tuple[int, float]:
    began = time.perf_counter()
    async with engine.begin() as conn:
        for target, rows in data.items():
            await bulk(conn, target, rows)
        if conn.dialect.name == "postgresql":
            # COPY with explicit ids leaves the sequences behind; the bot inserts rows of its own later.
            for target in data:
                if "id" in target.c:
                    await conn.exec_driver_sql(
                        f"SELECT setval(pg_get_serial_sequence('{target.name}', 'id'), "
                        f"(SELECT coalesce(max(id), 0) + 1 FROM {target.name}), false)")
        await conn.exec_driver_sql("ANALYZE")
    return sum(len(r) for r in data.values()), time.perf_counter() - began


# --- measurements ----------------------------------------------------------------------------------------


CPU: dict[str, float] = {}


async def timed(repeat: int, fn: Any, name: str = "") -> tuple[float, Any]:
    """Median wall time of `repeat` runs; the median CPU time of this process (all its threads,
    e.g. aiosqlite's) goes to CPU[name], to tell the work from waiting on a busy machine."""
    times, cpu, result = [], [], None
    for _ in range(repeat):
        began, began_cpu = time.perf_counter(), time.process_time()
        result = await fn()
        times.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
    CPU[name] = statistics.median(cpu)
    return statistics.median(times), result


async def measure(name: str, url: str, data: dict[Table, list[dict[str, Any]]], repeat: int,
                  workdir: Path) -> dict[str, Any]:
    engine = create_engine(url)
    out: dict[str, Any] = {"engine": name}
    try:
        await upgrade(engine)
        out["rows"], out["fill_s"] = await fill(engine, data)
        settings = load_settings(database_url=url, admin_telegram_ids=str(ADMIN), _env_file=None,
                                 telegram_bot_token="", webhook_url="", webhook_secret="")
        sessions = session_factory(engine)
        bot = build_engine(settings, sessions, clock=Clock())
        scope = Scope(YEAR, settings.tz)
        start, end = YEAR.bounds(settings.tz)
        t = translator("ko")

        async def baseline() -> int:
            async with sessions() as s:
                a = await s.scalar(select(func.count()).select_from(Booking)
                                   .where(Booking.starts_at >= start, Booking.starts_at < end))
                b = await s.scalar(select(func.count()).select_from(SurveyAnswer)
                                   .where(SurveyAnswer.answered_at >= start, SurveyAnswer.answered_at < end))
                return int(a or 0) + int(b or 0)

        out["baseline_s"], out["baseline_rows"] = await timed(repeat, baseline)

        async def stats() -> Any:
            return await bot.handle(Incoming("telegram", str(ADMIN), str(ADMIN), text="/stats 2026-01-01 2026-12-31",
                                             command="stats", args=("2026-01-01", "2026-12-31")))

        out["stats_s"], response = await timed(repeat, stats, "stats")
        out["stats_cpu"] = CPU["stats"]
        assert response.replies and response.replies[1].file is not None, response
        out["stats_chars"] = len(response.replies[0].text)
        (workdir / f"stats-{name}.png").write_bytes(response.replies[1].file.data)

        async def only_sections() -> Any:
            async with sessions() as s:
                return await sections.build(s, scope)

        async def only_chart() -> Any:
            async with sessions() as s:
                return await chart.png(s, scope, t)

        out["sections_s"], _ = await timed(repeat, only_sections)
        out["chart_s"], _ = await timed(repeat, only_chart)

        async def csv_file() -> int:
            async with sessions() as s, s.begin():
                with (workdir / f"year-{name}.csv").open("w", encoding="utf-8-sig", newline="") as fh:
                    return await export.write_csv(s, scope, t, fh)

        out["csv_s"], out["csv_rows"] = await timed(repeat, csv_file, "csv")
        out["csv_cpu"] = CPU["csv"]
        out["csv_mb"] = (workdir / f"year-{name}.csv").stat().st_size / 1e6

        async def xlsx_file() -> int:
            async with sessions() as s, s.begin():
                return await export.write_xlsx(s, scope, t, workdir / f"year-{name}.xlsx")

        out["xlsx_s"], _ = await timed(1, xlsx_file)

        async def csv_button() -> Any:
            return await bot.handle(Incoming("telegram", str(ADMIN), str(ADMIN), button=f"st:csv:{YEAR.code()}"))

        out["button_s"], response = await timed(1, csv_button)
        assert response.replies[0].file is not None, response

        tracemalloc.start()
        await csv_file()
        out["csv_peak_mb"] = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()

        tracemalloc.start()
        async with sessions() as s:
            everything = (await s.execute(select(SurveyAnswer).where(SurveyAnswer.answered_at >= start,
                                                                     SurveyAnswer.answered_at < end))).all()
        out["naive_peak_mb"] = tracemalloc.get_traced_memory()[1] / 1e6
        out["naive_rows"] = len(everything)
        del everything
        tracemalloc.stop()
    finally:
        await engine.dispose()
    return out


def report(results: list[dict[str, Any]]) -> None:
    print()
    print(f"{'engine':<11}{'rows':>9}{'fill s':>8}{'rows/s':>9}{'base s':>8}{'/stats s':>10}{'sections':>10}"
          f"{'chart':>7}{'CSV s':>7}{'answers':>9}{'CSV MB':>8}{'XLSX s':>8}{'button s':>9}"
          f"{'peak MB':>9}{'naive MB':>10}")
    for r in results:
        print(f"{r['engine']:<11}{r['rows']:>9,}{r['fill_s']:>8.1f}{r['rows'] / r['fill_s']:>9,.0f}"
              f"{r['baseline_s']:>8.3f}{r['stats_s']:>10.3f}{r['sections_s']:>10.3f}{r['chart_s']:>7.3f}"
              f"{r['csv_s']:>7.3f}{r['csv_rows']:>9,}{r['csv_mb']:>8.1f}{r['xlsx_s']:>8.2f}{r['button_s']:>9.2f}"
              f"{r['csv_peak_mb']:>9.1f}{r['naive_peak_mb']:>10.1f}")
    print()
    for r in results:
        verdict = "PASS" if r["stats_s"] < TARGET_S and r["csv_s"] < TARGET_S else "FAIL"
        print(f"{verdict} {r['engine']}: /stats for a year {r['stats_s']:.2f} s (CPU {r['stats_cpu']:.2f} s), "
              f"CSV export {r['csv_s']:.2f} s (CPU {r['csv_cpu']:.2f} s) "
              f"(target < {TARGET_S:.0f} s each; one pass over the rows: {r['baseline_s']:.2f} s); export peak "
              f"{r['csv_peak_mb']:.1f} MB of Python memory vs {r['naive_peak_mb']:.1f} MB to load the "
              f"{r['naive_rows']:,} answers at once")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--bookings", type=int, default=300_000)
    parser.add_argument("--answers", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--quick", action="store_true", help="a tenth of the data, one repeat")
    args = parser.parse_args()
    if args.quick:
        args.users, args.bookings, args.answers, args.repeat = 10_000, 30_000, 20_000, 1
    began = time.perf_counter()
    data = generate(args.users, args.bookings, args.answers)
    print(f"generated {sum(len(r) for r in data.values()):,} rows in {time.perf_counter() - began:.1f} s: "
          f"{len(data[table(User)]):,} users, {len(data[table(Booking)]):,} bookings, "
          f"{len(data[table(SurveyAnswer)]):,} survey answers")
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        workdir = Path(tmp)
        for name in args.engines.split(","):
            if name == "sqlite":
                results.append(await measure(name, f"sqlite+aiosqlite:///{workdir / 'bench.sqlite3'}", data,
                                             args.repeat, workdir))
            elif name == "postgresql":
                from tests.pg import PostgresServer

                server = PostgresServer().start()
                try:
                    await server.acreate_database("bench")
                    results.append(await measure(name, server.url("bench"), data, args.repeat, workdir))
                finally:
                    server.stop()
            else:
                parser.error(f"unknown engine {name}")
            print(f"{name} done")
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
