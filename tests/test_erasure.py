"""Erasure reaches what staff were sent about a person: after /delete (or the retention run) no
queued or kept message, and no file behind a link, names or describes them, whoever it was for."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from bot.app import apply_retention
from kernel.core import stamp
from scheduler.agenda import send_daily_agenda
from storage import linking, outbox, users
from storage.models import Membership, OutboxMessage, OutboxSubject, PitchApplication, ServedFile
from tests.conftest import ADMIN_ID, Harness, register
from tests.test_booking import COUNSELOR_A, seed, to_summary
from tests.test_demoday import apply as apply_pitch
from tests.test_demoday import make_demo_day, user_id_of
from tests.test_jobs import demo, posting_ids
from tests.test_kakao import Skill, download, kakao_admin
from tests.test_kakao import skill as skill  # the fixture
from tests.test_membership import apply as apply_membership

SEOUL = dt.timezone(dt.timedelta(hours=9))
# What the registration (tests.conftest.REGISTRATION) and the application below say about the person.
TRACES = ("김서울", "010-1234-5678", "1234-5678", "서울대학교", "잊혀질팀")


async def _mentions(h: Harness) -> list[tuple[str, str, str]]:
    """(kind, recipient chat, status) of every outbox row whose message carries a trace of the person."""
    async with h.sessions() as s:
        rows = list(await s.scalars(select(OutboxMessage)))
    return [(r.kind, r.chat_id, r.status) for r in rows
            if any(trace in json.dumps(r.payload, ensure_ascii=False) for trace in TRACES)]


async def test_delete_takes_every_message_about_the_person_to_staff_with_it(harness: Harness) -> None:
    await seed(harness)  # counselor A (800) works weekdays 9-12 at the centre
    await demo(harness)
    person = harness.chat(1)
    await register(person)
    await person.send("/jobs")
    await person.press_payload(f"job:i:{posting_ids(person)[0]}")  # a referral: counselor A is told
    await apply_membership(person, team="잊혀질팀")  # the admins are told
    await to_summary(person, day="3/3", time="09:00")
    await person.press("제출")
    assert "예약되었어요" in person.text
    await harness.deliver()  # these were sent: kept in the outbox until OUTBOX_KEEP_DAYS
    await person.send("/human")  # counselor A on duty is asked to connect: still queued
    await person.send("/end")
    harness.clock._now = dt.datetime(2026, 3, 3, 8, 30, tzinfo=SEOUL)
    assert await send_daily_agenda(harness.sessions, harness.settings, harness.clock) >= 1  # names the person
    kinds = {kind for kind, _chat, _status in await _mentions(harness)}
    assert {"referral.new", "membership.new", "booking.new", "handoff.request", "counselor.agenda"} <= kinds
    counselor_had = len(harness.notifier.to(COUNSELOR_A))

    await person.send("/delete")
    await person.press("네, 모두 삭제")
    assert "모든 정보를 삭제했어요" in person.text
    assert await _mentions(harness) == []
    await harness.deliver()
    assert len(harness.notifier.to(COUNSELOR_A)) == counselor_had  # the queued request and agenda are gone


async def test_the_retention_run_takes_the_staff_messages_about_the_people_it_pseudonymises(
        harness: Harness) -> None:
    await demo(harness)
    person = harness.chat(2)
    await register(person)
    await person.send("/jobs")
    await person.press_payload(f"job:i:{posting_ids(person)[0]}")
    await apply_membership(person, team="잊혀질팀")
    # Not sent: an admin who has not opened the bot yet keeps them queued. Sent ones would be
    # gone by now anyway (OUTBOX_KEEP_DAYS is shorter than RETENTION_MONTHS).
    assert {kind for kind, chat, status in await _mentions(harness) if chat == str(ADMIN_ID)} == {
        "referral.new", "membership.new"}

    harness.clock.advance(days=31 * harness.settings.retention_months + 1)
    report = await apply_retention(harness.sessions, harness.settings, harness.clock)
    assert report.people == 1
    assert await _mentions(harness) == []


async def test_an_export_naming_a_person_behind_a_file_link_goes_with_them(skill: Skill) -> None:
    h = skill.harness
    event_id = await make_demo_day(h)
    presenter = h.chat(620)
    await register(presenter)
    async with h.sessions() as s, s.begin():  # the presenter is a member already
        s.add(Membership(user_id=await user_id_of(h, 620), applicant_type="startup", team_name="잊혀질팀",
                         idea="동네 가게 주문 관리 앱.", industry="it", startup_stage="revenue", team_size=2,
                         status="approved", member_stage="execution", consent_at=h.clock.now(),
                         applied_at=h.clock.now(), decided_at=h.clock.now()))
    await presenter.send("/pitch")
    await apply_pitch(presenter, team="잊혀질팀")
    admin = await kakao_admin(skill)
    telegram_admin = h.chat(ADMIN_ID)
    async with h.sessions() as s:
        application = (await s.scalars(select(PitchApplication))).one()
    await telegram_admin.press_payload(f"pia:sel:{application.id}:{stamp(application.created_at)}")
    await admin.say(f"/pitches {event_id} csv")
    url = admin.link("파일 받기")
    status, _, data = await download(skill, url)
    assert status == 200 and "김서울" in data.decode("utf-8-sig")

    await presenter.send("/delete")
    await presenter.press("네, 모두 삭제")
    assert (await download(skill, url))[0] == 410
    async with h.sessions() as s:
        kept = list(await s.scalars(select(ServedFile.data)))
    assert not any(trace.encode() in data for data in kept for trace in TRACES)


async def test_joining_two_accounts_keeps_a_message_about_both_about_the_one_person(harness: Harness) -> None:
    now = harness.clock.now()
    async with harness.sessions() as s, s.begin():
        one, _ = await users.identify(s, "telegram", "31", "31", "ko", now)
        other, _ = await users.identify(s, "kakao", "k-31", "k-31", "ko", now)
        await outbox.enqueue(s, channel="telegram", chat_id="800", kind="counselor.agenda", payload={"text": "-"},
                             now=now, about=[one.id, other.id])
        assert isinstance(await linking.merge(s, other.id, one, now), linking.Merged)
    async with harness.sessions() as s, s.begin():
        assert list(await s.scalars(select(OutboxSubject.user_id))) == [one.id]
        await users.erase(s, one.id)
    assert await _mentions(harness) == [] and await harness.deliver() == 0


async def test_an_alert_kept_for_a_kakao_admins_next_message_goes_with_the_person(harness: Harness) -> None:
    """Without the Event API a KakaoTalk staff member's alerts are kept to be shown before their next
    answer; erasing the person the alert is about takes that copy too."""
    from bot.channels.kakao import HoldingNotifier
    from scheduler.outbox import Dispatcher
    from storage import kakao as pages

    person = harness.chat(1)
    await register(person)
    async with harness.sessions() as s, s.begin():
        seeker, _ = await users.identify(s, "telegram", "1", "1", "ko", harness.clock.now())
        staff, _ = await users.identify(s, "kakao", "kakao-admin-key", "kakao-admin-key", "ko", harness.clock.now())
        await outbox.enqueue(s, channel="kakao", chat_id="kakao-admin-key", user_id=staff.id, kind="referral.new",
                             payload={"text": "🤝 새 취업알선 요청: 김서울"}, now=harness.clock.now(), about=seeker.id)
        await outbox.enqueue(s, channel="kakao", chat_id="kakao-admin-key", user_id=staff.id, kind="notice",
                             payload={"text": "공지: 센터 휴무"}, now=harness.clock.now())
    holding = HoldingNotifier(harness.settings, harness.sessions, harness.clock)
    dispatcher = Dispatcher(harness.sessions, [holding], clock=harness.clock, rate=10_000, per_chat_interval=0)
    assert await dispatcher.run_once() == 2
    async with harness.sessions() as s, s.begin():
        await users.erase(s, seeker.id)
    async with harness.sessions() as s, s.begin():
        kept = await pages.take_late(s, "kakao-admin-key")
    shown = json.dumps(kept, ensure_ascii=False)
    assert "김서울" not in shown and "센터 휴무" in shown
