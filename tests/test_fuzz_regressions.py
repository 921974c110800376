"""What the fuzz tests (`tests/test_fuzz_*.py`) found, each pinned by the input that showed it.

Each was a traceback logged at ERROR and the polite retry line ("처리 중 문제가 생겼어요")
where the person should have been told the button expired or the answer was not understood.
"""

from __future__ import annotations

import pytest

from kernel.core import Invalid
from tests.conftest import ADMIN_ID, Harness
from tests.fuzz import error_log

EXPIRED = "이 버튼은 만료되었어요"
FAILED = "처리 중 문제"


async def test_a_forms_button_pressed_after_a_live_chat_began_has_expired(harness: Harness) -> None:
    """Found by test_fuzz_payloads: a person half-way through a form asks for a counselor (/human)
    and then presses a button of the form's question still on screen. The conversation's flow is
    now the live chat, not a form: the press failed with KeyError: 'handoff' in the form runner."""
    from tests.test_counselor import add_window, make_counselor

    counselor_id = await make_counselor(harness, 8201)
    for weekday in range(5):
        await add_window(harness, counselor_id, weekday, "09:00", "18:00")
    chat = harness.chat(8202)
    await chat.send("/membership")
    stale = chat.payload_for("예비 창업자")
    await chat.send("/human")
    assert "상담사를 연결하고 있어요" in chat.text, chat.text
    with error_log() as errors:
        await chat.press_payload(stale)
    assert not errors.records, errors.lines()
    assert EXPIRED in chat.text and FAILED not in chat.text, chat.text


async def test_ids_beyond_the_id_columns_are_bad_payloads_on_every_database(harness: Harness) -> None:
    """Found by test_fuzz_payloads on PostgreSQL: ids are INTEGER columns (32 bits there), and an id
    of 2^31 or more in a payload reached the query, where asyncpg refused the argument: the turn
    failed as if the database were down ("잠시 후 다시 시도해 주세요", logged at ERROR)."""
    person, admin = harness.chat(8203), harness.chat(ADMIN_ID)
    await person.send("/start")
    with error_log() as errors:
        for big in ("2147483648", "9999999999", "9223372036854775807"):
            for payload in (f"ev:reg:{big}", f"ev:c:{big}", f"bk:c:{big}", f"sv:{big}:go"):
                await person.press_payload(payload)
                assert EXPIRED in person.text, (payload, person.text)
            await admin.send(f"/event {big}")
            assert "/event 행사번호" in admin.text, admin.text
        await person.press_payload("ev:reg:2147483647")  # the largest id there can be: looked up, not found
        assert EXPIRED not in person.text and "찾을 수 없는 행사" in person.text, person.text
    assert not errors.records, errors.lines()


async def test_a_posting_button_without_its_id_has_expired(harness: Harness) -> None:
    """Found by test_fuzz_payloads: an admin's press of "pa" (the posting buttons' prefix alone)
    failed with IndexError in handlers/firms_admin.py before the id was read."""
    admin = harness.chat(ADMIN_ID)
    with error_log() as errors:
        for payload in ("pa", "pa:c", "pa:e:"):
            await admin.press_payload(payload)
            assert EXPIRED in admin.text and FAILED not in admin.text, (payload, admin.text)
    assert not errors.records, errors.lines()


@pytest.mark.parametrize("raw", ["000000𐩀", "𐩀𐩀𐩀𐩀𐩀𐩀𐩀", "1" * 5000, "٣" * 4400])
def test_a_salary_of_odd_digits_is_refused_not_a_crash(raw: str) -> None:
    """Found by test_fuzz_parsers: "𐩀" (KHAROSHTHI DIGIT ONE) passes `str.isdigit` but not `int`,
    and int() refuses more than 4,300 digits: both raised ValueError out of the salary parser."""
    import datetime as dt

    from kernel.forms import FieldInput
    from kernel.parsers import salary

    with pytest.raises(Invalid):
        salary(raw, FieldInput({}, dt.datetime(2026, 3, 2, tzinfo=dt.UTC), dt.UTC))


def test_a_rating_of_thousands_of_digits_is_refused_not_a_crash() -> None:
    """Found by test_fuzz_parsers: a typed survey rating of more than 4,300 digits raised ValueError."""
    import datetime as dt

    from handlers.surveys import parse_typed
    from storage import survey_defs

    rating = next(q for surveys in survey_defs.load().values() for s in surveys for q in s.questions
                  if q.kind == "rating")
    for raw in ("1" * 5000, "-" + "9" * 4400 + "점"):
        with pytest.raises(Invalid) as refused:
            parse_typed(rating, raw, dt.datetime(2026, 3, 2, tzinfo=dt.UTC), dt.UTC)
        assert refused.value.key == "survey.rating_expected"


async def test_an_english_admins_xlsx_export_names_its_sheets_within_excels_limit(harness: Harness) -> None:
    """Found by the long run of test_fuzz_payloads and test_fuzz_http: an admin who switched to
    English pressed XLSX on /stats and got the retry line. Sheet names were cut at 31 characters,
    but Excel (and XlsxWriter) count UTF-16 units, in which the titles' emoji count two:
    InvalidWorksheetName for '👤 Job-seeker registrations (by ', so no English export ever worked."""
    import io

    from openpyxl import load_workbook

    from tests.conftest import ADMIN_ID

    admin = harness.chat(ADMIN_ID)
    await admin.press_payload("m:lang:en")
    await admin.send("/stats")
    with error_log() as errors:
        await admin.press_payload("st:xlsx:20260301-20260302")
    assert not errors.records, errors.lines()
    [file] = [r.file for r in admin.replies if r.file is not None]
    names = load_workbook(io.BytesIO(file.data), read_only=True).sheetnames
    assert "Survey answers" in names and any(name.startswith("👤 Job-seeker") for name in names), names
    assert all(len(name.encode("utf-16-le")) <= 62 and not name.startswith("'") for name in names), names
