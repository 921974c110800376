"""Job-seeker profiles (구직등록)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import SeekerProfile

# The district codes a seeker wishes to work in and a broadcast may target (storage/data/districts.json).
DISTRICTS: tuple[str, ...] = tuple(
    json.loads((Path(__file__).with_name("data") / "districts.json").read_text(encoding="utf-8"))["districts"])

PROFILE_FIELDS = (
    "name", "birth_year", "track", "school_kind", "school_name", "desired_jobs", "skills", "districts",
    "education", "experience_years", "desired_salary", "phone", "degree", "graduation", "school_code",
)


async def get(session: AsyncSession, user_id: int) -> SeekerProfile | None:
    return await session.get(SeekerProfile, user_id)


async def save(session: AsyncSession, user_id: int, values: dict[str, Any], now: dt.datetime) -> SeekerProfile:
    """Create or update the profile from form answers (only the profile's own fields)."""
    clean = {k: values.get(k) for k in PROFILE_FIELDS}
    profile = await session.get(SeekerProfile, user_id)
    if profile is None:
        profile = SeekerProfile(user_id=user_id, consent_at=now, registered_at=now, updated_at=now, **clean)
        session.add(profile)
    else:
        for key, value in clean.items():
            setattr(profile, key, value)
        profile.updated_at = now
    await session.flush()
    return profile


def as_answers(profile: SeekerProfile) -> dict[str, Any]:
    return {k: getattr(profile, k) for k in PROFILE_FIELDS}
