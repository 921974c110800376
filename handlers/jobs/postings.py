"""Jobs (`/jobs`, 채용정보): postings of vetted firms matched to the seeker, and referrals.

What a seeker goes through:
1. `/jobs` (or 채용정보 in the menu). No open postings at all (none loaded yet): the bot
   says so, and tells an admin how to load them (/import, `python -m bot firms import`;
   every start loads the demo set on an empty database unless DEMO_DATA=false). Not
   registered yet: an offer to register first (구직등록), after which the postings follow.
   Registered: the five best postings for their profile (`matching`), each with its firm
   card (서울형 강소기업 badge while the vetting holds, industry, district, founded year,
   employees, revenue, benefits), the title, salary, deadline, the score and why it
   matched. Closed or past-deadline postings are never shown. Nothing scoring
   JOBS_MIN_SCORE or more: the bot says so and suggests widening districts or desired
   jobs, with a button to edit the profile.
2. Each posting has 자세히 (duties, skills, education, experience, hours, the firm's
   history, website), 관심 있어요 and 관심 없어요; the list ends with 다음 5개.
3. 관심 있어요 asks for a referral (취업알선): a counselor gets the seeker's profile summary
   and the posting through the outbox, with 알선 완료 / 채용 / 불발 buttons
   (`handlers.jobs.referrals`), and the seeker is told each outcome. A second press on the
   same posting says it was already asked for, with its status.
4. 관심 없어요 hides the posting from this person from then on.
5. `/firms 이름` finds firms by name, tolerating typos and spacing, each with a button
   for its open postings. Admins also see closed and past-deadline ones, marked 마감 and
   without 관심 있어요.
Every press is checked again: a posting deleted, closed or past its deadline since it
was shown gets a clear line instead of an action.

Seekers who switched on the daily job digest in `/settings` get at most one message a
day (after JOBS_DIGEST_TIME) listing new postings that score JOBS_DIGEST_MIN_SCORE or
more for them (`send_digests`, run by the scheduler).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import matching
from handlers.jobs.referrals import outcome_buttons, request_text
from handlers.jobs.registration import SEEKER_FIELDS
from kernel import parsers
from kernel.config import Settings, parse_hhmm
from kernel.core import (
    Button,
    Card,
    Clock,
    CommandRoute,
    Ctx,
    Job,
    MenuItem,
    Reply,
    Router,
    arg_int,
    on,
    payload,
)
from kernel.forms import Answers, Extra, Field, Form, FormRunner
from kernel.i18n import Translator, day_label, known_name, money, money_range, translator
from kernel.payloads import Payload
from matching.evaluate import seeker_from
from scheduler import queue
from storage import counselors, firms, outbox, referrals, seekers, users
from storage.models import Firm, JobDigest, Posting, Referral, SeekerProfile, User

log = logging.getLogger(__name__)

PAGE = 5
FIRM_RESULTS = 5
DIGEST_ITEMS = 5
DIGEST_INTERVAL_SECONDS = 600


# --- buttons ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobsPage(Payload, prefix="job", action="p"):
    offset: int


@dataclass(frozen=True)
class PostingDetails(Payload, prefix="job", action="d"):
    posting: int


@dataclass(frozen=True)
class Interested(Payload, prefix="job", action="i"):
    posting: int


@dataclass(frozen=True)
class NotInterested(Payload, prefix="job", action="x"):
    posting: int


@dataclass(frozen=True)
class FirmPostings(Payload, prefix="job", action="f"):
    firm: int


# --- the postings seen today, as a reusable index ---------------------------------------------------


@dataclass
class _Cached:
    stamp: tuple[object, ...]
    index: matching.PostingIndex
    rows: dict[int, tuple[Posting, Firm]]


_cache: dict[str, _Cached] = {}
CACHED_DATABASES = 4  # one per database this process serves; tests open many


async def _stamp(session: AsyncSession, today: dt.date) -> tuple[object, ...]:
    posting = (await session.execute(select(func.count(), func.max(Posting.updated_at)).select_from(Posting))).one()
    firm = await session.scalar(select(func.max(Firm.updated_at)))
    # One cache per database (tests and several bots in one process use several).
    return today, str(getattr(session.bind, "url", "")), firms.generation(), *posting, firm


async def shown_index(session: AsyncSession, today: dt.date) -> tuple[matching.PostingIndex,
                                                                        dict[int, tuple[Posting, Firm]]]:
    """The postings shown today, scored many at a time; rebuilt only when postings or firms change."""
    stamp = await _stamp(session, today)
    key = str(stamp[1])
    cached = _cache.get(key)
    if cached is None or cached.stamp != stamp:
        rows = await firms.shown(session, today)
        index = matching.PostingIndex([firms.view(p, f) for p, f in rows], today)
        cached = _Cached(stamp, index, {p.id: (p, f) for p, f in rows})
        _cache.pop(key, None)
        while len(_cache) >= CACHED_DATABASES:
            del _cache[next(iter(_cache))]
        _cache[key] = cached
    return cached.index, cached.rows


def seeker_view(profile: SeekerProfile, today: dt.date, settings: Settings) -> matching.Seeker:
    """What the scorer sees of a profile: the labelled evaluation set goes through the same
    `seeker_from`, so a student is scored in the bot as the measured figures say."""
    return seeker_from(seekers.as_answers(profile), today, settings.student_grad_window_months)


def local_today(ctx_now: dt.datetime, settings: Settings) -> dt.date:
    return ctx_now.astimezone(settings.tz).date()


# --- texts ---------------------------------------------------------------------------------------------


def salary_text(t: Translator, low: int | None, high: int | None) -> str:
    if low is None and high is None:
        return t("jobs.salary_undisclosed")
    if high is None or low is None or low == high:
        one = high if high is not None else low
        assert one is not None
        return t("jobs.salary_one", amount=money(t, one))
    return t("jobs.salary_one", amount=money_range(t, low, high))


def revenue_text(t: Translator, revenue: int | None) -> str:
    """Revenue is kept in 백만원; a firm's card gives it to the 억 (9,597 → "96억원" / "₩9.6 billion"),
    a yearly figure that is approximate anyway."""
    if revenue is None:
        return "-"
    in_manwon = revenue * 100
    return money(t, round(in_manwon, -4) if in_manwon >= 10_000 else in_manwon)


def deadline_text(t: Translator, deadline: dt.date | None, today: dt.date) -> str:
    if deadline is None:
        return t("jobs.deadline_open")
    days = (deadline - today).days
    if days < 0:
        # An admin sees past postings too: "D--5" read as a countdown, not as closed.
        return t("jobs.deadline_passed", day=day_label(t, deadline, "MMMd"))
    return t("jobs.deadline", day=day_label(t, deadline, "MMMd"),
             left=t("jobs.d_day") if days == 0 else t("jobs.d_minus", n=days))


def programme_text(t: Translator, firm: Firm) -> str:
    """The vetting programme, kept as imported (in Korean), as the reader says it: "서울형 강소기업" /
    "Seoul Strong SME"."""
    return known_name(t, "programme", firm.programme)


def firm_card(t: Translator, firm: Firm, today: dt.date) -> str:
    lines = [t("jobs.firm_name", name=firm.name) + (" " + t("jobs.vetted_badge", programme=programme_text(t, firm))
                                                     if firms.vetted(firm, today) else "")]
    facts = [t(f"industry.{firm.industry}"), t(f"district.{firm.district}")]
    if firm.founded_year:
        facts.append(t("jobs.founded", year=firm.founded_year))
    if firm.employees:
        facts.append(t("jobs.employees", n=f"{firm.employees:,}"))
    if firm.revenue is not None:
        facts.append(t("jobs.revenue", amount=revenue_text(t, firm.revenue)))
    lines.append(" · ".join(facts))
    if firm.benefits:
        lines.append(t("jobs.benefits", items=", ".join(t(f"benefit.{b}") for b in firm.benefits)))
    return "\n".join(lines)


def reason_text(t: Translator, reason: matching.Reason) -> str:
    params: dict[str, object] = dict(reason.params)
    for name in ("district", "near"):
        if name in params:
            params[name] = t(f"district.{params[name]}")
    if "years" in params:  # the count that picks the English form: "1 year", "3 years"
        params["n"] = int(str(params.pop("years")))
    if "amount" in params:  # 만원, a number: "최대 1억 2,000만원" / "up to ₩120 million"
        params["amount"] = money(t, int(str(params["amount"])))
    if "need" in params:
        params["need"] = t(f"min_education.{params['need']}")
    return t(f"jobs.reason.{reason.code}", **params)


def posting_card(t: Translator, posting: Posting, firm: Firm, today: dt.date, match: matching.Match | None,
                 rank: int | None = None) -> str:
    head = t("jobs.posting_title", title=posting.title)
    if rank is not None:
        head = f"{rank}. {head}"
    if match is not None:
        head += " " + t("jobs.score", score=match.score)
    lines = [head, firm_card(t, firm, today)]
    if posting.district != firm.district:
        # The firm's line names its head office; a reason "workplace in 종로구" under a firm in
        # 금천구 would read as a mistake without the posting's own workplace.
        lines.append(t("jobs.workplace", district=t(f"district.{posting.district}")))
    lines.append(t("jobs.pay_deadline", salary=salary_text(t, posting.salary_min, posting.salary_max),
                   deadline=deadline_text(t, posting.deadline, today)))
    if match is not None and match.reasons:
        lines.append(t("jobs.why", reasons=", ".join(reason_text(t, r) for r in match.reasons)))
    return "\n".join(lines)


def posting_summary(t: Translator, posting: Posting, firm: Firm, today: dt.date, match: matching.Match | None,
                    rank: int | None = None) -> Card:
    """The posting as one card of a list: title, firm, pay and deadline, score (see `Card.of`)."""
    title = posting.title if rank is None else f"{rank}. {posting.title}"
    badge = " " + t("jobs.vetted_badge", programme=programme_text(t, firm)) if firms.vetted(firm, today) else ""
    return Card.of(title, t("jobs.firm_name", name=firm.name) + badge,
                   t("jobs.pay_deadline", salary=salary_text(t, posting.salary_min, posting.salary_max),
                     deadline=deadline_text(t, posting.deadline, today)),
                   t("jobs.score_line", score=match.score) if match is not None else "")


def firm_summary(t: Translator, firm: Firm, today: dt.date) -> Card:
    facts = [t(f"industry.{firm.industry}"), t(f"district.{firm.district}")]
    if firm.employees:
        facts.append(t("jobs.employees", n=f"{firm.employees:,}"))
    badge = t("jobs.vetted_badge", programme=programme_text(t, firm)) if firms.vetted(firm, today) else ""
    return Card.of(firm.name, " · ".join(facts), badge)


def posting_buttons(t: Translator, posting_id: int, *, details: bool = True) -> list[list[Button]]:
    row = [Button(t("jobs.details"), PostingDetails(posting_id).pack())] if details else []
    row.append(Button(t("jobs.interested"), Interested(posting_id).pack()))
    return [row, [Button(t("jobs.not_interested"), NotInterested(posting_id).pack())]]


def details_text(t: Translator, posting: Posting, firm: Firm, today: dt.date, match: matching.Match | None) -> str:
    experience = (t("jobs.exp_any") if posting.exp_min == 0 and posting.exp_max is None else
                  t("jobs.exp_range", low=posting.exp_min, high=posting.exp_max) if posting.exp_max is not None
                  else t("jobs.exp_min", low=posting.exp_min))
    lines = [posting_card(t, posting, firm, today, match), "",
             t("jobs.d.duties", text=posting.duties),
             t("jobs.d.skills", required=", ".join(posting.required_skills) or "-",
               preferred=", ".join(posting.preferred_skills) or "-"),
             t("jobs.d.conditions", education=t(f"min_education.{posting.min_education}"), experience=experience,
               employment=t(f"employment.{posting.employment_type}"), hours=posting.hours or "-",
               district=t(f"district.{posting.district}")),
             t("jobs.d.firm", address=firm.address, brn=firms.show_brn(firm.brn), website=firm.website or "-")]
    if firm.history:
        lines.append(t("jobs.d.history", text=firm.history))
    if firm.vetted_on is not None:
        lines.append(t("jobs.d.vetting", programme=programme_text(t, firm), since=day_label(t, firm.vetted_on, "yMMMd"),
                       until=day_label(t, firm.vetting_expires, "yMMMd") if firm.vetting_expires else "-"))
    return "\n".join(lines)


# --- /jobs ------------------------------------------------------------------------------------------------


async def _profile_or_offer(ctx: Ctx) -> SeekerProfile | list[Reply]:
    profile = await seekers.get(ctx.session, ctx.user.id)
    if profile is None:
        t = ctx.t
        return [Reply(t("jobs.register_first"), [[Button(t("menu.register"), payload("m", "register", "jobs"))]])]
    return profile


async def show_jobs(ctx: Ctx, args: Sequence[str]) -> list[Reply]:
    """`/jobs [offset]`; `/jobs district=mapo job=웹개발` (the front door, from "마포구 웹 개발
    일자리") ranks for that district and job in place of the profile's."""
    wanted = dict(a.split("=", 1) for a in args if "=" in a)
    district = wanted.get("district") if wanted.get("district") in seekers.DISTRICTS else None
    job = " ".join(wanted.get("job", "").split())[:40] or None
    _keep_filter(ctx, {"district": district, "job": job} if district or job else None)
    if district or job:
        return await jobs_page(ctx, 0, district=district, job=job)
    return await jobs_page(ctx, arg_int(args, 0, default=0))


# The conditions of a filtered list, kept in the conversation while no form holds it, so that
# "다음 5개" goes on with them (a job in words does not fit in a button's 64 bytes).
FILTER_KEY = "jobs_filter"


def _keep_filter(ctx: Ctx, wanted: dict[str, str | None] | None) -> None:
    if ctx.conv.flow is not None:
        return
    data = {k: v for k, v in (ctx.conv.data or {}).items() if k != FILTER_KEY}
    ctx.conv.data = {**data, FILTER_KEY: wanted} if wanted else data


async def next_page(ctx: Ctx, press: JobsPage) -> list[Reply]:
    kept = (ctx.conv.data or {}).get(FILTER_KEY) if ctx.conv.flow is None else None
    if not isinstance(kept, dict):
        return await jobs_page(ctx, press.offset)
    district, job = kept.get("district"), kept.get("job")
    return await jobs_page(ctx, press.offset, district=district if district in seekers.DISTRICTS else None,
                           job=str(job)[:40] if job else None)


async def jobs_page(ctx: Ctx, offset: int, *, district: str | None = None, job: str | None = None) -> list[Reply]:
    """A page of the best postings from `offset` on, for `district` and `job` in place of the
    profile's when given (the next page keeps them: `next_page`)."""
    t = ctx.t
    today = local_today(ctx.now, ctx.settings)
    index, rows = await shown_index(ctx.session, today)
    if not rows:
        # Nothing loaded (a fresh machine with DEMO_DATA=false) or nothing open: not the person's
        # conditions, so no "widen your districts"; an admin is told how to load postings.
        text = t("jobs.no_postings")
        if ctx.is_admin:
            text += "\n\n" + t("jobs.no_postings_admin")
        return [Reply(text)]
    found = await _profile_or_offer(ctx)
    if isinstance(found, list):
        return found
    seeker = seeker_view(found, today, ctx.settings)
    filtered = ""
    if district or job:
        seeker = dataclasses.replace(seeker, districts=(district,) if district else seeker.districts,
                                     desired_jobs=(job,) if job else seeker.desired_jobs)
        filtered = t("jobs.filtered", what=" · ".join(
            ([t(f"district.{district}")] if district else []) + ([job] if job else []))) + "\n"
    hidden = await firms.hidden_ids(ctx.session, ctx.user.id)
    floor = ctx.settings.jobs_min_score
    total = index.count(seeker, min_score=floor, exclude=hidden)
    if total == 0:
        return [Reply(filtered + t("jobs.none"), [[Button(t("profile.edit"), payload("m", "profile", "edit")),
                                        Button(t("menu.settings"), payload("m", "settings"))]])]
    if offset >= total:
        offset = 0
    found_matches = index.top(seeker, PAGE, min_score=floor, exclude=hidden, offset=offset)
    out = [Reply(filtered + t("jobs.header", total=total, first=offset + 1, last=offset + len(found_matches)))]
    for i, m in enumerate(found_matches, start=offset + 1):
        posting, firm = rows[m.posting_id]
        out.append(Reply(posting_card(t, posting, firm, today, m, rank=i), posting_buttons(t, posting.id),
                         card=posting_summary(t, posting, firm, today, m, rank=i)))
    if offset + PAGE < total:
        out.append(Reply(t("jobs.more", n=total - offset - PAGE),
                         [[Button(t("jobs.next_page"), JobsPage(offset + PAGE).pack())]]))
    return out


async def _live_posting(ctx: Ctx, posting_id: int) -> tuple[Posting, Firm] | Reply:
    """The posting if seekers may still act on it; otherwise the line that says why not."""
    found = await firms.get_posting(ctx.session, posting_id)
    if found is None:
        return Reply(ctx.t("jobs.gone"))
    posting, _ = found
    if not firms.view(*found).shown_on(local_today(ctx.now, ctx.settings)):
        return Reply(ctx.t("jobs.closed", title=posting.title))
    return found


async def details(ctx: Ctx, press: PostingDetails) -> list[Reply]:
    found = await _live_posting(ctx, press.posting)
    if isinstance(found, Reply):
        return [found]
    posting, firm = found
    profile = await seekers.get(ctx.session, ctx.user.id)
    match = matching.score_pair(seeker_view(profile, local_today(ctx.now, ctx.settings), ctx.settings),
                                 firms.view(posting, firm)) if profile else None
    return [Reply(details_text(ctx.t, posting, firm, local_today(ctx.now, ctx.settings), match),
                  posting_buttons(ctx.t, posting.id, details=False))]


def profile_summary(t: Translator, runner: FormRunner, profile: SeekerProfile, now: dt.datetime,
                    tz: dt.tzinfo) -> str:
    """The seeker as a counselor needs them for a referral, worded as the registration form words it."""
    values = seekers.as_answers(profile)
    lines = [t("referral.profile_head", name=profile.name, age=now.astimezone(tz).year - profile.birth_year)]
    for fld in SEEKER_FIELDS:
        if fld.name in values and fld.name not in ("name", "birth_year") and (fld.when is None or fld.when(values)):
            lines.append(f"• {t(f'label.seeker.{fld.name}')}: {runner.display(t, fld, values[fld.name])}")
    return "\n".join(lines)


async def interested(ctx: Ctx, press: Interested) -> list[Reply]:
    """관심 있어요: a referral request, once per posting, sent to a counselor."""
    t = ctx.t
    found_profile = await _profile_or_offer(ctx)
    if isinstance(found_profile, list):
        return found_profile
    posting_id = press.posting
    existing = await referrals.find(ctx.session, ctx.user.id, posting_id)
    if existing is not None:
        return [Reply(t("jobs.already_asked", status=t(f"referral.status.{existing.status}")))]
    found = await _live_posting(ctx, posting_id)
    if isinstance(found, Reply):
        return [found]
    posting, firm = found
    match = matching.score_pair(seeker_view(found_profile, local_today(ctx.now, ctx.settings), ctx.settings),
                                 firms.view(posting, firm))
    row, created = await referrals.request(ctx.session, ctx.user.id, posting.id, firm.id, match.score, ctx.now)
    if not created:
        return [Reply(t("jobs.already_asked", status=t(f"referral.status.{row.status}")))]
    await _tell_staff(ctx, row, found_profile, posting, firm)
    log.info("referral requested referral=%s user=%s posting=%s", row.id, ctx.user.id, posting.id)
    return [Reply(t("jobs.asked", title=posting.title, firm=firm.name))]


async def _tell_staff(ctx: Ctx, row: Referral, profile: SeekerProfile, posting: Posting, firm: Firm) -> None:
    def render(tr: Translator) -> Reply:
        summary = profile_summary(tr, ctx.app.runner, profile, ctx.now, ctx.settings.tz)
        return Reply(request_text(tr, row, summary, posting, firm),
                     outcome_buttons(tr, row))

    key = f"referral:{row.id}:new"
    if row.counselor_id is not None:
        counselor = await counselors.get(ctx.session, row.counselor_id)
        if counselor is not None and await queue.to_user(ctx.session, counselor.user_id, render, now=ctx.now,
                                                         kind="referral.new", dedupe_key=key, about=row.user_id):
            return
    await queue.to_admins(ctx.session, ctx.settings, render, now=ctx.now, kind="referral.new", dedupe_key=key,
                          about=row.user_id)


async def not_interested(ctx: Ctx, press: NotInterested) -> list[Reply]:
    posting_id = press.posting
    found = await firms.get_posting(ctx.session, posting_id)
    if found is None:
        return [Reply(ctx.t("jobs.gone"))]
    await firms.hide(ctx.session, ctx.user.id, posting_id, ctx.now)
    return [Reply(ctx.t("jobs.hidden", title=found[0].title), edit=True)]


# --- /firms -------------------------------------------------------------------------------------------------


async def find_firms(ctx: Ctx, args: Sequence[str]) -> list[Reply]:
    t = ctx.t
    query = " ".join(args).strip()
    if not query:
        return await ctx.app.start_form(ctx, "firm_search")
    if len(query) > 40:
        return [Reply(t("invalid.too_long", max=40, length=len(query)))]
    return await _firms_found(ctx, query)


async def _search_submit(ctx: Ctx, a: Answers, _extra: Extra) -> list[Reply]:
    return await _firms_found(ctx, str(a["name"]))


# /firms without a name asks for it: one question, its answer searched like the argument.
FIRM_SEARCH_FORM = Form("firm_search", (Field("name", parse=parsers.text(40)),), _search_submit, summary=False,
                        opened_by=("firms",), keep_draft=False)


async def _firms_found(ctx: Ctx, query: str) -> list[Reply]:
    t = ctx.t
    found = await firms.search(ctx.session, query, FIRM_RESULTS)
    if not found:
        return [Reply(t("firms.none", query=query))]
    today = local_today(ctx.now, ctx.settings)
    out = [Reply(t("firms.found", n=len(found), query=query))]
    for firm in found:
        out.append(Reply(firm_card(t, firm, today), [[Button(t("firms.postings"), FirmPostings(firm.id).pack())]],
                         card=firm_summary(t, firm, today)))
    return out


async def firm_postings(ctx: Ctx, press: FirmPostings) -> list[Reply]:
    """The open postings of one firm, scored for the person when they are registered."""
    t = ctx.t
    firm = await firms.get_firm(ctx.session, press.firm)
    if firm is None:
        return [Reply(t("jobs.gone"))]
    today = local_today(ctx.now, ctx.settings)
    profile = await seekers.get(ctx.session, ctx.user.id)
    # Admins also see closed and past-deadline postings, to reopen or edit them.
    shown = [p for p in await firms.postings_of(ctx.session, firm.id)
             if ctx.is_admin or firms.view(p, firm).shown_on(today)]
    if not shown:
        return [Reply(t("firms.no_postings", name=firm.name))]
    out = [Reply(t("firms.postings_of", name=firm.name, n=len(shown)))]
    for posting in shown:
        match = matching.score_pair(seeker_view(profile, local_today(ctx.now, ctx.settings), ctx.settings),
                                 firms.view(posting, firm)) if profile else None
        # What is closed or past its deadline (shown to admins only) offers no 관심 있어요: nothing to apply to.
        buttons = (posting_buttons(t, posting.id) if firms.view(posting, firm).shown_on(today)
                   else [[Button(t("jobs.details"), PostingDetails(posting.id).pack())]])
        if ctx.is_admin:
            buttons.append([Button(t("posting.manage", status=t(f"posting.status.{posting.status}")),
                                   payload("m", "posting", posting.id))])
        out.append(Reply(posting_card(t, posting, firm, today, match), buttons,
                         card=posting_summary(t, posting, firm, today, match)))
    return out


# --- the daily digest -----------------------------------------------------------------------------------------


async def send_digests(sessions: async_sessionmaker[AsyncSession], settings: Settings, clock: Clock) -> int:
    """Queue today's digest for every opted-in seeker with new postings worth it; the number queued."""
    now = clock.now()
    local = now.astimezone(settings.tz)
    if local.hour * 60 + local.minute < parse_hhmm(settings.jobs_digest_time):
        return 0
    today = local.date()
    queued = 0
    async with sessions() as session, session.begin():
        rows = (await session.execute(
            select(JobDigest, SeekerProfile).join(SeekerProfile, SeekerProfile.user_id == JobDigest.user_id)
            .where((JobDigest.last_sent_on.is_(None)) | (JobDigest.last_sent_on < today)))).all()
        for digest, profile in rows:
            fresh = await firms.shown(session, today, created_after=digest.since)
            if not fresh:
                continue
            index = matching.PostingIndex([firms.view(p, f) for p, f in fresh], today)
            hidden = await firms.hidden_ids(session, profile.user_id)
            best = index.top(seeker_view(profile, today, settings), DIGEST_ITEMS,
                             min_score=settings.jobs_digest_min_score, exclude=hidden)
            if not best:
                continue
            identity = await users.reachable_identity(session, profile.user_id)
            user = await session.get(User, profile.user_id)
            if identity is None or user is None:
                continue
            t = translator(user.locale)
            by_id = {p.id: (p, f) for p, f in fresh}
            lines = [t("jobs.digest_head", n=len(best))]
            for m in best:
                posting, firm = by_id[m.posting_id]
                lines.append(t("jobs.digest_item", title=posting.title, firm=firm.name, score=m.score,
                               deadline=deadline_text(t, posting.deadline, today)))
            reply = Reply("\n".join(lines), [[Button(t("jobs.digest_open"), payload("m", "jobs"))]])
            queued += await outbox.enqueue(session, channel=identity.channel, chat_id=identity.chat_id,
                                           user_id=profile.user_id, kind="jobs.digest", payload=reply.to_payload(),
                                           now=now, dedupe_key=f"jobs.digest:{profile.user_id}:{today.isoformat()}")
            digest.last_sent_on, digest.since = today, now
    if queued:
        log.info("queued %s job digests", queued)
    return queued


def build() -> Router:
    return Router(
        name="jobs",
        commands=[CommandRoute("jobs", show_jobs, describe="cmd.jobs"),
                  CommandRoute("firms", find_firms, describe="cmd.firms")],
        buttons=[on(JobsPage, next_page), on(PostingDetails, details),
                 on(Interested, interested), on(NotInterested, not_interested), on(FirmPostings, firm_postings)],
        forms=[FIRM_SEARCH_FORM],
        menu=[MenuItem("menu.jobs", "jobs", order=20)],
        phrases={"채용정보": "jobs", "일자리": "jobs", "채용공고": "jobs", "jobs": "jobs", "기업검색": "firms"},
        jobs=[Job("job-digests", send_digests, every=DIGEST_INTERVAL_SECONDS)],
    )
