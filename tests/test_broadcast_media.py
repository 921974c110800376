"""A broadcast's photo or file reaches everyone, whatever channel the admin and each recipient use.

A KakaoTalk admin (the skill endpoint, photos as URLs on Kakao's hosts: `FakeKakao`) and a
Telegram admin (getFile + download from the fake Bot API) broadcast a photo; Telegram
recipients (the real `TelegramChannel` against `FakeTelegram`) get it uploaded once and by
file id after that, KakaoTalk recipients (Event API and held messages) a signed link that
serves the bytes. A file that cannot be fetched, is too big or comes from elsewhere is said
to the admin at once; the same file twice is kept once and not uploaded again; a draft whose
file was purged is not sent without it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest_asyncio
from sqlalchemy import func, select

from bot.channels import kakao
from bot.channels.telegram import TelegramChannel, build_application
from kernel.core import Attachment, Button, FileTooBig, KeptFile, Reply
from scheduler.outbox import Dispatcher
from storage import files, users
from storage.models import Broadcast, OutboxMessage, ServedFile
from tests.conftest import ADMIN_ID, FetchingChannel, Harness, make_settings
from tests.fake_kakao import FakeKakao, KakaoUser, buttons_of, payload
from tests.fake_telegram import FakeTelegram, Upload
from tests.test_broadcast import _attach, _compose, _shown
from tests.test_kakao import Skill, download, kakao_admin, start_skill

POSTER = b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(range(256)) * 8  # a JPEG as far as anyone checks
TELEGRAM_PEOPLE = tuple(range(7001, 7007))
KAKAO_PEOPLE = ("k-101", "k-102")


@dataclass
class World:
    harness: Harness
    skill: Skill
    kakao_api: FakeKakao
    bot_api: FakeTelegram
    channel: TelegramChannel
    notifier: kakao.KakaoNotifier

    async def deliver(self) -> int:
        dispatcher = Dispatcher(self.harness.sessions, [self.channel, self.notifier], clock=self.harness.clock,
                                rate=10_000, per_chat_interval=0, concurrency=8)
        return await dispatcher.run_once()

    def photo_sends(self, since: int = 0) -> list[Any]:
        return [c for c in self.bot_api.calls[since:] if c.method == "sendPhoto" and c.ok]

    def uploads(self, since: int = 0) -> list[Any]:
        return [c for c in self.photo_sends(since) if isinstance(c.params.get("photo"), Upload)]


async def telegram_channel(h: Harness, fake: FakeTelegram) -> TelegramChannel:
    settings = make_settings(h.settings.database_url, telegram_bot_token="123:TEST",
                             telegram_api_base_url=fake.base_url)
    application = build_application(settings)
    channel = TelegramChannel(h.engine, application)
    await application.initialize()
    return channel


@pytest_asyncio.fixture
async def world(harness: Harness) -> AsyncIterator[World]:
    async with FakeKakao() as fake_kakao, FakeTelegram() as fake_tg:
        skill = await start_skill(harness, kakao_file_hosts="127.0.0.1", kakao_max_file_bytes=64 * 1024,
                                  kakao_rest_api_key="test-rest-key", kakao_event_api_url=fake_kakao.event_api_url)
        fake_kakao.media["poster.jpg"] = POSTER
        channel = await telegram_channel(harness, fake_tg)
        notifier = kakao.KakaoNotifier(skill.skill.settings, harness.sessions, harness.clock)
        async with harness.sessions() as s, s.begin():
            for chat in TELEGRAM_PEOPLE:
                await users.identify(s, "telegram", str(chat), str(chat), "ko", harness.clock.now())
            for key in KAKAO_PEOPLE:
                await users.identify(s, "kakao", key, key, "ko", harness.clock.now())
        try:
            yield World(harness, skill, fake_kakao, fake_tg, channel, notifier)
        finally:
            await notifier.close()
            await channel.application.shutdown()
            await skill.client.close()


async def send_photo(user: KakaoUser, url: str) -> None:
    """A KakaoTalk user uploads a photo: Open Builder passes its URL on Kakao's hosts."""
    body = payload(user.key, "", trigger="IMAGE_UPLOAD")
    body["action"]["params"]["media"] = {"type": "image", "url": url}
    await user._send(body)


async def kakao_broadcast(w: World, admin: KakaoUser, text: str, photo: str = "poster.jpg") -> int:
    await admin.say("/broadcast")
    await admin.press("누구나")
    await admin.say(text)
    await send_photo(admin, w.kakao_api.media_url(photo))
    assert "버튼" in admin.text, admin.text
    await admin.press("건너뛰기")
    assert "명에게 발송" in " ".join(admin.labels), admin.text
    # The preview shows the photo as the recipients on KakaoTalk will get it: a link that opens it.
    status, mime, data = await download(w.skill, admin.link("사진 보기"))
    assert (status, mime, data) == (200, "image/jpeg", POSTER)
    await admin.press("명에게 발송")
    assert "발송을 시작" in admin.text, admin.text
    async with w.harness.sessions() as s:
        return int(await s.scalar(select(func.max(Broadcast.id))) or 0)


async def test_a_kakao_admins_photo_is_uploaded_to_telegram_once_and_linked_on_kakao(world: World) -> None:
    w = world
    admin = await kakao_admin(w.skill)
    text = "📣 3월 채용박람회 포스터입니다."
    first = await kakao_broadcast(w, admin, text)
    recipients = len(TELEGRAM_PEOPLE) + len(KAKAO_PEOPLE) + 1  # the admin gets it on KakaoTalk
    assert await w.deliver() == recipients

    # Telegram: every recipient got the photo with the text as caption; the bytes went up once.
    sends = w.photo_sends()
    assert sorted(c.chat_id for c in sends) == list(TELEGRAM_PEOPLE)
    assert all(c.params.get("caption") == text for c in sends)
    [upload] = w.uploads()
    assert upload.params["photo"].data == POSTER
    file_id = upload.result["photo"][-1]["file_id"]
    assert all(c.params["photo"] == file_id for c in sends if c is not upload)
    async with w.harness.sessions() as s:
        row = await s.get(Broadcast, first)
        assert row is not None and row.attachment is not None
        assert row.attachment["uploads"]["telegram"] == {"kind": "photo", "id": file_id}

    # KakaoTalk (Event API): the text says where the photo is; the link button serves its bytes.
    events = [c.body["event"]["data"] for c in w.kakao_api.calls]
    assert sorted(c.body["user"][0]["id"] for c in w.kakao_api.calls) == sorted([*KAKAO_PEOPLE, admin.key])
    for data in events:
        assert data["text"].startswith(text) and "아래 버튼" in data["text"]
        assert data["link"] == data["file"]
        assert await download(w.skill, data["link"]) == (200, "image/jpeg", POSTER)

    # The same photo again, in a second broadcast: kept once, and Telegram gets it by the file id
    # learnt from the first (no upload), even from a process that never sent the first one.
    calls = len(w.bot_api.calls)
    await w.channel.application.shutdown()
    w.channel = await telegram_channel(w.harness, w.bot_api)
    await kakao_broadcast(w, admin, "포스터를 한 번 더 보내 드려요.")
    assert await w.deliver() == recipients
    assert len(w.photo_sends(calls)) == len(TELEGRAM_PEOPLE) and w.uploads(calls) == []
    assert {c.params["photo"] for c in w.photo_sends(calls)} == {file_id}
    async with w.harness.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(ServedFile)) == 1


async def test_concurrent_first_sends_upload_once_and_a_refused_upload_passes_the_turn(world: World) -> None:
    """The dispatcher's workers send at once: the first upload is waited for, not repeated;
    if the recipient of that upload blocked the bot, the next one uploads instead."""
    w = world
    h = w.harness
    async with h.sessions() as s, s.begin():
        kept = await files.keep(s, filename="photo.jpg", mime="image/jpeg", data=POSTER, now=h.clock.now(),
                                ttl=dt.timedelta(days=14))
    message = Reply("공지", attachment=Attachment("photo", kept=KeptFile(kept.id, 2_000_000_000))).to_payload()
    chats = [str(c) for c in range(8001, 8021)]
    w.bot_api.block(chats[0])
    results = await asyncio.gather(*(w.channel.send(chat, message) for chat in chats), return_exceptions=True)
    assert [type(r).__name__ for r in results] == ["Blocked"] + ["NoneType"] * 19
    attempts = [c for c in w.bot_api.calls if c.method == "sendPhoto" and isinstance(c.params.get("photo"), Upload)]
    assert [c.ok for c in attempts] == [False, True]
    assert len(w.photo_sends()) == 19

    # A kept file purged before its messages went: the text still goes, alone, and no error.
    gone = Reply("파일 없는 공지", attachment=Attachment("document", kept=KeptFile("k-gone", 1))).to_payload()
    await w.channel.send("8100", gone)
    await w.channel.send("8101", gone)
    assert [m.get("text") for m in w.bot_api.messages(8100) + w.bot_api.messages(8101)] == ["파일 없는 공지"] * 2
    # The same bytes kept again after their purge (the same id): a new broadcast's file, not "gone".
    other = b"\x89PNG\r\n\x1a\n second poster"
    for chat in ("8200", "8201"):
        async with h.sessions() as s, s.begin():
            again = await files.keep(s, filename="photo.png", mime="image/png", data=other, now=h.clock.now(),
                                     ttl=dt.timedelta(days=14))
        if chat == "8200":
            h.clock.advance(days=15)
            async with h.sessions() as s, s.begin():
                await files.purge(s, h.clock.now())
        await w.channel.send(chat, Reply("다시 보낸 공지", attachment=Attachment(
            "photo", kept=KeptFile(again.id, int(again.expires_at.timestamp())))).to_payload())
    assert [bool(m.get("photo")) for m in w.bot_api.messages(8200) + w.bot_api.messages(8201)] == [False, True]


async def test_a_telegram_admins_photo_reaches_kakao_as_a_link_and_telegram_by_file_id(world: World) -> None:
    w = world
    h = w.harness
    update = w.bot_api.user_sends_photo(ADMIN_ID, data=POSTER)
    file_id = update["message"]["photo"][-1]["file_id"]
    admin = h.chat(ADMIN_ID)
    await _compose(admin, "면접 준비 특강 안내")
    await _attach(admin, "photo", file_id)
    assert "버튼" in admin.text, admin.text
    await admin.press("건너뛰기")
    shown = _shown(admin).attachment
    assert shown is not None and shown.ref("telegram") == ("photo", file_id)
    await admin.press("명에게 발송")
    # Kakao recipients here have no Event API: the message is held for their next message.
    held = kakao.HoldingNotifier(w.skill.skill.settings, h.sessions, h.clock)
    dispatcher = Dispatcher(h.sessions, [w.channel, held], clock=h.clock, rate=10_000, per_chat_interval=0)
    assert await dispatcher.run_once() == len(TELEGRAM_PEOPLE) + len(KAKAO_PEOPLE) + 1
    sends = w.photo_sends()
    assert len(sends) == len(TELEGRAM_PEOPLE) + 1 and w.uploads() == []
    assert {c.params["photo"] for c in sends} == {file_id}

    person = w.skill.user(KAKAO_PEOPLE[0])
    await person.say("/help")
    assert person.text.startswith("면접 준비 특강 안내"), person.text
    assert "텔레그램에서 볼 수" not in person.text
    assert await download(w.skill, person.link("사진 보기")) == (200, "image/jpeg", POSTER)


async def test_a_file_that_cannot_be_had_is_said_at_once_and_another_or_none_can_follow(world: World) -> None:
    w = world
    w.kakao_api.media["huge.jpg"] = b"\xff\xd8\xff" + b"x" * (64 * 1024)
    admin = await kakao_admin(w.skill)
    await admin.say("/broadcast")
    await admin.press("누구나")
    await admin.say("취업 특강 안내")
    for url, said in ((w.kakao_api.media_url("missing.jpg"), "받아 오지 못했어요"),
                      (w.kakao_api.media_url("huge.jpg"), "너무 커서 받을 수 없어요 (최대 64KB)"),
                      ("https://evil.example.com/poster.jpg", "받아 오지 못했어요"),  # not Kakao's: not fetched
                      (w.kakao_api.media_url("redirect"), "받아 오지 못했어요")):
        await send_photo(admin, url)
        assert said in admin.text and "사진이나 파일을 함께 보낼까요" in admin.text, admin.text
        assert "건너뛰기" in admin.labels
    async with w.harness.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(ServedFile)) == 0
    # Another file works; so would 건너뛰기.
    await send_photo(admin, w.kakao_api.media_url("poster.jpg"))
    assert "버튼" in admin.text
    await admin.press("이전")
    await admin.press("건너뛰기")
    await admin.press("건너뛰기")
    assert "명에게 발송" in " ".join(admin.labels)
    assert "사진 보기" not in " ".join(b["label"] for b in buttons_of(admin.template))

    # A Telegram admin's forged or stale file id: getFile refuses it, the admin hears so.
    telegram_admin = w.harness.chat(ADMIN_ID)
    await _compose(telegram_admin, "다른 공지")
    await _attach(telegram_admin, "photo", "AgACAgForged")
    assert "받아 오지 못했어요" in telegram_admin.text and "건너뛰기" in telegram_admin.last_buttons


async def test_a_draft_whose_file_was_purged_is_not_sent_without_it(world: World) -> None:
    w = world
    h = w.harness
    admin = await kakao_admin(w.skill)
    await admin.say("/broadcast")
    await admin.press("누구나")
    await admin.say("오래 둔 초안")
    await send_photo(admin, w.kakao_api.media_url("poster.jpg"))
    await admin.press("건너뛰기")
    h.clock.advance(days=15)
    async with h.sessions() as s, s.begin():
        assert await files.purge(s, h.clock.now()) == 1
    await admin.press("명에게 발송")
    assert "보관 기간이 지나" in admin.text, admin.text
    async with h.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.kind == "broadcast")) == 0
        assert (await s.scalars(select(Broadcast.status))).all() == ["draft"]


def test_sent_bytes_get_a_name_and_type_from_their_first_bytes() -> None:
    import io
    import zipfile

    assert files.describe(POSTER, "photo") == ("photo.jpg", "image/jpeg")
    assert files.describe(b"\x89PNG\r\n\x1a\n....", "photo") == ("photo.png", "image/png")
    assert files.describe(b"%PDF-1.7 ...", "document") == ("attachment.pdf", "application/pdf")
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as z:
        z.writestr("word/document.xml", "<w/>")
    assert files.describe(docx.getvalue(), "document")[0] == "attachment.docx"
    assert files.describe(b"plain", "document", "https://talk.kakaocdn.net/dn/list.csv")[0] == "attachment.csv"
    assert files.describe(b"????", "photo", "AgACAgIAAxkBAAI") == ("attachment.bin", "application/octet-stream")
    assert files.content_id(POSTER) == files.content_id(bytes(POSTER)) != files.content_id(POSTER + b"!")


async def test_with_a_link_button_of_its_own_the_event_api_message_writes_the_files_link(world: World) -> None:
    """One event per message (each costs 15 KRW): the block's link button stays the broadcast's,
    the file's link goes in the text and in `data.file` for a block with a second button."""
    w = world
    h = w.harness
    async with h.sessions() as s, s.begin():
        kept = await files.keep(s, filename="attachment.pdf", mime="application/pdf", data=b"%PDF-1.7 guide",
                                now=h.clock.now(), ttl=dt.timedelta(days=14))
    expires = int(kept.expires_at.timestamp())
    guide = Attachment("document", kept=KeptFile(kept.id, expires))
    await w.notifier.send("k-101", Reply("모집 요강입니다.", [[Button("신청하기", url="https://job.seoul.go.kr/apply")]],
                                         attachment=guide).to_payload())
    [call] = w.kakao_api.calls
    data = call.body["event"]["data"]
    assert data["link"] == "https://job.seoul.go.kr/apply"
    assert data["file"] == kakao.file_url(w.skill.skill.settings, kept.id, expires) and data["file"] in data["text"]
    assert await download(w.skill, data["file"]) == (200, "application/pdf", b"%PDF-1.7 guide")


async def test_an_english_speaking_admin_hears_it_in_english(harness: Harness) -> None:
    async def too_big(ref: str) -> bytes:
        raise FileTooBig(f"{ref}: 25 MB", 20 * 1024 * 1024)

    harness.engine.add_channel(FetchingChannel(too_big))
    admin = harness.chat(ADMIN_ID, language="en")
    await admin.send("/broadcast")
    await admin.press("Everyone")
    await admin.send("Job fair on Friday")
    await _attach(admin, "document", "BQACAgBig")
    assert "too big to take (at most 20MB)" in admin.text and "Attach a photo or a file?" in admin.text, admin.text
    assert "Skip" in admin.last_buttons
