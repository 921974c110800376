"""Outside forms too, typing what a button says works like pressing it (issue 15): KakaoTalk
users type as often as they tap, and a Telegram user may type "취소" under a preview.

The buttons of the bot's last answer are remembered (label → payload); a typed label goes
through the same checks as a press, so an old or someone else's button stays refused. A label
shown on several buttons (each event's "신청하기") is ambiguous and is not guessed.
"""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Broadcast, EventRegistration
from tests.conftest import ADMIN_ID, Harness
from tests.test_broadcast import _compose
from tests.test_events import seed_event


async def test_typed_cancel_under_a_broadcast_preview_discards_the_draft(harness: Harness) -> None:
    admin = harness.chat(ADMIN_ID)
    await _compose(admin, "첫 번째")
    await admin.press("건너뛰기")
    await admin.press("건너뛰기")
    assert "이대로 보낼까요?" in admin.text
    await admin.send("취소")
    assert "초안을 지웠어요" in admin.text and "취소할 작성 중인 내용이 없어요" not in admin.text
    async with harness.sessions() as s:
        assert (await s.scalars(select(Broadcast))).all() == []


async def test_typed_label_of_the_one_event_registers_and_several_are_not_guessed(harness: Harness) -> None:
    first = await seed_event(harness, capacity=5)
    person = harness.chat(301)
    await person.send("/events")
    await person.send("신청하기")
    assert "신청했어요" in person.text
    async with harness.sessions() as s:
        assert (await s.scalars(select(EventRegistration.event_id))).all() == [first]
    await seed_event(harness, capacity=5)
    other = harness.chat(302)
    await other.send("/events")
    await other.send("신청하기")  # two events, two such buttons: which one is not guessed
    assert "신청했어요" not in other.text
    async with harness.sessions() as s:
        assert (await s.scalars(select(EventRegistration.event_id))).all() == [first]


async def test_only_the_last_answers_buttons_count(harness: Harness) -> None:
    await seed_event(harness, capacity=5)
    person = harness.chat(303)
    await person.send("/events")
    harness.clock.advance(hours=2)
    await person.send("신청하기")  # a screen of two hours ago: not what the word answers now
    assert "신청했어요" not in person.text
    await person.send("/events")
    await person.send("/settings")
    await person.send("신청하기")  # the events list is no longer the last screen
    assert "신청했어요" not in person.text
    async with harness.sessions() as s:
        assert (await s.scalars(select(EventRegistration))).all() == []


async def test_cancel_typed_in_english_with_nothing_open_says_so(harness: Harness) -> None:
    person = harness.chat(304)
    await person.send("/lang en")
    await person.send("cancel")
    assert "nothing" in person.text.lower() and "didn't get that" not in person.text, person.text
