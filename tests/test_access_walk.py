"""Every staff button pressed by an ordinary person, and every person's button pressed by another.

A world is built the way people build it (a seeker registers, asks for a referral, books a
consultation, takes an event seat, applies for the membership and a demo day; staff get their
alerts and open their lists), and every button any of them was shown is collected. Then an
ordinary person presses each one, and each again with the record's id swapped for one that
does not exist: every press is refused, nothing in the database changes, and the answer is the
same whether the item exists or not (no probing of ids).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import select, text

from kernel.core import Reply
from scheduler.surveys import invite_attendees
from storage.models import Base, OutboxMessage
from tests import clinic_files
from tests.conftest import ADMIN_ID, Chat, FetchingChannel, Harness, register
from tests.test_counselor import add_window, make_booking, make_counselor
from tests.test_courses import load_sample
from tests.test_demoday import _three_applications
from tests.test_events import seed_event
from tests.test_jobs import demo, posting_ids
from tests.test_membership import apply
from tests.test_mentoring import ask_for_mentor, selected_mentor

SEEKER, STRANGER, COUNSELOR, MENTOR = 8101, 8102, 8103, 8104
# Columns a turn of the stranger changes about the stranger alone (their own conversation and last visit).
SKIPPED_TABLES = {"conversations", "processed_updates", "identities", "users", "kakao_pages"}
MISSING_ID = "987654321"
PUBLIC = ("m:", "f", "job:", "set:", "ev:reg:", "ev:wait:", "ev:p:", "ev:keep", "bk:keep", "pit:", "crs:a", "crs:f",
          "crs:i", "crs:s", "crs:my", "mt:m", "mt:e")


def _payloads(replies: list[Reply] | list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for reply in replies:
        rows = reply.buttons if isinstance(reply, Reply) else [
            [type("B", (), {"payload": b.get("payload")}) for b in row] for row in reply.get("buttons", [])]
        for row in rows:
            for button in row:
                if button.payload:
                    found.add(button.payload)
    return found


class Recorder:
    """Keeps every button a chat was shown."""

    def __init__(self, chat: Chat) -> None:
        self.chat = chat
        self.seen: set[str] = set()

    async def send(self, text_: str) -> None:
        await self.chat.send(text_)
        self.seen |= _payloads(self.chat.replies)

    async def press(self, label: str) -> None:
        await self.chat.press(label)
        self.seen |= _payloads(self.chat.replies)


async def _snapshot(h: Harness) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    async with h.sessions() as s:
        for table in Base.metadata.sorted_tables:
            if table.name in SKIPPED_TABLES:
                continue
            cols = [c.name for c in table.columns if c.name not in ("updated_at", "last_seen_at")]
            rows = (await s.execute(select(*[table.c[c] for c in cols]))).all()
            out[table.name] = sorted(tuple(map(repr, r)) for r in rows)
    return out


async def _clinic_request(h: Harness, seeker: Recorder) -> None:
    """The seeker sends a résumé to the document clinic (the buttons of the upload step are theirs)."""
    sent = {"cv": clinic_files.docx(clinic_files.RESUME)}

    async def fetch(ref: str) -> bytes:
        return sent[ref]

    h.engine.add_channel(FetchingChannel(fetch))
    await seeker.send("/clinic")
    for label in ("동의합니다", "이력서", "선택 완료", "건너뛰기", "맞춤법", "선택 완료", "제출"):
        await seeker.press(label)
    await seeker.chat._handle(seeker.chat._incoming(attachment="document", file_ref="cv", file_name="cv.docx"))
    seeker.seen |= _payloads(seeker.chat.replies)
    await seeker.send("제출")
    assert "접수되었어요" in seeker.chat.text, seeker.chat.text


async def _world(h: Harness) -> tuple[set[str], set[str]]:
    """Builds the world; returns (staff buttons, the seeker's own buttons)."""
    await demo(h)
    counselor_id = await make_counselor(h, COUNSELOR)
    for weekday in range(5):
        await add_window(h, counselor_id, weekday, "09:00", "18:00")
    seeker = Recorder(h.chat(SEEKER))
    await register(seeker.chat)
    await selected_mentor(h, MENTOR)
    await ask_for_mentor(seeker.chat)
    await seeker.send("/mentoring")
    await seeker.send("/jobs")
    await seeker.chat.press_payload(f"job:i:{posting_ids(seeker.chat)[0]}")
    await apply(seeker.chat, team="접근검사팀")
    event_id = await seed_event(h)
    await seeker.chat.press_payload(f"ev:reg:{event_id}")
    seeker.seen |= _payloads(seeker.chat.replies)
    async with h.sessions() as s:
        user_id = int(await s.scalar(text(f"SELECT user_id FROM identities WHERE external_id = '{SEEKER}'")))
    today = h.clock.now().date()
    await make_booking(h, user_id, counselor_id, today + dt.timedelta(days=2), "10:00")
    await make_booking(h, user_id, counselor_id, today, "09:00")
    await seeker.send("/mybookings")
    await seeker.send("/events")
    await seeker.send("/settings")
    await _clinic_request(h, seeker)
    await seeker.send("/human")
    demo_day, _ = await _three_applications(h)
    await load_sample(h)
    await seeker.send("/courses")
    async with h.sessions() as s:
        course_id = int(await s.scalar(text("SELECT id FROM courses WHERE ref = 'NB-2026-01'")))
    await seeker.chat.press_payload(f"crs:a:{course_id}")
    await seeker.chat.press_payload(f"crs:ay:{course_id}")
    await h.deliver()
    # The mentor's accept / decline of the seeker's request: theirs alone to press.
    seeker.seen |= _payloads(h.notifier.to(MENTOR))

    staff: set[str] = set()
    for recipient in (ADMIN_ID, COUNSELOR):
        staff |= _payloads(h.notifier.to(recipient))
    admin = Recorder(h.chat(ADMIN_ID))
    for command in ("/applications", "/members", "/counselors", "/event", f"/event {event_id}", "/broadcasts",
                    "/stats", "/pitches", f"/pitches {demo_day}", "/outcomes"):
        await admin.send(command)
    await admin.chat.press_payload(f"eva:ppl:{event_id}:0")
    admin.seen |= _payloads(admin.chat.replies)
    await admin.send("/mentoradmin")
    await admin.send("/courseadmin")
    await admin.chat.press_payload(f"crsa:l:{course_id}")
    admin.seen |= _payloads(admin.chat.replies)
    await admin.press("선발")  # the trainee's end-of-course survey is theirs alone to answer
    h.clock.advance(hours=1)  # the 09:00 session has started: the counselor may mark it
    counselor = Recorder(h.chat(COUNSELOR))
    await counselor.send("/agenda")
    # The seeker's consultation took place: the satisfaction survey is theirs alone to answer.
    await counselor.press("✅ 참석 09:00")
    for command in ("/agenda", "/availability", "/referrals", "/reviews"):
        await counselor.send(command)
    await counselor.press("열기")
    await counselor.press("맡기")
    await invite_attendees(h.sessions, h.settings, h.clock)
    await h.deliver()
    seeker.seen |= _payloads(h.notifier.to(SEEKER))
    assert any(p.startswith("sv:") for p in seeker.seen)
    async with h.sessions() as s:
        survey = (await s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "course.survey"))).one()
    seeker.seen |= _payloads([survey.payload])  # due after the course: read from the outbox
    staff |= admin.seen | counselor.seen
    # Buttons that only open the presser's own things (the menu, a form of their own, their settings) or
    # act on public ones (a posting, an event's seats) are nobody's item: anyone may press them.
    mine = {p for p in seeker.seen if not p.startswith(PUBLIC)}
    staff = {p for p in staff if not p.startswith(("m:", "f"))}
    return staff, mine


def _missing(payload: str) -> str | None:
    """The same payload naming a record that does not exist (the first id in it), or None if it names none."""
    parts = payload.split(":")
    for i, part in enumerate(parts[1:], start=1):
        if part.isdigit() and not (parts[0] in ("adm",) and parts[1] == "stg" and i == 3):
            return ":".join([*parts[:i], MISSING_ID, *parts[i + 1:]])
    return None


def _answer(chat: Chat) -> str:
    # The menu that may follow is the presser's own; the answer is what comes before it.
    return re.sub(r"\d+", "#", chat.replies[0].text if chat.replies else chat.response.toast or "")


async def test_every_button_pressed_by_someone_without_the_right_changes_nothing(harness: Harness) -> None:
    staff, mine = await _world(harness)
    assert any(p.startswith("rf:") for p in staff) and any(p.startswith("adm:ok:") for p in staff)
    assert any(p.startswith("cs:at:") for p in staff) and any(p.startswith("ho:a:") for p in staff)
    assert any(p.startswith("bk:c:") for p in mine) and any(p.startswith("ev:c:") for p in mine)
    stranger = harness.chat(STRANGER)
    await stranger.send("/start")
    await register(stranger)
    await harness.deliver()
    before = await _snapshot(harness)
    differing: list[str] = []
    pressed: list[tuple[str, str]] = []
    for payload in sorted(staff | mine):
        await stranger.press_payload(payload)
        assert stranger.replies or stranger.response.toast, payload
        assert "처리 중 문제" not in stranger.text, payload
        assert await _snapshot(harness) == before, payload
        real = _answer(stranger)
        pressed.append((payload, real))
        other = _missing(payload)
        if other is not None:
            await stranger.press_payload(other)
            assert "처리 중 문제" not in stranger.text, other
            if _answer(stranger) != real:
                differing.append(f"{payload}: {real!r} vs {_answer(stranger)!r}")
    assert await _snapshot(harness) == before
    assert not differing, "\n".join(differing)
    # Every kind of refusal was met: the guard's, and an owner check's for existing items.
    assert {a for _, a in pressed} >= {"관리자만 쓸 수 있는 기능이에요.", "상담사만 쓸 수 있는 기능이에요."}


async def test_the_walk_covers_every_button_route(harness: Harness) -> None:
    """New routers must show up in the walk: every staff route prefix is among the pressed buttons."""
    staff, mine = await _world(harness)
    prefixes = {p.split(":")[0] for p in staff | mine}
    # Routes whose buttons act only on the presser's own or public things need no walk.
    # qa: an FAQ answer, public; cmp: one's own coaching step
    own_or_public = {"job", "set", "pit", "st", "pa", "bc", "qa", "cmp"}
    assert set(harness.engine._buttons) - own_or_public <= prefixes, prefixes
