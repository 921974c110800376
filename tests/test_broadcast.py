"""Broadcasts and /settings through the core (SQLite and PostgreSQL), plus Telegram rendering.

Compose → preview with the count → confirm → one outbox row per recipient (opted-out and
blocked people left out); over-long text refused with the numbers; an empty audience;
stopping midway cancels what is pending; a restart resumes without re-sending; the final
report; a non-admin pressing a leftover admin button; the /settings switch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from handlers import broadcast
from kernel.core import Attachment, Button, KeptFile, PlatformFile, Reply
from scheduler.outbox import Dispatcher
from storage import broadcasts, files, users
from storage.models import AuditEntry, Broadcast, Identity, OutboxMessage, User
from tests.conftest import ADMIN_ID, Chat, FetchingChannel, Harness, RecordingNotifier

PEOPLE = ("101", "102", "103", "104", "105")
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF poster"


async def _people(h: Harness) -> dict[str, int]:
    ids = {}
    async with h.sessions() as s, s.begin():
        for ext in PEOPLE:
            user, _ = await users.identify(s, "telegram", ext, ext, "ko", h.clock.now())
            ids[ext] = user.id
    return ids


async def _attach(chat: Chat, kind: str, ref: str | None) -> None:
    await chat._handle(chat._incoming(attachment=kind, file_ref=ref))


async def _compose(admin: Chat, text: str = "3월 채용박람회 안내") -> None:
    await admin.send("/broadcast")
    assert "누구에게" in admin.text
    await admin.press("누구나")
    await admin.send(text)


def _shown(chat: Chat) -> Reply:
    """The preview's copy of the message: the reply after the 미리보기 heading."""
    texts = [r.text for r in chat.replies]
    return chat.replies[next(i for i, t in enumerate(texts) if t.startswith("미리보기")) + 1]


async def _rows(h: Harness, broadcast_id: int) -> list[OutboxMessage]:
    async with h.sessions() as s:
        return list(await s.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == "broadcast",
            OutboxMessage.dedupe_key.startswith(broadcasts.key_prefix(broadcast_id)))))


async def _queue_everyone(h: Harness) -> tuple[Chat, int]:
    admin = h.chat(ADMIN_ID)
    await _compose(admin)
    await admin.press("건너뛰기")
    await admin.press("건너뛰기")
    await admin.press("명에게 발송")
    async with h.sessions() as s:
        row = (await s.scalars(select(Broadcast).order_by(Broadcast.id.desc()))).first()
    assert row is not None and row.status == "sending"
    return admin, row.id


async def test_compose_preview_confirm_queues_the_audience_minus_opted_out(harness: Harness) -> None:
    h = harness
    ids = await _people(h)
    # 102 opts out in /settings; 103 blocked the bot earlier.
    opted_out = h.chat("102")
    await opted_out.send("/settings")
    await opted_out.press("끄기")
    async with h.sessions() as s, s.begin():
        await s.execute(update(Identity).where(Identity.user_id == ids["103"]).values(blocked_at=h.clock.now()))

    photos = {"PHOTO-1": JPEG}

    async def fetch(ref: str) -> bytes:  # Telegram's getFile + download
        return photos[ref]

    h.engine.add_channel(FetchingChannel(fetch))
    admin = h.chat(ADMIN_ID)
    await _compose(admin, "3월 채용박람회 안내\n\n  들여쓰기도 그대로")
    assert "사진이나 파일" in admin.text
    await admin.send("그냥 글")  # typed where a file is asked: says what to send
    assert "사진이나 파일을 올려" in admin.text
    await _attach(admin, "sticker", None)
    assert "사진이나 파일(문서)만" in admin.text
    await _attach(admin, "photo", "PHOTO-1")
    assert "버튼" in admin.text
    await admin.send("신청하기")
    await admin.send("http://job.seoul.go.kr")  # not https: refused
    assert "https" in admin.text
    await admin.send("job.seoul.go.kr/fair")  # typed without https://: put in front
    # The preview: the message exactly as sent, then the audience and the count (4: 101, 104, 105, admin).
    shown = _shown(admin)
    assert shown.text == "3월 채용박람회 안내\n\n  들여쓰기도 그대로"
    assert shown.attachment is not None
    assert (shown.attachment.kind, shown.attachment.ref("telegram")) == ("photo", ("photo", "PHOTO-1"))
    assert shown.attachment.kept is not None
    kept = shown.attachment.kept
    assert (kept.id, kept.filename, kept.mime) == (files.content_id(JPEG), "photo.jpg", "image/jpeg")
    assert shown.buttons == [[Button("신청하기", url="https://job.seoul.go.kr/fair")]]
    assert "받는 분: 4명" in admin.text
    assert await _rows(h, 1) == []  # nothing queued before confirming

    await admin.press("4명에게 발송")
    assert "발송을 시작" in admin.text
    async with h.sessions() as s:
        row = (await s.scalars(select(Broadcast))).one()
        admin_id = (await s.scalars(select(User.id).where(User.role == "admin"))).one()
        entry = (await s.scalars(select(AuditEntry).where(AuditEntry.action == "broadcast.send"))).one()
    rows = await _rows(h, row.id)
    assert {r.user_id for r in rows} == {ids["101"], ids["104"], ids["105"], admin_id}
    assert {r.dedupe_key for r in rows} == {f"broadcast:{row.id}:{r.user_id}" for r in rows}
    assert Reply.from_payload(rows[0].payload) == Reply(shown.text, shown.buttons, attachment=shown.attachment)
    assert entry.actor_user_id == admin_id and entry.details["recipients"] == 4
    assert entry.details["audience"] == "everyone"

    # A second press on the same confirm button sends nothing more.
    await admin.press_payload(f"bc:send:{row.id}")
    assert "이미 처리" in admin.text
    assert len(await _rows(h, row.id)) == 4

    # Delivered, then the scheduled check marks it done and reports to the admin once.
    assert await h.deliver() == 4
    assert await broadcast.finish_broadcasts(h.sessions, h.settings, h.clock) == 1
    assert await broadcast.finish_broadcasts(h.sessions, h.settings, h.clock) == 0
    await h.deliver()
    report = h.notifier.to(ADMIN_ID)[-1]["text"]
    assert f"공지 #{row.id} 발송 완료" in report and "전달 4" in report
    await admin.send("/broadcasts")
    assert "완료" in admin.text and "전달 4" in admin.text and "중지" not in str(admin.last_buttons)


async def test_over_long_text_is_refused_with_the_numbers(harness: Harness) -> None:
    admin = harness.chat(ADMIN_ID)
    await _compose(admin, "가" * 5000)
    assert "5000자" in admin.text and "4096자" in admin.text
    await admin.send("짧은 공지")
    assert "사진이나 파일" in admin.text


async def test_a_text_the_telegram_app_split_is_refused_not_sent_cut(harness: Harness) -> None:
    admin = harness.chat(ADMIN_ID)
    await _compose(admin, "가" * 4096)  # the first part of a 5,000-character paste
    await admin.send("나" * 904)  # the rest, arriving where a photo or file is asked
    assert "5000자" in admin.text and "4096자" in admin.text
    await admin.press("이전")
    await admin.send("짧게 줄인 공지")
    await admin.press("건너뛰기")
    await admin.press("건너뛰기")
    assert _shown(admin).text == "짧게 줄인 공지"


async def test_empty_audience_is_said_before_the_text_and_the_audience_asked_again(harness: Harness) -> None:
    admin = harness.chat(ADMIN_ID)
    await admin.send("/broadcast")
    await admin.press("특정 단계 공동회원")
    await admin.press("창업실행")
    # Said at once, before the admin writes the text, picks a file and a link.
    assert "받는 분이 없어요" in admin.text and "누구에게" in admin.text, admin.text
    assert "보낼 메시지" not in admin.text and "누구나" in admin.last_buttons
    async with harness.sessions() as s:
        assert (await s.scalars(select(Broadcast))).all() == []
    # A district with nobody in it: the same, then an audience with people goes on to the text.
    await admin.press("특정 지역 희망 구직자")
    await admin.press("종로구")
    assert "받는 분이 없어요" in admin.text and "누구에게" in admin.text
    await admin.press("누구나")
    assert "보낼 메시지" in admin.text and "받는 분이 없어요" not in admin.text
    await admin.send("모두에게 공지")
    await admin.press("건너뛰기")
    await admin.press("건너뛰기")
    assert "받는 분: 1명" in admin.text


    # Going back from the text leads to the audience, not to the check in between.
    await admin.send("/broadcast")
    await admin.press("누구나")
    await admin.press("이전")
    # The earlier answer is marked as the one to keep (이전 shows it).
    assert "누구에게" in admin.text and "누구나 (지금 답)" in admin.last_buttons


async def test_stop_midway_cancels_what_is_pending(harness: Harness) -> None:
    h = harness
    await _people(h)
    admin, bid = await _queue_everyone(h)

    sent: list[str] = []

    class StopAfterTwo:
        channel = "telegram"

        async def send(self, chat_id: str, message: dict[str, Any]) -> None:
            sent.append(chat_id)
            if len(sent) == 2:
                first.stop()

    first = Dispatcher(h.sessions, [StopAfterTwo()], clock=h.clock, rate=10_000, per_chat_interval=0)
    await first.run_once()
    delivered = len(sent)
    assert 2 <= delivered < 6
    await admin.send("/broadcasts")
    assert "발송 중" in admin.text
    await admin.press("중지")
    assert f"{6 - delivered}건은 보내지 않아요" in admin.text
    assert await h.deliver() == 0
    statuses = sorted(r.status for r in await _rows(h, bid))
    assert statuses == sorted(["sent"] * delivered + ["cancelled"] * (6 - delivered))
    # Stopped is final: no "done" report, and the stop button is gone.
    assert await broadcast.finish_broadcasts(h.sessions, h.settings, h.clock) == 0
    await admin.press_payload(f"bc:stop:{bid}")
    assert "발송 중이 아니에요" in admin.text


async def test_a_restart_resumes_without_sending_anything_twice(harness: Harness) -> None:
    h = harness
    await _people(h)
    _admin, bid = await _queue_everyone(h)
    got: list[str] = []

    class Shutdown:
        """Records, and after three sends the process shuts down (as at a restart)."""

        channel = "telegram"

        async def send(self, chat_id: str, message: dict[str, Any]) -> None:
            got.append(chat_id)
            if len(got) == 3:
                before.stop()

    before = Dispatcher(h.sessions, [Shutdown()], clock=h.clock, rate=10_000, per_chat_interval=0)
    await before.run_once()
    assert 3 <= len(got) < 6
    after = RecordingNotifier()
    await Dispatcher(h.sessions, [after], clock=h.clock, rate=10_000, per_chat_interval=0).run_once()
    everyone = got + [s.chat_id for s in after.sent]
    assert sorted(everyone) == sorted([*PEOPLE, str(ADMIN_ID)])
    assert {r.status for r in await _rows(h, bid)} == {"sent"}


async def test_a_non_admin_pressing_broadcast_buttons_is_refused(harness: Harness) -> None:
    h = harness
    await _people(h)
    admin = h.chat(ADMIN_ID)
    await _compose(admin)
    await admin.press("건너뛰기")
    await admin.press("건너뛰기")
    draft = admin.payload_for("명에게 발송")
    intruder = h.chat("101")
    for data in (draft, draft.replace("send", "stop"), "bc:list"):
        await intruder.press_payload(data)
        assert "관리자만" in intruder.text
    await intruder.send("/broadcast")
    assert "관리자만" in intruder.text
    async with h.sessions() as s:
        assert (await s.scalars(select(Broadcast.status))).all() == ["draft"]
    assert await _rows(h, 1) == []


async def test_discard_and_edit_from_the_preview(harness: Harness) -> None:
    admin = harness.chat(ADMIN_ID)
    await _compose(admin, "첫 번째")
    await admin.press("건너뛰기")
    await admin.press("건너뛰기")
    await admin.press("수정")
    await admin.press("메시지")
    await admin.send("고친 공지")
    await admin.press("제출")
    assert _shown(admin).text == "고친 공지"
    await admin.press("취소")
    assert "초안을 지웠어요" in admin.text
    async with harness.sessions() as s:
        assert (await s.scalars(select(Broadcast))).all() == []


async def test_settings_switch_is_checked_on_press(harness: Harness) -> None:
    h = harness
    person = h.chat("201")
    await person.send("/settings")
    assert "공지·홍보 메시지 받기: 켜짐" in person.text and "한국어" in person.text
    off = person.payload_for("끄기")
    await person.press_payload(off)
    assert "꺼짐" in person.text and person.replies[0].edit
    await person.press_payload(off)  # the old button again: stays off, never flips back
    assert "꺼짐" in person.text
    async with h.sessions() as s:
        assert (await s.scalars(select(User.announcements_opt_out))).one() is True
    await person.press("켜기")
    assert "켜짐" in person.text
    async with h.sessions() as s:
        assert (await s.scalars(select(User.announcements_opt_out))).one() is False
    await person.press("언어")
    assert "Choose your language" in person.text and "English" in person.last_buttons
    await person.press_payload("set:ann:maybe")  # a forged payload: the expired-button answer
    assert "만료" in person.text


def test_reply_attachment_round_trips_through_the_outbox_payload() -> None:
    reply = Reply("공지", [[Button("열기", url="https://example.org")]],
                  attachment=Attachment("document", {"telegram": PlatformFile("F1")}))
    assert Reply.from_payload(reply.to_payload()) == reply
    assert "attachment" not in Reply("x").to_payload()


def test_an_outbox_row_queued_before_the_typed_attachment_still_sends() -> None:
    """Rows queued by the previous release (flat "<channel>_file_id" keys) load, and what is queued
    now has those same keys, so a worker of the previous release sends it (a rolling restart)."""
    old = {"text": "공지", "buttons": [], "attachment": {
        "kind": "photo", "telegram_file_id": "T1", "telegram_kind": "document", "kakao_file_id": "K1",
        "file": "f1", "filename": "photo.jpg", "mime": "image/jpeg", "expires": 2_000_000_000}}
    reply = Reply.from_payload(old)
    assert reply.attachment == Attachment(
        "photo", {"telegram": PlatformFile("T1", "document"), "kakao": PlatformFile("K1")},
        KeptFile("f1", 2_000_000_000, "photo.jpg", "image/jpeg"))
    assert reply.attachment.ref("telegram") == ("document", "T1") and reply.attachment.ref("kakao") == ("photo", "K1")
    assert reply.attachment.ref("console") is None
    assert reply.to_payload() == old
    # Kept files without an expiry (no signed link) and ids of the wrong type load as the channels read them.
    bare = Reply.from_payload({"text": "x", "attachment": {"kind": "document", "file": "f2", "expires": "soon"}})
    assert bare.attachment == Attachment("document", kept=KeptFile("f2"))
    odd = Reply.from_payload({"text": "x", "attachment": {"kind": "photo", "file": 7}})
    assert odd.attachment == Attachment("photo")


async def test_telegram_renders_a_photo_attachment(tmp_path: Path) -> None:
    from telegram import Update

    from bot.app import build_engine
    from bot.channels.telegram import TelegramChannel, build_application, to_incoming
    from storage.db import create_engine, session_factory
    from tests.conftest import make_settings
    from tests.fake_telegram import FakeTelegram

    async with FakeTelegram() as fake:
        settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'tg.sqlite3'}", telegram_bot_token="123:TEST",
                                 telegram_api_base_url=fake.base_url)
        db = create_engine(settings.database_url)
        application = build_application(settings)
        channel = TelegramChannel(build_engine(settings, session_factory(db)), application)
        await application.initialize()
        try:
            update = fake.user_sends_photo(ADMIN_ID)
            sizes = update["message"]["photo"]
            incoming = to_incoming(Update.de_json(update, application.bot))
            assert incoming is not None and incoming.attachment == "photo"
            assert incoming.file_ref == sizes[-1]["file_id"]
            message = Reply("3월 채용박람회", [[Button("신청", url="https://job.seoul.go.kr")]],
                            attachment=Attachment("photo", {"telegram": PlatformFile(incoming.file_ref)})).to_payload()
            await channel.send("77", message)
            [sent] = fake.messages(77)
            assert sent["caption"] == "3월 채용박람회" and sent["photo"]
            assert sent["reply_markup"]["inline_keyboard"][0][0]["url"] == "https://job.seoul.go.kr"
            # Over the 1024-character caption limit: the photo, then the whole text with the button.
            await channel.send("78", {**message, "text": "가" * 3000})
            photo, text = fake.messages(78)
            assert photo["photo"] and "caption" not in photo and "reply_markup" not in photo
            assert text["text"] == "가" * 3000 and text["reply_markup"]
        finally:
            await application.shutdown()
            await db.dispose()
