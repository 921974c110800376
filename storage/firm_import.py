"""Importing firms and postings from CSV or JSON (the CLI and an admin's upload share this).

Encoding: UTF-8 with or without the BOM, or CP949 (Korean public data often is), found
automatically. CSV may be comma, tab or semicolon separated; a file with a `ref`
column holds postings, otherwise firms. JSON is `{"firms": [...], "postings": [...]}`,
or a list of firm objects (each may carry its `postings`), or a list of postings.
Headers may be English (`brn`, `name`, ...) or the usual Korean ones (사업자등록번호, 기업명, ...).

Firms are upserted by business registration number (check digit verified), postings
by their reference, so importing the same file again changes nothing. Every row stands
alone: a rejected row is reported with its line and the reason (a catalog key, so the
CLI and the chat say it in their language) and the others are imported. Rows are
written in chunks, one transaction each, and `progress` is called after each chunk.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import unicodedata
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from matching import geo
from storage import firms

CHUNK = 200
MAX_BYTES = 20 * 1024 * 1024  # Telegram bots can download up to 20 MB
FIRM_REQUIRED = ("brn", "name", "industry", "district", "address")
POSTING_REQUIRED = ("ref", "brn", "title", "duties", "district")
ALIASES = {
    "사업자등록번호": "brn", "사업자번호": "brn", "business_no": "brn", "registration_number": "brn",
    "기업명": "name", "회사명": "name", "업종": "industry", "자치구": "district", "지역": "district",
    "근무지": "district", "주소": "address", "설립연도": "founded_year", "설립년도": "founded_year",
    "직원수": "employees", "종업원수": "employees", "매출액": "revenue", "매출": "revenue",
    "인증사업": "programme", "선정일": "vetted_on", "만료일": "vetting_expires", "복지": "benefits",
    "홈페이지": "website", "연혁": "history", "공고번호": "ref", "채용공고번호": "ref", "제목": "title",
    "공고명": "title", "담당업무": "duties", "직무내용": "duties", "필수기술": "required_skills",
    "우대기술": "preferred_skills", "최소학력": "min_education", "학력": "min_education",
    "최소경력": "exp_min", "최대경력": "exp_max", "고용형태": "employment_type", "최소연봉": "salary_min",
    "최대연봉": "salary_max", "근무시간": "hours", "마감일": "deadline", "상태": "status",
}
CHOICE_WORDS = {
    "min_education": {"무관": "none", "학력무관": "none", "고졸": "high_school", "초대졸": "college",
                      "전문대졸": "college",
                      "대졸": "university", "대학교졸": "university", "석사": "graduate", "대학원": "graduate"},
    "employment_type": {"정규직": "full_time", "계약직": "contract", "파트타임": "part_time", "시간제": "part_time",
                        "인턴": "intern"},
    "status": {"모집중": "open", "진행중": "open", "마감": "closed"},
}
LIMITS = {"name": 80, "address": 160, "programme": 60, "website": 200, "history": 2000, "ref": 40, "title": 100,
          "duties": 2000, "hours": 60}


class BadFile(Exception):
    """The whole file cannot be read; `key` names the catalog text, `params` fill it."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key, self.params = key, params


class RowError(Exception):
    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key, self.params = key, params


@dataclass
class Counts:
    added: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class Rows:
    firms: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    postings: list[tuple[int, dict[str, str]]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.firms) + len(self.postings)


@dataclass
class ImportReport:
    rows: int = 0
    firms: Counts = field(default_factory=Counts)
    postings: Counts = field(default_factory=Counts)
    # (kind 'firm' | 'posting', line, catalog key, params)
    rejected: list[tuple[str, int, str, dict[str, object]]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.rejected


# --- reading --------------------------------------------------------------------------------------


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM) or CP949, whichever the bytes are."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp949")
    except UnicodeDecodeError:
        raise BadFile("import.bad_encoding") from None


def _header(name: object) -> str:
    text = unicodedata.normalize("NFKC", str(name or "")).strip().lower().replace(" ", "_")
    return ALIASES.get(text.replace("_", ""), ALIASES.get(text, text))


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "|".join(str(v) for v in value)
    return str(value)


def _row(item: dict[str, Any]) -> dict[str, str]:
    return {_header(k): _cell(v) for k, v in item.items() if k != "postings"}


def read(data: bytes, name: str = "") -> Rows:
    """The rows of a CSV or JSON file, split into firms and postings (BadFile when unreadable)."""
    if len(data) > MAX_BYTES:
        raise BadFile("import.too_big", mb=MAX_BYTES // (1024 * 1024))
    text = decode(data)
    if not text.strip():
        raise BadFile("import.empty")
    rows = Rows()
    if name.lower().endswith(".json") or text.lstrip()[:1] in ("[", "{"):
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadFile("import.bad_json", line=exc.lineno) from None
        items: Iterable[Any]
        if isinstance(loaded, dict):
            rows.firms = [(i, _row(x)) for i, x in enumerate(loaded.get("firms") or [], 1) if isinstance(x, dict)]
            items = loaded.get("postings") or []
            rows.postings = [(i, _row(x)) for i, x in enumerate(items, 1) if isinstance(x, dict)]
        elif isinstance(loaded, list):
            for i, item in enumerate(loaded, 1):
                if not isinstance(item, dict):
                    raise BadFile("import.bad_json_item", line=i)
                row = _row(item)
                if "ref" in row:
                    rows.postings.append((i, row))
                    continue
                rows.firms.append((i, row))
                for nested in item.get("postings") or []:
                    if isinstance(nested, dict):
                        rows.postings.append((i, {"brn": row.get("brn", "")} | _row(nested)))
        else:
            raise BadFile("import.bad_json_item", line=1)
        return rows
    try:
        dialect = csv.Sniffer().sniff(text.splitlines()[0], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = [_header(h) for h in next(reader)]
    kind = "postings" if "ref" in header else "firms"
    required = POSTING_REQUIRED if kind == "postings" else FIRM_REQUIRED
    missing = [c for c in required if c not in header]
    if missing:
        raise BadFile("import.missing_columns", columns=", ".join(missing))
    target = rows.postings if kind == "postings" else rows.firms
    for values in reader:
        if not any(v.strip() for v in values):
            continue
        line = reader.line_num
        if len(values) < len(header):
            target.append((line, {"_short": str(len(values))}))
            continue
        target.append((line, dict(zip(header, values, strict=False))))
    return rows


# --- checking one row -------------------------------------------------------------------------------


def _text(row: dict[str, str], name: str, *, required: bool = False) -> str | None:
    value = " ".join(unicodedata.normalize("NFC", row.get(name, "")).split())
    if not value:
        if required:
            raise RowError("import.err.missing", field=name)
        return None
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in value):
        raise RowError("import.err.control", field=name)
    if name in LIMITS and len(value) > LIMITS[name]:
        raise RowError("import.err.too_long", field=name, max=LIMITS[name])
    return value


def _int(row: dict[str, str], name: str, low: int, high: int, *, required: bool = False) -> int | None:
    raw = unicodedata.normalize("NFKC", row.get(name, "")).strip().replace(",", "")
    for unit in ("만원", "백만원", "명", "년", "원"):
        raw = raw.removesuffix(unit)
    if not raw:
        if required:
            raise RowError("import.err.missing", field=name)
        return None
    if not re.fullmatch(r"-?\d{1,12}", raw):
        raise RowError("import.err.number", field=name, value=row.get(name, "")[:30])
    value = int(raw)
    if not low <= value <= high:
        raise RowError("import.err.range", field=name, value=value, low=low, high=high)
    return value


def _date(row: dict[str, str], name: str) -> dt.date | None:
    raw = unicodedata.normalize("NFKC", row.get(name, "")).strip()
    if not raw:
        return None
    match = re.fullmatch(r"(\d{4})[-./](\d{1,2})[-./](\d{1,2})\.?", raw) or re.fullmatch(r"(\d{4})(\d{2})(\d{2})", raw)
    try:
        if match is None:
            raise ValueError
        return dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise RowError("import.err.date", field=name, value=raw[:30]) from None


def _choice(row: dict[str, str], name: str, allowed: tuple[str, ...], default: str | None = None) -> str:
    raw = unicodedata.normalize("NFKC", row.get(name, "")).strip()
    if not raw and default is not None:
        return default
    value = CHOICE_WORDS.get(name, {}).get(raw.replace(" ", ""), raw.lower())
    if value not in allowed:
        raise RowError("import.err.choice", field=name, value=raw[:30] or "-", allowed=", ".join(allowed))
    return value


def _list(row: dict[str, str], name: str, *, allowed: tuple[str, ...] | None = None) -> list[str]:
    raw = unicodedata.normalize("NFC", row.get(name, ""))
    items = list(dict.fromkeys(" ".join(p.split()) for p in re.split(r"[|;,]", raw) if p.strip()))
    if any(len(i) > 40 for i in items) or len(items) > 30:
        raise RowError("import.err.too_long", field=name, max=40)
    if allowed is not None:
        unknown = [i for i in items if i not in allowed]
        if unknown:
            raise RowError("import.err.choice", field=name, value=unknown[0][:30], allowed=", ".join(allowed))
    return items


def _checked(row: dict[str, str], name: str, convert: Callable[[str], str | None], error: str) -> str:
    """A required value that `convert` recognises (None: refused with `error`)."""
    raw = row.get(name, "").strip()
    if not raw:
        raise RowError("import.err.missing", field=name)
    value = convert(raw)
    if value is None:
        raise RowError(error, value=raw[:30])
    return value


def _district(row: dict[str, str]) -> str:
    return _checked(row, "district", geo.district_code, "import.err.district")


def _brn(row: dict[str, str]) -> str:
    return _checked(row, "brn", firms.normalise_brn, "import.err.brn")


def _short(row: dict[str, str]) -> None:
    if "_short" in row:
        raise RowError("import.err.short_row", n=row["_short"])


def parse_firm(row: dict[str, str], today: dt.date) -> tuple[str, dict[str, Any]]:
    _short(row)
    brn = _brn(row)
    values: dict[str, Any] = {
        "name": _text(row, "name", required=True),
        "industry": _choice(row, "industry", firms.INDUSTRIES, default="other"),
        "district": _district(row),
        "address": _text(row, "address", required=True),
        "founded_year": _int(row, "founded_year", 1900, today.year),
        "employees": _int(row, "employees", 1, 1_000_000),
        "revenue": _int(row, "revenue", 0, 10**9),
        "programme": _text(row, "programme") or "서울형 강소기업",
        "vetted_on": _date(row, "vetted_on"),
        "vetting_expires": _date(row, "vetting_expires"),
        "benefits": _list(row, "benefits", allowed=firms.BENEFITS),
        "website": _text(row, "website"),
        "history": _text(row, "history"),
    }
    if values["website"] and not re.fullmatch(r"https?://[^\s/]+\.[^\s]+", values["website"]):
        raise RowError("import.err.website", value=values["website"][:40])
    if values["vetted_on"] and values["vetting_expires"] and values["vetting_expires"] < values["vetted_on"]:
        raise RowError("import.err.order", low="vetted_on", high="vetting_expires")
    return brn, values


def parse_posting(row: dict[str, str]) -> tuple[str, str, dict[str, Any]]:
    _short(row)
    ref = _text(row, "ref", required=True)
    assert ref is not None
    brn = _brn(row)
    values: dict[str, Any] = {
        "title": _text(row, "title", required=True),
        "duties": _text(row, "duties", required=True),
        "required_skills": _list(row, "required_skills"),
        "preferred_skills": _list(row, "preferred_skills"),
        "min_education": _choice(row, "min_education", firms.EDUCATION, default="none"),
        "exp_min": _int(row, "exp_min", 0, 50) or 0,
        "exp_max": _int(row, "exp_max", 0, 50),
        "employment_type": _choice(row, "employment_type", firms.EMPLOYMENT, default="full_time"),
        "salary_min": _int(row, "salary_min", 0, 100_000),
        "salary_max": _int(row, "salary_max", 0, 100_000),
        "district": _district(row),
        "hours": _text(row, "hours"),
        "deadline": _date(row, "deadline"),
        "status": _choice(row, "status", ("open", "closed"), default="open"),
    }
    if values["exp_max"] is not None and values["exp_max"] < values["exp_min"]:
        raise RowError("import.err.order", low="exp_min", high="exp_max")
    if values["salary_min"] is not None and values["salary_max"] is not None \
            and values["salary_max"] < values["salary_min"]:
        raise RowError("import.err.order", low="salary_min", high="salary_max")
    return ref, brn, values


# --- applying -------------------------------------------------------------------------------------------

Progress = Callable[[int, int], Awaitable[None]]


async def _firm_chunk(session: AsyncSession, chunk: list[tuple[int, dict[str, str]]], report: ImportReport,
                      seen: dict[str, int], now: dt.datetime, today: dt.date) -> None:
    parsed: list[tuple[int, str, dict[str, Any]]] = []
    for line, row in chunk:
        try:
            brn, values = parse_firm(row, today)
            if brn in seen:
                raise RowError("import.err.duplicate", line=seen[brn])
        except RowError as exc:
            report.rejected.append(("firm", line, exc.key, exc.params))
            continue
        seen[brn] = line
        parsed.append((line, brn, values))
    existing = await firms.by_brn(session, [brn for _, brn, _ in parsed])
    for _line, brn, values in parsed:
        _, outcome = await firms.upsert_firm(session, brn, values, now, existing.get(brn))
        setattr(report.firms, outcome, getattr(report.firms, outcome) + 1)


async def _posting_chunk(session: AsyncSession, chunk: list[tuple[int, dict[str, str]]], report: ImportReport,
                         seen: dict[str, int], now: dt.datetime) -> None:
    parsed: list[tuple[int, str, str, dict[str, Any]]] = []
    for line, row in chunk:
        try:
            ref, brn, values = parse_posting(row)
            if ref in seen:
                raise RowError("import.err.duplicate", line=seen[ref])
        except RowError as exc:
            report.rejected.append(("posting", line, exc.key, exc.params))
            continue
        seen[ref] = line
        parsed.append((line, ref, brn, values))
    owners = await firms.by_brn(session, [brn for _, _, brn, _ in parsed])
    existing = await firms.by_ref(session, [ref for _, ref, _, _ in parsed])
    for line, ref, brn, values in parsed:
        firm = owners.get(brn)
        if firm is None:
            report.rejected.append(("posting", line, "import.err.unknown_firm", {"brn": firms.show_brn(brn)}))
            continue
        _, outcome = await firms.upsert_posting(session, ref, firm.id, values, now, existing.get(ref))
        setattr(report.postings, outcome, getattr(report.postings, outcome) + 1)


async def import_rows(sessions: async_sessionmaker[AsyncSession], rows: Rows, *, now: dt.datetime, today: dt.date,
                      progress: Progress | None = None, chunk: int = CHUNK) -> ImportReport:
    """Firms first (postings refer to them), in chunks of `chunk` rows, one transaction each."""
    report = ImportReport(rows=len(rows))
    done = 0
    seen_firms: dict[str, int] = {}
    seen_refs: dict[str, int] = {}
    for i in range(0, len(rows.firms), chunk):
        part = rows.firms[i:i + chunk]
        async with sessions() as session, session.begin():
            await _firm_chunk(session, part, report, seen_firms, now, today)
        done += len(part)
        if progress is not None:
            await progress(done, len(rows))
    for i in range(0, len(rows.postings), chunk):
        part = rows.postings[i:i + chunk]
        async with sessions() as session, session.begin():
            await _posting_chunk(session, part, report, seen_refs, now)
        done += len(part)
        if progress is not None:
            await progress(done, len(rows))
    report.rejected.sort(key=lambda r: (r[0] != "firm", r[1]))
    return report
