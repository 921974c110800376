"""Membership application, admin review and member stages, through the core and the outbox."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.app import build_engine
from storage.models import AuditEntry, Membership
from tests.conftest import ADMIN_ID, Chat, Harness, make_settings


async def apply(chat: Chat, team: str = "서울팀") -> None:
    await chat.send("/membership")
    await chat.press("재창업자")
    await chat.send(team)
    await chat.send("동네 소상공인을 위한 주문 관리 앱을 만듭니다. 작년 폐업 경험을 살려 재도전해요.")
    await chat.press("IT·소프트웨어")
    await chat.press("시제품")
    await chat.press("3명")
    assert "개인정보" in chat.text
    await chat.press("동의합니다")
    assert "확인해 주세요" in chat.text and "재창업자" in chat.text
    await chat.press("제출")


async def _membership(h: Harness) -> Membership:
    async with h.sessions() as s:
        return (await s.scalars(select(Membership))).one()


async def test_application_reaches_admins_with_buttons_and_approval_reaches_applicant(harness: Harness) -> None:
    founder = harness.chat(500)
    await apply(founder)
    assert "접수되었어요" in founder.text
    row = await _membership(harness)
    assert row.status == "pending" and row.applicant_type == "restarter" and row.team_size == 3

    assert await harness.deliver() == 1
    [note] = harness.notifier.to(ADMIN_ID)
    assert "새 공동회원 신청" in note["text"] and "서울팀" in note["text"]
    approve = next(b["payload"] for row_ in note["buttons"] for b in row_ if "승인" in b["label"])

    admin = harness.chat(ADMIN_ID)
    await admin.press_payload(approve)
    assert "승인했어요" in admin.text
    row = await _membership(harness)
    assert row.status == "approved" and row.member_stage == "preparation"

    await harness.deliver()
    [result] = harness.notifier.to(500)
    assert "승인되었어요" in result["text"] and "창업준비" in result["text"]

    await admin.press_payload(approve)  # a second tap, or a second admin
    assert "이미 처리되었어요" in admin.text
    async with harness.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(AuditEntry)) == 1

    await founder.send("/membership")
    assert "현재 단계: 창업준비" in founder.text


async def test_reject_asks_reason_and_tells_applicant(harness: Harness) -> None:
    await apply(harness.chat(501))
    row = await _membership(harness)
    admin = harness.chat(ADMIN_ID)
    await admin.send("/applications")
    assert "대기 중인 신청 1건" in admin.text
    await admin.press("반려")
    assert "반려 사유" in admin.text
    await admin.send("사업계획이 구체적이지 않아요. 목표 고객을 적어 주세요.")
    assert "반려했어요" in admin.text
    row = await _membership(harness)
    assert row.status == "rejected" and row.reject_reason and "목표 고객" in row.reject_reason
    await harness.deliver()
    [result] = harness.notifier.to(501)
    assert "승인되지 않았어요" in result["text"] and "목표 고객" in result["text"]
    applicant = harness.chat(501)
    await applicant.send("/membership")
    assert "어떤 분이신가요" in applicant.text  # a rejected applicant may apply again


async def test_ordinary_users_get_refusals_never_data(harness: Harness) -> None:
    await apply(harness.chat(502))
    row = await _membership(harness)
    intruder = harness.chat(503)
    for command in ("/applications", "/members"):
        await intruder.send(command)
        assert "관리자만" in intruder.text and "서울팀" not in intruder.text
    response = await intruder.press_payload(f"adm:ok:{row.id}")
    assert "관리자만" in intruder.text and response.toast
    assert (await _membership(harness)).status == "pending"


async def test_admin_removed_from_config_cannot_finish_a_rejection(harness: Harness, clock) -> None:
    await apply(harness.chat(504))
    admin = harness.chat(ADMIN_ID)
    await admin.send("/applications")
    await admin.press("반려")
    demoted = build_engine(make_settings(harness.settings.database_url, admin_telegram_ids=""),
                           harness.sessions, clock=clock)
    await Chat(demoted, ADMIN_ID).send("이유")
    assert (await _membership(harness)).status == "pending"


async def test_stage_change_reaches_the_member(harness: Harness) -> None:
    await apply(harness.chat(505))
    admin = harness.chat(ADMIN_ID)
    await admin.send("/applications")
    await admin.press("승인")
    await admin.send("/members")
    assert "공동회원 1명" in admin.text
    await admin.press("창업숙성")
    assert "창업숙성" in admin.text
    assert (await _membership(harness)).member_stage == "maturation"
    await harness.deliver()
    assert any("창업숙성" in m["text"] for m in harness.notifier.to(505))


async def test_yearly_quota_closes_applications(harness: Harness, clock) -> None:
    engine = build_engine(make_settings(harness.settings.database_url, membership_yearly_quota=1),
                          harness.sessions, clock=clock)
    await apply(Chat(engine, 506))
    late = Chat(engine, 507)
    await late.send("/membership")
    assert "마감되었어요" in late.text and "1명" in late.text


async def test_quota_holds_under_concurrent_submits(harness: Harness, clock) -> None:
    engine = build_engine(make_settings(harness.settings.database_url, membership_yearly_quota=1),
                          harness.sessions, clock=clock)
    chats = [Chat(engine, 600 + i) for i in range(4)]
    for chat in chats:
        await chat.send("/membership")
        await chat.press("예비 창업자")
        await chat.send(f"팀{chat.user_id}")
        await chat.send("아이디어를 열 글자 넘게 적어 봅니다.")
        await chat.press("교육")
        await chat.press("아이디어")
        await chat.press("1명")
        await chat.press("동의합니다")
    await asyncio.gather(*(chat.press("제출") for chat in chats))
    async with harness.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Membership)) == 1
    closed = [c for c in chats if "마감" in c.text]
    assert len(closed) == 3 and all("확인해 주세요" in c.text for c in closed)


async def test_pending_applicant_sees_status_instead_of_a_new_form(harness: Harness) -> None:
    chat = harness.chat(508)
    await apply(chat)
    await chat.send("/membership")
    assert "심사 중" in chat.text
