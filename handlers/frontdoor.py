"""The front door: free text outside any form reaches the right service or gets its answer.

What a person goes through when they write instead of tapping (outside a form; inside one,
text is the form's answer, and "이거 왜 물어봐요?" gets the question's explanation):
1. A clear request ("상담 예약하고 싶어요", "사람이랑 얘기하고 싶어요", "job 추천") starts the
   service as its command would. What the sentence names is used: "마포구 웹 개발 일자리" shows
   the jobs for that district and job, "다음 주 화요일 상담 예약" books with that day chosen when
   it has a free time, "영어로 바꿔 주세요" switches the language. "내 정보 지워 주세요" shows what
   would be erased and asks to confirm, like /delete; "내일 상담 취소할게요" shows the person's
   bookings, each with its 취소 button (which asks once more).
2. A question the FAQ answers ("센터 위치가 어디예요?", "demo day 언제"): the answer, in the
   person's language, with a button to the related service. A programme the bot cannot take
   bookings for yet (the document clinic, mentoring, courses, the co-working space) is
   answered with its FAQ topic the same way.
3. Not sure: "혹시 이 중 하나인가요?" with the two best guesses as buttons and 다른 것 (the menu).
4. Nothing close: what the bot can do, 상담원 연결 (/human) and the menu. The text is kept for
   the centre to improve the data: phone numbers removed, no person, purged by retention.

Admins: `/faq` lists the topics with how often each was asked this month and marks answers
that still hold a placeholder; an edited FAQ file (JSON) sent as a document is checked and
imported (also `python -m bot faq import FILE`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from kernel.core import Button, CommandRoute, Ctx, FileUnavailable, Reply, Router, on, payload
from kernel.payloads import Pattern, Payload
from matching import intents
from reports.redact import redact
from storage import faq

# An intent whose reply is another command's with a line on top (cancel: the bookings to pick from).
INTRO = {"cancel_booking": "frontdoor.cancel_pick"}


@dataclass(frozen=True)
class ShowAnswer(Payload, prefix="qa"):
    """A guess offered as a button: the FAQ answer of that topic."""

    topic: Annotated[str, Pattern(r"[a-z][a-z0-9_]{0,39}")]


def _month_start(ctx: Ctx) -> dt.datetime:
    local = ctx.now.astimezone(ctx.settings.tz)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(dt.UTC)


def _today(ctx: Ctx) -> dt.date:
    return ctx.now.astimezone(ctx.settings.tz).date()


async def understand(ctx: Ctx, args: Sequence[str]) -> list[Reply]:
    """Typed text no form, phrase or other feature took: claimed always (the last text handler)."""
    text = args[0] if args else ""
    book = await faq.current(ctx.session)
    found = intents.match(text, book.model, _today(ctx))
    if found.intent == "unknown":
        return await _unknown(ctx, text)
    if not found.confident:
        return await _guesses(ctx, found)
    if found.intent == "faq" and found.topic is not None:
        return await answer(ctx, book, found.topic)
    return await start_intent(ctx, book, found.intent, found.slots)


async def start_intent(ctx: Ctx, book: faq.FaqBook, intent: str, slots: dict[str, str]) -> list[Reply]:
    """The service of `intent`, as its command would start it, with what the sentence named."""
    command = intents.commands().get(intent)
    if command is None:
        topic = intents.fallback_topics().get(intent)
        if topic is None or topic not in book.topics:
            return [Reply(ctx.t("frontdoor.unknown")), await ctx.app.menu(ctx)]
        return await answer(ctx, book, topic)
    args: tuple[str, ...] = ()
    if intent == "jobs":
        args = tuple(f"{k}={slots[k]}" for k in ("district", "job") if slots.get(k))
    elif intent in ("book", "cancel_booking", "my_bookings") and slots.get("day"):
        args = (slots["day"],)
    elif intent == "language" and slots.get("language"):
        args = (slots["language"],)
    replies = await ctx.app.run_command(ctx, command, args)
    intro = INTRO.get(intent)
    return [Reply(ctx.t(intro)), *replies] if intro else replies


def _service_button(ctx: Ctx, service: str | None) -> list[list[Button]]:
    command = intents.commands().get(service or "")
    if command is None:
        return []
    return [[Button(ctx.t(f"intent.{service}"), payload("m", command))]]


async def answer(ctx: Ctx, book: faq.FaqBook, topic_id: str) -> list[Reply]:
    """The FAQ answer in the person's language, with the related service's button; counted."""
    topic = book.topics[topic_id]
    lang = ctx.user.locale if ctx.user.locale in topic.answer else "ko"
    text = topic.answer[lang].replace("{opening_hours}", ctx.settings.opening_hours)
    await faq.record_ask(ctx.session, topic_id, ctx.now)
    rows = [*_service_button(ctx, topic.service), [Button(ctx.t("frontdoor.menu"), payload("m", "menu"))]]
    return [Reply(text, rows)]


async def show_answer(ctx: Ctx, press: ShowAnswer) -> list[Reply]:
    book = await faq.current(ctx.session)
    if press.topic not in book.topics:
        # The FAQ was imported again since the button was sent, without that topic.
        return [Reply(ctx.t("frontdoor.gone")), await ctx.app.menu(ctx)]
    return await answer(ctx, book, press.topic)


def _guess_button(ctx: Ctx, book: faq.FaqBook, guess: intents.Guess) -> Button | None:
    if guess.intent == "faq":
        if guess.topic not in book.topics:
            return None
        return Button(book.topics[guess.topic].question[ctx.user.locale if ctx.user.locale == "en" else "ko"],
                      ShowAnswer(guess.topic).pack())
    command = intents.commands().get(guess.intent)
    if command is None:
        topic = intents.fallback_topics().get(guess.intent)
        return Button(ctx.t(f"intent.{guess.intent}"), ShowAnswer(topic).pack()) if topic in book.topics else None
    return Button(ctx.t(f"intent.{guess.intent}"), payload("m", command))


async def _guesses(ctx: Ctx, found: intents.Result) -> list[Reply]:
    book = await faq.current(ctx.session)
    rows: list[list[Button]] = []
    seen: set[str] = set()
    for guess in found.guesses:
        button = _guess_button(ctx, book, guess)
        if button is not None and button.payload not in seen:
            seen.add(button.payload or "")
            rows.append([button])
        if len(rows) == 2:
            break
    rows.append([Button(ctx.t("frontdoor.other"), payload("m", "menu"))])
    return [Reply(ctx.t("frontdoor.guess"), rows)]


async def _unknown(ctx: Ctx, text: str) -> list[Reply]:
    # Kept so the centre can see what people ask (`python -m bot nlu misses`): no person, no phone.
    await faq.keep_miss(ctx.session, redact(text), ctx.now)
    t = ctx.t
    return [Reply(t("frontdoor.unknown"), [[Button(t("menu.human"), payload("m", "human"))],
                                          [Button(t("frontdoor.menu"), payload("m", "menu"))]])]


# --- admins ---------------------------------------------------------------------------------------


async def faq_command(ctx: Ctx, _args: Sequence[str]) -> list[Reply]:
    """`/faq` (admins): the topics with this month's asks, busiest first; placeholders marked."""
    t = ctx.t
    book = await faq.current(ctx.session)
    counts = await faq.asks_between(ctx.session, _month_start(ctx), ctx.now + dt.timedelta(seconds=1))
    lang = "en" if ctx.user.locale == "en" else "ko"
    lines = [t("faq.admin_title", n=len(book.topics)), ""]
    for topic in sorted(book.topics.values(), key=lambda tp: (-counts.get(tp.id, 0), tp.id)):
        mark = " ⚠️" if topic.has_placeholder() else ""
        lines.append(t("faq.admin_line", topic=topic.id, question=topic.question[lang], n=counts.get(topic.id, 0))
                     + mark)
    if any(tp.has_placeholder() for tp in book.topics.values()):
        lines += ["", t("faq.admin_placeholders")]
    lines += ["", t("faq.admin_import")]
    return [Reply("\n".join(lines))]


async def on_file(ctx: Ctx, args: Sequence[str]) -> list[Reply]:
    """An admin's document that is an FAQ file (JSON with "topics") is imported; others pass."""
    kind, ref = args
    if not ctx.is_admin or kind != "document":
        return []
    try:
        data = await ctx.app.fetch_file(ref, ctx.incoming.channel)
    except FileUnavailable:
        return []
    try:
        looks = isinstance(json.loads(data), dict) and "topics" in json.loads(data)
    except (ValueError, UnicodeDecodeError):
        looks = False
    if not looks:
        return []
    try:
        book = await faq.import_(ctx.session, data, ctx.now)
    except faq.FaqError as exc:
        return [Reply(ctx.t("faq.import_failed", reason=str(exc)))]
    return [Reply(ctx.t("faq.imported", n=len(book.topics)))]


def build() -> Router:
    """The front door itself: registered last, so every other feature sees typed text first."""
    return Router(name="frontdoor", text=[understand], buttons=[on(ShowAnswer, show_answer)])


def build_admin() -> Router:
    """/faq and FAQ files: registered before the firm import, which takes any other document."""
    return Router(name="faq", commands=[CommandRoute("faq", faq_command, admin=True, describe="cmd.faq")],
                  files=[on_file])
