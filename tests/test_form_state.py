"""The form runner's state as stored: `FormState` and `Step` read rows written by earlier releases
(people in the middle of a form at deploy time), and write the shape those releases read."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from kernel.forms import EDIT, RESUME, SUMMARY, Ask, FormState, PendingStart, Resumable, parse_step, step_text
from storage.models import Conversation, SeekerProfile
from tests.conftest import REGISTRATION, Harness

# What the first release of the runner kept at the registration's track question: no "skipped",
# "x", "lbl", "opts" or "auto" yet (those came with later features).
OLD_AT_TRACK: dict[str, Any] = {
    "a": {"consent": "yes", "name": "김서울", "birth_year": 1999},
    "mode": "new", "ret": False, "hist": ["consent", "name", "birth_year"], "fails": 0, "sel": [],
}


async def test_a_row_of_the_old_shape_loads_and_the_form_goes_on(harness: Harness) -> None:
    chat = harness.chat(1)
    await chat.send("/register")
    for action, value in REGISTRATION[:3]:
        await (chat.press(value) if action == "press" else chat.send(value))
    async with harness.sessions() as s, s.begin():
        conv = (await s.scalars(select(Conversation))).one()
        assert (conv.flow, conv.step) == ("seeker", "ask:track")
        conv.data = dict(OLD_AT_TRACK)
    await chat.press("이전")  # the history of the old row: back to the birth year
    assert "태어난" in chat.text or "출생" in chat.text, chat.text
    await chat.send("1999")
    for action, value in REGISTRATION[3:]:
        await (chat.press(value) if action == "press" else chat.send(value))
    assert "확인해 주세요" in chat.text and "김서울" in chat.text, chat.text
    await chat.press("제출")
    assert "구직등록이 완료" in chat.text, chat.text
    async with harness.sessions() as s:
        profile = (await s.scalars(select(SeekerProfile))).one()
        assert (profile.name, profile.birth_year, profile.track) == ("김서울", 1999, "youth")


def test_an_old_row_loads_with_defaults_and_is_written_back_in_the_keys_it_had() -> None:
    st = FormState.from_json(OLD_AT_TRACK)
    assert st.answers == OLD_AT_TRACK["a"] and st.history == ["consent", "name", "birth_year"]
    assert (st.extra, st.labels, st.options, st.auto, st.skipped, st.resume) == ({}, {}, {}, [], [], None)
    # The keys stay those every release wrote, so a worker of the previous release reads what this one
    # writes during a rolling restart.
    assert st.to_json() == {**OLD_AT_TRACK, "skipped": [], "x": {}, "lbl": {}, "auto": [], "opts": {}}
    assert FormState.from_json(None) == FormState()


def test_a_full_row_survives_the_round_trip() -> None:
    row: dict[str, Any] = {
        "a": {"type": "career", "place": "3"}, "mode": "edit", "ret": True, "hist": ["type"], "fails": 2,
        "sel": ["a"], "skipped": ["day"], "x": {"reschedule": 7, "then": "book"}, "lbl": {"place": "센터"},
        "auto": ["counselor"], "opts": {"place": [["3", "센터"], ["4", "온라인"]]},
        "resume": {"prev": "ask:day", "to": {"name": "seeker", "answers": None, "extra": {"then": "book"},
                                             "mode": "new", "step": "edit"}},
    }
    st = FormState.from_json(row)
    assert st.options == {"place": [("3", "센터"), ("4", "온라인")]}
    assert st.resume == Resumable(Ask("day"), PendingStart("seeker", None, {"then": "book"}, "new", EDIT))
    assert st.extra == {"reschedule": 7, "then": "book"} and st.mode == "edit" and st.returning
    assert st.to_json() == row


def test_an_old_resume_block_without_a_pending_form_loads() -> None:
    st = FormState.from_json({"a": {}, "resume": {"prev": None, "to": None}})
    assert st.resume == Resumable(None, None)


def test_steps_read_and_write_the_stored_text() -> None:
    for text, step in (("ask:birth_year", Ask("birth_year")), ("summary", SUMMARY), ("edit", EDIT),
                       ("resume", RESUME)):
        assert parse_step(text) == step and step_text(step) == text
    assert parse_step(None) is None and parse_step("") is None and parse_step("chat") is None
