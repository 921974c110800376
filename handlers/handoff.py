"""Talking to a person ("상담원 연결"): the bot relays messages between a user and a counselor.

What the user goes through:
1. `/human` (or 💬 상담원 연결 in the menu). Outside opening hours (OPENING_HOURS on
   weekdays) they get the hours and an offer to book a consultation instead.
2. Within hours, the counselors on duty now (a weekly window covering this moment; all
   active counselors if nobody is scheduled) get a message with 연결하기. The user is told
   they are waiting.
   The request names the person: their registered name, else the name their messenger
   shows (Telegram's first and last name or @username), else a neutral label such as
   "카카오톡 사용자 #12" (KakaoTalk passes no name), never "이름 없음".
3. The first counselor to press it is connected; both are told. From then on the bot
   stays quiet: every text either side sends reaches the other, marked with who wrote it.
   A text longer than MAX_RELAY arrives whole, as several messages in order marked (1/2),
   (2/2), cut at line breaks or spaces where possible.
4. Either side ends with `/end`. When the counselor ends it, the chat is handed back to
   the bot and the user sees the menu again.
A second counselor pressing 연결하기 later hears that a colleague already took it.
5. A request nobody takes within HANDOFF_WAIT_MINUTES is closed (`handoff-expire` job): the person
   is told no counselor is free now and offered a booking instead.

What a counselor has besides the request messages:
1. `/waiting`: the people waiting now, the longest first, each with how long they have waited and
   연결하기 (the same first-press-wins check as the request's button).
2. `/chats`: their recent chats; 대화 보기 shows the transcript (every relayed message, kept with
   the handoff and deleted with the person). Each view is audited.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from kernel.config import Settings
from kernel.core import (
    Button,
    Clock,
    CommandRoute,
    Ctx,
    Job,
    MenuItem,
    Reply,
    Router,
    clip,
    on,
    payload,
    stamp,
)
from kernel.i18n import Translator
from kernel.payloads import Payload, Stamp, same_record
from kernel.people import not_counselor, person_name, require_counselor
from scheduler import queue
from storage import bookings, counselors
from storage.audit import audit
from storage.db import advisory_xact_lock
from storage.models import Conversation, Counselor, Handoff, HandoffMessage

USER_MODE = "handoff"
COUNSELOR_MODE = "handoff_c"
# Each relayed part stays well under Telegram's 4096 characters once the sender's name is put in
# front; KakaoTalk's renderer splits further by its own limit.
MAX_RELAY = 3000
NAME_CHARS = 40  # a messenger name is the person's own text: kept to what a name needs


@dataclass(frozen=True)
class Accept(Payload, prefix="ho", action="a"):
    """A counselor's 'take this chat' under a waiting person's request."""

    handoff: int
    proof: Stamp


@dataclass(frozen=True)
class Transcript(Payload, prefix="ho", action="t"):
    """A counselor's 'show what was said' under one of their chats."""

    handoff: int
    proof: Stamp


TRANSCRIPT_CHARS = 3500  # the newest messages that fit one message
RECENT_CHATS = 5


def open_now(ctx: Ctx) -> bool:
    local = ctx.now.astimezone(ctx.settings.tz)
    start, end = ctx.settings.opening_minutes
    minute = local.hour * 60 + local.minute
    return local.weekday() < 5 and start <= minute < end


async def on_duty(ctx: Ctx) -> list[Counselor]:
    """Counselors whose weekly window covers this moment; everyone active if nobody is."""
    staff = await counselors.active(ctx.session)
    local = ctx.now.astimezone(ctx.settings.tz)
    minute = local.hour * 60 + local.minute
    windows = await counselors.windows(ctx.session, [c.id for c in staff])
    here = {w.counselor_id for w in windows if w.weekday == local.weekday() and w.start_minute <= minute < w.end_minute}
    return [c for c in staff if c.id in here] or staff


async def human(ctx: Ctx, _args: Sequence[str]) -> list[Reply]:
    """Starts waiting for a counselor, or explains the hours."""
    t = ctx.t
    if ctx.conv.flow == USER_MODE:
        return [Reply(t("handoff.already"))]
    book = [[Button(t("menu.book"), payload("m", "book"))]]
    if not open_now(ctx):
        return [Reply(t("handoff.closed", hours=ctx.settings.opening_hours), book)]
    staff = await on_duty(ctx)
    if not staff:
        return [Reply(t("handoff.nobody"), book)]
    handoff = Handoff(user_id=ctx.user.id, status="waiting", created_at=ctx.now)
    ctx.session.add(handoff)
    await ctx.session.flush()
    name = await requester_name(ctx)
    for counselor in staff:
        await queue.to_user(
            ctx.session, counselor.user_id,
            lambda tr: Reply(tr("handoff.request", name=name),
                             [[Button(tr("handoff.accept"),
                                      Accept(handoff.id, stamp(handoff.created_at)).pack())]]),
            now=ctx.now, kind="handoff.request", dedupe_key=f"handoff:{handoff.id}:{counselor.id}", about=ctx.user.id)
    _enter(ctx.conv, USER_MODE, handoff.id, name)
    return [Reply(t("handoff.waiting"))]


async def requester_name(ctx: Ctx) -> str:
    """The person as the counselor will see them: the registered name, else the messenger's name,
    else "카카오톡 사용자 #12" (the internal id, so two unnamed people can be told apart)."""
    names = await bookings.person_names(ctx.session, [ctx.user.id])
    known = names.get(ctx.user.id) or (ctx.incoming.sender_name or "").strip()
    if known:
        return known[:NAME_CHARS]
    return ctx.t(f"handoff.unnamed.{ctx.incoming.channel}", id=ctx.user.id)


def relay_parts(text: str, limit: int = MAX_RELAY) -> list[str]:
    """`text` in pieces of at most `limit` characters, cut at the last line break (else space)
    of each piece, so a long message arrives whole and readable instead of cut off."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        head = rest[:limit]
        cut = max(head.rfind("\n"), head.rfind(" "))
        if cut < limit // 2:  # no break in the second half: cut mid-word rather than send a sliver
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    parts.append(rest)
    return [p for p in parts if p]


def _enter(conv: Conversation, mode: str, handoff_id: int, name: str | None = None) -> None:
    conv.flow, conv.step, conv.paused = mode, "chat", False
    # The requester's name as shown at the request, so the counselor sees the same name throughout.
    conv.data = {"h": handoff_id} if name is None else {"h": handoff_id, "name": name}


async def accept(ctx: Ctx, press: Accept) -> list[Reply]:
    """A counselor takes the chat; re-checked in the database (first press wins)."""
    t = ctx.t
    found = await require_counselor(ctx)
    if isinstance(found, Reply):
        return [found]
    counselor = found
    handoff_id = press.handoff
    await advisory_xact_lock(ctx.session, "handoff", handoff_id)
    handoff = (await ctx.session.scalars(select(Handoff).where(Handoff.id == handoff_id).with_for_update())).first()
    if handoff is None or not same_record(press.proof, handoff.created_at) or handoff.status == "closed":
        return [Reply(t("handoff.gone"))]
    if handoff.status == "active":
        return [Reply(t("handoff.taken"))]
    if ctx.conv.flow == COUNSELOR_MODE:
        return [Reply(t("handoff.busy"))]
    if ctx.conv.flow and not ctx.conv.paused:
        return [Reply(t("handoff.finish_form_first"))]
    handoff.status, handoff.counselor_id, handoff.accepted_at = "active", counselor.id, ctx.now
    _enter(ctx.conv, COUNSELOR_MODE, handoff.id)
    shown = counselor.display_name
    await queue.to_user(ctx.session, handoff.user_id, lambda tr: Reply(tr("handoff.connected", counselor=shown)),
                        now=ctx.now, kind="handoff.connected")
    name = await _shown_requester(ctx, handoff)
    return [Reply(t("handoff.you_are_connected", name=name), edit=True)]


async def _shown_requester(ctx: Ctx, handoff: Handoff) -> str:
    """The name the request showed (kept in the requester's conversation), else the registered one."""
    for conv in await ctx.session.scalars(select(Conversation).where(Conversation.user_id == handoff.user_id,
                                                                     Conversation.flow == USER_MODE)):
        data = conv.data or {}
        if data.get("h") == handoff.id and isinstance(data.get("name"), str):
            return str(data["name"])
    return await person_name(ctx, handoff.user_id)


async def _current(ctx: Ctx) -> Handoff | None:
    handoff_id = (ctx.conv.data or {}).get("h")
    return await ctx.session.get(Handoff, int(handoff_id)) if handoff_id is not None else None


async def relay(ctx: Ctx, args: Sequence[str]) -> list[Reply]:
    """Everything typed while connected goes to the other side; the bot itself says nothing."""
    t = ctx.t
    handoff = await _current(ctx)
    if handoff is None or handoff.status == "closed":
        _leave(ctx.conv)
        return [Reply(t("handoff.ended")), await ctx.app.menu(ctx)]
    text = args[0] if args else None
    if text is None:
        return [Reply(t("handoff.text_only"))]
    if ctx.incoming.command is not None:
        return [Reply(t("mode.busy"))]
    if handoff.status == "waiting":
        return [Reply(t("handoff.still_waiting"))]
    ctx.session.add(HandoffMessage(handoff_id=handoff.id, from_counselor=ctx.conv.flow == COUNSELOR_MODE,
                                   text=text.strip(), created_at=ctx.now))
    parts = relay_parts(text.strip())
    if len(parts) > 1:
        parts = [f"{part} ({i}/{len(parts)})" for i, part in enumerate(parts, 1)]
    if ctx.conv.flow == USER_MODE:
        counselor = await counselors.get(ctx.session, handoff.counselor_id or 0)
        if counselor is None:
            return [Reply(t("handoff.gone"))]
        name = str((ctx.conv.data or {}).get("name") or await person_name(ctx, ctx.user.id))
        for part in parts:  # queued in order, and the outbox sends one chat's rows in that order
            await queue.to_user(ctx.session, counselor.user_id, _from_user(name, part),
                                now=ctx.now, kind="handoff.message", about=ctx.user.id)
    else:
        counselor = await counselors.by_user(ctx.session, ctx.user.id)
        shown = counselor.display_name if counselor else ""
        for part in parts:
            await queue.to_user(ctx.session, handoff.user_id, _from_counselor(shown, part),
                                now=ctx.now, kind="handoff.message")
    return []


def _from_user(name: str, text: str) -> Callable[[Translator], Reply]:
    return lambda tr: Reply(tr("handoff.from_user", name=name, text=text))


def _from_counselor(counselor: str, text: str) -> Callable[[Translator], Reply]:
    return lambda tr: Reply(tr("handoff.from_counselor", counselor=counselor, text=text))


def _leave(conv: Conversation) -> None:
    conv.flow = conv.step = None
    conv.data, conv.paused = {}, False


async def end(ctx: Ctx, _args: Sequence[str]) -> list[Reply]:
    """Either side ends; the other side is told and its conversation released."""
    t = ctx.t
    if ctx.conv.flow not in (USER_MODE, COUNSELOR_MODE):
        return [Reply(t("handoff.not_in_chat")), await ctx.app.menu(ctx)]
    handoff = await _current(ctx)
    by_counselor = ctx.conv.flow == COUNSELOR_MODE
    _leave(ctx.conv)
    if handoff is not None and handoff.status != "closed":
        handoff.status, handoff.closed_at = "closed", ctx.now
        await _release_other_side(ctx, handoff, by_counselor)
    if by_counselor:
        return [Reply(t("handoff.you_ended"))]
    return [Reply(t("handoff.user_ended")), await ctx.app.menu(ctx)]


async def _release_other_side(ctx: Ctx, handoff: Handoff, by_counselor: bool) -> None:
    other_user = handoff.user_id if by_counselor else None
    if not by_counselor and handoff.counselor_id is not None:
        counselor = await counselors.get(ctx.session, handoff.counselor_id)
        other_user = counselor.user_id if counselor else None
    if other_user is None:
        return
    mode = USER_MODE if by_counselor else COUNSELOR_MODE
    for conv in await ctx.session.scalars(select(Conversation).where(Conversation.user_id == other_user,
                                                                     Conversation.flow == mode)):
        if (conv.data or {}).get("h") == handoff.id:
            _leave(conv)

    def told(tr: Translator) -> Reply:
        if by_counselor:
            return Reply(tr("handoff.counselor_ended"), [[Button(tr("menu.open"), payload("m", "menu"))]])
        return Reply(tr("handoff.other_ended"))

    await queue.to_user(ctx.session, other_user, told, now=ctx.now, kind="handoff.ended",
                        about=None if by_counselor else handoff.user_id)


async def waiting(ctx: Ctx, _args: Sequence[str]) -> list[Reply]:
    """The people waiting for a counselor now, longest first, with how long they have waited."""
    t = ctx.t
    found = await require_counselor(ctx)
    if isinstance(found, Reply):
        return [found]
    rows = list(await ctx.session.scalars(select(Handoff).where(Handoff.status == "waiting")
                                          .order_by(Handoff.created_at, Handoff.id).limit(20)))
    if not rows:
        return [Reply(t("handoff.queue_empty"))]
    lines = [t("handoff.queue_title", n=len(rows))]
    buttons: list[list[Button]] = []
    for handoff in rows:
        name = await _shown_requester(ctx, handoff)
        minutes = max(0, int((ctx.now - handoff.created_at).total_seconds() // 60))
        lines.append(t("handoff.queue_line", name=name, n=minutes))
        buttons.append([Button(t("handoff.accept_name", name=clip(name, 20)),
                               Accept(handoff.id, stamp(handoff.created_at)).pack())])
    return [Reply("\n".join(lines), buttons)]


async def chats(ctx: Ctx, _args: Sequence[str]) -> list[Reply]:
    """The counselor's recent chats, each with its transcript a press away."""
    t = ctx.t
    found = await require_counselor(ctx)
    if isinstance(found, Reply):
        return [found]
    rows = list(await ctx.session.scalars(select(Handoff).where(Handoff.counselor_id == found.id)
                                          .order_by(Handoff.id.desc()).limit(RECENT_CHATS)))
    if not rows:
        return [Reply(t("handoff.no_chats"))]
    lines = [t("handoff.chats_title")]
    buttons: list[list[Button]] = []
    for handoff in rows:
        name = await _shown_requester(ctx, handoff)
        when = handoff.created_at.astimezone(ctx.settings.tz).strftime("%Y-%m-%d %H:%M")
        lines.append(f"• {when} {name}")
        buttons.append([Button(t("handoff.transcript_button", name=clip(name, 20)),
                               Transcript(handoff.id, stamp(handoff.created_at)).pack())])
    return [Reply("\n".join(lines), buttons)]


async def transcript(ctx: Ctx, press: Transcript) -> list[Reply]:
    t = ctx.t
    found = await require_counselor(ctx)
    if isinstance(found, Reply):
        return [found]
    handoff = await ctx.session.get(Handoff, press.handoff)
    if handoff is None or not same_record(press.proof, handoff.created_at) or handoff.counselor_id != found.id:
        return [Reply(t("handoff.gone"))]
    await audit(ctx.session, ctx.user.id, "handoff.transcript", f"user:{handoff.user_id}", ctx.now)
    name = await _shown_requester(ctx, handoff)
    said = list(await ctx.session.scalars(select(HandoffMessage).where(HandoffMessage.handoff_id == handoff.id)
                                          .order_by(HandoffMessage.id)))
    lines: list[str] = []
    size = 0
    for message in reversed(said):  # the newest that fit
        who = found.display_name if message.from_counselor else name
        line = f"[{message.created_at.astimezone(ctx.settings.tz):%H:%M}] {who}: {message.text}"
        size += len(line) + 1
        if size > TRANSCRIPT_CHARS and lines:
            break
        lines.append(clip(line, TRANSCRIPT_CHARS))
    body = "\n".join(reversed(lines)) if lines else t("handoff.transcript_empty")
    return [Reply(t("handoff.transcript", name=name) + "\n\n" + body)]


async def expire_waiting(sessions: Any, settings: Settings, clock: Clock) -> int:
    """Requests nobody took in HANDOFF_WAIT_MINUTES: closed, the person offered a booking instead."""
    now = clock.now()
    cutoff = now - dt.timedelta(minutes=settings.handoff_wait_minutes)
    closed = 0
    async with sessions() as session, session.begin():
        rows = list(await session.scalars(select(Handoff).where(Handoff.status == "waiting",
                                                                Handoff.created_at < cutoff).limit(200)))
        for handoff in rows:
            handoff.status, handoff.closed_at = "closed", now
            for conv in await session.scalars(select(Conversation).where(Conversation.user_id == handoff.user_id,
                                                                         Conversation.flow == USER_MODE)):
                if (conv.data or {}).get("h") == handoff.id:
                    _leave(conv)
            await queue.to_user(session, handoff.user_id, _nobody_came, now=now, kind="handoff.expired",
                                dedupe_key=f"handoff:expired:{handoff.id}")
            closed += 1
    return closed


def _nobody_came(tr: Translator) -> Reply:
    return Reply(tr("handoff.nobody_came"), [[Button(tr("menu.book"), payload("m", "book"))]])


def build() -> Router:
    return Router(
        name="handoff",
        commands=[CommandRoute("human", human, describe="cmd.human"), CommandRoute("end", end, describe="cmd.end"),
                  CommandRoute("waiting", waiting, describe="cmd.waiting", roles=("counselor",)),
                  CommandRoute("chats", chats, describe="cmd.chats", roles=("counselor",))],
        buttons=[on(Accept, accept, guard=not_counselor), on(Transcript, transcript, guard=not_counselor)],
        menu=[MenuItem("menu.human", "human", order=60)],
        modes={USER_MODE: relay, COUNSELOR_MODE: relay},
        jobs=[Job("handoff-expire", expire_waiting, every=60)],
        phrases={"상담원": "human", "상담원연결": "human", "상담사연결": "human", "사람": "human", "human": "human"},
    )

