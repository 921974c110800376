"""What the bot holds about one person, counted per kind (PIPA right of access, `/profile`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import surveys
from storage.models import (
    Booking,
    CaseNote,
    ClinicRequest,
    CourseApplication,
    EventRegistration,
    Handoff,
    HiddenPosting,
    Mentor,
    MentoringRequest,
    PitchApplication,
    Referral,
)


@dataclass(frozen=True)
class Held:
    bookings: int
    event_registrations: int
    pitch_applications: int
    counselor_chats: int
    referrals: int
    hidden_postings: int
    survey_responses: int
    course_applications: int
    mentor_applications: int
    mentoring_requests: int
    clinic_requests: int
    case_notes: int


async def held_about(session: AsyncSession, user_id: int) -> Held:
    async def count(model: Any) -> int:
        return int(await session.scalar(select(func.count()).select_from(model).where(model.user_id == user_id)) or 0)

    return Held(await count(Booking), await count(EventRegistration), await count(PitchApplication),
                await count(Handoff), await count(Referral), await count(HiddenPosting),
                await surveys.count_answered_by(session, user_id), await count(CourseApplication),
                await count(Mentor), await count(MentoringRequest), await count(ClinicRequest), await count(CaseNote))
