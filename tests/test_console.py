"""The staff web console as staff meet it, over HTTP on the bot's own server (aiohttp's test
client): sign-in by a single-use link from `/console` in chat, sessions in the database, roles
checked on the server (403), CSRF on every POST, the audit of views and exports, and the chat's
membership decisions run from a person's page."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.app import App, running
from bot.channels.http import base_app
from kernel.config import Settings
from scheduler.outbox import Dispatcher
from storage import events
from storage.models import (
    AuditEntry,
    ClinicRequest,
    ConsoleLink,
    ConsoleSession,
    Identity,
    Membership,
    OutboxMessage,
    StaffRole,
)
from tests.conftest import ADMIN_ID, Chat, FakeClock, RecordingNotifier, register
from tests.test_booking import seed as seed_counselors
from tests.test_booking import seed_seeker as seed_booking_seeker
from tests.test_booking import to_summary
from tests.test_broadcast import _people as broadcast_people
from tests.test_broadcast import _queue_everyone
from tests.test_events import seed_event, seed_seeker
from tests.test_jobs import demo
from tests.test_membership import apply

Client = TestClient[web.Request, web.Application]
LINK = re.compile(r"https?://[^\s]+(/console/signin/[A-Za-z0-9_-]+)")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
NONCE = re.compile(r'name="nonce" value="([^"]+)"')


@dataclass
class Site:
    app: App
    client: Client
    clock: FakeClock
    notifier: RecordingNotifier

    @property
    def settings(self) -> Settings:
        return self.app.settings

    @property
    def sessions(self) -> Any:  # what tests.test_events' seeding helpers take from a Harness
        return self.app.sessions

    def chat(self, user_id: int) -> Chat:
        return Chat(self.app.engine, user_id)

    async def link(self, user_id: int) -> str:
        """The path of the sign-in link `/console` gives this person in chat."""
        chat = self.chat(user_id)
        await chat.send("/console")
        found = LINK.search(chat.text)
        assert found, chat.text
        return found.group(1)

    async def sign_in(self, user_id: int) -> None:
        """A fresh browser (no cookies) signs in with a link from chat."""
        self.client.session.cookie_jar.clear()
        path = await self.link(user_id)
        resp = await self.press_sign_in(path)
        assert resp.status == 303, await resp.text()

    async def press_sign_in(self, path: str) -> Any:
        """Opens the link's page, as a browser does, and presses its button."""
        _status, html = await self.page(path)
        found = NONCE.search(html)
        return await self.client.post(path, data={"nonce": found.group(1) if found else ""}, allow_redirects=False)

    async def page(self, path: str) -> tuple[int, str]:
        resp = await self.client.get(path, allow_redirects=False)
        return resp.status, await resp.text()

    async def post(self, path: str, data: dict[str, str], *, csrf_from: str | None = None) -> web.Response:
        if csrf_from is not None:
            _status, html = await self.page(csrf_from)
            data = {"csrf": CSRF.findall(html)[0], **data}
        return await self.client.post(path, data=data, allow_redirects=False)  # type: ignore[return-value]

    async def user_id(self, external_id: int) -> int:
        async with self.app.sessions() as s:
            found = await s.scalar(select(Identity.user_id).where(Identity.external_id == str(external_id)))
        assert found is not None
        return found

    async def audit(self, action: str) -> list[AuditEntry]:
        async with self.app.sessions() as s:
            return list(await s.scalars(select(AuditEntry).where(AuditEntry.action == action)))

    async def deliver(self) -> int:
        dispatcher = Dispatcher(self.app.sessions, [self.notifier], clock=self.clock, rate=10_000,
                                per_chat_interval=0, settings=self.app.settings)
        return await dispatcher.run_once()


@pytest_asyncio.fixture
async def site(settings: Settings, clock: FakeClock) -> AsyncIterator[Site]:
    notifier = RecordingNotifier()
    async with running(settings, [notifier], clock=clock, schedule=False) as app:
        client: Client = TestClient(TestServer(base_app(app)))
        await client.start_server()
        try:
            yield Site(app, client, clock, notifier)
        finally:
            await client.close()


async def test_an_admin_signs_in_with_a_link_from_chat_and_sees_the_dashboard(site: Site) -> None:
    admin = site.chat(ADMIN_ID)
    await admin.send("/console")
    found = LINK.search(admin.text)
    assert found and "10분" in admin.text, admin.text
    path = found.group(1)
    # Opening the link (or a messenger's preview of it) shows a button and uses nothing up.
    for _ in range(2):
        status, html = await site.page(path)
        assert status == 200 and 'id="signin"' in html
    # A POST that did not come from that page in this browser (a cross-site form: no sign-in
    # cookie) is refused and leaves the link usable.
    site.client.session.cookie_jar.clear()
    forged = await site.client.post(path, data={"nonce": "x" * 22}, allow_redirects=False)
    said = await forged.text()
    assert forged.status == 403 and "바로 그 브라우저" in said and "아직 쓰지 않았어요" in said, said
    resp = await site.press_sign_in(path)
    assert resp.status == 303 and resp.headers["Location"] == "/console/"
    cookie = resp.headers.getall("Set-Cookie")
    assert any("jobhub_console=" in c and "HttpOnly" in c and "SameSite=Lax" in c and "Path=/console" in c
               for c in cookie), cookie
    status, html = await site.page("/console/")
    assert status == 200 and "대시보드" in html and "구직자 흐름" in html and "확인이 필요한 일" in html
    # Single use: the same link again starts nothing.
    site.client.session.cookie_jar.clear()
    again = await site.press_sign_in(path)
    assert again.status == 410 and "이미 썼거나" in await again.text()
    assert (await site.page("/console/"))[0] == 303


async def test_a_link_expires_after_ten_minutes(site: Site) -> None:
    path = await site.link(ADMIN_ID)
    site.clock.advance(minutes=10, seconds=1)
    resp = await site.press_sign_in(path)
    assert resp.status == 410


async def test_a_signed_out_browser_is_sent_to_sign_in(site: Site) -> None:
    for path in ("/console/", "/console/people", "/console/staff", "/console/people/1"):
        status, _html = await site.page(path)
        assert status == 303
    resp = await site.client.get("/console/people")
    assert resp.url.path == "/console/signin" and "/console" in await resp.text()
    # A forged cookie is no session either.
    site.client.session.cookie_jar.update_cookies({"jobhub_console": "x" * 43})
    assert (await site.page("/console/"))[0] == 303


async def test_only_staff_get_a_link_and_not_too_many(site: Site) -> None:
    stranger = site.chat(5001)
    await stranger.send("/console")
    assert "직원만" in stranger.text and "/console/signin/" not in stranger.text
    admin = site.chat(ADMIN_ID)
    for _ in range(5):
        await admin.send("/console")
        assert "/console/signin/" in admin.text
    await admin.send("/console")
    assert "한 시간에 5번까지" in admin.text and "/console/signin/" not in admin.text
    site.clock.advance(hours=1, seconds=1)
    await admin.send("/console")
    assert "/console/signin/" in admin.text


async def test_a_counselor_is_refused_admin_pages_and_actions(site: Site) -> None:
    await site.chat(5002).send("/start")
    counselor = await site.user_id(5002)
    await site.sign_in(ADMIN_ID)
    resp = await site.post("/console/staff", {"user_id": str(counselor), "role": "counselor"},
                           csrf_from="/console/staff")
    assert resp.status == 303 and "done=role" in resp.headers["Location"]

    await site.sign_in(5002)
    assert (await site.page("/console/people"))[0] == 200
    status, html = await site.page("/console/")
    assert status == 200 and "직원·권한" not in html  # no menu entry for what they may not see
    for path in ("/console/staff", "/console/audit", "/console/applications", "/console/export/csv"):
        status, html = await site.page(path)
        assert status == 403 and "권한이 없어요" in html, path
    resp = await site.post("/console/staff", {"user_id": str(counselor), "role": "admin"}, csrf_from="/console/")
    assert resp.status == 403
    async with site.app.sessions() as s:
        assert (await s.scalars(select(AuditEntry).where(AuditEntry.action == "staff.role"))).all().__len__() == 1


async def test_a_post_without_the_session_token_is_refused_and_changes_nothing(site: Site) -> None:
    await site.chat(5003).send("/start")
    someone = await site.user_id(5003)
    await site.sign_in(ADMIN_ID)
    for data in ({}, {"csrf": "wrong"}):
        resp = await site.post("/console/staff", {"user_id": str(someone), "role": "viewer", **data})
        assert resp.status == 403
    assert await site.audit("staff.role") == []


async def test_removing_a_role_ends_the_persons_sessions(site: Site) -> None:
    await site.chat(5004).send("/start")
    viewer = await site.user_id(5004)
    await site.sign_in(ADMIN_ID)
    await site.post("/console/staff", {"user_id": str(viewer), "role": "viewer"}, csrf_from="/console/staff")
    await site.sign_in(5004)
    assert (await site.page("/console/"))[0] == 200
    assert (await site.page("/console/people"))[0] == 403  # a viewer sees reports only
    viewer_cookies = site.client.session.cookie_jar.filter_cookies(site.client.make_url("/console/"))

    await site.sign_in(ADMIN_ID)
    await site.post("/console/staff", {"user_id": str(viewer), "role": "none"}, csrf_from="/console/staff")
    async with site.app.sessions() as s:
        assert (await s.scalars(select(ConsoleSession).where(ConsoleSession.user_id == viewer))).all() == []
    site.client.session.cookie_jar.clear()
    site.client.session.cookie_jar.update_cookies(viewer_cookies)
    assert (await site.page("/console/"))[0] == 303
    await site.chat(5004).send("/console")
    assert "직원만" in site.chat(5004).text or "/console/signin/" not in site.chat(5004).text


async def test_a_session_ends_after_the_idle_time(site: Site) -> None:
    await site.sign_in(ADMIN_ID)
    site.clock.advance(minutes=site.app.settings.console_idle_minutes - 1)
    assert (await site.page("/console/"))[0] == 200  # a request keeps it alive
    site.clock.advance(minutes=site.app.settings.console_idle_minutes - 1)
    assert (await site.page("/console/"))[0] == 200
    site.clock.advance(minutes=site.app.settings.console_idle_minutes + 1)
    assert (await site.page("/console/"))[0] == 303


async def test_sign_out_ends_the_session(site: Site) -> None:
    await site.sign_in(ADMIN_ID)
    resp = await site.post("/console/signout", {}, csrf_from="/console/")
    assert resp.status == 303 and resp.headers["Location"] == "/console/signin"
    async with site.app.sessions() as s:
        assert (await s.scalars(select(ConsoleSession))).all() == []


async def test_approving_on_a_persons_page_does_what_the_chat_does(site: Site) -> None:
    applicant = site.chat(5005)
    await register(applicant)
    await apply(applicant, team="콘솔팀")
    user_id = await site.user_id(5005)
    await site.sign_in(ADMIN_ID)

    status, html = await site.page("/console/people?q=5678")  # the phone's last digits
    assert status == 200 and f"/console/people/{user_id}" in html and "김서울" in html
    status, html = await site.page("/console/people?q=콘솔")  # the team's name
    assert f"/console/people/{user_id}" in html
    status, html = await site.page("/console/applications")
    assert status == 200 and "콘솔팀" in html

    status, html = await site.page(f"/console/people/{user_id}")
    assert status == 200 and "김서울" in html and "콘솔팀" in html and "서울대학교" in html
    views = await site.audit("console.view_person")
    assert [(v.subject, v.actor_user_id is not None) for v in views] == [(f"user:{user_id}", True)]

    async with site.app.sessions() as s:
        membership = (await s.scalars(select(Membership).where(Membership.user_id == user_id))).one()
    action = f"/console/people/{user_id}/membership/{membership.id}/decide"
    resp = await site.post(action, {"action": "approve"}, csrf_from=f"/console/people/{user_id}")
    assert resp.status == 303 and "done=approved" in resp.headers["Location"]
    status, html = await site.page(resp.headers["Location"])
    assert "승인했어요" in html
    async with site.app.sessions() as s:
        row = await s.get(Membership, membership.id)
        assert row is not None and row.status == "approved" and row.member_stage == "preparation"
        kinds = [m.kind for m in await s.scalars(select(OutboxMessage).where(OutboxMessage.user_id == user_id))]
    assert "membership.decision" in kinds
    assert [e.subject for e in await site.audit("membership.approve")] == [f"membership:{membership.id}"]
    await site.deliver()
    assert any("승인되었어요" in m["text"] for m in site.notifier.to(5005))

    # A second decision (another admin, a second tab) changes nothing.
    resp = await site.post(action, {"action": "reject", "reason": "늦었어요"}, csrf_from=f"/console/people/{user_id}")
    assert "error=already_decided" in resp.headers["Location"]

    resp = await site.post(f"/console/people/{user_id}/membership/{membership.id}/stage", {"stage": "maturation"},
                           csrf_from=f"/console/people/{user_id}")
    assert "done=stage_set" in resp.headers["Location"]
    await site.deliver()
    assert any("창업숙성" in m["text"] for m in site.notifier.to(5005))


async def test_rejecting_needs_a_reason(site: Site) -> None:
    applicant = site.chat(5006)
    await apply(applicant, team="사유팀")
    user_id = await site.user_id(5006)
    await site.sign_in(ADMIN_ID)
    async with site.app.sessions() as s:
        membership = (await s.scalars(select(Membership).where(Membership.user_id == user_id))).one()
    action = f"/console/people/{user_id}/membership/{membership.id}/decide"
    resp = await site.post(action, {"action": "reject", "reason": " "}, csrf_from=f"/console/people/{user_id}")
    assert "error=reason" in resp.headers["Location"]
    resp = await site.post(action, {"action": "reject", "reason": "서류가 빠졌어요"},
                           csrf_from=f"/console/people/{user_id}")
    assert "done=rejected" in resp.headers["Location"]
    await site.deliver()
    assert any("서류가 빠졌어요" in m["text"] for m in site.notifier.to(5006))


async def test_an_export_is_downloaded_and_audited(site: Site) -> None:
    await site.sign_in(ADMIN_ID)
    resp = await site.client.get("/console/export/csv?period=month")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in resp.headers["Content-Disposition"]
    assert (await resp.read()).startswith(b"\xef\xbb\xbf")
    exports = await site.audit("console.export")
    assert len(exports) == 1 and exports[0].details["format"] == "csv"
    status, html = await site.page("/console/audit")
    assert status == 200 and "console.export" in html
    chart = await site.client.get("/console/chart.png?period=week")
    assert chart.status == 200 and (await chart.read()).startswith(b"\x89PNG")


async def test_a_person_that_does_not_exist_is_a_404_in_the_consoles_frame(site: Site) -> None:
    await site.sign_in(ADMIN_ID)
    for path in ("/console/people/999999", "/console/people/abc", "/console/export/pdf"):
        status, html = await site.page(path)
        assert status == 404 and "찾을 수 없어요" in html, path


async def test_applications_are_approved_in_bulk_after_a_confirmation(site: Site) -> None:
    for n, team in ((5101, "첫째팀"), (5102, "둘째팀"), (5103, "셋째팀")):
        await apply(site.chat(n), team=team)
    await site.sign_in(ADMIN_ID)
    status, html = await site.page("/console/applications")
    ids = re.findall(r'name="ids" value="(\d+)"', html)
    assert status == 200 and len(ids) == 3 and "첫째팀" in html
    picked = ids[:2]
    csrf = CSRF.findall(html)[0]
    resp = await site.client.post("/console/applications/decide",
                                  data=[("csrf", csrf), ("action", "approve"), *(("ids", i) for i in picked)],
                                  allow_redirects=False)
    html = await resp.text()
    assert resp.status == 200 and "2건을 승인할까요?" in html  # nothing decided yet
    async with site.app.sessions() as s:
        assert {m.status for m in await s.scalars(select(Membership))} == {"pending"}
    resp = await site.client.post("/console/applications/decide", data=[
        ("csrf", csrf), ("action", "approve"), ("confirm", "yes"), *(("ids", i) for i in picked)],
        allow_redirects=False)
    assert resp.status == 303 and "done=bulk_approve" in resp.headers["Location"]
    status, html = await site.page(resp.headers["Location"])
    assert "2건을 승인했어요" in html
    async with site.app.sessions() as s:
        assert sorted(m.status for m in await s.scalars(select(Membership))) == ["approved", "approved", "pending"]
    await site.deliver()
    assert any("승인되었어요" in m["text"] for m in site.notifier.to(5101))
    assert not site.notifier.to(5103)


async def test_people_are_checked_in_from_the_events_list(site: Site) -> None:
    event_id = await seed_event(site)  # type: ignore[arg-type]
    people = [await seed_seeker(site, n) for n in (5201, 5202)]  # type: ignore[arg-type]
    async with site.app.sessions() as s, s.begin():
        event = await events.get(s, event_id)
        assert event is not None
        regs = [await events.register(s, event, user_id, site.clock.now()) for user_id in people]
        reg_ids = [r.id for r in regs]
    await site.sign_in(ADMIN_ID)
    status, html = await site.page("/console/events")
    assert status == 200 and "IR 피칭 실전" in html and "2/10" in html
    status, html = await site.page(f"/console/events/{event_id}")
    assert status == 200 and "구직자5201" in html and "참석 0명 / 신청 2명" in html
    resp = await site.post(f"/console/events/{event_id}/checkin", {"registration": str(reg_ids[0])},
                           csrf_from=f"/console/events/{event_id}")
    assert "done=checkin_done" in resp.headers["Location"]
    status, html = await site.page(resp.headers["Location"])
    assert "참석으로 표시했어요" in html and "참석 1명 / 신청 2명" in html
    resp = await site.post(f"/console/events/{event_id}/checkin", {"registration": str(reg_ids[0])},
                           csrf_from=f"/console/events/{event_id}")
    assert "done=checkin_already" in resp.headers["Location"]
    async with site.app.sessions() as s:
        assert await events.attendees(s, event_id) == [people[0]]


async def test_deleting_oneself_takes_the_role_the_links_and_the_sessions(site: Site) -> None:
    staffer = site.chat(5301)
    await staffer.send("/start")
    user_id = await site.user_id(5301)
    await site.sign_in(ADMIN_ID)
    await site.post("/console/staff", {"user_id": str(user_id), "role": "viewer"}, csrf_from="/console/staff")
    await site.sign_in(5301)
    await staffer.send("/console")  # a second link, unused
    await staffer.send("/delete")
    await staffer.press("네, 모두 삭제")
    async with site.app.sessions() as s:
        for model in (StaffRole, ConsoleLink, ConsoleSession):
            assert (await s.scalars(select(model).where(model.user_id == user_id))).all() == [], model
    assert (await site.page("/console/"))[0] == 303


async def test_the_teams_week_shows_hours_days_off_and_bookings(site: Site) -> None:
    await seed_counselors(site)  # type: ignore[arg-type]
    await seed_booking_seeker(site.app.sessions, 5401, site.clock.now())
    person = site.chat(5401)
    await to_summary(person, day="3/3", time="09:00")
    await person.press("제출")
    assert "예약되었어요" in person.text
    await site.sign_in(ADMIN_ID)
    status, html = await site.page("/console/calendar")
    assert status == 200 and "김상담" in html and "이상담" in html
    assert "09:00–12:00 서울일자리플러스센터" in html and "09:00 구직자5401" in html and "예약 1건" in html
    status, html = await site.page("/console/calendar?week=2026-03-09")
    assert status == 200 and "예약 0건" in html
    status, _html = await site.page("/console/calendar?week=not-a-day")
    assert status == 200


async def test_a_posting_is_closed_and_reopened_from_its_firms_page(site: Site) -> None:
    await demo(site)  # type: ignore[arg-type]
    await site.sign_in(ADMIN_ID)
    status, html = await site.page("/console/firms")
    assert status == 200 and "기업 127곳" in html
    firm_path = re.findall(r'href="(/console/firms/\d+)"', html)[0]
    status, html = await site.page(firm_path)
    posting_id = re.findall(r'id="close-(\d+)"', html)[0]
    action = f"{firm_path}/postings/{posting_id}/status"
    resp = await site.post(action, {"status": "closed"}, csrf_from=firm_path)
    assert "done=posting_now_closed" in resp.headers["Location"]
    status, html = await site.page(resp.headers["Location"])
    assert "공고를 마감했어요" in html and f'id="reopen-{posting_id}"' in html
    resp = await site.post(action, {"status": "closed"}, csrf_from=firm_path)
    assert "done=posting_already_closed" in resp.headers["Location"]
    assert [e.subject for e in await site.audit("posting.closed")] == [f"posting:{posting_id}"]
    resp = await site.post(action, {"status": "open"}, csrf_from=firm_path)
    assert "done=posting_now_open" in resp.headers["Location"]
    name = re.sub(r"<[^>]+>", "", re.findall(r"<h1>(.*?)</h1>", html)[0])
    status, html = await site.page(f"/console/firms?q={name[:4]}")
    assert status == 200 and firm_path in html


async def test_a_broadcast_is_stopped_from_the_console(site: Site) -> None:
    await broadcast_people(site)  # type: ignore[arg-type]
    _admin, broadcast_id = await _queue_everyone(site)  # type: ignore[arg-type]
    await site.sign_in(ADMIN_ID)
    status, html = await site.page("/console/broadcasts")
    assert status == 200 and "3월 채용박람회 안내" in html and f'id="stop-{broadcast_id}"' in html
    resp = await site.post(f"/console/broadcasts/{broadcast_id}/stop", {}, csrf_from="/console/broadcasts")
    assert "done=broadcast_stopped" in resp.headers["Location"]
    status, html = await site.page(resp.headers["Location"])
    assert "발송을 멈췄어요" in html and f'id="stop-{broadcast_id}"' not in html
    assert await site.deliver() == 0  # nothing left to send
    assert [e.subject for e in await site.audit("broadcast.stop")] == [f"broadcast:{broadcast_id}"]


async def test_an_admin_cancels_a_booking_and_the_person_is_told(site: Site) -> None:
    await seed_counselors(site)  # type: ignore[arg-type]
    await seed_booking_seeker(site.app.sessions, 5501, site.clock.now())
    person = site.chat(5501)
    await to_summary(person, day="3/3", time="10:00")
    await person.press("제출")
    await site.deliver()
    before = len(site.notifier.to(5501))
    await site.sign_in(ADMIN_ID)
    status, html = await site.page("/console/calendar")
    booking_id = re.findall(r'id="cancel-(\d+)"', html)[0]
    resp = await site.post(f"/console/calendar/bookings/{booking_id}/cancel", {"week": "2026-03-02"},
                           csrf_from="/console/calendar")
    assert "done=booking_cancelled" in resp.headers["Location"] and "week=2026-03-02" in resp.headers["Location"]
    status, html = await site.page(resp.headers["Location"])
    assert "예약을 취소했어요" in html and f'id="cancel-{booking_id}"' not in html
    await site.deliver()
    told = site.notifier.to(5501)[before:]
    assert any("취소되었어요" in m["text"] for m in told)
    assert [e.subject for e in await site.audit("booking.cancel")] == [f"booking:{booking_id}"]
    resp = await site.post(f"/console/calendar/bookings/{booking_id}/cancel", {}, csrf_from="/console/calendar")
    assert "done=booking_not_cancellable" in resp.headers["Location"]
    # A counselor sees the week, without the cancel buttons, and a cancel they post is refused.
    await site.chat(5502).send("/start")
    await site.post("/console/staff", {"user_id": str(await site.user_id(5502)), "role": "counselor"},
                    csrf_from="/console/staff")
    await site.sign_in(5502)
    status, html = await site.page("/console/calendar")
    assert status == 200 and 'id="cancel-' not in html
    resp = await site.post(f"/console/calendar/bookings/{booking_id}/cancel", {}, csrf_from="/console/calendar")
    assert resp.status == 403


async def test_a_counselor_adds_a_case_note_on_a_persons_page_and_the_person_sees_it(site: Site) -> None:
    """Case notes (issue 17) on any person, not only from a clinic request: counselors and admins
    read and add them; a campus manager or viewer does not see them; the person sees them in /profile."""
    person = site.chat(5011)
    await register(person)
    user_id = await site.user_id(5011)
    await site.chat(5012).send("/start")
    counselor = await site.user_id(5012)
    await site.sign_in(ADMIN_ID)
    await site.post("/console/staff", {"user_id": str(counselor), "role": "counselor"}, csrf_from="/console/staff")

    await site.sign_in(5012)
    page = f"/console/people/{user_id}"
    status, html = await site.page(page)
    assert status == 200 and "상담 메모" in html
    resp = await site.post(f"{page}/notes", {"text": "  "}, csrf_from=page)
    assert resp.status == 303 and "error=note" in resp.headers["Location"]
    resp = await site.post(f"{page}/notes", {"text": "면접 준비 중. 다음 주 모의면접 권유"}, csrf_from=page)
    assert resp.status == 303 and "done=note" in resp.headers["Location"]
    status, html = await site.page(resp.headers["Location"])
    assert "메모를 남겼어요" in html and "다음 주 모의면접 권유" in html
    assert [e.subject for e in await site.audit("console.note")] == [f"user:{user_id}"]
    resp = await site.post(f"{page}/notes", {"text": "CSRF 없이"})
    assert resp.status == 403

    await person.send("/profile")
    assert "다음 주 모의면접 권유" in person.text

    await site.sign_in(ADMIN_ID)
    await site.post("/console/staff", {"user_id": str(counselor), "role": "viewer"}, csrf_from="/console/staff")
    await site.sign_in(5012)
    status, html = await site.page(page)
    assert "다음 주 모의면접 권유" not in html or status == 403
    assert (await site.post(f"{page}/notes", {"text": "보면 안 돼요"}, csrf_from="/console/")).status == 403


async def test_the_clinic_queue_shows_open_requests_in_order_with_overdue_marked(site: Site) -> None:
    person = site.chat(5013)
    await register(person)
    user_id = await site.user_id(5013)
    now = site.clock.now()
    async with site.app.sessions() as s, s.begin():
        s.add_all([ClinicRequest(user_id=user_id, status="received", documents=["resume"], created_at=now,
                                 submitted_at=now - dt.timedelta(days=3), due_at=now - dt.timedelta(days=1)),
                   ClinicRequest(user_id=user_id, status="received", documents=["cover_letter"], created_at=now,
                                 submitted_at=now, due_at=now + dt.timedelta(days=2)),
                   ClinicRequest(user_id=user_id, status="draft", documents=["portfolio"], created_at=now)])
    await site.sign_in(ADMIN_ID)
    status, html = await site.page("/console/clinic")
    assert status == 200 and "서류클리닉" in html and "2건" in html
    assert html.index("이력서") < html.index("자기소개서") and html.count("기한 지남") == 1
    assert "포트폴리오" not in html and f"/console/people/{user_id}" in html and "김서울" in html
    await site.chat(5014).send("/start")
    await site.post("/console/staff", {"user_id": str(await site.user_id(5014)), "role": "viewer"},
                    csrf_from="/console/staff")
    await site.sign_in(5014)
    assert (await site.page("/console/clinic"))[0] == 403
