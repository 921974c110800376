"""Demo day pitches: members apply, admins shortlist and select, results told once, presenter CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlalchemy import func, select

from handlers.demoday import parse_deck_link
from kernel import parsers
from kernel.core import Invalid, stamp
from kernel.forms import FieldInput
from storage.models import AuditEntry, Event, Identity, Membership, OutboxMessage, PitchApplication
from tests.conftest import ADMIN_ID, START, Chat, Harness, register

DECK = "https://drive.google.com/file/d/abc123/view"


async def make_demo_day(h: Harness, *, title: str = "2026 상반기 데모데이", status: str = "published",
                        deadline_days: float = 7, audience: str = "members") -> int:
    async with h.sessions() as s, s.begin():
        event = Event(kind="demo_day", title=title, description="투자자 앞에서 발표하는 창업기업설명회",
                      starts_at=START + dt.timedelta(days=14), ends_at=START + dt.timedelta(days=14, hours=3),
                      capacity=100, audience=audience, registration_deadline=START + dt.timedelta(days=deadline_days),
                      status=status, checkin_code="DEMO26", created_at=START, updated_at=START)
        s.add(event)
        await s.flush()
        return event.id


async def user_id_of(h: Harness, external_id: int) -> int:
    async with h.sessions() as s:
        uid = await s.scalar(select(Identity.user_id).where(Identity.external_id == str(external_id)))
        assert uid is not None
        return int(uid)


async def make_member(h: Harness, external_id: int, team: str = "서울팀", *, status: str = "approved",
                      stage: str | None = "maturation") -> Chat:
    chat = h.chat(external_id)
    await chat.send("/help")  # the person exists once they have written
    uid = await user_id_of(h, external_id)
    async with h.sessions() as s, s.begin():
        s.add(Membership(user_id=uid, applicant_type="startup", team_name=team, idea="동네 가게 주문 관리 앱.",
                         industry="it", startup_stage="prototype", team_size=3, status=status,
                         member_stage=stage if status == "approved" else None, consent_at=START, applied_at=START,
                         decided_at=START if status == "approved" else None))
    return chat


async def apply(chat: Chat, *, pitch: str = "동네 소상공인의 주문 관리를 자동화하는 앱", funding: str = "5천만원",
                team: str | None = None) -> None:
    """The whole form from the team question on (the form already started)."""
    if team is None:
        await chat.press("서울팀")
    else:
        await chat.send(team)
    assert "한 줄 소개" in chat.text, chat.text
    await chat.send(pitch)
    await chat.press("창업숙성")
    await chat.send(DECK)
    await chat.send(funding)
    assert "제3자 제공" in chat.text and "투자자" in chat.text
    await chat.press("동의합니다")
    assert "확인해 주세요" in chat.text, chat.text
    await chat.press("제출")


async def applications(h: Harness) -> list[PitchApplication]:
    async with h.sessions() as s:
        return list(await s.scalars(select(PitchApplication).order_by(PitchApplication.id)))


def buttons(chat: Chat) -> dict[str, list[str]]:
    """Every button of the last response: label -> payloads (in order), for lists with many rows."""
    found: dict[str, list[str]] = {}
    for reply in chat.replies:
        for row in reply.buttons:
            for b in row:
                if b.payload:
                    found.setdefault(b.label, []).append(b.payload)
    return found


async def test_member_applies_with_the_full_form_and_admins_are_told(harness: Harness) -> None:
    event_id = await make_demo_day(harness)
    member = await make_member(harness, 600)
    await member.send("/pitch")
    # The demo day is named before the first question, not only after 제출.
    assert member.replies[0].text.startswith("📣 ") and "데모데이" in member.replies[0].text
    assert "발표 신청이에요" in member.text and "신청 마감" in member.text
    assert "발표할 팀 이름" in member.text
    assert "서울팀" in buttons(member)
    await member.press("서울팀")
    await member.send("가" * 101)
    assert "100" in member.text  # too long, said with the limit
    await member.send("동네 소상공인의 주문 관리를 자동화하는 앱")
    assert "창업숙성 (추천)" in buttons(member)  # the member's stage suggested
    await member.press("창업숙성")
    await member.send("http://drive.google.com/deck")
    assert "https://" in member.text and "보안 연결" in member.text
    await member.send("내 발표자료")
    assert "올바른 웹 주소가 아니에요" in member.text
    await member.send(DECK.removeprefix("https://"))  # pasted without https://: added
    await member.send("많이")
    assert "금액을 알아볼 수 없어요" in member.text
    await member.send("0")
    assert "1만원에서" in member.text
    await member.send("5천만원")
    await member.press("동의합니다")
    assert "5,000만원" in member.text and DECK in member.text
    await member.press("제출")
    assert "접수되었어요" in member.text

    [row] = await applications(harness)
    assert (row.event_id, row.team, row.stage, row.deck_link, row.funding_sought, row.status) == (
        event_id, "서울팀", "maturation", DECK, 5000, "applied")

    assert await harness.deliver() == 1
    [note] = harness.notifier.to(ADMIN_ID)
    assert "새 데모데이 발표 신청" in note["text"] and "서울팀" in note["text"]
    labels = [b["label"] for r in note["buttons"] for b in r]
    assert labels == ["후보 선정", "발표팀 선정", "미선정"]


async def test_choice_between_demo_days_and_refusal_of_consent(harness: Harness) -> None:
    first = await make_demo_day(harness, title="봄 데모데이")
    await make_demo_day(harness, title="여름 데모데이")
    await make_demo_day(harness, title="초안 데모데이", status="draft")
    member = await make_member(harness, 601)
    await member.send("/pitch")
    assert "봄 데모데이" in member.text and "여름 데모데이" in member.text and "초안" not in member.text
    await member.press("신청: 봄 데모데이")
    await member.send("새이름팀")
    await member.send("한 줄 소개입니다")
    await member.press("창업준비")
    await member.send(DECK)
    await member.send("1억 5천")
    await member.press("동의하지 않습니다")
    assert "아무 정보도 저장되지 않았어요" in member.text
    assert await applications(harness) == []
    await member.send(f"/pitch {first}")
    await apply(member, team="새이름팀")
    [row] = await applications(harness)
    assert row.event_id == first and row.team == "새이름팀"
    await member.send("/pitch")
    assert "이미 신청하셨어요" in member.text and "심사 중" in member.text and "여름 데모데이" in member.text


async def test_non_members_are_refused_with_a_way_to_apply(harness: Harness) -> None:
    event_id = await make_demo_day(harness)
    stranger = harness.chat(602)
    await stranger.send("/pitch")
    assert "공동회원 팀만" in stranger.text
    await stranger.press_payload(f"pit:{event_id}")
    assert "공동회원 팀만" in stranger.text
    await stranger.press("공동회원")
    assert "어떤 분이신가요" in stranger.text  # the membership application starts
    pending = await make_member(harness, 603, status="pending")
    await pending.send("/pitch")
    assert "공동회원 팀만" in pending.text
    assert await applications(harness) == []


async def test_second_application_is_refused(harness: Harness) -> None:
    event_id = await make_demo_day(harness)
    member = await make_member(harness, 604)
    await member.send("/pitch")
    await apply(member)
    assert "접수되었어요" in member.text
    await member.send("/pitch")
    assert "이미 신청하셨어요" in member.text and "발표할 팀 이름" not in member.text
    await member.press_payload(f"pit:{event_id}")
    assert "이미 신청하셨어요" in member.text

    # Two drafts open at once (two devices): the database keeps one application.
    other = await make_member(harness, 605, team="부산팀")
    await other.send("/pitch")
    uid = await user_id_of(harness, 605)
    async with harness.sessions() as s, s.begin():
        s.add(PitchApplication(event_id=event_id, user_id=uid, team="부산팀", pitch="먼저 낸 신청", stage="execution",
                               deck_link=DECK, funding_sought=1000, status="applied", created_at=START))
    await apply(other, team="부산팀")
    assert "이미 신청하셨어요" in other.text
    rows = await applications(harness)
    assert [r.pitch for r in rows if r.user_id == uid] == ["먼저 낸 신청"]


async def test_after_the_deadline_nothing_is_accepted(harness: Harness) -> None:
    event_id = await make_demo_day(harness, deadline_days=0.01)  # about 14 minutes from now
    member = await make_member(harness, 606)
    await member.send("/pitch")
    await member.press("서울팀")
    harness.clock.advance(minutes=15)
    await member.send("늦게 마무리하는 한 줄 소개")
    await member.press("창업숙성")
    await member.send(DECK)
    await member.send("3000")
    await member.press("동의합니다")
    await member.press("제출")
    assert "마감되었거나" in member.text
    assert await applications(harness) == []
    await member.send("/pitch")
    assert "신청을 받는 데모데이가 없어요" in member.text
    await member.press_payload(f"pit:{event_id}")
    assert "마감되었거나" in member.text
    await member.send(f"/pitch {event_id}")
    assert "마감되었거나" in member.text


async def _three_applications(h: Harness) -> tuple[int, list[PitchApplication]]:
    event_id = await make_demo_day(h)
    for external_id, team in ((610, "서울팀"), (611, "부산팀"), (612, "대구팀")):
        chat = await make_member(h, external_id, team=team)
        await chat.send("/pitch")
        await apply(chat, team=team)
    return event_id, await applications(h)


async def test_admin_shortlists_selects_and_a_second_press_changes_nothing(harness: Harness) -> None:
    event_id, (seoul, busan, _daegu) = await _three_applications(harness)
    admin = harness.chat(ADMIN_ID)
    await admin.send("/pitches")
    await admin.press("2026 상반기 데모데이")
    assert "발표 신청 3건" in admin.text and "접수 3" in admin.text
    await admin.send(f"/pitches {event_id}")
    assert "서울팀" in admin.text and "부산팀" in admin.text and "대구팀" in admin.text
    shortlist = buttons(admin)["후보 선정"][0]
    assert shortlist == f"pia:sl:{seoul.id}:{stamp(seoul.created_at)}"
    await admin.press_payload(shortlist)
    assert "후보" in admin.text
    assert buttons(admin).keys() == {"발표팀 선정", "미선정"}
    await admin.press_payload(shortlist)
    assert "이미 처리되었어요" in admin.text
    await admin.press_payload(f"pia:sel:{seoul.id}:{stamp(seoul.created_at)}")
    assert "발표팀 선정" in admin.text and not buttons(admin)
    await admin.press_payload(f"pia:rej:{busan.id}:{stamp(busan.created_at)}")
    assert "미선정" in admin.text

    second_admin = harness.chat(ADMIN_ID)
    for forged in (f"pia:rej:{seoul.id}:{stamp(seoul.created_at)}", f"pia:sel:{seoul.id}:{stamp(seoul.created_at)}",
                   f"pia:sel:{busan.id}:{stamp(busan.created_at)}"):
        await second_admin.press_payload(forged)
        assert "이미 처리되었어요" in second_admin.text
    rows = {r.team: r for r in await applications(harness)}
    assert rows["서울팀"].status == "selected" and rows["서울팀"].decided_at is not None
    assert rows["부산팀"].status == "rejected" and rows["대구팀"].status == "applied"
    async with harness.sessions() as s:
        actions = list(await s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions == ["pitch.shortlisted", "pitch.selected", "pitch.rejected"]
    await admin.send(f"/pitches {event_id}")
    assert "후보 0 · 발표팀 1 · 미선정 1" in admin.text
    await admin.press_payload("pia:sel:999999:abc")
    assert "찾을 수 없어요" in admin.text


async def test_results_are_told_once_to_selected_and_not_selected(harness: Harness) -> None:
    event_id, (seoul, busan, daegu) = await _three_applications(harness)
    await harness.deliver()  # the admins' notices
    harness.notifier.sent.clear()
    admin = harness.chat(ADMIN_ID)
    await admin.press_payload(f"pia:sel:{seoul.id}:{stamp(seoul.created_at)}")
    await admin.press_payload(f"pia:rej:{busan.id}:{stamp(busan.created_at)}")

    seoul_chat = harness.chat(610)
    await seoul_chat.send("/pitch")
    assert "심사 중" in seoul_chat.text and "선정되었어요" not in seoul_chat.text  # not before the announcement

    await admin.send(f"/pitches {event_id}")
    await admin.press("결과 알리기")
    assert "발표팀 1팀, 미선정 1팀" in admin.text and "새로 보낸 알림 2건" in admin.text
    assert "아직 결정하지 않은 신청: 1건" in admin.text
    assert await harness.deliver() == 2
    await admin.send(f"/pitches {event_id} notify")
    assert "새로 보낸 알림 0건" in admin.text
    assert await harness.deliver() == 0
    [selected] = harness.notifier.to(610)
    assert "축하해요" in selected["text"] and "서울팀" in selected["text"]
    [rejected] = harness.notifier.to(611)
    assert "선정되지 않았어요" in rejected["text"] and "부산팀" in rejected["text"]
    assert harness.notifier.to(612) == []

    await admin.press_payload(f"pia:rej:{daegu.id}:{stamp(daegu.created_at)}")
    await admin.send(f"/pitches {event_id} notify")
    assert "새로 보낸 알림 1건" in admin.text and "아직 결정하지 않은 신청: 0건" in admin.text
    assert await harness.deliver() == 1
    assert len(harness.notifier.to(610)) == 1 and len(harness.notifier.to(611)) == 1
    assert len(harness.notifier.to(612)) == 1

    await seoul_chat.send("/pitch")
    assert "발표팀으로 선정되었어요" in seoul_chat.text
    async with harness.sessions() as s:
        notices = await s.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "pitch.notify"))
    assert notices == 3


async def test_presenter_csv_for_investors(harness: Harness) -> None:
    event_id = await make_demo_day(harness)
    seeker = harness.chat(620)
    await register(seeker)  # 김서울, 010-1234-5678
    uid = await user_id_of(harness, 620)
    async with harness.sessions() as s, s.begin():
        s.add(Membership(user_id=uid, applicant_type="startup", team_name="서울팀", idea="동네 가게 주문 관리 앱.",
                         industry="it", startup_stage="revenue", team_size=2, status="approved",
                         member_stage="execution", consent_at=START, applied_at=START, decided_at=START))
    await seeker.send("/pitch")
    await apply(seeker, funding="1억")
    other = await make_member(harness, 621, team="=HYPERLINK(\"x\")")
    await other.send("/pitch")
    await apply(other, team="=HYPERLINK(\"x\")", pitch="-2+3 계산기를 만듭니다", funding="50000000원")
    not_chosen = await make_member(harness, 622, team="대구팀")
    await not_chosen.send("/pitch")
    await apply(not_chosen, team="대구팀")

    admin = harness.chat(ADMIN_ID)
    await admin.send(f"/pitches {event_id} csv")
    assert "아직 발표팀으로 선정된 팀이 없어요" in admin.text
    rows = {r.user_id: r for r in await applications(harness)}
    for row in list(rows.values())[:2]:
        await admin.press_payload(f"pia:sel:{row.id}:{stamp(row.created_at)}")
    third = list(rows.values())[2]
    await admin.press_payload(f"pia:rej:{third.id}:{stamp(third.created_at)}")
    await admin.send(f"/pitches {event_id}")
    await admin.press("CSV 내보내기")
    [reply] = [r for r in admin.replies if r.file is not None]
    assert reply.file is not None
    assert reply.file.filename.endswith(".csv") and reply.file.mime == "text/csv"
    assert reply.file.data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(reply.file.data.decode("utf-8-sig"))))
    assert table[0] == ["팀", "한 줄 소개", "단계", "발표 자료 링크", "희망 투자금(만원)", "연락 담당자"]
    assert table[1] == ["서울팀", "동네 소상공인의 주문 관리를 자동화하는 앱", "창업숙성", DECK, "10000", "김서울"]
    assert table[2] == ["'=HYPERLINK(\"x\")", "'-2+3 계산기를 만듭니다", "창업숙성", DECK, "5000", ""]
    assert len(table) == 3
    text = reply.file.data.decode("utf-8-sig")
    assert "010" not in text and "+82" not in text and "대구팀" not in text


async def test_non_admins_pressing_admin_buttons_change_nothing(harness: Harness) -> None:
    event_id, (seoul, _busan, _daegu) = await _three_applications(harness)
    intruder = harness.chat(610)  # even an applicant
    proof = f"{seoul.id}:{stamp(seoul.created_at)}"
    for forged in (f"pia:sel:{proof}", f"pia:rej:{proof}", f"pia:sl:{proof}", f"pia:nt:{event_id}",
                   f"pia:csv:{event_id}", f"pia:ls:{event_id}:0"):
        response = await intruder.press_payload(forged)
        assert "관리자만" in intruder.text and response.toast
        assert all(r.file is None for r in intruder.replies) and "부산팀" not in intruder.text
    for command in (f"/pitches {event_id}", f"/pitches {event_id} csv", f"/pitches {event_id} notify"):
        await intruder.send(command)
        assert "관리자만" in intruder.text and "부산팀" not in intruder.text
    assert {r.status for r in await applications(harness)} == {"applied"}
    async with harness.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(AuditEntry)) == 0
        kinds = set(await s.scalars(select(OutboxMessage.kind)))
    assert kinds == {"pitch.new"}
    admin = harness.chat(ADMIN_ID)
    for garbled in ("pia:sel", "pia:sel:x", "pia:zz:1", "pit:abc"):
        await admin.press_payload(garbled)
        assert "만료" in admin.text


def test_funding_parser() -> None:
    inp = FieldInput(answers={}, now=START, tz=dt.UTC)
    cases = {"5000": 5000, "5,000만원": 5000, "5천만원": 5000, "5천": 5000, "1억": 10000, "1억 5천만원": 15000,
             "1억5000만원": 15000, "1.5억": 15000, "50000000원": 5000, "5백만원": 500, "３０００": 3000}
    for raw, expected in cases.items():
        assert parsers.funding(raw, inp) == expected, raw
    for raw, key in (("많이", "invalid.funding"), ("0", "invalid.funding_range"), ("", "invalid.funding"),
                     ("12천", "invalid.funding"), ("2000001만원", "invalid.funding_range")):
        with pytest.raises(Invalid) as err:
            parsers.funding(raw, inp)
        assert err.value.key == key, raw


async def test_deck_link_is_optional(harness: Harness) -> None:
    await make_demo_day(harness)
    member = await make_member(harness, 601)
    await member.send("/pitch")
    await member.press("서울팀")
    await member.send("동네 소상공인의 주문 관리를 자동화하는 앱")
    await member.press("창업숙성")
    assert "건너뛰어도 돼요" in member.text and "건너뛰기" in buttons(member)
    await member.press("건너뛰기")
    await member.send("3000")
    await member.press("동의합니다")
    assert "발표 자료 링크: 입력 안 함" in member.text
    await member.press("제출")
    assert "접수되었어요" in member.text
    [row] = await applications(harness)
    assert row.deck_link == ""
    assert await harness.deliver() == 1
    [note] = harness.notifier.to(ADMIN_ID)
    assert "발표 자료: 아직 없음" in note["text"]


def test_deck_link_parser() -> None:
    inp = FieldInput(answers={}, now=START, tz=dt.UTC)
    assert parse_deck_link("drive.google.com/file/d/abc", inp) == "https://drive.google.com/file/d/abc"
    assert parse_deck_link(" 없음 ", inp) is None and parse_deck_link("None", inp) is None
    with pytest.raises(Invalid):
        parse_deck_link("내 발표자료", inp)
    assert parsers.https_url(" https://www.notion.so/team/deck?pvs=4 ", inp) == "https://www.notion.so/team/deck?pvs=4"
    for raw, key in (("http://example.com/deck", "invalid.https_only"), ("example.com", "invalid.https_only"),
                     ("https://localhost/deck", "invalid.https_url"), ("https://127.0.0.1/x", "invalid.https_url"),
                     ("https://user:pw@example.com", "invalid.https_url"),
                     ("https://exa mple.com", "invalid.https_url"),
                     ("https://example.com:99999/", "invalid.https_url"), ("https://" + "a" * 300 + ".com",
                                                                            "invalid.too_long")):
        with pytest.raises(Invalid) as err:
            parsers.https_url(raw, inp)
        assert err.value.key == key, raw
