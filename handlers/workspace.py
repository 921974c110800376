"""Sessions held outside the bot: a counselor records a walk-in, phone or school-visit session, so
/stats counts them next to booked ones (the report's 취업상담 and 서류클리닉 figures).

What a counselor goes through:
1. `/session` (상담 기록): the channel (방문 / 전화 / 학교 방문) → the service (취업상담 / 서류클리닉)
   → the place (their saved places as buttons, or typed: a school's name) → the person: a registered
   seeker's mobile number, or skip for someone not registered → then how many people (1–200, a
   class at a school visit counts its heads) → the duration in minutes (30 / 60 / 90, or typed 5–480)
   → at a school visit, the 특성화고 coaching package's session number (1–3), optional → summary → save.
2. A mobile number nobody registered with is refused with the question again (skip records the
   session without a name). The session is kept with the counselor, the time it was recorded and,
   when given, the person (erasing the person leaves the session counted without them).
`/session` and its submit re-check that the presser is an active counselor.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from kernel import parsers
from kernel.core import CommandRoute, Ctx, Invalid, Reply, Router
from kernel.forms import Answers, Choice, Extra, Field, FieldInput, Form, choices
from kernel.people import require_counselor
from storage import clinic, counselors
from storage.audit import audit
from storage.models import Availability, OutsideSession, Place, SeekerProfile

MAX_PEOPLE = 200
MINUTES = ("30", "60", "90")


async def record(ctx: Ctx, _args: Sequence[str]) -> list[Reply]:
    found = await require_counselor(ctx)
    if isinstance(found, Reply):
        return [found]
    return await ctx.app.start_form(ctx, "outside")


async def my_places(ctx: Ctx, _answers: Answers) -> list[Choice]:
    """The places of the counselor's weekly hours (the centre, campuses, schools), by name."""
    counselor = await counselors.by_user(ctx.session, ctx.user.id)
    if counselor is None:
        return []
    names = await ctx.session.scalars(select(Place.name).join(Availability, Availability.place_id == Place.id)
                                      .where(Availability.counselor_id == counselor.id, Place.kind != "online")
                                      .distinct().order_by(Place.name).limit(8))
    return [Choice(name, text=name) for name in names]


def parse_place(raw: str, _inp: FieldInput) -> str:
    return parsers.clean(raw, max_len=100)


def parse_people(raw: str, _inp: FieldInput) -> int:
    return parsers.integer(raw, low=1, high=MAX_PEOPLE, units=("명",))


def parse_minutes(raw: str, _inp: FieldInput) -> int:
    return parsers.integer(raw, low=5, high=480, units=("분",))


OUTSIDE_FIELDS = (
    Field("channel", choices=choices("stats.channel", clinic.CHANNELS), columns=3),
    Field("service", choices=choices("stats.service", clinic.SERVICES)),
    Field("place", parse=parse_place, options=my_places, optional=False),
    Field("person", parse=parsers.phone, optional=True),
    Field("people", parse=parse_people, when=lambda a: not a.get("person")),
    Field("minutes", parse=parse_minutes, choices=choices("outside.minutes", MINUTES), columns=3),
    Field("package", choices=choices("outside.package", ("1", "2", "3")), optional=True, columns=3,
          when=lambda a: a.get("channel") == "school_visit"),
)


async def save(ctx: Ctx, answers: Answers, _extra: Extra) -> list[Reply]:
    found = await require_counselor(ctx)
    if isinstance(found, Reply):
        return [found]
    person = None
    if answers.get("person"):
        person = (await ctx.session.scalars(select(SeekerProfile.user_id)
                                            .where(SeekerProfile.phone == answers["person"]).limit(1))).first()
        if person is None:
            raise Invalid("outside.unknown_person", field="person")
    package = answers.get("package")
    ctx.session.add(OutsideSession(
        counselor_id=found.id, channel=answers["channel"], service=answers["service"], place=answers["place"],
        user_id=person, people=1 if person else int(answers.get("people") or 1), minutes=int(answers["minutes"]),
        package_session=int(package) if package else None, held_at=ctx.now, created_at=ctx.now))
    if person is not None:
        await audit(ctx.session, ctx.user.id, "outside.session", f"user:{person}", ctx.now)
    return [Reply(ctx.t("outside.saved"))]


def build() -> Router:
    return Router(
        name="workspace",
        commands=[CommandRoute("session", record, describe="cmd.session", roles=("counselor",))],
        forms=[Form("outside", OUTSIDE_FIELDS, save)],
        phrases={"상담기록": "session"},
    )
