"""The admins' weekly digest: last week's headline figures and the chart, through the outbox.

Run at WEEKLY_DIGEST (default Monday 09:00 local). It covers the last whole week,
Monday to Sunday: new job-seeker registrations, sessions attended and no-shows, new
membership applications, event attendance, survey answers and the average overall
rating, with the report's chart attached and a button to the full `/stats`. The key
`digest:<monday>` per admin means a restart or a second worker sends it once.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kernel.config import Settings
from kernel.core import Button, Clock, FileOut, Reply, payload
from kernel.i18n import LOCALES, Translator, translator
from reports import chart, sections
from reports.period import Period, preset
from reports.sections import Scope, Section
from scheduler import queue

log = logging.getLogger(__name__)


def column(section: Section, name: str) -> list[float]:
    """The figures of one column (names and empty cells left out)."""
    i = section.columns.index(name)
    return [float(row[i]) for row in section.rows if isinstance(row[i], (int, float))]  # type: ignore[arg-type]


def total(section: Section, name: str) -> int:
    return int(sum(column(section, name)))


def headline(parts: dict[str, Section]) -> dict[str, object]:
    """The handful of figures the digest states, from the report's own sections."""
    counts, averages = column(parts["satisfaction"], "answers"), column(parts["satisfaction"], "average")
    answers = sum(counts)
    weighted = sum(n * avg for n, avg in zip(counts, averages, strict=False))
    return {
        "registrations": total(parts["seekers"], "count"),
        "attended": total(parts["sessions"], "attended"),
        "no_show": total(parts["sessions"], "no_show"),
        "applications": total(parts["applications"], "received"),
        "event_attended": total(parts["events"], "attended"),
        "answers": total(parts["responses"], "done"),
        "rating": f"{weighted / answers:.1f}" if answers else "-",
    }


def digest_reply(t: Translator, period: Period, figures: dict[str, object], picture: bytes) -> Reply:
    text = t("digest.text", first=period.first.isoformat(), last=period.last.isoformat(), **figures)
    return Reply(text, [[Button(t("digest.open_stats"), payload("m", "stats"))]],
                 file=FileOut(f"jobhub-week-{period.first:%Y%m%d}.png", picture, "image/png"))


async def send_weekly_digest(sessions: async_sessionmaker[AsyncSession], settings: Settings, clock: Clock) -> int:
    now = clock.now()
    period = preset("week", now.astimezone(settings.tz).date())
    scope = Scope(period, settings.tz)
    async with sessions() as session, session.begin():
        parts = {s.key: s for s in await sections.build(session, scope)}
        figures = headline(parts)
        pictures: dict[str, bytes] = {}

        def render(t: Translator) -> Reply:
            return digest_reply(t, period, figures, pictures[t.locale])

        for locale in LOCALES:
            pictures[locale] = await chart.png(session, scope, translator(locale))
        queued = await queue.to_admins(session, settings, render, kind="admin.digest", now=now,
                                       dedupe_key=f"digest:{period.first.isoformat()}")
    log.info("weekly digest queued=%s week=%s", queued, period.first.isoformat())
    return queued
