"""'Skip for now' (나중에 입력) never breaks a form, on SQLite and PostgreSQL.

After three rejected answers the runner offers to skip a required question and come back
to it before submitting. A question that later questions are built from (the booking's
type, place and day) is not offered that: the later questions would be asked without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import ROUTERS
from bot.engine import Engine
from kernel.core import CommandRoute, Ctx, Invalid, Reply, Router
from kernel.forms import Field, FieldInput
from kernel.i18n import translator
from storage.models import Conversation
from tests.conftest import Chat, Harness
from tests.test_booking import _bookings, quick_register, seed, to_summary


async def test_book_type_three_wrong_answers_never_lead_to_the_generic_error(harness: Harness) -> None:
    await seed(harness)
    await quick_register(harness, 1)
    chat = harness.chat(1)
    await chat.send("/book")
    assert "어떤 상담" in chat.text
    for _ in range(3):
        await chat.send("아무거나")
    assert "어려우신가요" in chat.text
    # The type decides which places are offered: it cannot wait for later.
    assert "나중에 입력" not in chat.last_buttons
    assert "다시 입력" in chat.last_buttons
    await chat.press("다시 입력")
    assert "어떤 상담" in chat.text
    await chat.press("취업상담")
    assert "처리 중 문제" not in chat.text and "어디에서 상담" in chat.text


async def test_a_fill_in_later_button_still_on_screen_asks_the_question_again(harness: Harness) -> None:
    """Someone stuck before the fix has 나중에 입력 on screen: a press asks the type again, with why."""
    await seed(harness)
    await quick_register(harness, 1)
    chat = harness.chat(1)
    await chat.send("/book")
    for _ in range(3):
        await chat.send("아무거나")
    old_skip = chat.payload_for("다시 입력").replace(":retry", ":skip")
    await chat.press_payload(old_skip)
    assert "처리 중 문제" not in chat.text
    assert "나중에 입력할 수 없어요" in chat.text and "어떤 상담" in chat.text
    await chat.press("취업상담")
    assert "어디에서 상담" in chat.text


async def test_a_saved_booking_without_the_answer_later_questions_need_asks_that_first(harness: Harness) -> None:
    """A draft saved before the fix, at the summary with the place left for later: editing the day
    (whose choices come from the place) asks the place first instead of failing on every press."""
    ids = await seed(harness)
    await quick_register(harness, 1)
    chat = harness.chat(1)
    await to_summary(chat)
    async with harness.sessions() as s, s.begin():
        conv = (await s.scalars(select(Conversation).where(Conversation.external_id == "1"))).one()
        data = dict(conv.data)
        data["a"] = {k: v for k, v in data["a"].items() if k != "place"}
        data["skipped"] = ["place"]
        conv.data = data
    await chat.send("/book")  # the form is still open: its summary again, said to be under way
    assert "하고 있어요" in chat.text and "입력 필요" in chat.text, chat.text
    await chat.press("수정")
    await chat.press("날짜")
    assert "처리 중 문제" not in chat.text and "어디에서 상담" in chat.text, chat.text
    await chat.press("서울일자리플러스센터")
    await chat.press("상관없음")
    assert "날짜를 골라" in chat.text, chat.text
    await chat.press("3/3")
    await chat.press("09:00")
    assert "확인해 주세요" in chat.text and "입력 필요" not in chat.text, chat.text
    await chat.press("제출")
    assert "처리 중 문제" not in chat.text
    assert [(b.place_id, b.status) for b in await _bookings(harness)] == [(ids["centre"], "booked")]


# --- every form, every field -------------------------------------------------------------------

FORMS = {form.name: form for build in ROUTERS for form in build().forms}

# Texts tried in turn as an answer to a typed question: the first its parser takes is sent.
SAMPLES = ("김서울", "2000", "2026-04-01 10:00", "2026-04-01 12:00", "2026-03-20", "2026-01-01", "10:00",
           "12:00", "3000", "30", "2", "010-1234-5678", "https://example.com/deck", "123456",
           "서울 중구 세종대로 110", "동네 소상공인을 위한 주문 관리 앱을 만듭니다.", "2027-02")
# Texts tried in turn as a wrong answer: the first its parser refuses is sent.
WRONG = ("zzz없는답", "😀😀", "-1", "0", "가" * 5000)


async def _walk_form(ctx: Ctx, args: Sequence[str]) -> list[Reply]:
    return await ctx.app.start_form(ctx, args[0])


def _walking_engine(h: Harness) -> Engine:
    """The app's routers plus a command that opens any form directly, whatever it needs to be
    opened (a role, a registration, an invitation): each form is walked as its runner asks it."""
    walk = Router(name="walk", commands=[CommandRoute("walkform", _walk_form)])
    return Engine(h.settings, h.sessions, [*(build() for build in ROUTERS), walk], clock=h.clock)


async def _step(h: Harness, user: int) -> tuple[str | None, str | None, dict[str, Any]]:
    async with h.sessions() as s:
        conv = (await s.scalars(select(Conversation).where(Conversation.external_id == str(user)))).one()
        return conv.flow, conv.step, dict(conv.data or {})


def _sample(fld: Field, answers: dict[str, Any], h: Harness, texts: Sequence[str], *, valid: bool) -> str | None:
    assert fld.parse is not None
    inp = FieldInput(answers=answers, now=h.clock.now(), tz=h.settings.tz)
    for text in texts:
        try:
            fld.parse(text, inp)
        except Invalid:
            if not valid:
                return text
        else:
            if valid:
                return text
    return None


def _button(chat: Chat, code: str) -> str | None:
    return next((p for p in chat.last_buttons.values() if p.endswith(f":{code}")), None)


async def _answer(h: Harness, chat: Chat, fld: Field, st: dict[str, Any], target: Field) -> None:
    """A valid answer: a choice shown (one under which `target` is asked, if any), else skip an
    optional question (unless an answer is what makes `target` asked), else a sample text."""
    answers = st.get("a", {})

    def leads(value: Any) -> bool:
        return target.when is not None and target.when({**answers, fld.name: value})

    values = [v for v, _label in st.get("opts", {}).get(fld.name, [])] if fld.options else \
        [c.value for c in fld.choices]
    shown = [i for i in range(len(values)) if _button(chat, f"{'t' if fld.multi else 'c'}{i}") is not None]
    if shown:
        index = next((i for i in shown if not fld.multi and leads(values[i])), shown[0])
        await chat.press_payload(_button(chat, f"{'t' if fld.multi else 'c'}{index}") or "")
        if fld.multi:
            done = _button(chat, "done")
            assert done is not None, chat.text
            await chat.press_payload(done)
        return
    text = _sample(fld, answers, h, SAMPLES, valid=True) if fld.parse else None
    skip = _button(chat, "skip") if fld.optional else None
    if skip is not None and not (text is not None and leads(text)):
        await chat.press_payload(skip)
        return
    assert text is not None, f"no sample answer for {fld.name}: add one to SAMPLES"
    await chat.send(text)


def _sane(h: Harness, chat: Chat) -> None:
    t = translator("ko")
    assert t("error.generic") not in chat.text, chat.text
    assert t("button.expired") not in chat.text, chat.text


@pytest.mark.parametrize("form_name", sorted(FORMS))
async def test_three_wrong_answers_then_skip_for_now_on_every_field_of_every_form(
        harness: Harness, form_name: str) -> None:
    form = FORMS[form_name]
    await seed(harness)  # counselors and places: the booking's and the availability's choices
    engine = _walking_engine(harness)
    walked = 0
    for index, target in enumerate(form.fields):
        user = 5000 + index
        await quick_register(harness, user)  # entitled to book
        chat = Chat(engine, user)
        await chat.send(f"/walkform {form_name}")
        _sane(harness, chat)
        # Answer the questions before the target, as far as they lead to it.
        for _ in range(len(form.fields) + 5):
            flow, step, data = await _step(harness, user)
            if flow != form_name or not (step or "").startswith("ask:") or step == f"ask:{target.name}":
                break
            assert step is not None
            await _answer(harness, chat, form.field(step[4:]), data, target)
            _sane(harness, chat)
        flow, step, data = await _step(harness, user)
        if step != f"ask:{target.name}":
            continue  # not asked with these answers (a condition), or the form ended before it
        wrong = _sample(target, data.get("a", {}), harness, WRONG, valid=False) if target.parse else WRONG[0]
        if wrong is None:
            continue  # takes any text: there is no wrong answer to give
        for _ in range(3):
            await chat.send(wrong)
            _sane(harness, chat)
        stuck = chat.text
        assert translator("ko")("form.stuck", label=translator("ko")(f"label.{form_name}.{target.name}")) in stuck
        skip = _button(chat, "skip")
        walked += 1
        if skip is None:
            assert not target.optional and not form.postponable(target)
            await chat.press_payload(_button(chat, "retry") or "")
            _sane(harness, chat)
            assert (await _step(harness, user))[1] == f"ask:{target.name}"
            continue
        await chat.press_payload(skip)
        _sane(harness, chat)
        # On to the summary, the skipped question asked again before submitting, or the end.
        for _ in range(len(form.fields) + 5):
            flow, step, data = await _step(harness, user)
            if flow != form_name or step == "summary" or (step == f"ask:{target.name}" and not target.optional):
                break
            assert step is not None and step.startswith("ask:"), step
            await _answer(harness, chat, form.field(step[4:]), data, target)
            _sane(harness, chat)
        else:
            raise AssertionError(f"{form_name}: no summary after skipping {target.name}: {chat.text}")
    assert walked, f"{form_name}: no field was walked"
