"""The front door from the command line (issue 16): try the matcher, export misses, manage the FAQ.

    python -m bot nlu "센터 위치가 어디예요?"      one JSON object: intent, topic, slots, score
    python -m bot nlu --jsonl < texts.txt        one text a line in, one JSON object a line out, in order
    python -m bot nlu --faq edited.json "..."    try an edited FAQ file before importing it
    python -m bot nlu misses --out FILE          the text that fell through to "unknown" (CSV: time, text)
    python -m bot faq import FILE                check the file and make it the FAQ the bot answers from
    python -m bot faq export [--out FILE]        the FAQ the bot answers from now (JSON)

The matcher needs no database; days ("다음 주 화요일") are resolved from today in TIMEZONE.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import TextIO

from sqlalchemy import func, select

from bot.cli.db import migrated
from kernel.config import Settings
from matching import intents
from storage import faq
from storage.models import FaqVersion


def _book(faq_file: str | None) -> faq.FaqBook:
    return faq.parse(Path(faq_file).read_bytes()) if faq_file else faq.shipped()


def classify(settings: Settings, texts: list[str] | None, jsonl: bool, faq_file: str | None,
             stdin: TextIO, out: TextIO) -> int:
    try:
        book = _book(faq_file)
    except faq.FaqError as exc:
        print(f"error: {faq_file}: {exc}", file=out)
        return 2
    today = dt.datetime.now(settings.tz).date()
    lines = (line.rstrip("\n") for line in stdin) if jsonl else iter([" ".join(texts or [])])
    for text in lines:
        out.write(json.dumps(intents.match(text, book.model, today).as_json(), ensure_ascii=False) + "\n")
    return 0


async def export_misses(settings: Settings, path: str, out: TextIO) -> int:
    async with migrated(settings) as sessions, sessions() as session:
        rows = await faq.misses(session)
    with Path(path).open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["at", "text"])
        for at, text in rows:
            writer.writerow([at.astimezone(settings.tz).isoformat(timespec="minutes"), text])
    print(f"{len(rows)} texts written to {path}", file=out)
    return 0


async def import_faq(settings: Settings, path: str, out: TextIO, err: TextIO) -> int:
    try:
        body = Path(path).read_bytes()
        async with migrated(settings) as sessions, sessions() as session, session.begin():
            book = await faq.import_(session, body, dt.datetime.now(dt.UTC))
    except faq.FaqError as exc:
        print(f"error: {path}: {exc}; nothing changed", file=err)
        return 1
    placeholders = [t.id for t in book.topics.values() if t.has_placeholder()]
    print(f"imported {len(book.topics)} topics (version {book.version})", file=out)
    if placeholders:
        print("still to fill in by the centre: " + ", ".join(placeholders), file=out)
    return 0


async def export_faq(settings: Settings, path: str | None, out: TextIO) -> int:
    async with migrated(settings) as sessions, sessions() as session:
        newest = await session.scalar(select(func.max(FaqVersion.id)))
        body = (await session.scalar(select(FaqVersion.body).where(FaqVersion.id == newest)) if newest
                else faq.SHIPPED.read_text(encoding="utf-8"))
    if path:
        Path(path).write_text(body or "", encoding="utf-8")
        print(f"written to {path}", file=out)
    else:
        out.write(body or "")
    return 0
