"""The document clinic as a seeker and counselors meet it: consent, documents, files checked and
read, the first pass, the review queue with one counselor per request, the result through the
outbox, and the files going with /delete and after CLINIC_KEEP_DAYS."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import func, select

from bot.app import apply_retention
from handlers.clinic import announce_overdue, purge_returned
from storage.clinic import due_after
from storage.models import (
    CaseNote,
    ClinicFile,
    ClinicRequest,
    OutsideSession,
    Posting,
    SeekerProfile,
    ServedFile,
    SurveyAnswer,
)
from tests import clinic_files
from tests.conftest import ADMIN_ID, Chat, FetchingChannel, Harness
from tests.fake_kakao import FakeKakao
from tests.fake_kakao import payload as kakao_payload
from tests.test_booking import COUNSELOR_A, COUNSELOR_B, quick_register, seed
from tests.test_jobs import demo
from tests.test_kakao import start_skill

SEOUL = dt.timezone(dt.timedelta(hours=9))
SEEKER = 1


def files_channel(h: Harness) -> dict[str, bytes]:
    """What people "sent": a file id -> its bytes, handed over as Telegram's getFile would."""
    sent: dict[str, bytes] = {}

    async def fetch(ref: str) -> bytes:
        return sent[ref]

    h.engine.add_channel(FetchingChannel(fetch))
    return sent


async def send_file(chat: Chat, sent: dict[str, bytes], name: str, data: bytes, kind: str = "document") -> None:
    ref = f"ref{len(sent)}"
    sent[ref] = data
    await chat._handle(chat._incoming(attachment=kind, file_ref=ref, file_name=name))


async def request_until_files(chat: Chat) -> None:
    await chat.send("/clinic")
    assert "서류 수집·이용 동의" in chat.text and "90일" in chat.text, chat.text
    await chat.press("동의합니다")
    await chat.press("이력서")
    await chat.press("자기소개서")
    await chat.press("선택 완료")
    await chat.send("데이터 분석 인턴")
    await chat.press("맞춤법")
    await chat.press("선택 완료")
    assert "확인해 주세요" in chat.text, chat.text
    await chat.press("제출")
    assert "이제 파일을 보내 주세요" in chat.text and "10MB" in chat.text and "최대 5개" in chat.text, chat.text


async def count(h: Harness, model: Any) -> int:
    async with h.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_resume_sent_checked_reviewed_and_returned(harness: Harness) -> None:
    await seed(harness)
    await quick_register(harness, SEEKER)
    sent = files_channel(harness)
    seeker = harness.chat(SEEKER)
    await request_until_files(seeker)

    # Each bad file gets its own line and the question again; nothing of it is kept.
    bad = [("이력서.pdf.exe", b"MZ\x90\x00", "실행 파일"), ("빈파일.pdf", b"", "빈 파일"),
           ("잠긴.pdf", clinic_files.encrypted_pdf(), "암호가 걸린 PDF"),
           ("두꺼운.pdf", clinic_files.many_pages_pdf(), "쪽수가 너무 많아요"),
           ("폭탄.docx", clinic_files.zip_bomb_docx(), "지나치게 커져서"),
           ("이력서.txt", "그냥 글".encode(), "받을 수 없는 형식"),
           ("큰사진.jpg", b"\xff\xd8\xff" + bytes(11 * 1024 * 1024), "파일이 너무 커요")]
    for name, data, said in bad:
        await send_file(seeker, sent, name, data)
        assert said in seeker.text and "이제 파일을 보내 주세요" in seeker.text, (name, seeker.text)
    assert await count(harness, ClinicFile) == 0 and await count(harness, ServedFile) == 0

    resume = clinic_files.docx(clinic_files.RESUME)
    await send_file(seeker, sent, "이력서.docx", resume)
    assert "파일 1/5 받았어요 (DOCX)" in seeker.text and "서울대학교 컴퓨터공학과" in seeker.text, seeker.text
    assert "주민등록번호로 보이는 번호" in seeker.text and "1234567" not in seeker.text
    await send_file(seeker, sent, "resume.pdf", clinic_files.pdf(["Resume", "Python and SQL"]))
    assert "파일 2/5 받았어요 (PDF, 2쪽)" in seeker.text and "Python and SQL" in seeker.text, seeker.text
    await send_file(seeker, sent, "자소서.hwpx", clinic_files.hwpx(["자기소개", "성장과정을 적었어요"]))
    assert "파일 3/5 받았어요 (HWPX)" in seeker.text, seeker.text
    await seeker.send("아무 말")
    assert "글 대신 파일을 보내 주세요" in seeker.text
    await seeker.send("제출")
    assert "접수되었어요" in seeker.text and "자동 점검 결과" in seeker.text, seeker.text
    assert "몇일 → 며칠" in seeker.text and "자격증" in seeker.text, seeker.text
    # The registered seeker had no skills: those found are offered to the profile.
    assert "Python, SQL을 찾았어요" in seeker.text, seeker.text
    await seeker.press("프로필에 추가")
    assert "Python, SQL을 추가했어요" in seeker.text
    async with harness.sessions() as s:
        texts = list(await s.scalars(select(ClinicFile.text)))
        assert texts and all("1234567" not in t for t in texts)
        row = (await s.scalars(select(ClinicRequest))).one()
        assert row.status == "received" and row.due_at is not None

    await harness.deliver()
    assert any("새 서류클리닉 신청" in m["text"] for m in harness.notifier.to(COUNSELOR_A))
    a, b = harness.chat(COUNSELOR_A), harness.chat(COUNSELOR_B)
    await a.send("/reviews")
    assert "검토 대기열: 1건" in a.text and "구직자1" in a.text, a.text
    await a.press("열기")
    assert "몇일 → 며칠" in a.text and "DOCX" in a.text, a.text
    claim = a.payload_for("맡기")
    await b.send("/reviews")
    await b.press("열기")
    await a.press_payload(claim)
    assert "파일 1 보기" in a.last_buttons, a.last_buttons
    await b.press("맡기")
    assert "먼저 맡았어요" in b.text
    await harness.deliver()
    assert any("검토 중" in m["text"] for m in harness.notifier.to(SEEKER))

    await a.press("파일 1 보기")
    assert a.replies[0].file is not None and a.replies[0].file.data == resume
    await b.press_payload(a.payload_for("파일 1 보기"))
    assert b.replies[0].file is None and "맡은 상담사만" in b.text
    await a.send("/reviews")
    await a.press("열기")
    await a.press("코멘트")
    await a.press("자기소개")
    await a.send("경험을 숫자로 보여 주세요.")
    assert "코멘트를 저장했어요" in a.text, a.text
    await a.press("메모")
    await a.send("데이터 직무 희망, 다음 주 모의면접")
    assert "메모를 저장했어요" in a.text
    await a.send("/reviews")
    assert "검토 대기열" in a.text
    await a.press("열기")
    await a.press("완료")
    assert "검토 결과를 보냈어요" in a.text, a.text

    await harness.deliver()
    result = [m for m in harness.notifier.to(SEEKER) if "검토가 끝났어요" in m["text"]]
    assert result and "경험을 숫자로 보여 주세요." in result[0]["text"], result
    await seeker.press_payload(next(b["payload"] for row in result[0]["buttons"] for b in row if b["label"] == "5점"))
    assert "고마워요 (5점)" in seeker.text
    async with harness.sessions() as s:
        answer = (await s.scalars(select(SurveyAnswer))).one()
        assert (answer.survey, answer.question, answer.value_int) == ("clinic", "overall", 5)
    await seeker.send("/clinic")
    assert "완료" in seeker.text

    # Right of access: the request and the counselor's note, as written.
    await seeker.send("/profile")
    assert "서류클리닉 신청 1건" in seeker.text and "데이터 직무 희망, 다음 주 모의면접" in seeker.text, seeker.text
    # /delete takes the request, its files and the counselor's note about the person.
    await seeker.send("/delete")
    await seeker.press("네, 모두 삭제")
    for model in (ClinicRequest, ClinicFile, ServedFile, CaseNote):
        assert await count(harness, model) == 0, model


async def test_files_go_keep_days_after_the_review_and_overdue_is_told_once(harness: Harness) -> None:
    await seed(harness)
    await quick_register(harness, SEEKER)
    sent = files_channel(harness)
    seeker = harness.chat(SEEKER)
    await request_until_files(seeker)
    await send_file(seeker, sent, "resume.pdf", clinic_files.pdf(["Resume"]))
    await seeker.press("제출")
    assert "접수되었어요" in seeker.text

    harness.clock.advance(days=10)
    assert await announce_overdue(harness.sessions, harness.settings, harness.clock) >= 1
    assert await announce_overdue(harness.sessions, harness.settings, harness.clock) == 0
    await harness.deliver()
    assert any("기한" in m["text"] and "지났어요" in m["text"] for m in harness.notifier.to(ADMIN_ID))

    a = harness.chat(COUNSELOR_A)
    await a.send("/reviews")
    assert "기한 지남" in a.text
    await a.press("열기")
    await a.press("맡기")
    await a.press("완료")
    assert "코멘트나 돌려줄 파일을 먼저" in a.text
    await a.press("코멘트")
    await a.press("전체")
    await a.send("좋아요")
    await a.press("완료")
    assert await count(harness, ServedFile) == 1
    # One follow-up question, answered through the outbox.
    await harness.deliver()
    result = next(m for m in harness.notifier.to(SEEKER) if "검토가 끝났어요" in m["text"])
    await seeker.press_payload(next(b["payload"] for row in result["buttons"] for b in row if b["label"] == "질문하기"))
    await seeker.send("경력 순서는 최신순이 좋을까요?")
    assert "질문을 상담사에게 보냈어요" in seeker.text, seeker.text
    await seeker.press_payload(next(b["payload"] for row in result["buttons"] for b in row if b["label"] == "질문하기"))
    assert "이미 질문했어요" in seeker.text
    await harness.deliver()
    question = next(m for m in harness.notifier.to(COUNSELOR_A) if "질문이 왔어요" in m["text"])
    await a.press_payload(question["buttons"][0][0]["payload"])
    await a.send("네, 최신순으로 적어 주세요.")
    assert "답변을 보냈어요" in a.text, a.text
    await harness.deliver()
    assert any("네, 최신순으로 적어 주세요." in m["text"] for m in harness.notifier.to(SEEKER))
    harness.clock.advance(days=harness.settings.clinic_keep_days + 1)
    assert await purge_returned(harness.sessions, harness.settings, harness.clock) == 1
    assert await count(harness, ServedFile) == 0
    async with harness.sessions() as s:
        row = (await s.scalars(select(ClinicRequest))).one()
        assert row.purged_at is not None and row.comments == {} and row.status == "done"
        assert list(await s.scalars(select(ClinicFile.text))) == [""]


async def test_refusing_consent_stores_nothing_and_cancel_drops_the_files(harness: Harness) -> None:
    sent = files_channel(harness)
    seeker = harness.chat(SEEKER)
    await seeker.send("/clinic")
    await seeker.press("동의하지 않습니다")
    assert "아무것도 저장하지 않았어요" in seeker.text
    await request_until_files(seeker)
    await send_file(seeker, sent, "cv.docx", clinic_files.docx(["인적사항", "홍길동"]))
    await seeker.send("/jobs")
    assert "파일 보내기를 먼저 마쳐 주세요" in seeker.text
    await seeker.send("취소")
    assert "보낸 파일도 지웠어요" in seeker.text
    assert await count(harness, ClinicRequest) == 0 and await count(harness, ServedFile) == 0


def test_due_time_counts_working_hours_only() -> None:
    friday_5pm = dt.datetime(2026, 3, 6, 17, 0, tzinfo=SEOUL)
    # 1 hour left on Friday, then Monday 09:00 + 1 hour.
    assert due_after(friday_5pm, 2, SEOUL, 9 * 60, 18 * 60) == dt.datetime(2026, 3, 9, 10, 0, tzinfo=SEOUL)
    saturday = dt.datetime(2026, 3, 7, 12, 0, tzinfo=SEOUL)
    assert due_after(saturday, 48, SEOUL, 9 * 60, 18 * 60) == dt.datetime(2026, 3, 16, 12, 0, tzinfo=SEOUL)


async def test_a_resume_sent_on_kakaotalk_comes_through_kakaos_file_urls(harness: Harness) -> None:
    skill = await start_skill(harness, kakao_file_hosts="127.0.0.1", kakao_max_file_bytes=64 * 1024)
    try:
        async with FakeKakao() as fake:
            fake.media["resume.docx"] = clinic_files.docx(clinic_files.RESUME)
            fake.media["resume.pdf.exe"] = b"MZ\x90\x00"
            fake.media["scan.pdf"] = b"%PDF-1.4\n" + bytes(64 * 1024)
            user = skill.user("kakao-seeker")
            await user.say("/clinic")
            await user.press("동의합니다")
            await user.press("자기소개서")
            await user.press("선택 완료")
            await user.press("건너뛰기")
            await user.press("구성")
            await user.press("선택 완료")
            await user.press("제출")
            assert "이제 파일을 보내 주세요" in user.text, user.text

            async def upload(name: str) -> None:
                body = kakao_payload(user.key, "", trigger="FILE_UPLOAD")
                body["action"]["params"]["media"] = {"type": "file", "url": fake.media_url(name)}
                await user._send(body)

            await upload("scan.pdf")
            assert "파일이 너무 커요" in user.text and "64KB" in user.text, user.text
            await upload("resume.pdf.exe")
            assert "실행 파일" in user.text, user.text
            await upload("resume.docx")
            assert "파일 1/1 받았어요" not in user.text and "파일 1/5 받았어요 (DOCX)" in user.text, user.text
            await user.say("제출")
            assert "접수되었어요" in user.text and "며칠" in user.text, user.text
    finally:
        await skill.client.close()
    async with harness.sessions() as s:
        assert (await s.scalars(select(ClinicRequest.status))).one() == "received"


async def test_a_target_posting_names_the_skills_the_document_leaves_out(harness: Harness) -> None:
    await demo(harness)
    async with harness.sessions() as s:
        posting = next(p for p in await s.scalars(select(Posting).where(Posting.status == "open")
                                                  .order_by(Posting.id).limit(50)) if p.required_skills)
        wanted = [str(x) for x in posting.required_skills]
    sent = files_channel(harness)
    seeker = harness.chat(SEEKER)
    await seeker.send("/clinic")
    await seeker.press("동의합니다")
    await seeker.press("자기소개서")
    await seeker.press("선택 완료")
    await seeker.send(f"#{posting.id}")
    await seeker.press("직무 적합성")
    await seeker.press("선택 완료")
    await seeker.press("제출")
    await send_file(seeker, sent, "cover.docx", clinic_files.docx(["자기소개", "열심히 배우는 사람이에요."]))
    await seeker.send("제출")
    assert "공고에서 요구하는 기술이 서류에 보이지 않아요" in seeker.text and wanted[0] in seeker.text, seeker.text


async def test_the_retention_run_takes_the_clinic_files_and_texts(harness: Harness) -> None:
    sent = files_channel(harness)
    seeker = harness.chat(SEEKER)
    await request_until_files(seeker)
    await send_file(seeker, sent, "cv.docx", clinic_files.docx(clinic_files.RESUME))
    await seeker.send("제출")
    harness.clock.advance(days=31 * harness.settings.retention_months + 1)
    await apply_retention(harness.sessions, harness.settings, harness.clock)
    assert await count(harness, ServedFile) == 0
    async with harness.sessions() as s:
        assert list(await s.scalars(select(ClinicFile.text))) == [""]
        assert (await s.scalars(select(ClinicRequest.findings))).one() == []


async def test_sessions_held_outside_the_bot_count_in_stats(harness: Harness) -> None:
    await seed(harness)
    await quick_register(harness, SEEKER)
    async with harness.sessions() as s, s.begin():
        profile = await s.get(SeekerProfile, (await s.scalars(select(SeekerProfile.user_id))).one())
        assert profile is not None
        profile.phone = "+821099998888"
    a = harness.chat(COUNSELOR_A)
    await a.send("/session")
    await a.press("학교 방문")
    await a.press("서류클리닉")
    await a.send("서울디지텍고")
    await a.press("건너뛰기")
    await a.send("25명")
    await a.press("60분")
    await a.press("2회차")
    await a.press("제출")
    assert "상담을 기록했어요" in a.text, a.text
    await a.send("/session")
    await a.press("방문")
    await a.press("취업상담")
    await a.press("서울일자리플러스센터")
    await a.send("010-1111-2222")
    await a.press("30분")
    await a.press("제출")
    assert "등록한 구직자가 없어요" in a.text, a.text
    await a.send("010-9999-8888")
    await a.press("제출")
    assert "상담을 기록했어요" in a.text, a.text
    async with harness.sessions() as s:
        rows = list(await s.scalars(select(OutsideSession).order_by(OutsideSession.id)))
    assert [(r.channel, r.people, r.package_session, r.user_id is not None) for r in rows] == [
        ("school_visit", 25, 2, False), ("walk_in", 1, None, True)]

    stranger = harness.chat(SEEKER)
    await stranger.send("/session")
    assert "상담사만" in stranger.text, stranger.text

    admin = harness.chat(ADMIN_ID)
    await admin.send("/stats month")
    assert "상담 경로별 실적" in admin.text and "학교 방문" in admin.text and "서울디지텍고" in admin.text, admin.text
    assert "취업상담 1회 · 서류클리닉 1회" in admin.text, admin.text
    assert "온라인 서류클리닉" in admin.text, admin.text


async def _snapshot(h: Harness) -> list[Any]:
    async with h.sessions() as s:
        rows = []
        for model in (ClinicRequest, ClinicFile, CaseNote, ServedFile, OutsideSession):
            rows += [tuple(sorted((k, repr(v)) for k, v in vars(r).items() if not k.startswith("_")))
                     for r in await s.scalars(select(model))]
        return rows


async def test_a_stranger_pressing_the_clinics_buttons_changes_nothing(harness: Harness) -> None:
    await seed(harness)
    await quick_register(harness, SEEKER)
    sent = files_channel(harness)
    seeker, a = harness.chat(SEEKER), harness.chat(COUNSELOR_A)
    seen: set[str] = set()

    def keep(chat: Chat) -> None:
        seen.update(b.payload for r in chat.replies for row in r.buttons for b in row if b.payload)

    await request_until_files(seeker)
    await send_file(seeker, sent, "cv.docx", clinic_files.docx(clinic_files.RESUME))
    keep(seeker)
    await seeker.send("제출")
    keep(seeker)
    await a.send("/reviews")
    keep(a)
    await a.press("열기")
    keep(a)
    await a.press("맡기")
    keep(a)
    await a.press("코멘트")
    await a.press("전체")
    await a.send("좋아요")
    keep(a)
    await a.press("완료")
    await harness.deliver()
    for message in harness.notifier.to(SEEKER):
        seen.update(b["payload"] for row in message.get("buttons", []) for b in row if b.get("payload"))
    ours = {p for p in seen if p.startswith(("cl:", "clr:"))}
    assert len({p.split(":")[1] for p in ours}) >= 8, ours

    before = await _snapshot(harness)
    stranger = harness.chat(4242)
    await quick_register(harness, 4242)
    for pressed in sorted(ours):
        await stranger.press_payload(pressed)
        first = stranger.text
        await stranger.press_payload(re.sub(r":\d+:", ":987654321:", pressed, count=1))
        assert stranger.text == first, (pressed, first, stranger.text)
        assert "상담사만" in first or "더 이상 처리할 수 없어요" in first or "만료" in first, (pressed, first)
    assert await _snapshot(harness) == before
