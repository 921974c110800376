"""Ids are never reused, on SQLite as on PostgreSQL: a button, link or key naming a deleted record
can never reach a record made later (DESIGN.md §5)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select, text

from kernel.core import Incoming
from storage import migrate
from storage.db import create_engine, session_factory
from storage.demo import generate
from storage.migrate import upgrade
from storage.models import AuditEntry, Base, Membership, OutboxMessage, Referral, User, has_surrogate_key
from tests.conftest import ADMIN_ID, START, Chat, FetchingChannel, Harness, register
from tests.test_events import EVENT_START, seed_event
from tests.test_jobs import demo, posting_ids
from tests.test_membership import apply


def _button(note: dict[str, Any], label: str) -> str:
    return next(b["payload"] for row in note["buttons"] for b in row if label in b["label"])


async def _ask_referral(chat: Chat) -> None:
    await chat.send("/jobs")
    await chat.press_payload(f"job:i:{posting_ids(chat)[0]}")
    assert "취업알선을 신청했어요" in chat.text, chat.text


async def _erase(chat: Chat) -> None:
    await chat.send("/delete")
    await chat.press("네, 모두 삭제")
    assert "모든 정보를 삭제했어요" in chat.text


async def test_an_old_staff_button_never_acts_on_a_record_made_after_an_erasure(harness: Harness) -> None:
    await demo(harness)
    c = harness.chat(601)
    await register(c)
    await _ask_referral(c)
    await apply(c, team="씨팀")
    await harness.deliver()
    notes = harness.notifier.to(ADMIN_ID)
    referral_note = next(n for n in notes if "새 취업알선 요청" in n["text"])
    membership_note = next(n for n in notes if "새 공동회원 신청" in n["text"])
    hired, approve = _button(referral_note, "채용"), _button(membership_note, "승인")

    await _erase(c)
    d, e = harness.chat(602), harness.chat(603)
    await register(d)
    await _ask_referral(d)
    await apply(e, team="이팀")
    assert "접수되었어요" in e.text
    await harness.deliver()
    told_before = len(harness.notifier.to(602)) + len(harness.notifier.to(603))

    admin = harness.chat(ADMIN_ID)
    await admin.press_payload(hired)
    assert "찾을 수 없어요" in admin.text, admin.text
    await admin.press_payload(approve)
    assert "찾을 수 없어요" in admin.text, admin.text

    async with harness.sessions() as s:
        assert (await s.scalars(select(Referral.status))).one() == "requested"
        assert (await s.scalars(select(Membership.status))).one() == "pending"
    await harness.deliver()
    assert len(harness.notifier.to(602)) + len(harness.notifier.to(603)) == told_before
    async with harness.sessions() as s:
        kinds = set(await s.scalars(select(OutboxMessage.kind).where(OutboxMessage.user_id.is_not(None))))
    assert not kinds & {"referral.outcome", "membership.decision"}


# --- the schema: every surrogate key on SQLite is AUTOINCREMENT, old databases included ----------


def _sqlite_schema(path: Path) -> dict[str, str]:
    with closing(sqlite3.connect(path)) as db:
        return dict(db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall())


async def test_every_surrogate_key_of_the_migrated_schema_is_autoincrement(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'fresh.sqlite3'}")
    await upgrade(engine)
    await engine.dispose()
    schema = _sqlite_schema(tmp_path / "fresh.sqlite3")
    keyed = [table for table in Base.metadata.sorted_tables if has_surrogate_key(table)]
    assert len(keyed) > 20 and {"users", "memberships", "referrals", "outbox"} <= {t.name for t in keyed}
    for table in keyed:
        assert table.dialect_kwargs["sqlite_autoincrement"], table.name
        assert "AUTOINCREMENT" in schema[table.name], f"{table.name} can hand a deleted row's id out again"


NOW = "'2026-03-02 01:00:00'"


async def test_a_database_made_before_the_change_keeps_its_rows_and_never_reuses_ids(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade(engine, "0010")
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA foreign_keys=ON")
        for n in (1, 2, 3):
            db.execute(f"INSERT INTO users (id, locale, role, created_at, last_seen_at) "
                       f"VALUES ({n}, 'ko', 'user', {NOW}, {NOW})")
            db.execute(f"INSERT INTO identities (user_id, channel, external_id, chat_id) "
                       f"VALUES ({n}, 'telegram', '{700 + n}', '{700 + n}')")
            db.execute(f"INSERT INTO memberships (user_id, applicant_type, team_name, idea, industry, startup_stage, "
                       f"team_size, status, consent_at, applied_at) VALUES ({n}, 'startup', '팀{n}', '아이디어', 'it', "
                       f"'idea', 2, 'pending', {NOW}, {NOW})")
            db.execute(f"INSERT INTO outbox (user_id, channel, chat_id, kind, payload, due_at, status, attempts, "
                       f"created_at) VALUES ({n}, 'telegram', '{700 + n}', 'x', '{{}}', {NOW}, 'sent', 1, {NOW})")
        db.execute("DELETE FROM users WHERE id = 3")  # the newest: an old-style table hands 3 out again
        db.commit()
        before = {table: db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
                  for table in ("users", "identities", "memberships", "outbox")}
        assert "AUTOINCREMENT" not in _sqlite_schema(path)["users"]

    await upgrade(engine)
    with closing(sqlite3.connect(path)) as db:
        after = {table: db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall() for table in before}
        assert after == before
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    assert "AUTOINCREMENT" in _sqlite_schema(path)["users"]

    sessions = session_factory(engine)
    async with sessions() as s, s.begin():
        assert await s.scalar(text("PRAGMA foreign_keys")) == 1  # the app's connection has them back
        newest = User(locale="ko", role="user", created_at=START, last_seen_at=START)
        s.add(newest)
        await s.flush()
        assert newest.id == 3  # deleted before the upgrade: nobody can know it any more
        await s.delete(newest)
    async with sessions() as s, s.begin():
        again = User(locale="ko", role="user", created_at=START, last_seen_at=START)
        s.add(again)
        await s.flush()
        assert again.id == 4
        # Deleting a user took its rows along on the way (cascades still hold after the rebuild).
        await s.execute(delete(User).where(User.id == 2))
        assert await s.scalar(select(func.count()).select_from(Membership)) == 1
    await engine.dispose()


# --- keys that name something that cannot recur ----------------------------------------------------


async def test_a_person_who_deleted_everything_and_applies_again_reaches_the_admins_again(harness: Harness) -> None:
    await demo(harness)
    person, admin = harness.chat(611), harness.chat(ADMIN_ID)
    await admin.send("/help")  # the admin has written to the bot: alerts go to their identity
    await register(person)
    await _ask_referral(person)
    await apply(person, team="첫팀")
    await harness.deliver()
    first = harness.notifier.to(ADMIN_ID)
    assert [n for n in first if "새 취업알선 요청" in n["text"]] and [n for n in first if "첫팀" in n["text"]]
    await admin.press_payload(_button(next(n for n in first if "새 취업알선 요청" in n["text"]), "불발"))

    await _erase(person)
    await register(person)
    await _ask_referral(person)
    await apply(person, team="둘째팀")
    assert "접수되었어요" in person.text
    await harness.deliver()
    again = harness.notifier.to(ADMIN_ID)[len(first):]
    assert [n for n in again if "새 취업알선 요청" in n["text"]], again
    assert [n for n in again if "새 공동회원 신청" in n["text"] and "둘째팀" in n["text"]], again
    await admin.press_payload(_button(next(n for n in again if "새 취업알선 요청" in n["text"]), "불발"))

    async with harness.sessions() as s:
        subjects = list(await s.scalars(select(AuditEntry.subject).where(AuditEntry.action == "referral.declined")))
    assert len(subjects) == 2 and len(set(subjects)) == 2  # two referrals, two names


async def test_an_event_moved_after_its_first_reminder_was_sent_is_reminded_again(harness: Harness) -> None:
    event_id = await seed_event(harness)  # 3/20 14:00
    person = harness.chat(1)
    await person.press_payload(f"ev:reg:{event_id}")
    assert "신청했어요" in person.text
    harness.clock._now = EVENT_START - dt.timedelta(hours=20)
    await harness.deliver()
    assert any("내일" in m["text"] or "IR 피칭 실전" in m["text"] for m in harness.notifier.to(1))
    admin = harness.chat(ADMIN_ID)
    await admin.send(f"/event {event_id}")
    await admin.press("수정")
    await admin.press("시작")
    await admin.send("3/23 14:00")
    await admin.press("제출")
    assert "종료가 시작보다 앞서요" in admin.text
    await admin.send("16:00")
    await admin.press("제출")
    assert "수정했어요" in admin.text, admin.text
    moved = dt.datetime(2026, 3, 23, 14, tzinfo=EVENT_START.tzinfo)
    async with harness.sessions() as s:
        pending = set(await s.scalars(select(OutboxMessage.due_at).where(
            OutboxMessage.kind == "event.reminder", OutboxMessage.status == "pending")))
    assert pending == {moved - dt.timedelta(hours=24), moved - dt.timedelta(hours=1)}


async def test_an_import_is_audited_against_the_firm_register_not_a_made_up_reference(harness: Harness) -> None:
    data = json.dumps(generate(harness.clock.now().date(), firms=3, min_postings=3), ensure_ascii=False).encode()

    async def fetch(_ref: str) -> bytes:
        return data

    harness.engine.add_channel(FetchingChannel(fetch))
    for _ in range(2):
        await harness.engine.handle(Incoming("telegram", str(ADMIN_ID), str(ADMIN_ID), attachment="document",
                                             file_ref="ref"))
        await harness.engine.idle()
    async with harness.sessions() as s:
        entries = list(await s.scalars(select(AuditEntry).where(AuditEntry.action == "firms.import")))
    # "rows:6" twice read as one thing imported twice; a count is a detail, not what was acted on.
    assert [(e.subject, e.details) for e in entries] == [("firms", {"rows": 6})] * 2


async def test_an_upgrade_that_leaves_rows_referring_to_nothing_is_rolled_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "old.sqlite3"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade(engine, "0010")
    with closing(sqlite3.connect(path)) as db:
        db.execute(f"INSERT INTO users (id, locale, role, created_at, last_seen_at) "
                   f"VALUES (1, 'ko', 'user', {NOW}, {NOW})")
        db.execute("INSERT INTO identities (user_id, channel, external_id, chat_id) VALUES (1, 'telegram', '1', '1')")
        # Broken before any upgrade (foreign keys off): not made worse, so not refused.
        db.execute("INSERT INTO identities (user_id, channel, external_id, chat_id) VALUES (99, 'telegram', '9', '9')")
        db.commit()
    real = migrate.command.upgrade

    def careless(cfg: Any, revision: str) -> None:
        real(cfg, revision)
        cfg.attributes["connection"].exec_driver_sql("DELETE FROM users WHERE id = 1")

    monkeypatch.setattr(migrate.command, "upgrade", careless)
    with pytest.raises(migrate.BrokenReferences):
        await upgrade(engine)
    monkeypatch.undo()
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchone()[0] == "0010"
        assert db.execute("SELECT count(*) FROM users").fetchone()[0] == 1
        assert "AUTOINCREMENT" not in _sqlite_schema(path)["users"]
    await upgrade(engine)
    await upgrade(engine)  # nothing to do: nothing checked
    assert "AUTOINCREMENT" in _sqlite_schema(path)["users"]
    async with session_factory(engine)() as s:
        assert await s.scalar(text("PRAGMA foreign_keys")) == 1
    await engine.dispose()
