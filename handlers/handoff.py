"""Talking to a person ("상담원 연결"): the bot relays messages between a user and a counselor.

What the user goes through:
1. `/human` (or 💬 상담원 연결 in the menu). Outside opening hours (OPENING_HOURS on
   weekdays) they get the hours and an offer to book a consultation instead.
2. Within hours, the counselors on duty now (a weekly window covering this moment; all
   active counselors if nobody is scheduled) get a message with 연결하기. The user is told
   they are waiting.
3. The first counselor to press it is connected; both are told. From then on the bot
   stays quiet: every text either side sends reaches the other, marked with who wrote it.
4. Either side ends with `/end`. When the counselor ends it, the chat is handed back to
   the bot and the user sees the menu again.
A second counselor pressing 연결하기 later hears that a colleague already took it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from kernel.core import (
    Button,
    CommandRoute,
    Ctx,
    MenuItem,
    Reply,
    Router,
    on,
    payload,
    stamp,
)
from kernel.i18n import Translator
from kernel.payloads import Payload, Stamp, same_record
from kernel.people import not_counselor, person_name, require_counselor
from scheduler import queue
from storage import counselors
from storage.db import advisory_xact_lock
from storage.models import Conversation, Counselor, Handoff

USER_MODE = "handoff"
COUNSELOR_MODE = "handoff_c"
MAX_RELAY = 3000


@dataclass(frozen=True)
class Accept(Payload, prefix="ho", action="a"):
    """A counselor's 'take this chat' under a waiting person's request."""

    handoff: int
    proof: Stamp


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
    name = await person_name(ctx, ctx.user.id)
    for counselor in staff:
        await queue.to_user(
            ctx.session, counselor.user_id,
            lambda tr: Reply(tr("handoff.request", name=name),
                             [[Button(tr("handoff.accept"),
                                      Accept(handoff.id, stamp(handoff.created_at)).pack())]]),
            now=ctx.now, kind="handoff.request", dedupe_key=f"handoff:{handoff.id}:{counselor.id}", about=ctx.user.id)
    _enter(ctx.conv, USER_MODE, handoff.id)
    return [Reply(t("handoff.waiting"))]


def _enter(conv: Conversation, mode: str, handoff_id: int) -> None:
    conv.flow, conv.step, conv.paused = mode, "chat", False
    conv.data = {"h": handoff_id}


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
    name = await person_name(ctx, handoff.user_id)
    return [Reply(t("handoff.you_are_connected", name=name), edit=True)]


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
    text = text.strip()[:MAX_RELAY]
    if ctx.conv.flow == USER_MODE:
        counselor = await counselors.get(ctx.session, handoff.counselor_id or 0)
        if counselor is None:
            return [Reply(t("handoff.gone"))]
        name = await person_name(ctx, ctx.user.id)
        await queue.to_user(ctx.session, counselor.user_id,
                            lambda tr: Reply(tr("handoff.from_user", name=name, text=text)),
                            now=ctx.now, kind="handoff.message", about=ctx.user.id)
    else:
        counselor = await counselors.by_user(ctx.session, ctx.user.id)
        shown = counselor.display_name if counselor else ""
        await queue.to_user(ctx.session, handoff.user_id,
                            lambda tr: Reply(tr("handoff.from_counselor", counselor=shown, text=text)),
                            now=ctx.now, kind="handoff.message")
    return []


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


def build() -> Router:
    return Router(
        name="handoff",
        commands=[CommandRoute("human", human, describe="cmd.human"), CommandRoute("end", end, describe="cmd.end")],
        buttons=[on(Accept, accept, guard=not_counselor)],
        menu=[MenuItem("menu.human", "human", order=60)],
        modes={USER_MODE: relay, COUNSELOR_MODE: relay},
        phrases={"상담원": "human", "상담원연결": "human", "상담사연결": "human", "사람": "human", "human": "human"},
    )

