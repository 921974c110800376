"""기술교육원 courses: import, browsing, applications and their selection.

Import (`python -m bot courses import FILE`, like firms): CSV or JSON (a list, or
`{"courses": [...]}`), UTF-8 or CP949. Columns: ref, institute, campus, title, ncs (the NCS
large-category number 1..24), skills (`|`-separated: what the course teaches), hours,
starts_on, ends_on, schedule, capacity, min_age, max_age, eligible (`|`-separated: youth,
middle, student, any), cost (won, 0 = free), deadline, status (open/closed). Courses are
upserted by `ref`, so importing a file again changes nothing; each bad row is reported with
its line and reason and the others go in.

Applications: one per person and course. A course is offered until its deadline (the local
date, inclusive) while open; a person outside its age range or kinds is told why. A course
whose selected trainees fill its capacity takes new applications on the waiting list. Admins
decide (selected, waitlisted, not selected); selecting beyond the capacity is refused.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.firm_import import decode
from storage.models import Course, CourseApplication, SeekerProfile

NCS_CODES = tuple(range(1, 25))
ELIGIBLE = ("youth", "middle", "student", "any")
DECISIONS = ("selected", "waitlisted", "not_selected")
LIVE = ("applied", "selected", "waitlisted")
MAX_BYTES = 5 * 1024 * 1024


@dataclass
class ImportResult:
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, what is wrong)


class BadFile(Exception):
    """The whole course file cannot be read (too big, not JSON or CSV); the message says why."""


def read_rows(data: bytes, name: str = "") -> list[tuple[int, dict[str, str]]]:
    if len(data) > MAX_BYTES:
        raise BadFile("file too big")
    text = decode(data)
    if name.lower().endswith(".json") or text.lstrip()[:1] in ("[", "{"):
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadFile(f"not JSON (line {exc.lineno})") from None
        items = loaded.get("courses", []) if isinstance(loaded, dict) else loaded
        if not isinstance(items, list):
            raise BadFile("a list of courses, or {\"courses\": [...]}, is expected")
        return [(i, {str(k).strip().lower(): "|".join(map(str, v)) if isinstance(v, list) else
                     "" if v is None else str(v).strip() for k, v in item.items()})
                for i, item in enumerate(items, 1) if isinstance(item, dict)]
    reader = csv.DictReader(io.StringIO(text))
    return [(i, {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()})
            for i, row in enumerate(reader, 2)]


def _int(row: dict[str, str], name: str, low: int, high: int, *, required: bool = True) -> int | None:
    value = row.get(name, "").replace(",", "")
    if not value:
        if required:
            raise ValueError(f"{name} is missing")
        return None
    if not value.isascii() or not value.isdigit() or not low <= int(value) <= high:
        raise ValueError(f"{name} must be a whole number {low}..{high}")
    return int(value)


def _date(row: dict[str, str], name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(row.get(name, ""))
    except ValueError:
        raise ValueError(f"{name} must be a date like 2026-03-15") from None


def _text(row: dict[str, str], name: str, max_len: int, *, required: bool = True) -> str:
    value = " ".join(row.get(name, "").split())
    if required and not value:
        raise ValueError(f"{name} is missing")
    if len(value) > max_len:
        raise ValueError(f"{name} is longer than {max_len}")
    return value


def parse_row(row: dict[str, str]) -> dict[str, Any]:
    """A course's columns from one row; ValueError names what is wrong."""
    values: dict[str, Any] = {
        "ref": _text(row, "ref", 40), "institute": _text(row, "institute", 60),
        "campus": _text(row, "campus", 60, required=False), "title": _text(row, "title", 100),
        "ncs_code": _int(row, "ncs", 1, 24), "hours": _int(row, "hours", 1, 5000),
        "starts_on": _date(row, "starts_on"), "ends_on": _date(row, "ends_on"),
        "schedule": _text(row, "schedule", 60, required=False), "capacity": _int(row, "capacity", 1, 10000),
        "min_age": _int(row, "min_age", 0, 120, required=False), "max_age": _int(row, "max_age", 0, 120,
                                                                                  required=False),
        "cost": _int(row, "cost", 0, 100_000_000, required=False) or 0, "deadline": _date(row, "deadline"),
        "skills": [s.strip() for s in row.get("skills", "").split("|") if s.strip()][:20],
        "eligible": [e.strip() for e in row.get("eligible", "").split("|") if e.strip()] or ["any"],
        "status": row.get("status") or "open",
    }
    if values["ends_on"] < values["starts_on"]:
        raise ValueError("ends_on is before starts_on")
    if values["deadline"] > values["starts_on"]:
        raise ValueError("deadline is after starts_on")
    bad = [e for e in values["eligible"] if e not in ELIGIBLE]
    if bad:
        raise ValueError(f"eligible must be among {', '.join(ELIGIBLE)}: {bad[0]}")
    if values["status"] not in ("open", "closed"):
        raise ValueError("status must be open or closed")
    return values


async def import_rows(session: AsyncSession, rows: list[tuple[int, dict[str, str]]], now: dt.datetime
                      ) -> ImportResult:
    result = ImportResult()
    for line, row in rows:
        try:
            values = parse_row(row)
        except ValueError as exc:
            result.rejected.append((line, str(exc)))
            continue
        found = (await session.scalars(select(Course).where(Course.ref == values["ref"]))).first()
        if found is None:
            session.add(Course(**values, created_at=now, updated_at=now))
            result.added += 1
        elif any(getattr(found, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(found, k, v)
            found.updated_at = now
            result.changed += 1
        else:
            result.unchanged += 1
    await session.flush()
    return result


async def count_courses(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Course)) or 0)


async def offered(session: AsyncSession, today: dt.date) -> list[Course]:
    """Open courses whose application deadline has not passed, soonest start first."""
    return list(await session.scalars(select(Course).where(Course.status == "open", Course.deadline >= today)
                                      .order_by(Course.starts_on, Course.id)))


async def get(session: AsyncSession, course_id: int) -> Course | None:
    return await session.get(Course, course_id)


async def selected_count(session: AsyncSession, course_id: int) -> int:
    return int(await session.scalar(select(func.count()).select_from(CourseApplication).where(
        CourseApplication.course_id == course_id, CourseApplication.status == "selected")) or 0)


def ineligible(course: Course, profile: SeekerProfile, today: dt.date) -> tuple[str, dict[str, Any]] | None:
    """Why this person may not apply (a catalog key and its parameters), or None."""
    age = today.year - profile.birth_year
    if course.min_age is not None and age < course.min_age:
        return "courses.too_young", {"age": course.min_age}
    if course.max_age is not None and age > course.max_age:
        return "courses.too_old", {"age": course.max_age}
    kinds = {profile.track} | ({"student"} if profile.education == "enrolled" else set())
    if "any" not in course.eligible and not kinds & set(course.eligible):
        return "courses.not_for_you", {}
    return None


async def application(session: AsyncSession, course_id: int, user_id: int) -> CourseApplication | None:
    return (await session.scalars(select(CourseApplication).where(
        CourseApplication.course_id == course_id, CourseApplication.user_id == user_id))).first()


async def apply(session: AsyncSession, course: Course, user_id: int, now: dt.datetime) -> CourseApplication:
    """A new application; straight onto the waiting list when the selected fill the course."""
    full = await selected_count(session, course.id) >= course.capacity
    row = CourseApplication(course_id=course.id, user_id=user_id, status="waitlisted" if full else "applied",
                            created_at=now)
    session.add(row)
    await session.flush()
    return row


async def of_user(session: AsyncSession, user_id: int) -> list[tuple[CourseApplication, Course]]:
    rows = await session.execute(
        select(CourseApplication, Course).join(Course, Course.id == CourseApplication.course_id)
        .where(CourseApplication.user_id == user_id).order_by(Course.starts_on))
    return [(a, c) for a, c in rows.all()]


async def applicants(session: AsyncSession, course_id: int) -> list[tuple[CourseApplication, SeekerProfile | None]]:
    rows = await session.execute(
        select(CourseApplication, SeekerProfile).outerjoin(SeekerProfile, SeekerProfile.user_id ==
                                                           CourseApplication.user_id)
        .where(CourseApplication.course_id == course_id).order_by(CourseApplication.id))
    return [(a, p) for a, p in rows.all()]


async def counts(session: AsyncSession, course_ids: list[int]) -> dict[tuple[int, str], int]:
    if not course_ids:
        return {}
    rows = await session.execute(select(CourseApplication.course_id, CourseApplication.status, func.count())
                                 .where(CourseApplication.course_id.in_(course_ids))
                                 .group_by(CourseApplication.course_id, CourseApplication.status))
    return {(c, s): int(n) for c, s, n in rows.all()}


def reminder_keys(application_id: int) -> list[str]:
    """The dedupe keys of a selected trainee's reminder and end-of-course survey."""
    return [f"course:{application_id}:remind", f"course:{application_id}:survey"]


async def figures(session: AsyncSession, today: dt.date, start: dt.date | None = None) -> dict[str, float]:
    """Applications, selections, completions (selected on a course that has ended) and the mean
    trainee rating, for courses starting on or after `start` (all when None)."""
    query = select(CourseApplication.status, Course.ends_on, CourseApplication.rating).join(
        Course, Course.id == CourseApplication.course_id)
    if start is not None:
        query = query.where(Course.starts_on >= start)
    rows = (await session.execute(query)).all()
    ratings = [r for _, _, r in rows if r is not None]
    return {"applications": len(rows), "selected": sum(1 for s, _, _ in rows if s == "selected"),
            "completed": sum(1 for s, end, _ in rows if s == "selected" and end < today),
            "rating": sum(ratings) / len(ratings) if ratings else 0.0, "ratings": len(ratings)}
