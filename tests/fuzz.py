"""What the fuzz tests (`tests/test_fuzz_*.py`) share: odd text, odd payload parts, the ERROR log
check, and database snapshots to tell whether a request changed anything.

The strategies lean on what has broken parsers and decoders before: digits that are not ASCII
("²" passes `str.isdigit` and fails `int`, "١" passes both, "𐩀" passes `isdigit` and fails
`int`, "１" is changed by NFKC), lone surrogates and NUL (valid JSON, no database takes them),
invisible and bidirectional characters, combining marks, numbers around every integer width,
and ':' runs that split a payload into empty parts.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import strategies as st
from sqlalchemy import LargeBinary
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import Base

# Every character Python counts as numeric that is not ASCII: decimal digits of other scripts
# (int() reads them), digits that are not decimal ("²", "①", "𐩀": isdigit() but int() refuses
# them) and other numerals ("Ⅻ", "½", "零").
ODD_DIGITS = tuple(ch for ch in map(chr, range(0x80, 0x110000)) if ch.isnumeric())
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u202e\u202d\u2066\u2069\u180e\u034f"
ODD_CHARS = (
    "\x00\x01\x1b\x7f\x85\t\n\r\x0b\x0c\u2028\u2029\xa0\u3000 "  # controls, line and space separators
    + INVISIBLE
    + "\ud800\udbff\udc00\udfff"  # lone surrogates
    + "é\u0301\u0308가힣ㄱㅏ\u1100\u1161한國𝐀ﬁ"  # precomposed, combining, jamo, compatibility forms
    + "🙂👩\u200d💻🇰🇷\ufe0f\u20e3"  # emoji and their joiners
    + ":/,;.-+_%{}[]()<>'\"\\`$#@!?*|&=~^"  # punctuation the parsers split on or format with
)

# Any code point at all, surrogates included (Hypothesis leaves them out unless asked).
any_char = st.one_of(
    st.characters(),
    st.characters(codec=None, categories=["Cs"]),
    st.sampled_from(ODD_CHARS),
    st.sampled_from(ODD_DIGITS),
)
odd_text = st.text(any_char, max_size=80)

BIG_NUMBERS = (2**31 - 1, 2**31, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64, 10**20, 10**100)
# One part of a payload: numbers at every width and sign, spelled oddly; non-ASCII digits; empty.
odd_number = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(BIG_NUMBERS).flatmap(lambda n: st.sampled_from([str(n), str(-n), str(n - 1), str(n + 1)])),
    st.sampled_from(["-0", "+1", "00", "0" * 25 + "1", " 1", "1 ", "1e3", "0x10", "1_000", "1.0", "1,000",
                     "NaN", "inf", "-inf", "", "٣", "١٢", "１", "²", "𐩀", "⑴", "Ⅻ"]),
    st.lists(st.sampled_from(ODD_DIGITS), min_size=1, max_size=20).map("".join),
)
odd_part = st.one_of(
    odd_number,
    st.text(any_char, max_size=12),
    st.sampled_from(["", ":", "::", ":::", "None", "null", "true", "[]", "{}", "%s", "{0}", "{x}", "..", "/",
                     "\\", "가", "🙂", "\ud800", "\x00", "\u200b", " ", "\t", "\n", "a" * 64]),
)


class ErrorRecords(logging.Handler):
    """Every log record at ERROR or above, from any logger (a handler on the root logger)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def lines(self, since: int = 0) -> list[str]:
        return [f"{r.levelname} {r.name}: {self.format(r)}" for r in self.records[since:]]


@contextmanager
def error_log() -> Iterator[ErrorRecords]:
    handler = ErrorRecords()
    handler.setFormatter(logging.Formatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


# --- the database before and after -----------------------------------------------------------------

Snapshot = dict[str, str]
# Columns every message sets for its sender.
TOUCHED = ("updated_at", "last_seen_at")
COLUMNS = {t.name: [c.name for c in t.columns if c.name not in TOUCHED] for t in Base.metadata.sorted_tables}


def _snapshot_sql(dialect: str) -> str:
    """One statement reading every row of every table in key order, one JSON text per table: a
    whole snapshot in one round trip (a world with the demo firms holds hundreds of rows)."""
    parts = []
    for table in Base.metadata.sorted_tables:
        cols = [c for c in table.columns if c.name not in TOUCHED]
        names = ", ".join(f'"{c.name}"' for c in cols)
        key = ", ".join(f'"{c.name}"' for c in table.primary_key.columns)
        if dialect == "sqlite":
            values = ", ".join(f'hex("{c.name}")' if isinstance(c.type, LargeBinary) else f'"{c.name}"' for c in cols)
            parts.append(f'(SELECT json_group_array(json_array({values})) FROM '
                         f'(SELECT {names} FROM "{table.name}" ORDER BY {key}))')
        else:
            parts.append(f"(SELECT coalesce(json_agg(json_build_array({names}) ORDER BY {key}), '[]')::text "
                         f'FROM "{table.name}")')
    return "SELECT " + ",\n".join(parts)


async def snapshot(sessions: async_sessionmaker[AsyncSession]) -> Snapshot:
    """Every row of every table (but the columns in `TOUCHED`), each table as one JSON text."""
    async with sessions() as s:
        conn = await s.connection()
        row = (await conn.exec_driver_sql(_snapshot_sql(conn.dialect.name))).one()
    return dict(zip(COLUMNS, row, strict=True))


def _keyed(snap: Snapshot, table: str, *key: str) -> dict[Any, list[Any]]:
    at = [COLUMNS[table].index(k) for k in key]
    return {tuple(r[i] for i in at): r for r in json.loads(snap[table])}


def changes(before: Snapshot, after: Snapshot, sender: tuple[str, str] | None = None) -> list[str]:
    """The tables that differ. With `sender` (channel, external id), what any message writes
    about its sender is left out: their conversation row, and their user and identity when this
    message was their first."""
    if sender is None:
        return [name for name in before if before[name] != after[name]]
    differ = [name for name in before if name not in ("conversations", "identities", "users")
              and before[name] != after[name]]
    convs = [_keyed(snap, "conversations", "channel", "external_id") for snap in (before, after)]
    ids = [_keyed(snap, "identities", "channel", "external_id") for snap in (before, after)]
    users = [_keyed(snap, "users", "id") for snap in (before, after)]
    for conv in convs:
        conv.pop(sender, None)
    if sender not in ids[0] and sender in ids[1]:
        users[1].pop((ids[1].pop(sender)[COLUMNS["identities"].index("user_id")],), None)
    differ += [name for name, (old, new) in (("conversations", convs), ("identities", ids), ("users", users))
               if old != new]
    return differ
