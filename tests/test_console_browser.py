"""The staff console in a real browser: Debian's headless Chromium driven by Selenium through
chromium-driver (nothing downloads a browser), against the bot's own HTTP server on a free port.

What a staff member does: signs in with the link `/console` gave them in chat, finds an
applicant, approves the application (and the rest of the queue in bulk), cancels a booking,
checks someone in at an event, closes a posting, stops a broadcast, downloads the report,
grants a colleague a role; a counselor is refused the
admin pages and a signed-out browser is sent to sign in. Every page is photographed at a phone's
and a desktop's width (PNG files in a temporary folder, or in JOBHUB_SCREENSHOTS when set) and
checked not to scroll sideways and, with axe-core (the copy axe-selenium-python bundles), to
have no serious or critical accessibility violation.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import pytest_asyncio
from aiohttp import web
from axe_selenium_python import Axe
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.wait import WebDriverWait
from sqlalchemy import select

from bot.app import App, running
from bot.channels.http import base_app
from storage import events
from storage.models import Identity, Membership
from tests.conftest import ADMIN_ID, Chat, FakeClock, make_settings, register
from tests.test_booking import seed as seed_counselors
from tests.test_booking import seed_seeker as seed_booking_seeker
from tests.test_booking import to_summary
from tests.test_broadcast import _people as broadcast_people
from tests.test_broadcast import _queue_everyone
from tests.test_events import seed_event, seed_seeker
from tests.test_jobs import demo
from tests.test_membership import apply

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.browser,
    # Under CI a missing browser fails (the driver cannot start) rather than skipping unseen.
    pytest.mark.skipif((CHROMIUM is None or CHROMEDRIVER is None) and not os.environ.get("CI"),
                       reason="Debian's chromium and chromium-driver are not installed "
                              "(apt-get install chromium chromium-driver; .ci/run installs them)"),
]
LINK = re.compile(r"https?://\S+/console/signin/[A-Za-z0-9_-]+")
PHONE, DESKTOP = (390, 844), (1280, 900)
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or ""
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--lang=ko-KR",
                f"--window-size={DESKTOP[0]},{DESKTOP[1]}"):
        options.add_argument(arg)
    # Both paths given: Selenium Manager has nothing to look up or download.
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER or ""))
    try:
        yield driver
    finally:
        driver.quit()


@dataclass
class Live:
    app: App
    base: str
    driver: webdriver.Chrome
    shots: Path
    clock: FakeClock

    @property
    def settings(self) -> Any:
        return self.app.settings

    def chat(self, user_id: int) -> Chat:
        return Chat(self.app.engine, user_id)

    @property
    def sessions(self) -> Any:  # what tests.test_events' seeding helpers take from a Harness
        return self.app.sessions

    async def do(self, fn: Callable[..., T], *args: Any) -> T:
        # Selenium blocks; the server answering it runs on this loop.
        return await asyncio.to_thread(fn, *args)

    async def open(self, path: str) -> None:
        await self.do(self.driver.get, self.base + path)

    async def text(self) -> str:
        return str(await self.do(lambda: self.driver.find_element(By.TAG_NAME, "body").text))

    async def click(self, selector: str) -> None:
        """Click what leads to another page, and wait until that page has replaced this one."""
        def run() -> None:
            old = self.driver.find_element(By.TAG_NAME, "html")
            self.driver.find_element(By.CSS_SELECTOR, selector).click()
            WebDriverWait(self.driver, 30).until(staleness_of(old))
            WebDriverWait(self.driver, 30).until(
                lambda d: d.execute_script("return document.readyState") == "complete")

        await self.do(run)

    async def fill(self, selector: str, value: str) -> None:
        await self.do(lambda: self.driver.find_element(By.CSS_SELECTOR, selector).send_keys(value))

    async def path(self) -> str:
        url = str(await self.do(lambda: self.driver.current_url))
        return url.removeprefix(self.base)

    async def sign_in(self, user_id: int) -> None:
        chat = Chat(self.app.engine, user_id)
        await chat.send("/console")
        found = LINK.search(chat.text)
        assert found, chat.text
        await self.do(self.driver.delete_all_cookies)
        await self.do(self.driver.get, found.group(0))
        await self.click("#signin")
        assert await self.path() == "/console/"

    async def shoot(self, name: str) -> None:
        """The page at a phone's and a desktop's width; neither scrolls sideways."""
        for label, (width, height) in (("phone", PHONE), ("desktop", DESKTOP)):
            await self.do(self.driver.set_window_size, width, height)
            await self.do(self.driver.refresh)
            wide = await self.do(lambda: self.driver.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth"))
            assert wide <= 1, (name, label, wide)
            await self.do(self.driver.save_screenshot, str(self.shots / f"{name}-{label}.png"))
        await self.accessible(name)

    async def accessible(self, name: str) -> None:
        def run() -> dict[str, Any]:
            axe = Axe(self.driver)
            axe.inject()
            return dict(axe.run())

        results = await self.do(run)
        bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in results["violations"]
               if v.get("impact") in ("serious", "critical")]
        assert bad == [], (name, bad)


@pytest_asyncio.fixture
async def live(browser: webdriver.Chrome, tmp_path: Path) -> AsyncIterator[Live]:
    port = free_port()
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'console.sqlite3'}",
                             public_base_url=f"http://127.0.0.1:{port}")
    shots = Path(os.environ.get("JOBHUB_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    clock = FakeClock()
    async with running(settings, clock=clock, schedule=False) as app:
        runner = web.AppRunner(base_app(app), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            yield Live(app, f"http://127.0.0.1:{port}", browser, shots, clock)
        finally:
            await runner.cleanup()


async def _user_id(app: App, external_id: int) -> int:
    async with app.sessions() as s:
        found = await s.scalar(select(Identity.user_id).where(Identity.external_id == str(external_id)))
    assert found is not None
    return found


async def test_staff_work_in_a_real_browser(live: Live) -> None:
    applicant = Chat(live.app.engine, 7001)
    await register(applicant)
    await apply(applicant, team="브라우저팀")
    await apply(Chat(live.app.engine, 7003), team="두번째팀")
    event_id = await seed_event(live)  # type: ignore[arg-type]
    await seed_counselors(live)  # type: ignore[arg-type]
    await demo(live)  # type: ignore[arg-type]
    await seed_booking_seeker(live.app.sessions, 7005, live.clock.now())
    booker = Chat(live.app.engine, 7005)
    await to_summary(booker, day="3/3", time="10:00")
    await booker.press("제출")
    guest = await seed_seeker(live, 7004)  # type: ignore[arg-type]
    async with live.app.sessions() as s, s.begin():
        event = await events.get(s, event_id)
        assert event is not None
        reg_id = (await events.register(s, event, guest, live.clock.now())).id
    await Chat(live.app.engine, 7002).send("/start")
    applicant_id, counselor_id = await _user_id(live.app, 7001), await _user_id(live.app, 7002)

    # Signed out: any page sends the browser to sign in.
    await live.open("/console/people")
    assert await live.path() == "/console/signin" and "/console" in await live.text()
    await live.shoot("signin")

    await live.sign_in(ADMIN_ID)
    assert "구직자 흐름" in await live.text()
    await live.shoot("dashboard")

    await live.open("/console/applications")
    assert "브라우저팀" in await live.text()

    await live.open("/console/people")
    await live.fill("input[name=q]", "김서울")
    await live.click("form.search button[type=submit]")
    assert "김서울" in await live.text()
    await live.shoot("people")
    await live.click(f"a[href='/console/people/{applicant_id}']")
    assert await live.path() == f"/console/people/{applicant_id}"
    await live.shoot("person")
    async with live.app.sessions() as s:
        membership = (await s.scalars(select(Membership).where(Membership.user_id == applicant_id))).one()
    await live.click(f"#approve-{membership.id}")
    assert "승인했어요" in await live.text()
    async with live.app.sessions() as s:
        row = await s.get(Membership, membership.id)
        assert row is not None and row.status == "approved"

    # The rest of the queue in bulk, after a confirmation.
    await live.open("/console/applications")
    await live.shoot("applications")
    for box in await live.do(lambda: live.driver.find_elements(By.CSS_SELECTOR, "input[name=ids]")):
        await live.do(box.click)
    await live.click("#bulk-approve")
    assert "1건을 승인할까요?" in await live.text()
    await live.shoot("bulk-confirm")
    await live.click("#bulk-confirm")
    assert "1건을 승인했어요" in await live.text()

    # Checking someone in at the door.
    await live.open("/console/events")
    assert "IR 피칭 실전" in await live.text()
    await live.shoot("events")
    await live.click(f"a[href='/console/events/{event_id}']")
    await live.click(f"#checkin-{reg_id}")
    assert "참석으로 표시했어요" in await live.text()
    await live.shoot("event")
    async with live.app.sessions() as s:
        assert await events.attendees(s, event_id) == [guest]

    await live.open("/console/calendar")
    assert "김상담" in await live.text() and "구직자7005" in await live.text()
    await live.shoot("calendar")
    await live.click("button[id^=cancel-]")
    assert "예약을 취소했어요" in await live.text()

    await live.open("/console/firms")
    await live.shoot("firms")
    await live.click("table a[href^='/console/firms/']")
    await live.click("button[id^=close-]")
    assert "공고를 마감했어요" in await live.text()
    await live.shoot("firm")

    # A broadcast going out, stopped.
    await broadcast_people(live)  # type: ignore[arg-type]
    _admin, broadcast_id = await _queue_everyone(live)  # type: ignore[arg-type]
    await live.open("/console/broadcasts")
    await live.shoot("broadcasts")
    await live.click(f"#stop-{broadcast_id}")
    assert "발송을 멈췄어요" in await live.text()

    # The report downloads (the browser's own request, with its cookie).
    await live.open("/console/?period=month")
    status = await live.do(lambda: live.driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(document.querySelector('a[href*=\"/export/xlsx\"]').href).then(r => done(r.status))"))
    assert status == 200

    await live.open("/console/staff")
    await live.fill("input[name=user_id]", str(counselor_id))
    await live.do(lambda: live.driver.find_element(By.CSS_SELECTOR, "select[name=role] option[value=counselor]")
                  .click())
    await live.click("form.search button[type=submit]")
    assert "권한을 저장했어요" in await live.text()
    await live.shoot("staff")
    await live.open("/console/audit")
    assert "console.view_person" in await live.text()
    await live.shoot("audit")

    # The counselor, in a browser of their own, is refused the admin pages.
    await live.sign_in(7002)
    await live.open("/console/staff")
    assert "권한이 없어요" in await live.text()
    await live.shoot("refused")
    await live.click(".signout button")
    assert await live.path() == "/console/signin"
