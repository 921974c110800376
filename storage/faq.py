"""The questions the bot answers from data (FAQ), and what it kept of text it did not understand.

The FAQ is a JSON file (`data/faq.json` ships with the bot); an admin imports an edited copy
(`python -m bot faq import FILE`, or a document sent after /faq) and the newest import answers
from then on, in every worker (each checks the newest row's id and keeps the parsed file per id).
`parse` says exactly what is wrong with a file, so a bad import changes nothing.

Each answered question is one `faq_asks` row (topic, time: no person) for the monthly counts;
text that fell through to "unknown" is one `nlu_misses` row (redacted by the caller, no person),
exported for the centre and purged with the retention run.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from matching import intents
from storage.models import FaqAsk, FaqVersion, NluMiss

SHIPPED = Path(__file__).with_name("data") / "faq.json"
TOPIC_ID = re.compile(r"[a-z][a-z0-9_]{0,39}")
# How a placeholder the centre must fill in is marked in an answer (both languages).
PLACEHOLDER = re.compile(r"센터 입력 필요|to be filled in by the centre")
MAX_BYTES = 512 * 1024
MISS_MAX_CHARS = 300


class FaqError(ValueError):
    """A file that cannot be the FAQ; the message says where and why (shown to the admin as is)."""


@dataclass(frozen=True)
class Topic:
    id: str
    service: str | None
    question: dict[str, str]
    answer: dict[str, str]

    def has_placeholder(self) -> bool:
        return any(PLACEHOLDER.search(text) for text in self.answer.values())


@dataclass(frozen=True)
class FaqBook:
    """A parsed FAQ file with the matcher built from it and the intents data."""

    topics: dict[str, Topic]
    model: intents.Model
    version: int  # 0: the shipped file


def _texts(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, dict) or not all(isinstance(raw.get(k), str) and raw[k].strip() for k in ("ko", "en")):
        raise FaqError(f"{where}: needs non-empty 'ko' and 'en' texts")
    return {"ko": raw["ko"], "en": raw["en"]}


def parse(body: str | bytes, version: int = 0) -> FaqBook:
    """The FAQ in `body` (JSON text), checked: unique topic ids, both languages, a known service,
    cues of the intents file's shape. Raises `FaqError` naming the first problem."""
    if len(body) > MAX_BYTES:
        raise FaqError(f"the file is larger than {MAX_BYTES // 1024} KB")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FaqError(f"not JSON: {exc}") from None
    raw_topics = data.get("topics") if isinstance(data, dict) else None
    if not isinstance(raw_topics, list) or not raw_topics:
        raise FaqError("needs a non-empty list 'topics'")
    services = set(intents.commands())
    topics: dict[str, Topic] = {}
    for n, raw in enumerate(raw_topics, start=1):
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not TOPIC_ID.fullmatch(raw["id"]):
            raise FaqError(f"topic {n}: 'id' must be lower-case letters, digits and _ (at most 40)")
        where = f"topic {raw['id']!r}"
        if raw["id"] in topics:
            raise FaqError(f"{where}: the id is used twice")
        service = raw.get("service")
        if service is not None and service not in services:
            raise FaqError(f"{where}: unknown service {service!r} (one of: {', '.join(sorted(services))})")
        cues = raw.get("cues")
        if not isinstance(cues, list) or not cues or not all(
                isinstance(c, dict) and isinstance(c.get("w"), int | float) and isinstance(c.get("all"), list)
                and c["all"] and all(isinstance(p, str) and p.strip() for p in c["all"]) for c in cues):
            raise FaqError(f"{where}: 'cues' must be a list of {{\"w\": number, \"all\": [\"a|b\", ...]}}")
        topics[raw["id"]] = Topic(raw["id"], service, _texts(raw.get("question"), where + " question"),
                                  _texts(raw.get("answer"), where + " answer"))
    model = intents.build(intents.intents_data(), raw_topics)
    return FaqBook(topics, model, version)


# Parsed files by (version id, import time): the id alone could name another database's file (tests).
_books: dict[tuple[int, dt.datetime | None], FaqBook] = {}


def shipped() -> FaqBook:
    if (0, None) not in _books:
        _books[(0, None)] = parse(SHIPPED.read_text(encoding="utf-8"))
    return _books[(0, None)]


async def current(session: AsyncSession) -> FaqBook:
    """The newest imported FAQ, else the shipped one (parsed once per version and process)."""
    newest = (await session.execute(select(FaqVersion.id, FaqVersion.imported_at)
                                    .order_by(FaqVersion.id.desc()).limit(1))).first()
    if newest is None:
        return shipped()
    key = (int(newest[0]), newest[1])
    if key not in _books:
        body = await session.scalar(select(FaqVersion.body).where(FaqVersion.id == key[0]))
        for old in [k for k in _books if k[0] != 0]:
            del _books[old]
        _books[key] = parse(body or "", key[0])
    return _books[key]


async def import_(session: AsyncSession, body: str | bytes, now: dt.datetime) -> FaqBook:
    """Check `body` and make it the FAQ; a bad file raises `FaqError` and stores nothing."""
    book = parse(body)
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    row = FaqVersion(body=text, imported_at=now)
    session.add(row)
    await session.flush()
    return FaqBook(book.topics, book.model, row.id)


async def record_ask(session: AsyncSession, topic: str, now: dt.datetime) -> None:
    session.add(FaqAsk(topic=topic, asked_at=now))


async def asks_between(session: AsyncSession, start: dt.datetime, end: dt.datetime) -> dict[str, int]:
    rows = await session.execute(select(FaqAsk.topic, func.count()).where(
        FaqAsk.asked_at >= start, FaqAsk.asked_at < end).group_by(FaqAsk.topic))
    return {topic: int(n) for topic, n in rows.all()}


async def keep_miss(session: AsyncSession, text: str, now: dt.datetime) -> None:
    """Keep text nothing understood; the caller has removed phone numbers, and no person is kept."""
    text = " ".join(text.split())[:MISS_MAX_CHARS]
    if text:
        session.add(NluMiss(text=text, created_at=now))


async def misses(session: AsyncSession, since: dt.datetime | None = None) -> Sequence[tuple[dt.datetime, str]]:
    query = select(NluMiss.created_at, NluMiss.text).order_by(NluMiss.id)
    if since is not None:
        query = query.where(NluMiss.created_at >= since)
    return [(at, text) for at, text in (await session.execute(query)).all()]


async def purge_misses(session: AsyncSession, before: dt.datetime) -> int:
    result = await session.execute(delete(NluMiss).where(NluMiss.created_at < before))
    return int(getattr(result, "rowcount", 0) or 0)
