"""Vetted firms and their postings: upserts for imports, what seekers may see, firm search.

A posting is shown to seekers while it is open and its deadline (a local date) has not
passed; `matching.Posting` views carry exactly what the scorer needs.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

import matching
from matching.text import compact
from storage.audit import audit
from storage.models import Firm, HiddenPosting, JobDigest, Posting

EDUCATION = ("none", "high_school", "college", "university", "graduate")
EMPLOYMENT = ("full_time", "contract", "part_time", "intern")
INDUSTRIES = ("it", "manufacturing", "logistics", "commerce", "finance", "design", "food", "welfare", "education",
              "construction", "other")
BENEFITS = ("youth_friendly", "flexible_hours", "housing_support", "remote_work", "meal_provided", "training_support",
            "commute_bus", "childcare_support", "middle_aged_friendly", "long_service_award")
FIRM_FIELDS = ("name", "industry", "district", "address", "founded_year", "employees", "revenue", "programme",
               "vetted_on", "vetting_expires", "benefits", "website", "history")
POSTING_FIELDS = ("title", "duties", "required_skills", "preferred_skills", "min_education", "exp_min", "exp_max",
                  "employment_type", "salary_min", "salary_max", "district", "hours", "deadline", "status")
_BRN_WEIGHTS = (1, 3, 7, 1, 3, 7, 1, 3, 5)
# Bumped on every change this process makes to firms or postings: caches of what seekers see
# compare it (with the table's own stamps, for changes other processes make).
_generation = [0]


def generation() -> int:
    return _generation[0]


def _changed() -> None:
    _generation[0] += 1


def brn_check_digit(first9: str) -> int:
    """The tenth digit of a business registration number (사업자등록번호) from the first nine (국세청 rule)."""
    total = sum(int(d) * w for d, w in zip(first9, _BRN_WEIGHTS, strict=True)) + int(first9[8]) * 5 // 10
    return (10 - total % 10) % 10


def normalise_brn(raw: str) -> str | None:
    """'123-45-67890' or '1234567890' -> '1234567890' when ten digits with a valid check digit, else None."""
    digits = re.sub(r"[\s\-–.]", "", unicodedata.normalize("NFKC", raw))
    if not re.fullmatch(r"\d{10}", digits) or brn_check_digit(digits[:9]) != int(digits[9]):
        return None
    return digits


def show_brn(brn: str) -> str:
    return f"{brn[:3]}-{brn[3:5]}-{brn[5:]}"


def vetted(firm: Firm, today: dt.date) -> bool:
    """The vetting holds today (a firm past its expiry keeps its data but loses the badge)."""
    return firm.vetted_on is not None and (firm.vetting_expires is None or firm.vetting_expires >= today)


async def by_brn(session: AsyncSession, brns: Sequence[str]) -> dict[str, Firm]:
    if not brns:
        return {}
    return {f.brn: f for f in await session.scalars(select(Firm).where(Firm.brn.in_(set(brns))))}


async def by_ref(session: AsyncSession, refs: Sequence[str]) -> dict[str, Posting]:
    if not refs:
        return {}
    return {p.ref: p for p in await session.scalars(select(Posting).where(Posting.ref.in_(set(refs))))}


def _apply(row: Firm | Posting, values: dict[str, Any], fields: Sequence[str], now: dt.datetime) -> bool:
    changed = False
    for name in fields:
        if name in values and getattr(row, name) != values[name]:
            setattr(row, name, values[name])
            changed = True
    if changed:
        row.updated_at = now
        _changed()
    return changed


async def upsert_firm(session: AsyncSession, brn: str, values: dict[str, Any], now: dt.datetime,
                      existing: Firm | None = None) -> tuple[Firm, str]:
    """'added', 'updated' or 'unchanged' (the same row imported again changes nothing)."""
    firm = existing if existing is not None else (await by_brn(session, [brn])).get(brn)
    if firm is None:
        firm = Firm(brn=brn, created_at=now, updated_at=now, **{k: values.get(k) for k in FIRM_FIELDS})
        session.add(firm)
        await session.flush()
        _changed()
        return firm, "added"
    return firm, "updated" if _apply(firm, values, FIRM_FIELDS, now) else "unchanged"


async def upsert_posting(session: AsyncSession, ref: str, firm_id: int, values: dict[str, Any], now: dt.datetime,
                         existing: Posting | None = None) -> tuple[Posting, str]:
    posting = existing if existing is not None else (await by_ref(session, [ref])).get(ref)
    if posting is None:
        posting = Posting(ref=ref, firm_id=firm_id, created_at=now, updated_at=now,
                          **{k: values.get(k) for k in POSTING_FIELDS})
        session.add(posting)
        await session.flush()
        _changed()
        return posting, "added"
    changed = _apply(posting, values, POSTING_FIELDS, now)
    if posting.firm_id != firm_id:
        posting.firm_id, posting.updated_at, changed = firm_id, now, True
        _changed()
    return posting, "updated" if changed else "unchanged"


def set_status(posting: Posting, status: str, now: dt.datetime) -> None:
    posting.status, posting.updated_at = status, now
    _changed()


async def change_status(session: AsyncSession, posting: Posting, status: str, *, by: int, now: dt.datetime) -> bool:
    """Staff closing or reopening a posting (chat and console alike), on the audit log; False
    when it already had that status."""
    if posting.status == status:
        return False
    set_status(posting, status, now)
    await audit(session, by, f"posting.{status}", f"posting:{posting.id}", now)
    return True


async def count_firms(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Firm)) or 0)


async def get_posting(session: AsyncSession, posting_id: int) -> tuple[Posting, Firm] | None:
    row = (await session.execute(select(Posting, Firm).join(Firm, Firm.id == Posting.firm_id)
                                 .where(Posting.id == posting_id))).first()
    return (row[0], row[1]) if row else None


async def get_firm(session: AsyncSession, firm_id: int) -> Firm | None:
    return await session.get(Firm, firm_id)


async def shown(session: AsyncSession, today: dt.date, *, created_after: dt.datetime | None = None,
                ) -> list[tuple[Posting, Firm]]:
    """Open postings whose deadline has not passed, with their firms."""
    query = (select(Posting, Firm).join(Firm, Firm.id == Posting.firm_id)
             .where(Posting.status == "open", or_(Posting.deadline.is_(None), Posting.deadline >= today)))
    if created_after is not None:
        query = query.where(Posting.created_at > created_after)
    return [(p, f) for p, f in (await session.execute(query.order_by(Posting.id))).all()]


def view(posting: Posting, firm: Firm) -> matching.Posting:
    """What the scorer sees of a posting."""
    return matching.Posting(
        id=posting.id, title=posting.title, duties=posting.duties,
        required_skills=tuple(posting.required_skills), preferred_skills=tuple(posting.preferred_skills),
        min_education=posting.min_education, exp_min=posting.exp_min, exp_max=posting.exp_max,
        salary_min=posting.salary_min, salary_max=posting.salary_max, district=posting.district,
        deadline=posting.deadline, is_open=posting.status == "open", benefits=tuple(firm.benefits),
        employment_type=posting.employment_type)


async def hidden_ids(session: AsyncSession, user_id: int) -> frozenset[int]:
    return frozenset(await session.scalars(select(HiddenPosting.posting_id).where(HiddenPosting.user_id == user_id)))


async def hide(session: AsyncSession, user_id: int, posting_id: int, now: dt.datetime) -> bool:
    """False when it was hidden already (a repeated press)."""
    if await session.get(HiddenPosting, (user_id, posting_id)) is not None:
        return False
    session.add(HiddenPosting(user_id=user_id, posting_id=posting_id, created_at=now))
    await session.flush()
    return True


async def search(session: AsyncSession, query: str, limit: int = 5) -> list[Firm]:
    """Firms by name, tolerating typos and spacing ('한빛 소프트', '한빛소프' -> (주)한빛소프트)."""
    wanted = _name_key(query)
    if not wanted:
        return []
    firms = list(await session.scalars(select(Firm).order_by(Firm.id)))
    keys = {f.id: _name_key(f.name) for f in firms}
    hits = process.extract(wanted, keys, scorer=fuzz.WRatio, score_cutoff=70, limit=limit)
    by_id = {f.id: f for f in firms}
    return [by_id[firm_id] for _, _, firm_id in hits]


def _name_key(name: str) -> str:
    text = unicodedata.normalize("NFKC", name)  # ㈜ -> (주)
    for mark in ("(주)", "주식회사", "(유)", "유한회사"):
        text = text.replace(mark, "")
    return compact(text)


async def firms_page(session: AsyncSession, limit: int, offset: int) -> tuple[list[Firm], int]:
    total = await count_firms(session)
    rows = list(await session.scalars(select(Firm).order_by(Firm.name, Firm.id).limit(limit).offset(offset)))
    return rows, total


async def postings_of(session: AsyncSession, firm_id: int) -> list[Posting]:
    return list(await session.scalars(select(Posting).where(Posting.firm_id == firm_id)
                                      .order_by(Posting.status.desc(), Posting.id)))


async def digest_on(session: AsyncSession, user_id: int) -> bool:
    """Opted in to the daily digest of new postings."""
    return await session.get(JobDigest, user_id) is not None


async def set_digest(session: AsyncSession, user_id: int, on: bool, now: dt.datetime) -> None:
    """Sets (not flips) the digest; switching on counts postings from now as new."""
    row = await session.get(JobDigest, user_id)
    if on and row is None:
        session.add(JobDigest(user_id=user_id, since=now))
    elif not on and row is not None:
        await session.delete(row)
    await session.flush()
