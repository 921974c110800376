"""A long multi-select over the KakaoTalk skill endpoint, where ten quick replies are all there
is (issue 15): 선택 완료 and 이전 on every page once something is chosen, the question and the
selection on each 더보기 page, no page of only the way on, and typed names or 완료 understood."""

from __future__ import annotations

from tests.conftest import Harness
from tests.test_kakao import start_skill


async def test_kakao_districts_keep_done_and_back_on_every_page(harness: Harness) -> None:
    skill = await start_skill(harness)
    try:
        user = skill.user("k-districts")
        await user.say("/register")
        await user.press("동의합니다")
        for typed in ("김카톡", "1999"):
            await user.say(typed)
        await user.press("청년층")
        await user.press("대학교")
        for typed in ("서울대학교", "웹 개발", "Python"):
            await user.say(typed)
        assert "근무지역" in user.text
        assert len(user.template["quickReplies"]) <= 10
        assert "⬅️ 이전" in user.labels and "✅ 선택 완료" not in user.labels  # nothing chosen yet
        await user.press("마포구")
        seen_pages = 0
        while True:
            labels = user.labels
            assert "✅ 선택 완료" in labels and "⬅️ 이전" in labels, labels
            assert "근무지역" in user.text and "선택: 마포구" in user.text, user.text
            districts = [label for label in labels if label.endswith("구") or label.endswith("어디든")]
            assert districts, labels  # no page of only the way on
            seen_pages += 1
            more = user.find("더보기")
            if more is None:
                break
            await user.tap(more)
        assert seen_pages >= 3
        await user.say("선택 완료")
        assert "최종 학력" in user.text
    finally:
        await skill.client.close()


async def test_kakao_done_typed_with_names_closes_the_districts(harness: Harness) -> None:
    skill = await start_skill(harness)
    try:
        user = skill.user("k-typed")
        await user.say("/register")
        # On one page the quick replies keep the bot's order, as on Telegram.
        assert user.labels[-2:] == ["⬅️ 이전", "✖️ 취소"], user.labels
        await user.say("동의합니다")
        for typed in ("김카톡", "1999", "청년층", "대학교", "서울대학교", "웹 개발", "Python"):
            await user.say(typed)
        assert "근무지역" in user.text
        await user.say("마포구 강남구 완료")
        assert "최종 학력" in user.text
        assert user.template.get("quickReplies"), "the next question's buttons"
    finally:
        await skill.client.close()



async def test_kakao_ticking_on_a_later_page_stays_on_that_page(harness: Harness) -> None:
    """Ticking a district on the third page answers with that page again (ticked), not page 1;
    더보기 then goes round to the first page, so every district stays within reach."""
    skill = await start_skill(harness)
    try:
        user = skill.user("k-page3")
        await user.say("/register")
        await user.say("동의합니다")
        for typed in ("김카톡", "1999", "청년층", "대학교", "서울대학교", "웹 개발", "Python"):
            await user.say(typed)
        await user.press("마포구")
        first_page = [label for label in user.labels if label.endswith("구")]
        for _ in range(2):
            more = user.find("더보기")
            assert more is not None
            await user.tap(more)
        third_page = [label for label in user.labels if label.endswith("구")]
        target = next(label for label in third_page if not label.startswith("✅"))
        await user.press(target)
        assert f"선택: 마포구, {target}" in user.text, user.text
        assert f"✅ {target}" in user.labels, user.labels
        assert "✅ 선택 완료" in user.labels and "⬅️ 이전" in user.labels
        seen = set(user.labels)
        while (more := user.find("더보기")) is not None:
            await user.tap(more)
            seen |= set(user.labels)
        assert "✅ 마포구" in seen and all(label in seen or f"✅ {label}" in seen for label in first_page[1:])
    finally:
        await skill.client.close()
