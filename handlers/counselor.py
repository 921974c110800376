"""Counselors: joining by invitation, weekly availability, the agenda, and the admins' list.

What an admin goes through:
1. `/invite counselor` creates a one-time invitation (valid INVITE_TTL_HOURS) and answers
   with its deep link (Telegram: https://t.me/<bot>?start=inv_…; console: /start inv_…).
   An admin may open their own link to become a counselor too.
2. `/counselors` lists counselors (name, consultation types, active or not, upcoming
   sessions) with 비활성화. It asks once more; then the counselor takes no new bookings,
   every future session of theirs is cancelled, each person is told and offered another
   time (a 다시 예약하기 button), the counselor is told, and the action is audited.

What an invited counselor goes through:
1. Opening the link checks it: an unknown, used or expired link is refused with a clear
   line (ask the admin for a new one); someone already an active counselor is told so.
2. Display name → consultation types (several) → summary → confirm. The invitation is
   used at this moment, so a link opened twice at once still makes one counselor.
3. The bot points to `/availability` (nothing can be booked before there are hours)
   and `/agenda`.

What a counselor goes through afterwards:
1. `/availability`: the weekly windows (weekday, time, place) and upcoming days off, with
   시간 추가, a 삭제 button per window, 휴무일 추가 and a 휴무 취소 button per day off.
   Adding hours sets a whole week in one go: place kind (센터 / 캠퍼스점 / 특성화고 / 화상
   상담) → the campus or school name (saved ones offered as buttons), or the video link for
   online; the centre has its fixed place → the days (월..일, several, then 선택 완료) →
   start → end (typed HH:MM or quick buttons up to the evening, 10-minute marks) → breaks
   (점심 12:00–13:00 / 저녁 18:00–19:00 when they fall inside, 쉬는 시간 없음, or typed
   "12:00-13:00, 15:00-15:30") → summary → confirm. Each day gets the hours split by the
   breaks (월–금 09:00–18:00 with lunch: ten windows). Inverted hours, a break outside the
   hours and overlaps with an existing window are refused with the clashing window named,
   nothing is added, and the form stays open. Sessions already booked are kept when a
   window is removed or a day off is added.
   Adding a day off: a date typed as YYYY-MM-DD or M/D (or a button for the next days),
   from tomorrow up to a year ahead.
2. `/agenda`: today's sessions, past sessions still to be marked, and the next seven
   days; each session with time, type, place, the person's name, their no-shows so far
   and their note. Sessions that have started carry 참석 / 노쇼 buttons.
   A daily agenda message comes at AGENDA_TIME on working days (`scheduler.agenda`).

Every counselor command, button and form submit goes through `require_counselor`, which
reads the database on each press: a deactivated counselor's old buttons stop working.
Marking re-checks that the session is this counselor's own, has started and is still
booked; a forged, foreign or repeated payload is refused and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from kernel import parsers
from kernel.config import Settings, parse_hhmm
from kernel.core import (
    At,
    Button,
    CommandRoute,
    Ctx,
    Invalid,
    Job,
    MenuItem,
    Reply,
    Router,
    arg_int,
    on,
    payload,
    stamp,
)
from kernel.forms import Answers, Choice, Extra, Field, FieldInput, Form, choices
from kernel.i18n import Translator, translator
from kernel.payloads import Payload, Stamp, same_record
from kernel.people import active_counselor, is_counselor, not_counselor, require_counselor
from scheduler import agenda, cancellations, queue
from storage import bookings, counselors
from storage.audit import audit
from storage.models import Availability, Counselor, Place

log = logging.getLogger(__name__)

PAGE = 10
P = TypeVar("P", bound=Payload)


# --- buttons: a counselor's own (`cs`) and the admins' list of counselors (`cadm`) --------------------


@dataclass(frozen=True)
class AddWindow(Payload, prefix="cs", action="aw"):
    pass


@dataclass(frozen=True)
class AddDayOff(Payload, prefix="cs", action="off"):
    pass


@dataclass(frozen=True)
class RemoveWindow(Payload, prefix="cs", action="rw"):
    window: int


@dataclass(frozen=True)
class RemoveDayOff(Payload, prefix="cs", action="rd"):
    day_off: int


@dataclass(frozen=True)
class Attended(Payload, prefix="cs", action="at"):
    booking: int
    proof: Stamp


@dataclass(frozen=True)
class NoShow(Payload, prefix="cs", action="ns"):
    booking: int
    proof: Stamp


@dataclass(frozen=True)
class CounselorsPage(Payload, prefix="cadm", action="pg"):
    offset: int


@dataclass(frozen=True)
class AskDeactivate(Payload, prefix="cadm", action="d"):
    counselor: int
    proof: Stamp


@dataclass(frozen=True)
class Deactivate(Payload, prefix="cadm", action="dy"):
    counselor: int
    proof: Stamp


@dataclass(frozen=True)
class KeepCounselor(Payload, prefix="cadm", action="keep"):
    pass
PAST_DAYS = 14  # how far back unmarked sessions are still offered for marking
WEEK_DAYS = 7
QUICK_STARTS = ("09:00", "10:00", "13:00", "14:00", "18:00")
# End times offered besides one and two hours after the start: the ends of a morning, of a working
# day and of an evening (the centre's evening sessions run to 21:00).
QUICK_ENDS = ("12:00", "13:00", "17:00", "18:00", "20:00", "21:00")
LUNCH = (12 * 60, 13 * 60)
DINNER = (18 * 60, 19 * 60)
NO_BREAK = ""  # the value of 쉬는 시간 없음 (a typed "없음" gives the same, so the summary names it alike)
NO_BREAK_WORDS = frozenset({"", "none", "없음", "없어요", "없습니다", "쉬는시간없음", "no", "nobreak", "-"})
DAY_OFF_BUTTONS = 7


# --- who is a counselor (the one check) -----------------------------------------------------------





# --- small texts ---------------------------------------------------------------------------------


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def types_text(t: Translator, types: Sequence[str]) -> str:
    return ", ".join(t(f"type.{k}") for k in types) or "-"


def window_place_text(t: Translator, place: Place | None) -> str:
    if place is None:
        return "-"
    return agenda.place_text(t, place)


def window_words(t: Translator, w: Availability, place: Place | None) -> dict[str, str]:
    return {"weekday": t(f"weekday.{w.weekday}"), "start": hhmm(w.start_minute), "end": hhmm(w.end_minute),
            "place": window_place_text(t, place)}


def online_room_name(display_name: str, counselor_id: int, locale: str) -> str:
    """Each counselor's online sessions happen in their own room (their own video link)."""
    return translator(locale)("place.online_room", name=display_name, id=counselor_id)[:60]


# --- parsers for the availability forms ------------------------------------------------------------


def parse_time(raw: str, _inp: FieldInput) -> str:
    """'9:30', '0930', '9시 30분', '오후 2시', '2pm' -> 'HH:MM' on a 10-minute mark."""
    value = unicodedata.normalize("NFKC", raw).strip().lower().replace(" ", "")
    afternoon = value.startswith(("오후", "pm")) or value.endswith("pm")
    value = value.removeprefix("오전").removeprefix("오후").removeprefix("am").removeprefix("pm")
    value = value.removesuffix("am").removesuffix("pm")
    match = (re.fullmatch(r"(\d{1,2}):(\d{2})", value) or re.fullmatch(r"(\d{1,2})(\d{2})", value)
             or re.fullmatch(r"(\d{1,2})시(?:(\d{1,2})분?|(반))?", value) or re.fullmatch(r"(\d{1,2})()", value))
    if match is None:
        raise Invalid("invalid.time")
    hours = int(match.group(1))
    minutes = 30 if match.lastindex == 3 and match.group(3) else int(match.group(2) or 0)
    if afternoon and hours < 12:
        hours += 12
    try:
        total = parse_hhmm(f"{hours}:{minutes:02d}")
    except ValueError:
        raise Invalid("invalid.time") from None
    if total % 10:
        raise Invalid("invalid.time_step")
    return hhmm(total)


def parse_start(raw: str, inp: FieldInput) -> str:
    value = parse_time(raw, inp)
    if value == "24:00":
        raise Invalid("invalid.time")
    return value


def parse_end(raw: str, inp: FieldInput) -> str:
    value = parse_time(raw, inp)
    start = inp.answers.get("start")
    if isinstance(start, str) and parse_hhmm(value) <= parse_hhmm(start):
        raise Invalid("availability.inverted", start=start)
    return value


Span = tuple[int, int]


def spans_text(spans: Sequence[Span]) -> str:
    return ", ".join(f"{hhmm(a)}–{hhmm(b)}" for a, b in spans)


def read_breaks(value: str) -> list[Span]:
    """The stored form (`spans_text`: "12:00–13:00, 18:00–19:00"; "" for none) as minutes."""
    out = []
    for part in filter(None, (p.strip() for p in value.split(","))):
        a, b = part.split("–")
        out.append((parse_hhmm(a), parse_hhmm(b)))
    return out


def split_by_breaks(start: int, end: int, breaks: Sequence[Span]) -> list[Span]:
    """The hours between `start` and `end` left once the breaks are taken out, in order."""
    spans, at = [], start
    for a, b in sorted(breaks):
        if a > at:
            spans.append((at, min(a, end)))
        at = max(at, b)
    if at < end:
        spans.append((at, end))
    return [(a, b) for a, b in spans if b > a]


def parse_breaks(raw: str, inp: FieldInput) -> str:
    """'12:00-13:00', '12-13', '12시~13시, 15:00-15:30', '없음' -> '12:00–13:00, 15:00–15:30' or ''.

    The value is kept as it reads (`spans_text`), so the summary shows a typed answer as well as
    a pressed one.

    Each break must lie inside the hours (a break at an edge is shorter hours, not a break) and
    leave some time to book; overlapping breaks are merged."""
    value = unicodedata.normalize("NFKC", raw).strip()
    if "".join(value.lower().split()) in NO_BREAK_WORDS:
        return ""
    start, end = (parse_hhmm(str(inp.answers[k])) if isinstance(inp.answers.get(k), str) else None
                  for k in ("start", "end"))
    spans: list[Span] = []
    for part in filter(None, (p.strip() for p in re.split(r"[,/\n]+", value))):
        ends = re.split(r"\s*(?:[-~–—]|부터)\s*", part.removesuffix("까지"))
        if len(ends) != 2 or not all(ends):
            raise Invalid("availability.break_format")
        a, b = (parse_hhmm(parse_time(x, inp)) for x in ends)
        if b <= a:
            raise Invalid("availability.break_format")
        if start is not None and end is not None and not (start < a and b < end):
            raise Invalid("availability.break_outside", start=hhmm(start), end=hhmm(end))
        spans.append((a, b))
    merged: list[Span] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return spans_text(merged)


def show_breaks(value: object, t: Translator) -> str:
    spans = read_breaks(str(value)) if value else []
    return spans_text(spans) if spans else t("availability.no_break")


def show_days(value: object, t: Translator) -> str:
    days = value if isinstance(value, list) else [value]
    return ", ".join(t(f"weekday.{d}") for d in sorted(int(str(d)) for d in days))


def parse_video_link(raw: str, _inp: FieldInput) -> str:
    value = unicodedata.normalize("NFC", raw).strip()
    if not value.lower().startswith(("http://", "https://")) and "." in value.split("/")[0]:
        value = "https://" + value  # "zoom.us/j/123" is what people paste
    if not counselors.video_link_ok(value):
        raise Invalid("invalid.video_link")
    return value


def parse_day_off(raw: str, inp: FieldInput) -> str:
    """'2026-03-15', '2026.3.15', '3/15', '3월 15일' -> ISO date, from tomorrow to a year ahead."""
    value = unicodedata.normalize("NFKC", raw).strip().replace(" ", "").removesuffix("일")
    today = inp.now.astimezone(inp.tz).date()
    full = re.fullmatch(r"(\d{4})[-./](\d{1,2})[-./](\d{1,2})\.?", value)
    short = re.fullmatch(r"(\d{1,2})(?:/|\.|월)(\d{1,2})\.?", value)
    try:
        if full:
            day = dt.date(int(full.group(1)), int(full.group(2)), int(full.group(3)))
        elif short:
            day = dt.date(today.year, int(short.group(1)), int(short.group(2)))
            if day < today:
                day = dt.date(today.year + 1, day.month, day.day)
        else:
            raise Invalid("invalid.date")
    except ValueError:
        raise Invalid("invalid.date") from None
    if day <= today:
        raise Invalid("invalid.date_past")
    if day > today + dt.timedelta(days=365):
        raise Invalid("invalid.date_far")
    return day.isoformat()


# --- onboarding (invited counselor) ----------------------------------------------------------------


ONBOARDING_FIELDS = (
    Field("display_name", parse=parsers.person_name),
    Field("types", choices=choices("type", counselors.CONSULTATION_TYPES), multi=True,
          columns=1),
)


async def join(ctx: Ctx, answers: Answers, extra: Extra) -> list[Reply]:
    """Uses the invitation and makes the person a counselor; a used or expired link is refused."""
    t = ctx.t
    if await active_counselor(ctx) is not None:
        return [Reply(t("invite.already")), await ctx.app.menu(ctx)]
    try:
        invite = await counselors.redeem_invite(ctx.session, str(extra["token"]), ctx.user.id, ctx.now)
    except counselors.InviteError as exc:
        log.info("invite refused at submit reason=%s user=%s", exc.reason, ctx.user.id)
        return [Reply(t(f"invite.{exc.reason}")), await ctx.app.menu(ctx)]
    if invite.role != "counselor":
        return [Reply(t("invite.unknown")), await ctx.app.menu(ctx)]
    counselor = await counselors.create(ctx.session, ctx.user.id, answers["display_name"], answers["types"], ctx.now)
    if ctx.user.role == "user":
        ctx.user.role = "counselor"
    await audit(ctx.session, ctx.user.id, "counselor.join", f"counselor:{counselor.id}", ctx.now,
                {"invite": invite.id})
    log.info("counselor joined counselor=%s user=%s invite=%s", counselor.id, ctx.user.id, invite.id)
    ctx.app.roles_changed(ctx, ctx.user.id)  # their command menu gains the counselor's commands
    return [Reply(t("counselor.joined", name=counselor.display_name), [
        [Button(t("menu.availability"), payload("m", "availability"))],
        [Button(t("menu.agenda"), payload("m", "agenda"))],
    ])]


ONBOARDING_FORM = Form("counselor", ONBOARDING_FIELDS, join)


async def open_invite(ctx: Ctx, args: Sequence[str]) -> list[Reply]:
    """`/start inv_<token>`: checks the link, then starts the onboarding."""
    t = ctx.t
    token = args[0] if args else ""
    try:
        invite = await counselors.check_invite(ctx.session, token, ctx.now)
    except counselors.InviteError as exc:
        log.info("invite refused reason=%s user=%s", exc.reason, ctx.user.id)
        return [Reply(t(f"invite.{exc.reason}")), await ctx.app.menu(ctx)]
    if invite.role != "counselor":
        return [Reply(t("invite.unknown")), await ctx.app.menu(ctx)]
    if await active_counselor(ctx) is not None:
        return [Reply(t("invite.already")), await ctx.app.menu(ctx)]
    return [Reply(t("invite.welcome")), *await ctx.app.start_form(ctx, "counselor", extra={"token": token})]


async def invite(ctx: Ctx, args: Sequence[str]) -> list[Reply]:
    """Admin: `/invite counselor` -> a one-time deep link."""
    t = ctx.t
    if not args or args[0].lower() not in ("counselor", "상담사"):
        return [Reply(t("invite.usage"))]
    ttl = dt.timedelta(hours=ctx.settings.invite_ttl_hours)
    row = await counselors.create_invite(ctx.session, "counselor", ctx.user.id, ctx.now, ttl)
    await audit(ctx.session, ctx.user.id, "invite.create", f"invite:{row.id}", ctx.now, {"role": "counselor"})
    log.info("invite created invite=%s by user=%s", row.id, ctx.user.id)
    expires = row.expires_at.astimezone(ctx.settings.tz).strftime("%Y-%m-%d %H:%M")
    return [Reply(t("invite.created", link=ctx.app.deep_link("inv_" + row.token), hours=ctx.settings.invite_ttl_hours,
                    expires=expires))]


# --- availability ----------------------------------------------------------------------------------


async def availability_view(ctx: Ctx, counselor: Counselor, notice: str | None = None, *,
                            edit: bool = False) -> Reply:
    """The weekly windows and upcoming days off, with a remove button for each."""
    t = ctx.t
    rows = await counselors.windows(ctx.session, [counselor.id])
    places = await counselors.places_by_id(ctx.session, [w.place_id for w in rows])
    today = ctx.now.astimezone(ctx.settings.tz).date()
    offs = await counselors.time_off_from(ctx.session, counselor.id, today)
    lines = [notice, ""] if notice else []
    lines.append(t("availability.title", name=counselor.display_name))
    if rows:
        lines += [t("availability.window", **window_words(t, w, places.get(w.place_id))) for w in rows]
    else:
        lines.append(t("availability.none"))
    lines += ["", t("availability.days_off_title")]
    days = [t("availability.day_off", date=agenda.date_text(t, o.day)) for o in offs]
    lines += days or [t("availability.no_days_off")]
    buttons = [[Button(t("availability.add_window"), AddWindow().pack()),
                Button(t("availability.add_day_off"), AddDayOff().pack())]]
    buttons += [[Button(t("availability.remove_window", **window_words(t, w, places.get(w.place_id))),
                        RemoveWindow(w.id).pack())] for w in rows]
    buttons += [[Button(t("availability.remove_day_off", date=agenda.date_text(t, o.day)), RemoveDayOff(o.id).pack())]
                for o in offs]
    return Reply("\n".join(lines), buttons, edit=edit)


async def availability(ctx: Ctx, _args: Sequence[str]) -> list[Reply]:
    found = await require_counselor(ctx)
    if isinstance(found, Reply):
        return [found]
    if ctx.conv.flow in ("window", "dayoff"):
        ctx.conv.paused = True
    return [await availability_view(ctx, found)]


async def place_choices(ctx: Ctx, kind: str) -> list[Choice]:
    return [Choice(p.name, text=p.name) for p in await counselors.places_of_kind(ctx.session, kind)]


async def campus_options(ctx: Ctx, _a: Answers) -> list[Choice]:
    return await place_choices(ctx, "campus")


async def school_options(ctx: Ctx, _a: Answers) -> list[Choice]:
    return await place_choices(ctx, "high_school")


async def link_options(ctx: Ctx, _a: Answers) -> list[Choice]:
    """The counselor's own current video link, to reuse with one tap."""
    counselor = await active_counselor(ctx)
    if counselor is None:
        return []
    rows = await counselors.windows(ctx.session, [counselor.id])
    places = await counselors.places_by_id(ctx.session, [w.place_id for w in rows])
    links = sorted({p.video_link for p in places.values() if p.kind == "online" and p.video_link})
    return [Choice(link, text=link) for link in links]


async def start_options(_ctx: Ctx, _a: Answers) -> list[Choice]:
    return [Choice(v, text=v) for v in QUICK_STARTS]


async def end_options(_ctx: Ctx, a: Answers) -> list[Choice]:
    """One and two hours after the start, and the usual ends of a morning, a day and an evening."""
    start = parse_hhmm(str(a.get("start", "09:00")))
    ends = {start + 60, start + 120} | {parse_hhmm(v) for v in QUICK_ENDS}
    return [Choice(hhmm(m), text=hhmm(m)) for m in sorted(ends) if start < m <= 24 * 60]


async def break_options(ctx: Ctx, a: Answers) -> list[Choice]:
    """Lunch and dinner when they fall inside the hours (both, when both do), or no break."""
    t = ctx.t
    start, end = parse_hhmm(str(a.get("start", "09:00"))), parse_hhmm(str(a.get("end", "18:00")))
    inside = [(key, span) for key, span in (("lunch", LUNCH), ("dinner", DINNER)) if start < span[0] and span[1] < end]
    found = [Choice(spans_text([span]), text=t(f"availability.break_{key}", hours=spans_text([span])))
             for key, span in inside]
    if len(inside) == 2:
        both = [span for _key, span in inside]
        found.append(Choice(spans_text(both), text=t("availability.break_both", hours=spans_text(both))))
    return [*found, Choice(NO_BREAK, text=t("availability.no_break"))]


def _kind_is(kind: str) -> Callable[[Answers], bool]:
    return lambda a: a.get("place_kind") == kind


WINDOW_FIELDS = (
    Field("place_kind", choices=choices("place_kind", counselors.PLACE_KINDS), columns=1),
    Field("campus_name", parse=parsers.text(60), options=campus_options, when=_kind_is("campus"), columns=1),
    Field("school_name", parse=parsers.text(60), options=school_options, when=_kind_is("high_school"), columns=1),
    Field("video_link", parse=parse_video_link, options=link_options, when=_kind_is("online"), columns=1),
    # Several days at once (the name stays "weekday" so a draft saved before still loads).
    Field("weekday", choices=tuple(Choice(str(d), f"weekday.{d}") for d in range(7)), multi=True, columns=7,
          show=show_days),
    Field("start", parse=parse_start, options=start_options, columns=5),
    Field("end", parse=parse_end, options=end_options, columns=4),
    Field("breaks", parse=parse_breaks, options=break_options, show=show_breaks, columns=1),
)


async def _window_place(ctx: Ctx, counselor: Counselor, a: Answers) -> Place:
    kind = a["place_kind"]
    if kind == "centre":
        return await counselors.centre_place(ctx.session)
    if kind == "online":
        name = online_room_name(counselor.display_name, counselor.id, ctx.settings.default_locale)
        return await counselors.place(ctx.session, "online", name, video_link=a["video_link"])
    return await counselors.place(ctx.session, kind, a["campus_name" if kind == "campus" else "school_name"])


async def save_window(ctx: Ctx, a: Answers, _extra: Extra) -> list[Reply]:
    """Adds the hours on every chosen day, split by the breaks; all or nothing: inverted hours,
    a break outside them or an overlap keep the form open with the reason (the submit runs in a
    savepoint, so windows added before a refusal are undone)."""
    t = ctx.t
    found = await require_counselor(ctx)
    if isinstance(found, Reply):
        return [found]
    days = sorted({int(d) for d in (a["weekday"] if isinstance(a["weekday"], list) else [a["weekday"]])})
    start, end = parse_hhmm(a["start"]), parse_hhmm(a["end"])
    if end <= start:
        raise Invalid("availability.inverted", field="end", start=a["start"])
    breaks = read_breaks(str(a.get("breaks") or ""))
    if any(not (start < b0 and b1 < end) for b0, b1 in breaks):
        raise Invalid("availability.break_outside", field="breaks", start=a["start"], end=a["end"])
    spans = split_by_breaks(start, end, breaks)
    existing = await counselors.windows(ctx.session, [found.id])
    clash = next((w for w in existing for d in days for s0, s1 in spans
                  if w.weekday == d and w.start_minute < s1 and s0 < w.end_minute), None)
    if clash is not None:
        places = await counselors.places_by_id(ctx.session, [clash.place_id])
        raise Invalid("availability.overlap", field="start", **window_words(t, clash, places.get(clash.place_id)))
    place = await _window_place(ctx, found, a)
    added = []
    try:
        for day in days:
            for s0, s1 in spans:
                added.append(await counselors.add_window(ctx.session, found.id, place.id, day, s0, s1))
    except counselors.OverlapError:
        raise Invalid("availability.overlap_short", field="start") from None
    except ValueError:
        raise Invalid("availability.inverted", field="end", start=a["start"]) from None
    log.info("windows added counselor=%s windows=%s", found.id, [w.id for w in added])
    notice = t("availability.windows_added", days=show_days(days, t), hours=spans_text(spans),
               place=window_place_text(t, place))
    return [await availability_view(ctx, found, notice)]


WINDOW_FORM = Form("window", WINDOW_FIELDS, save_window, opened_by=("availability",))


async def day_off_options(ctx: Ctx, _a: Answers) -> list[Choice]:
    today = ctx.now.astimezone(ctx.settings.tz).date()
    days = [today + dt.timedelta(days=i) for i in range(1, DAY_OFF_BUTTONS + 1)]
    return [Choice(d.isoformat(), text=agenda.date_text(ctx.t, d)) for d in days]


async def save_day_off(ctx: Ctx, a: Answers, _extra: Extra) -> list[Reply]:
    """Adds the day off; sessions already booked that day stay, and the counselor is told how many."""
    t = ctx.t
    found = await require_counselor(ctx)
    if isinstance(found, Reply):
        return [found]
    day = dt.date.fromisoformat(a["day"])
    if (found.id, day) in await counselors.days_off(ctx.session, [found.id], day, day):
        return [await availability_view(ctx, found, t("availability.day_off_exists", date=agenda.date_text(t, day)))]
    await counselors.add_day_off(ctx.session, found.id, day)
    start, end = agenda.day_bounds(day, ctx.settings.tz)
    held = await bookings.for_counselors(ctx.session, [found.id], start, end)
    notice = t("availability.day_off_added", date=agenda.date_text(t, day))
    if held:
        notice += "\n" + t("availability.day_off_has_sessions", n=len(held))
    log.info("day off added counselor=%s", found.id)
    return [await availability_view(ctx, found, notice)]


DAY_OFF_FORM = Form("dayoff", (Field("day", parse=parse_day_off, options=day_off_options, columns=4),),
                    save_day_off, summary=False)


# --- agenda ----------------------------------------------------------------------------------------


async def agenda_replies(ctx: Ctx, counselor: Counselor, notice: str | None = None, *,
                         edit: bool = False) -> list[Reply]:
    """Today (with past sessions still to be marked) and the next seven days."""
    t, tz = ctx.t, ctx.settings.tz
    today = ctx.now.astimezone(tz).date()
    start, end = agenda.day_bounds(today, tz)
    todays = await agenda.load(ctx.session, counselor.id, start, end)
    past = await agenda.load(ctx.session, counselor.id, start - dt.timedelta(days=PAST_DAYS), start, ("booked",))
    week_end = agenda.day_bounds(today + dt.timedelta(days=1), tz, WEEK_DAYS)[1]
    week = await agenda.load(ctx.session, counselor.id, end, week_end, ("booked",))

    # Paragraphs: each session is a block of its own lines, one blank line between blocks.
    blocks = [notice] if notice else []
    blocks.append(t("agenda.title_today", date=agenda.date_text(t, today), n=len(todays)))
    blocks += [agenda.item_text(t, item, tz) for item in todays] or [t("agenda.none_today")]
    if past:
        blocks.append(t("agenda.title_past"))
        blocks += [agenda.item_text(t, item, tz, with_date=True) for item in past]
    markable = [i for i in past + todays if i.status == "booked" and i.starts_at <= ctx.now]
    buttons: list[list[Button]] = []
    if markable:
        blocks.append(t("agenda.mark_hint"))
        for item in markable:
            local = item.starts_at.astimezone(tz)
            when = local.strftime("%H:%M") if local.date() == today else f"{local.month}/{local.day} {local:%H:%M}"
            who = item.person or t("agenda.no_name")
            buttons.append([
                Button(t("agenda.btn_attended", when=when, person=who),
                       Attended(item.booking_id, stamp(item.created_at)).pack()),
                Button(t("agenda.btn_no_show", when=when),
                       NoShow(item.booking_id, stamp(item.created_at)).pack()),
            ])
    first = Reply("\n\n".join(blocks), buttons, edit=edit)

    last_day = today + dt.timedelta(days=WEEK_DAYS)
    first_day = today + dt.timedelta(days=1)
    week_blocks = [t("agenda.title_week", first=f"{first_day.month}/{first_day.day}",
                     last=f"{last_day.month}/{last_day.day}", n=len(week))]
    by_day: dict[dt.date, list[str]] = {}
    for item in week:
        by_day.setdefault(item.starts_at.astimezone(tz).date(), []).append(agenda.item_text(t, item, tz))
    # One block per day: the date, then that day's sessions line after line.
    week_blocks += ["\n".join([f"📆 {agenda.date_text(t, day)}", *items]) for day, items in by_day.items()]
    if not week:
        week_blocks.append(t("agenda.none_week"))
    return [first, Reply("\n\n".join(week_blocks))]


async def agenda_command(ctx: Ctx, _args: Sequence[str]) -> list[Reply]:
    found = await require_counselor(ctx)
    if isinstance(found, Reply):
        return [found]
    return await agenda_replies(ctx, found)


async def mark(ctx: Ctx, counselor: Counselor, press: Attended | NoShow, status: str) -> list[Reply]:
    """Attended / no-show, only for this counselor's own session that has started and is still booked."""
    t = ctx.t
    booking = await bookings.get(ctx.session, press.booking, for_update=True)
    if booking is None or not same_record(press.proof, booking.created_at) or booking.counselor_id != counselor.id:
        log.info("mark refused (not own) counselor=%s", counselor.id)
        return [Reply(t("agenda.not_found"))]
    if booking.status != "booked":
        return [Reply(t("agenda.already_marked", status=t(f"agenda.status.{booking.status}")))]
    if booking.starts_at > ctx.now:
        return [Reply(t("agenda.not_started"))]
    await bookings.mark(ctx.session, booking, status)
    log.info("session marked booking=%s status=%s counselor=%s", booking.id, status, counselor.id)
    names = await bookings.person_names(ctx.session, [booking.user_id])
    who = names.get(booking.user_id) or t("agenda.no_name")
    when = booking.starts_at.astimezone(ctx.settings.tz).strftime("%H:%M")
    if status == "no_show":
        notice = t("agenda.marked_no_show", when=when, person=who,
                   n=(await bookings.no_show_counts(ctx.session, [booking.user_id])).get(booking.user_id, 0))
    else:
        notice = t("agenda.marked_attended", when=when, person=who)
    return (await agenda_replies(ctx, counselor, notice, edit=True))[:1]


# --- counselor buttons -----------------------------------------------------------------------------


async def _add_window(ctx: Ctx, _c: Counselor, _press: AddWindow) -> list[Reply]:
    return await ctx.app.start_form(ctx, "window")


async def _add_day_off(ctx: Ctx, _c: Counselor, _press: AddDayOff) -> list[Reply]:
    return await ctx.app.start_form(ctx, "dayoff")


async def _remove_window(ctx: Ctx, counselor: Counselor, press: RemoveWindow) -> list[Reply]:
    t = ctx.t
    window_id = press.window
    rows = [w for w in await counselors.windows(ctx.session, [counselor.id]) if w.id == window_id]
    if not rows or not await counselors.remove_window(ctx.session, counselor.id, window_id):
        return [await availability_view(ctx, counselor, t("availability.window_gone"))]
    places = await counselors.places_by_id(ctx.session, [rows[0].place_id])
    words = window_words(t, rows[0], places.get(rows[0].place_id))
    log.info("window removed counselor=%s window=%s", counselor.id, window_id)
    return [await availability_view(ctx, counselor, t("availability.window_removed", **words), edit=True)]


async def _remove_day_off(ctx: Ctx, counselor: Counselor, press: RemoveDayOff) -> list[Reply]:
    t = ctx.t
    day = await counselors.remove_day_off(ctx.session, counselor.id, press.day_off)
    if day is None:
        return [await availability_view(ctx, counselor, t("availability.day_off_gone"))]
    return [await availability_view(ctx, counselor, t("availability.day_off_removed", date=agenda.date_text(t, day)),
                                    edit=True)]


async def _attended(ctx: Ctx, counselor: Counselor, press: Attended) -> list[Reply]:
    return await mark(ctx, counselor, press, "attended")


async def _no_show(ctx: Ctx, counselor: Counselor, press: NoShow) -> list[Reply]:
    return await mark(ctx, counselor, press, "no_show")


def counselor_only(action: Callable[[Ctx, Counselor, P], Awaitable[list[Reply]]]
                   ) -> Callable[[Ctx, P], Awaitable[list[Reply]]]:
    """A `cs` button's handler, given the counselor (checked again: the guard only refuses), then
    the action re-checks ownership."""
    async def handler(ctx: Ctx, press: P) -> list[Reply]:
        found = await require_counselor(ctx)
        if isinstance(found, Reply):
            return [found]
        return await action(ctx, found, press)
    return handler


# --- admins: list and deactivate ------------------------------------------------------------------


async def counselors_command(ctx: Ctx, args: Sequence[str]) -> list[Reply]:
    return await counselors_page(ctx, arg_int(args, 0, default=0))


async def counselors_page(ctx: Ctx, offset: int) -> list[Reply]:
    """Lists counselors, active first, with upcoming sessions and a 비활성화 button."""
    t, tz = ctx.t, ctx.settings.tz
    everyone = await counselors.all_counselors(ctx.session)
    if not everyone:
        return [Reply(t("counselors.none"))]
    page = everyone[offset:offset + PAGE]
    upcoming = await bookings.upcoming_counts(ctx.session, [c.id for c in page], ctx.now)
    out = [Reply(t("counselors.title", n=len(everyone), active=sum(c.active for c in everyone)))]
    for c in page:
        if c.active:
            status = t("counselors.active")
        else:
            since = c.deactivated_at.astimezone(tz).strftime("%Y-%m-%d") if c.deactivated_at else "-"
            status = t("counselors.inactive", date=since)
        text = t("counselors.item", name=c.display_name, types=types_text(t, c.types), status=status,
                 upcoming=upcoming.get(c.id, 0))
        deactivate = Button(t("counselors.deactivate"), AskDeactivate(c.id, stamp(c.created_at)).pack())
        rows = [[deactivate]] if c.active else []
        out.append(Reply(text, rows))
    if offset + PAGE < len(everyone):
        out.append(Reply(t("counselors.more", n=len(everyone) - offset - PAGE),
                         [[Button(t("counselors.next_page"), CounselorsPage(offset + PAGE).pack())]]))
    return out


async def ask_deactivate(ctx: Ctx, press: AskDeactivate) -> list[Reply]:
    t = ctx.t
    counselor = await counselors.get(ctx.session, press.counselor)
    if counselor is None or not same_record(press.proof, counselor.created_at):
        return [Reply(t("counselors.not_found"))]
    if not counselor.active:
        return [Reply(t("counselors.already_inactive", name=counselor.display_name))]
    n = (await bookings.upcoming_counts(ctx.session, [counselor.id], ctx.now)).get(counselor.id, 0)
    return [Reply(t("counselors.confirm_deactivate", name=counselor.display_name, n=n),
                  [[Button(t("counselors.confirm_yes"),
                           Deactivate(counselor.id, stamp(counselor.created_at)).pack()),
                    Button(t("counselors.confirm_no"), KeepCounselor().pack())]])]


async def deactivate(ctx: Ctx, press: Deactivate) -> list[Reply]:
    """Deactivates; each future session is cancelled and its person offered another time."""
    t, tz = ctx.t, ctx.settings.tz
    counselor = await counselors.get_for_update(ctx.session, press.counselor)
    if counselor is None or not same_record(press.proof, counselor.created_at):
        return [Reply(t("counselors.not_found"))]
    if not counselor.active:
        return [Reply(t("counselors.already_inactive", name=counselor.display_name))]
    await counselors.deactivate(ctx.session, counselor, ctx.now)
    ctx.app.roles_changed(ctx, counselor.user_id)  # and loses them
    future = await bookings.future_for_counselor(ctx.session, counselor.id, ctx.now)
    places = await counselors.places_by_id(ctx.session, [b.place_id for b in future])
    notified = 0
    for booking in future:
        notified += await cancellations.cancel_and_tell(ctx.session, booking, places[booking.place_id],
                                                        reason="counselor_inactive", tz=tz, now=ctx.now)
    await queue.to_user(ctx.session, counselor.user_id, lambda tr: Reply(tr("counselor.you_deactivated")),
                        now=ctx.now, kind="counselor.deactivated")
    await audit(ctx.session, ctx.user.id, "counselor.deactivate", f"counselor:{counselor.id}", ctx.now,
                {"cancelled": [b.id for b in future]})
    log.info("counselor deactivated counselor=%s by user=%s cancelled=%s", counselor.id, ctx.user.id, len(future))
    return [Reply(t("counselors.deactivated", name=counselor.display_name, n=len(future), notified=notified),
                  edit=True)]


async def keep(ctx: Ctx, _press: KeepCounselor) -> list[Reply]:
    return [Reply(ctx.t("counselors.kept"), edit=True)]


def agenda_at(settings: Settings) -> At:
    """Weekday mornings at AGENDA_TIME. The dedupe key keeps the agenda to once a day, so a late
    start (within the hour) may still send it."""
    minutes = parse_hhmm(settings.agenda_time)
    return At(minutes // 60, minutes % 60, days="mon-fri", grace=3600)


def build() -> Router:
    return Router(
        name="counselor",
        commands=[
            CommandRoute("invite", invite, admin=True, describe="cmd.invite"),
            CommandRoute("counselors", counselors_command, admin=True, describe="cmd.counselors"),
            # In counselors' /help and command menu only (most people are not counselors).
            CommandRoute("availability", availability, describe="cmd.availability", roles=("counselor",)),
            CommandRoute("agenda", agenda_command, describe="cmd.agenda", roles=("counselor",)),
        ],
        buttons=[on(AddWindow, counselor_only(_add_window), guard=not_counselor),
                 on(AddDayOff, counselor_only(_add_day_off), guard=not_counselor),
                 on(RemoveWindow, counselor_only(_remove_window), guard=not_counselor),
                 on(RemoveDayOff, counselor_only(_remove_day_off), guard=not_counselor),
                 on(Attended, counselor_only(_attended), guard=not_counselor),
                 on(NoShow, counselor_only(_no_show), guard=not_counselor),
                 on(CounselorsPage, lambda ctx, press: counselors_page(ctx, press.offset), admin=True),
                 on(AskDeactivate, ask_deactivate, admin=True), on(Deactivate, deactivate, admin=True),
                 on(KeepCounselor, keep, admin=True)],
        forms=[ONBOARDING_FORM, WINDOW_FORM, DAY_OFF_FORM],
        menu=[
            MenuItem("menu.agenda", "agenda", visible=is_counselor, order=30),
            MenuItem("menu.availability", "availability", visible=is_counselor, order=31),
            MenuItem("menu.counselors", "counselors", admin=True, order=60),
        ],
        deep_links={"inv_": open_invite},
        phrases={"상담일정": "agenda", "오늘일정": "agenda", "agenda": "agenda", "상담가능시간": "availability",
                 "availability": "availability"},
        jobs=[Job("agenda", agenda.send_daily_agenda, at=agenda_at)],
    )
