"""Operations over HTTP: `GET /metrics` moves after a conversation and a delivery, `GET /healthz`
reports the outbox lag, and a failing turn's log lines carry the request id and no personal data."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from bot import logs
from bot.app import App, running
from bot.channels.http import base_app
from kernel.config import Settings
from scheduler import outbox as dispatch
from storage import outbox
from tests.conftest import REGISTRATION, Chat, FakeClock, RecordingNotifier, make_settings

Client = TestClient[web.Request, web.Application]


class Notifier(RecordingNotifier):
    """Delivers, except to chats that blocked the bot or are under flood control."""

    async def send(self, chat_id: str, message: dict[str, Any]) -> None:
        if chat_id == "8103":
            raise dispatch.Blocked("Forbidden: bot was blocked by the user")
        if chat_id == "flooded":
            raise dispatch.RetryAfter(30)
        await super().send(chat_id, message)


@pytest_asyncio.fixture
async def served(settings: Settings, clock: FakeClock) -> AsyncIterator[tuple[App, Client]]:
    settings = make_settings(settings.database_url, health_max_outbox_lag_seconds=60)
    async with running(settings, [Notifier()], clock=clock, schedule=False) as app:
        app.scheduler.start()
        client: Client = TestClient(TestServer(base_app(app)))
        await client.start_server()
        try:
            yield app, client
        finally:
            await client.close()


async def _metrics(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    resp = await client.get("/metrics")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(await resp.text()) for s in family.samples}


def _delta(before: dict[Any, float], after: dict[Any, float], name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


async def test_metrics_move_after_a_conversation_and_a_delivery(served: tuple[App, Client], clock: FakeClock) -> None:
    app, client = served
    before = await _metrics(client)
    await Chat(app.engine, 8101).send("/start")
    await Chat(app.engine, 8103).send("/start")  # then blocks the bot
    now = clock.now()
    async with app.sessions() as session, session.begin():
        for chat in ("8101", "8103", "flooded"):
            await outbox.enqueue(session, channel="telegram", chat_id=chat, kind="test", payload={"text": "안내"},
                                 now=now)
        # No notifier for this channel here: it stays due, and waits.
        await outbox.enqueue(session, channel="kakao", chat_id="k1", kind="test", payload={"text": "안내"},
                             now=now - dt.timedelta(seconds=20))
    await app.dispatcher.run_once()
    after = await _metrics(client)
    assert _delta(before, after, "jobhub_updates_total", channel="telegram", outcome="ok") == 2
    assert _delta(before, after, "jobhub_handler_seconds_count", channel="telegram") == 2
    assert _delta(before, after, "jobhub_handler_seconds_bucket", channel="telegram", le="+Inf") == 2
    assert _delta(before, after, "jobhub_outbox_sent_total", channel="telegram") == 1
    assert _delta(before, after, "jobhub_blocked_users_total", channel="telegram") == 1
    assert _delta(before, after, "jobhub_rate_limited_total", channel="telegram") == 1
    # From the database: the kakao row, and the flooded one postponed by 30 s, is not due yet.
    assert after[("jobhub_outbox_due", ())] == 1
    assert after[("jobhub_outbox_lag_seconds", ())] == 20
    assert after[("jobhub_blocked_chats", ())] == 1


async def test_a_duplicate_and_a_failed_turn_are_counted_apart(served: tuple[App, Client]) -> None:
    from kernel.core import Incoming

    app, client = served
    before = await _metrics(client)
    update = Incoming("telegram", "8102", "8102", text="/start", command="start", update_id="1")
    await app.engine.handle(update)
    await app.engine.handle(update)
    after = await _metrics(client)
    assert _delta(before, after, "jobhub_updates_total", channel="telegram", outcome="ok") == 1
    assert _delta(before, after, "jobhub_updates_total", channel="telegram", outcome="duplicate") == 1


async def test_healthz_reports_the_outbox_lag_and_fails_past_the_limit(served: tuple[App, Client],
                                                                       clock: FakeClock) -> None:
    app, client = served
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok", "database": "ok", "scheduler": "ok", "outbox": "ok",
                                 "outbox_lag_seconds": 0}
    async with app.sessions() as session, session.begin():
        await outbox.enqueue(session, channel="kakao", chat_id="k1", kind="test", payload={"text": "안내"},
                             now=clock.now())
    clock.advance(seconds=30)
    body = await (await client.get("/healthz")).json()
    assert (body["status"], body["outbox"], body["outbox_lag_seconds"]) == ("ok", "ok", 30)
    clock.advance(seconds=100)
    resp = await client.get("/healthz")
    body = await resp.json()
    assert resp.status == 503
    assert (body["status"], body["outbox"], body["outbox_lag_seconds"]) == ("unavailable", "lagging", 130)
    await app.db.dispose()
    await app.sessions().bind.dispose()  # type: ignore[union-attr]


async def test_a_failing_turn_logs_its_request_id_and_no_personal_data(
        harness: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from sqlalchemy import insert
    from sqlalchemy.ext.asyncio import AsyncSession

    from storage import seekers
    from storage.models import SeekerProfile
    from tests.test_kakao import start_skill

    real_save = seekers.save

    async def save_twice(session: AsyncSession, user_id: int, values: dict[str, Any], now: dt.datetime) -> Any:
        # A bug: the profile is inserted a second time, so the INSERT with the name and the
        # phone number as parameters breaks the primary key.
        profile = await real_save(session, user_id, values, now)
        await session.flush()
        row = {c.key: getattr(profile, c.key) for c in SeekerProfile.__table__.columns}
        await session.execute(insert(SeekerProfile).values(**row))
        return profile

    monkeypatch.setattr(seekers, "save", save_twice)
    skill = await start_skill(harness)
    user = skill.user("k-private")
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        await user.say("/register")
        for action, value in REGISTRATION:
            await (user.press(value) if action == "press" else user.say(value))
        capsys.readouterr()
        logs.setup("INFO", "json")
        await user.press("제출")
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
        await skill.client.close()
    assert "구직등록이 완료" not in user.text
    output = capsys.readouterr().err
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    failed = [line for line in lines if line["level"] == "ERROR"]
    assert failed and failed[0]["level"] == "ERROR" and "IntegrityError" in failed[0]["exc_info"]
    rid = failed[0]["request_id"]
    assert rid.startswith("kk-") and all(line["request_id"] == rid for line in lines)
    assert "hidden" in failed[0]["exc_info"]  # SQLAlchemy's "[SQL parameters hidden due to hide_parameters=True]"
    for personal in ("김서울", "서울대학교", "1234-5678", "12345678", "Python, SQL"):
        assert personal not in output
    async with harness.sessions() as session:
        assert await session.get(SeekerProfile, 1) is None


async def test_a_reply_still_refused_by_flood_control_is_counted(tmp_path: Any) -> None:
    from kernel import metrics
    from tests.fake_telegram import FakeTelegram
    from tests.test_telegram import USER, BotProcess, _settings

    def refused() -> float:
        return metrics.REGISTRY.get_sample_value("jobhub_rate_limited_total", {"channel": "telegram"}) or 0.0

    async with FakeTelegram() as fake:
        bot = BotProcess(_settings(tmp_path, fake))
        try:
            await fake.wait_for(lambda c: c.method == "deleteWebhook", timeout=10)
            before = refused()
            # The reply and both of its retries get 429: the person's turn is done, the reply is not.
            fake.fail_next(USER, method="sendMessage", error_code=429, retry_after=1, times=3)
            fake.user_sends(USER, "/start")
            await fake.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == USER
                                and c.error_code == 429, timeout=10)
            for _ in range(100):
                if refused() > before:
                    break
                await asyncio.sleep(0.05)
            assert refused() == before + 1
        finally:
            await bot.close()
