"""The document clinic: reading a sent document and its first pass, and the review queue on a full database.

    python bench/clinic.py               # 50 repeats, 10,000 open requests (SQLite)
    python bench/clinic.py --quick       # 10 repeats, 1,000 requests
    python bench/clinic.py --engines sqlite postgresql

What it does:
1. Extraction and the automatic first pass (`matching.documents.extract` + `first_pass`) on a 3-page
   PDF, a DOCX and an HWPX résumé made in memory (tests/clinic_files.py), `--repeat` times each;
   identifying the format (`identify`) is included. Baseline: a bare `zipfile` read of the DOCX's
   XML and pypdf opening the PDF without extracting, in the same run.
2. The review queue: a fresh database (SQLite in a temporary directory; PostgreSQL from `tests.pg`)
   with `--requests` open requests from 500 people, then the queue's first page and count
   (`storage.clinic.queue` + `count_open`) and `/reviews` sent by a counselor through the conversation
   engine, `--repeat` times each.

Targets: extraction and first pass p50 ≤ 300 ms per document; the queue listing with 10,000 open
requests p50 ≤ 50 ms. Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import statistics
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# Run as a script, this folder comes first on sys.path, where bench/matching.py would shadow the
# `matching` package: the repository goes first instead.
sys.path[:] = [str(REPO), *(p for p in sys.path if Path(p or ".").resolve() not in (REPO, REPO / "bench"))]

import pypdf  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from bot.app import build_engine  # noqa: E402
from kernel.config import load_settings  # noqa: E402
from kernel.core import Incoming  # noqa: E402
from matching import documents  # noqa: E402
from storage import clinic, counselors, users  # noqa: E402
from storage.db import create_engine, session_factory  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import ClinicRequest  # noqa: E402
from tests import clinic_files  # noqa: E402
from tests.pg import PostgresServer  # noqa: E402

NOW = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
COUNSELOR = "900001"


class Clock:
    def now(self) -> dt.datetime:
        return NOW


def p50(samples: list[float]) -> str:
    return f"p50 {statistics.median(samples) * 1000:7.2f} ms  max {max(samples) * 1000:7.2f} ms"


def timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def read(data: bytes) -> None:
    fmt = documents.identify(data)
    assert fmt is not None
    got = documents.extract(data, fmt)
    documents.first_pass(got.text, ["resume", "cover_letter"], ids_masked=got.ids_masked,
                         wanted_skills=["Python", "SQL", "Tableau"])


def extraction(repeat: int) -> None:
    page = "\n".join(["Resume of a job seeker", "Education: Seoul National University, 2020",
                      "Experience: data analysis intern, Python and SQL", *(f"Line {i} of the self introduction "
                                                                           "with some words" for i in range(40))])
    docs = {"PDF (3 pages)": clinic_files.pdf([page, page, page]),
            "DOCX": clinic_files.docx(clinic_files.RESUME * 8),
            "HWPX": clinic_files.hwpx(clinic_files.RESUME * 8)}
    print("1. extraction + first pass")
    for name, data in docs.items():
        print(f"   {name:14} {len(data):7,d} bytes  {p50(timed(lambda d=data: read(d), repeat))}")
    pdf, docx = docs["PDF (3 pages)"], docs["DOCX"]
    print("   baseline: pypdf open only " + p50(timed(lambda: len(pypdf.PdfReader(io.BytesIO(pdf)).pages), repeat)))
    print("   baseline: unzip DOCX XML  " + p50(timed(lambda: zipfile.ZipFile(io.BytesIO(docx)).read(
        "word/document.xml"), repeat)))


async def queue(url: str, engine_name: str, requests: int, repeat: int) -> None:
    settings = load_settings(_env_file=None, database_url=url, telegram_bot_token="", demo_data=False)
    db = create_engine(url)
    await upgrade(db)
    sessions = session_factory(db)
    async with sessions() as s, s.begin():
        people = []
        for i in range(500):
            user, _ = await users.identify(s, "telegram", str(10_000 + i), str(10_000 + i), "ko", NOW)
            people.append(user.id)
        staff, _ = await users.identify(s, "telegram", COUNSELOR, COUNSELOR, "ko", NOW)
        await counselors.create(s, staff.id, "김상담", ["document_clinic"], NOW)
    rows = [{"user_id": people[i % len(people)], "status": "received" if i % 3 else "reviewing",
             "documents": ["resume", "cover_letter"], "checks": ["spelling"], "target": "", "findings": [],
             "comments": {}, "created_at": NOW - dt.timedelta(minutes=i), "submitted_at": NOW - dt.timedelta(minutes=i),
             "due_at": NOW + dt.timedelta(hours=48) - dt.timedelta(minutes=i)} for i in range(requests)]
    start = time.perf_counter()
    async with db.begin() as conn:
        for i in range(0, len(rows), 2000):
            await conn.execute(insert(ClinicRequest.__table__), rows[i:i + 2000])
    print(f"2. review queue on {engine_name}: {requests:,d} open requests inserted in "
          f"{time.perf_counter() - start:.1f} s")

    async def listing() -> None:
        async with sessions() as s:
            await clinic.queue(s, limit=10)
            await clinic.count_open(s)

    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        await listing()
        samples.append(time.perf_counter() - t0)
    print(f"   first page + count        {p50(samples)}")
    engine = build_engine(settings, sessions, clock=Clock())
    inc = Incoming("telegram", COUNSELOR, COUNSELOR, text="/reviews", command="reviews", language_code="ko")
    response = await engine.handle(inc)
    assert "검토 대기열" in response.replies[0].text, response.replies[0].text
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        await engine.handle(inc)
        samples.append(time.perf_counter() - t0)
    print(f"   /reviews through the engine {p50(samples)}")
    await db.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--requests", type=int, default=None)
    parser.add_argument("--engines", nargs="+", default=["sqlite"], choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    repeat = args.repeat or (10 if args.quick else 50)
    requests = args.requests or (1_000 if args.quick else 10_000)
    extraction(repeat)
    for engine_name in args.engines:
        if engine_name == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                await queue(f"sqlite+aiosqlite:///{tmp}/clinic.db", engine_name, requests, repeat)
        else:
            server = PostgresServer().start()
            try:
                await server.acreate_database("clinic")
                await queue(server.url("clinic"), engine_name, requests, repeat)
            finally:
                server.stop()


if __name__ == "__main__":
    asyncio.run(main())
