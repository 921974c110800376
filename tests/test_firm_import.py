"""Importing firms and postings: encodings, the rejection report, re-imports, the CLI, and an admin's upload."""

from __future__ import annotations

import io
import json
from pathlib import Path

from sqlalchemy import func, select

from bot.cli.firms import run as run_cli
from kernel.config import Settings
from kernel.core import Incoming
from storage.firm_import import BadFile, read
from storage.models import Firm, Posting
from tests.conftest import ADMIN_ID, FakeClock, FetchingChannel, Harness
from tests.fake_telegram import FakeTelegram
from tests.test_telegram import BotProcess, _settings, fake  # noqa: F401 (the fake Bot API fixture)

GOOD_BRN = "220-81-62517"
OTHER_BRN = "1048100015"  # check digit valid
FIRMS_CSV = (
    "사업자등록번호,기업명,업종,자치구,주소,설립연도,직원수,매출액,복지,홈페이지\n"
    f"{GOOD_BRN},(주)한빛소프트,it,마포구,서울특별시 마포구 월드컵북로 1,2005,48,\"9,500\","
    "youth_friendly|flexible_hours,https://hanbit.example.kr\n"
    f"{OTHER_BRN},새솔정밀,manufacturing,구로구,서울특별시 구로구 디지털로 2,1999,120,30000,,\n"
    "123-45-67890,틀린번호,it,마포구,서울 마포구 3,2001,10,100,,\n"
    "1048100029,잘못된구,it,해운대구,부산 해운대구,2001,10,100,,\n"
    "2208162517,중복,it,마포구,서울 마포구,2001,10,100,,\n"
    "6068614005,숫자오류,it,강남구,서울 강남구,이천오년,10,100,,\n"
    "6068614005,짧은행,it\n"
)
POSTINGS_JSON = {"postings": [
    {"ref": "P-1", "brn": GOOD_BRN, "title": "웹 개발자", "duties": "웹 서비스 개발", "required_skills": ["Python"],
     "min_education": "대졸", "exp_min": 0, "employment_type": "정규직", "salary_min": 3000, "salary_max": 4000,
     "district": "마포구", "deadline": "2026-04-30"},
    {"ref": "P-2", "brn": "104-81-00015", "title": "생산관리", "duties": "공정 관리", "district": "구로",
     "deadline": "2026/4/31"},
    {"ref": "P-3", "brn": "6068614005", "title": "없는 회사", "duties": "-", "district": "강남구"},
    {"ref": "P-4", "brn": GOOD_BRN, "title": "연봉 역전", "duties": "-", "district": "마포구", "salary_min": 5000,
     "salary_max": 3000},
]}


def row_errors(report_text: str) -> list[str]:
    return [line for line in report_text.splitlines() if line.startswith("• ")]


async def cli(settings: Settings, path: Path, clock: FakeClock) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await run_cli(settings, "import", str(path), out, err, clock=clock)
    return code, out.getvalue(), err.getvalue()


async def test_cli_import_reports_every_rejected_row_and_reimport_changes_nothing(
        settings: Settings, tmp_path: Path, clock: FakeClock) -> None:
    firms_file = tmp_path / "firms.csv"
    firms_file.write_bytes(FIRMS_CSV.encode("utf-8-sig"))
    code, out, _ = await cli(settings, firms_file, clock)
    assert code == 1
    assert "기업: 추가 2 · 변경 0 · 그대로 0" in out
    errors = row_errors(out)
    assert len(errors) == 5, out
    assert "4행" in errors[0] and "사업자등록번호 '123-45-67890'" in errors[0]
    assert "5행" in errors[1] and "'해운대구'는 서울의 자치구가 아니에요" in errors[1]
    assert "6행" in errors[2] and "2행과 같은 번호" in errors[2]
    assert "7행" in errors[3] and "'founded_year' 값 '이천오년'이 숫자가 아니에요" in errors[3]
    assert "8행" in errors[4] and "열이 모자라요" in errors[4]

    postings_file = tmp_path / "postings.json"
    postings_file.write_text(json.dumps(POSTINGS_JSON, ensure_ascii=False), encoding="utf-8")
    code, out, _ = await cli(settings, postings_file, clock)
    assert code == 1 and "공고: 추가 1 · 변경 0 · 그대로 0" in out
    errors = row_errors(out)
    assert "'deadline' 값 '2026/4/31'" in errors[0]
    assert "606-86-14005 기업이 없어요" in errors[1]
    assert "'salary_max'가 'salary_min'보다 작아요" in out

    # The same files again: nothing changes.
    _, out, _ = await cli(settings, firms_file, clock)
    assert "기업: 추가 0 · 변경 0 · 그대로 2" in out
    _, out, _ = await cli(settings, postings_file, clock)
    assert "공고: 추가 0 · 변경 0 · 그대로 1" in out


async def test_cp949_and_bad_files(settings: Settings, tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "cp949.csv"
    path.write_bytes(FIRMS_CSV.split("123-45")[0].encode("cp949"))
    code, out, _ = await cli(settings, path, clock)
    assert code == 0 and "기업: 추가 2" in out
    from storage.db import create_engine, session_factory

    engine = create_engine(settings.database_url)
    async with session_factory(engine)() as s:
        names = set(await s.scalars(select(Firm.name)))
    await engine.dispose()
    assert names == {"(주)한빛소프트", "새솔정밀"}

    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    code, _, err = await cli(settings, broken, clock)
    assert code == 2 and "JSON 형식" in err
    columns = tmp_path / "columns.csv"
    columns.write_text("name,district\nx,마포구\n", encoding="utf-8")
    code, _, err = await cli(settings, columns, clock)
    assert code == 2 and "필수 열이 없어요: brn" in err
    try:
        read(b"brn,name\n\xff\xff\xff")
        raise AssertionError("unreadable bytes were accepted")
    except BadFile as exc:
        assert exc.key == "import.bad_encoding"


async def test_admin_sends_a_file_and_gets_progress_and_the_report(harness: Harness) -> None:
    from storage.demo import generate

    data = generate(harness.clock.now().date(), firms=260, min_postings=260)
    data["firms"][5]["brn"] = "1234567890"  # one bad row among many
    files = {"ref-1": json.dumps(data, ensure_ascii=False).encode()}

    async def fetch(ref: str) -> bytes:
        if ref not in files:
            raise OSError("gone")
        return files[ref]

    harness.engine.add_channel(FetchingChannel(fetch))
    response = await harness.engine.handle(Incoming("telegram", str(ADMIN_ID), str(ADMIN_ID), attachment="document",
                                                    file_ref="ref-1"))
    assert "520행을 가져오는 중" in response.replies[0].text.replace(",", "")
    await harness.engine.idle()
    await harness.deliver()
    texts = [m["text"] for m in harness.notifier.to(ADMIN_ID)]
    assert any("⏳ 가져오는 중" in t for t in texts)
    report = texts[-1]
    assert "기업: 추가 259" in report and "공고: 추가" in report and "사업자등록번호 '1234567890'" in report
    async with harness.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Firm)) == 259
        assert (await s.scalar(select(func.count()).select_from(Posting)) or 0) >= 250

    response = await harness.engine.handle(Incoming("telegram", str(ADMIN_ID), str(ADMIN_ID), attachment="document",
                                                    file_ref="ref-gone"))
    assert "파일을 내려받지 못했어요" in response.replies[0].text

    # Not an admin: a document is not taken as an import.
    response = await harness.engine.handle(Incoming("telegram", "5555", "5555", attachment="document",
                                                    file_ref="ref-1"))
    assert "가져오는 중" not in response.replies[0].text


async def test_telegram_document_is_downloaded_and_imported(tmp_path: Path, fake: FakeTelegram) -> None:  # noqa: F811
    bot = BotProcess(_settings(tmp_path, fake))
    try:
        await fake.wait_for(lambda c: c.method == "deleteWebhook", timeout=10)
        since = len(fake.calls)
        fake.user_sends_document(ADMIN_ID, "firms.csv", FIRMS_CSV.encode("cp949"), "text/csv")
        first = await fake.wait_reply(ADMIN_ID, since=since, timeout=10)
        assert "가져오는 중" in first.params["text"]
        report = await fake.wait_for(lambda c: c.chat_id == ADMIN_ID and "가져오기 결과" in str(
            c.params.get("text", "")), since=since, timeout=10)
        assert "기업: 추가 2" in report.params["text"] and "거부: 5행" in report.params["text"]
    finally:
        await bot.close()


async def test_console_sends_a_local_file_with_slash_file(settings: Settings, clock: FakeClock, tmp_path: Path) -> None:
    from bot.app import build_engine
    from bot.channels.console import ConsoleChannel
    from storage.db import create_engine, session_factory
    from storage.migrate import upgrade

    path = tmp_path / "firms.csv"
    path.write_bytes(FIRMS_CSV.encode("utf-8"))
    db = create_engine(settings.database_url)
    await upgrade(db)
    engine = build_engine(settings, session_factory(db), clock=clock, extra_admins=[("console", "local")])
    out = io.StringIO()
    console = ConsoleChannel(engine, out=out)
    await console.say(f"/file {path}")
    await engine.idle()
    await console.say(f"/file {tmp_path / 'missing.csv'}")
    await db.dispose()
    assert "7행을 가져오는 중" in out.getvalue()
    assert "파일을 내려받지 못했어요" in out.getvalue()


async def test_the_shell_says_a_refusal_once(settings: Settings, clock: FakeClock) -> None:
    from bot.app import build_engine
    from bot.channels.console import ConsoleChannel
    from kernel.core import Button
    from storage.db import create_engine, session_factory
    from storage.migrate import upgrade

    db = create_engine(settings.database_url)
    await upgrade(db)
    engine = build_engine(settings, session_factory(db), clock=clock)
    out = io.StringIO()
    console = ConsoleChannel(engine, out=out)
    await console.say("/start")
    start = len(out.getvalue())
    console.buttons = [Button("마감", "pa:c:1")]  # an admin's button, pressed by someone else
    await console.say("#1")
    await db.dispose()
    said = out.getvalue()[start:]
    assert said.count("관리자만 쓸 수 있는 기능이에요.") == 1, said


def test_cli_demo_round_trip_and_the_shell_loads_the_demo(tmp_path: Path) -> None:
    from tests.test_config_cli import _cli

    written = _cli(tmp_path, "firms", "demo", "demo.csv")
    assert written.returncode == 0, written.stderr
    assert (tmp_path / "demo.csv").exists() and (tmp_path / "demo.postings.csv").exists()
    firms_run = _cli(tmp_path, "firms", "import", "demo.csv")
    assert firms_run.returncode == 0, firms_run.stdout + firms_run.stderr
    assert "기업: 추가 127" in firms_run.stdout
    postings_run = _cli(tmp_path, "firms", "import", "demo.postings.csv")
    assert postings_run.returncode == 0, postings_run.stdout
    assert "공고: 추가 320" in postings_run.stdout and "거부: 0행" in postings_run.stdout
    assert "⏳ 가져오는 중" in postings_run.stderr  # progress for a file over one chunk
    again = _cli(tmp_path, "firms", "import", "demo.postings.csv")
    assert "공고: 추가 0 · 변경 0 · 그대로 320" in again.stdout
    missing = _cli(tmp_path, "firms", "import", "nope.csv")
    assert missing.returncode == 2 and missing.stderr.startswith("error:")

    fresh = tmp_path / "fresh"
    fresh.mkdir()
    shell = _cli(fresh, "shell", stdin="/firms 소프트\n/quit\n", TELEGRAM_BOT_TOKEN="")
    assert shell.returncode == 0, shell.stderr
    assert "데모용 강소기업 127곳과 채용공고 320건을 불러왔어요" in shell.stdout
    assert "검색 결과" in shell.stdout
