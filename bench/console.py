"""The staff console's pages on a large database: server time per page, p50 and p95.

    python bench/console.py                     # 100,000 people, 20,000 bookings, 300 postings; both engines
    python bench/console.py --quick             # a tenth of the people, 5 requests a page
    python bench/console.py --engines sqlite

Per engine (SQLite in a temporary directory; PostgreSQL in a throwaway cluster from `tests.pg`):
the data of `bench/reports.py` (`generate`, `fill`: 60 % job seekers, 5 % membership applications,
40 counselors, bookings over 2026, events, survey answers), the demo firms (127 firms, 320
postings), an admin with a console session; then every page is requested `--repeat` times
through aiohttp's test client in this process (the HTTP round trip on the loopback is included)
and the time from request to the whole body is printed per page. Targets (issue 20): every page's
p95 ≤ 150 ms, the people search's ≤ 100 ms. Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:] = [str(REPO), *(p for p in sys.path if Path(p or ".").resolve() not in (REPO, REPO / "bench"))]

from aiohttp import web  # noqa: E402
from aiohttp.test_utils import TestClient, TestServer  # noqa: E402

from bench.reports import fill, generate  # noqa: E402
from bot.app import running  # noqa: E402
from bot.channels.http import base_app  # noqa: E402
from bot.cli.firms import demo_if_empty  # noqa: E402
from kernel.config import load_settings  # noqa: E402
from storage import staff  # noqa: E402
from storage.models import User  # noqa: E402

ADMIN = 1
NOW = dt.datetime(2026, 6, 15, 1, 0, tzinfo=dt.UTC)
PAGES = {
    "dashboard (month)": "/console/?period=month",
    "dashboard (year)": "/console/?period=year",
    "people search (name)": "/console/people?q=구직자123",
    "people search (school, track)": "/console/people?school=서울&track=middle",
    "person": "/console/people/{person}",
    "applications": "/console/applications",
    "calendar": "/console/calendar?week=2026-06-15",
    "events": "/console/events",
    "firms": "/console/firms",
    "firms search": "/console/firms?q=한빛",
    "broadcasts": "/console/broadcasts",
    "staff": "/console/staff",
    "audit": "/console/audit",
}


class Clock:
    def now(self) -> dt.datetime:
        return NOW


async def measure(name: str, url: str, users: int, bookings: int, repeat: int) -> list[tuple[str, float, float]]:
    data = generate(users, bookings, 1000)
    settings = load_settings(database_url=url, admin_telegram_ids="", _env_file=None, telegram_bot_token="",
                             webhook_url="", webhook_secret="", demo_data=False)
    async with running(settings, clock=Clock(), schedule=False) as app:
        rows, seconds = await fill(app.db, data)
        print(f"{name}: {rows:,} rows in {seconds:.1f} s")
        await demo_if_empty(app.sessions, NOW, settings.tz)
        async with app.sessions() as session, session.begin():
            assert await session.get(User, ADMIN) is not None
            await staff.seed_admin(session, ADMIN, NOW)
            opened = await staff.open_session(session, ADMIN, NOW)
        client: TestClient[web.Request, web.Application] = TestClient(TestServer(base_app(app)))
        await client.start_server()
        client.session.cookie_jar.update_cookies({"jobhub_console": opened.cookie})
        out = []
        try:
            for page, path in PAGES.items():
                path = path.format(person=users // 2)
                times = []
                for _ in range(repeat + 1):
                    began = time.perf_counter()
                    resp = await client.get(path, allow_redirects=False)
                    await resp.read()
                    times.append(time.perf_counter() - began)
                    assert resp.status == 200, (page, resp.status)
                times = times[1:]  # the first request of a page warms caches
                p95 = statistics.quantiles(times, n=20)[-1] if len(times) > 1 else times[0]
                out.append((page, statistics.median(times) * 1000, p95 * 1000))
        finally:
            await client.close()
    return out


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--bookings", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--quick", action="store_true", help="a tenth of the people, 5 requests a page")
    args = parser.parse_args()
    if args.quick:
        args.users, args.repeat = 10_000, 5
    results: dict[str, list[tuple[str, float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-console-") as tmp:
        for name in args.engines.split(","):
            if name == "sqlite":
                results[name] = await measure(name, f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}",
                                              args.users, args.bookings, args.repeat)
            elif name == "postgresql":
                from tests.pg import PostgresServer

                server = PostgresServer().start()
                try:
                    await server.acreate_database("bench")
                    results[name] = await measure(name, server.url("bench"), args.users, args.bookings, args.repeat)
                finally:
                    server.stop()
            else:
                parser.error(f"unknown engine {name}")
    print(f"\n{'page':32} " + " ".join(f"{e + ' p50':>16} {e + ' p95':>16}" for e in results))
    for i, page in enumerate(PAGES):
        target = 100 if page.startswith("people search") else 150
        cells = []
        for rows in results.values():
            _page, p50, p95 = rows[i]
            cells.append(f"{p50:14.1f}ms {p95:14.1f}ms{'' if p95 <= target else '!'}")
        print(f"{page:32} " + " ".join(cells))
    print("(! : over the target, 150 ms a page, 100 ms the people search)")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
