"""The engine tells a bad button from a bug, and numbers in buttons are checked.

Only decoding a payload may answer "this button has expired"; a handler that fails after it
wrote something is a bug: the whole turn is rolled back, logged at ERROR with the update's
request id, and the person gets the polite retry line. Negative, huge or non-ASCII numbers in
a payload are no payload the bot sends, and are refused before they pick anything.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pytest
from sqlalchemy import select

from bot.app import ROUTERS
from bot.engine import Engine
from bot.logs import request_id, request_scope
from kernel.core import BadPayload, CommandRoute, Ctx, Reply, Router, on
from kernel.payloads import Payload
from storage.models import Conversation, Membership, User
from tests.conftest import ADMIN_ID, Chat, Harness, register
from tests.test_membership import apply


class Capture(logging.Handler):
    """Log records with the request id they were written under."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[tuple[logging.LogRecord, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record, request_id.get()))

    def at(self, level: int) -> list[tuple[logging.LogRecord, str]]:
        return [(r, rid) for r, rid in self.records if r.levelno >= level]


@pytest.fixture
def captured() -> Capture:
    handler = Capture()
    root = logging.getLogger()
    root.addHandler(handler)
    old = root.level
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old)


@dataclass(frozen=True)
class Bug(Payload, prefix="bug"):
    trip: Literal["value", "key"]


@dataclass(frozen=True)
class Late(Payload, prefix="late"):
    n: int


async def _write_then(ctx: Ctx, args: Sequence[str]) -> list[Reply]:
    """A buggy handler: changes the person's language, then trips over a bad lookup."""
    ctx.user.locale = "en"
    ctx.conv.data = {"half": "written"}
    if args and args[0] == "key":
        raise KeyError("missing")
    raise ValueError("a bug, not a bad button")


async def _press_then(ctx: Ctx, press: Bug) -> list[Reply]:
    return await _write_then(ctx, (press.trip,))


async def _decode_after_write(ctx: Ctx, press: Late) -> list[Reply]:
    ctx.user.locale = "en"
    if press.n > 5:  # a payload found bad late (against a record): still nothing of the turn is kept
        raise BadPayload("too far")
    return [Reply("ok")]


def _buggy() -> Router:
    return Router(name="buggy", commands=[CommandRoute("boom", _write_then)],
                  buttons=[on(Bug, _press_then), on(Late, _decode_after_write)])


@pytest.fixture
def buggy(harness: Harness) -> Engine:
    return Engine(harness.settings, harness.sessions, [*(build() for build in ROUTERS), _buggy()],
                  clock=harness.clock)


async def _user(h: Harness, external_id: str) -> tuple[User, Conversation]:
    async with h.sessions() as s:
        conv = (await s.scalars(select(Conversation).where(Conversation.external_id == external_id))).one()
        user = await s.get(User, conv.user_id)
        assert user is not None
        return user, conv


@pytest.mark.parametrize("how", ["/boom", "bug:value", "bug:key"])
async def test_a_handler_that_writes_then_fails_keeps_nothing_and_is_logged_as_an_error(
        harness: Harness, buggy: Engine, captured: Capture, how: str) -> None:
    chat = Chat(buggy, 61)
    await chat.send("/start")
    with request_scope("rq-61"):
        response = await (chat.send(how) if how.startswith("/") else chat.press_payload(how))
    assert "처리 중 문제가 생겼어요" in chat.text and "만료" not in chat.text
    assert response.toast is None
    user, conv = await _user(harness, "61")
    assert user.locale == "ko" and conv.data.get("half") is None
    errors = captured.at(logging.ERROR)
    assert errors and all(rid == "rq-61" for _, rid in errors)
    assert any(r.exc_info for r, _ in errors)


async def test_a_bad_payload_found_after_a_write_rolls_the_write_back(
        harness: Harness, buggy: Engine, captured: Capture) -> None:
    chat = Chat(buggy, 62)
    await chat.send("/start")
    response = await chat.press_payload("late:6")
    assert "만료" in chat.text and response.toast
    user, _ = await _user(harness, "62")
    assert user.locale == "ko"
    assert not captured.at(logging.WARNING)


async def _approved_member(h: Harness, user: int) -> int:
    await apply(h.chat(user))
    admin = h.chat(ADMIN_ID)
    await admin.send("/applications")
    await admin.press("승인")
    async with h.sessions() as s:
        row = (await s.scalars(select(Membership))).one()
        assert row.status == "approved"
        return row.id


@pytest.mark.parametrize("forged", ["adm:stg:{id}:-1:{stamp}", "adm:stg:{id}:3:{stamp}", "adm:stg:{id}:9:{stamp}",
                                    "adm:stg:-{id}:1:{stamp}", "adm:stg:{id}:1", "adm:stg:{id}:１:{stamp}",
                                    "adm:stg:{id}:²:{stamp}", "adm:stg:18446744073709551616:1:{stamp}"])
async def test_out_of_range_numbers_in_a_payload_pick_nothing(harness: Harness, captured: Capture,
                                                              forged: str) -> None:
    from kernel.core import stamp

    member_id = await _approved_member(harness, 63)
    await harness.deliver()
    async with harness.sessions() as s:
        row = await s.get(Membership, member_id)
        assert row is not None
        proof = stamp(row.applied_at)
    admin = harness.chat(ADMIN_ID)
    response = await admin.press_payload(forged.format(id=member_id, stamp=proof))
    assert "만료" in admin.text and response.toast
    async with harness.sessions() as s:
        row = await s.get(Membership, member_id)
        assert row is not None and row.member_stage == "preparation"
    assert not captured.at(logging.ERROR)
    # The member heard of the approval only, never of a stage change.
    await harness.deliver()
    told = [m["text"] for m in harness.notifier.to(63)]
    assert not any("단계" in t and "변경" in t for t in told), told


async def test_a_page_button_with_a_negative_offset_is_expired(harness: Harness, captured: Capture) -> None:
    chat = harness.chat(64)
    await register(chat)
    for forged in ("ev:p:-10", "job:p:-5", "adm:apps:-1", "ev:p:99999999999999999999999", "ev:p:1e3", "ev:p:0x10"):
        response = await chat.press_payload(forged)
        assert "만료" in chat.text or "관리자만" in chat.text, forged
        assert "명 더" not in chat.text and "더 있어요" not in chat.text, forged
        assert response.toast, forged
    assert not captured.at(logging.WARNING)


@pytest.mark.parametrize("forged", ["f²:c0", "f\u0661:c0", "f1:c\u00b2", "ev:c:\ud800", "\udcff", "m:start\x00",
                                    "x" * 65, "", "ev:p:٣", "rf:1:hired:\u200b"])
async def test_payloads_the_bot_never_sends_get_the_expired_answer_without_a_traceback(
        harness: Harness, captured: Capture, forged: str) -> None:
    chat = harness.chat(65)
    await chat.send("/register")
    await chat.press("동의합니다")
    response = await chat.press_payload(forged)
    assert "만료" in chat.text and response.toast
    assert "이름을 입력" in chat.text  # the question the person is at, again
    assert not captured.at(logging.WARNING)
    await chat.send("김서울")
    assert "출생연도" in chat.text


async def test_typed_text_with_a_lone_surrogate_or_nul_is_answered(harness: Harness, captured: Capture) -> None:
    chat = harness.chat(66)
    await chat.send("/register")
    await chat.press("동의합니다")
    await chat.send("김\ud800서울")
    assert chat.replies and "처리 중 문제" not in chat.text
    await chat.send("김\x00서울")
    assert chat.replies and "처리 중 문제" not in chat.text
    await chat.send("/event\ud800 1")
    assert chat.replies and "처리 중 문제" not in chat.text
    assert not captured.at(logging.ERROR)


async def test_a_typed_command_with_arguments_that_are_no_number_says_so(harness: Harness) -> None:
    admin = harness.chat(ADMIN_ID)
    await admin.send("/event ²")
    assert "처리 중 문제" not in admin.text and ("/event" in admin.text or "이벤트" in admin.text)
    await admin.send("/applications -5")
    assert "/applications" in admin.text and "알아보지 못했어요" in admin.text
