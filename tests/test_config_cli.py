"""Settings and the command line: a bad setting stops the start with one line naming it."""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kernel.config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_are_the_embedded_sqlite_and_seoul() -> None:
    settings = load_settings(_env_file=None)
    assert settings.database_url == "sqlite+aiosqlite:///data/jobhub.sqlite3"
    assert settings.timezone == "Asia/Seoul" and settings.default_locale == "ko"
    assert settings.telegram_api_base_url == "https://api.telegram.org/bot"
    assert not settings.webhook_mode


def test_values_are_normalised() -> None:
    settings = load_settings(_env_file=None, admin_telegram_ids="1, 2;3", telegram_api_base_url="http://localhost:8081/",
                             database_url="postgresql://u@h/db")
    assert settings.admin_telegram_ids == {1, 2, 3}
    assert settings.telegram_api_base_url == "http://localhost:8081/bot"
    assert settings.database_url == "postgresql+asyncpg://u@h/db"


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ({"admin_telegram_ids": "12,abc"}, "ADMIN_TELEGRAM_IDS"),
        ({"timezone": "Mars/Olympus"}, "TIMEZONE"),
        ({"default_locale": "fr"}, "DEFAULT_LOCALE"),
        ({"database_url": "mysql://x"}, "DATABASE_URL"),
        ({"webhook_port": "99999"}, "WEBHOOK_PORT"),
        ({"webhook_url": "https://example.org/hook"}, "WEBHOOK_SECRET"),
        ({"webhook_url": "https://example.org/hook", "webhook_secret": "bad secret!"}, "WEBHOOK_SECRET"),
        ({"log_level": "LOUD"}, "LOG_LEVEL"),
        ({"kakao_task_url": "https://bot-api.kakao.com/v1/tasks/"}, "KAKAO_TASK_URL"),
    ],
)
def test_bad_setting_names_itself(overrides: dict[str, str], name: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(_env_file=None, **overrides)
    assert name in str(exc.value) and "\n" not in str(exc.value)


def _cli(tmp_path: Path, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_", "WEBHOOK_", "KAKAO_"))}
    clean.update({"PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}", **env})
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=tmp_path, env=clean, input=stdin,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.slow
def test_malformed_setting_stops_with_one_line(tmp_path: Path) -> None:
    result = _cli(tmp_path, "run", TIMEZONE="Nowhere/City")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "TIMEZONE" in result.stderr


@pytest.mark.slow
def test_run_without_token_points_to_botfather_and_shell(tmp_path: Path) -> None:
    result = _cli(tmp_path, "run", TELEGRAM_BOT_TOKEN="")
    assert result.returncode == 2
    assert "@BotFather" in result.stderr and "python -m bot shell" in result.stderr


@pytest.mark.slow
def test_kakao_and_serve_without_a_skill_secret_say_how_to_set_one(tmp_path: Path) -> None:
    for command in ("kakao", "serve"):
        result = _cli(tmp_path, command, KAKAO_SKILL_SECRET="")
        assert result.returncode == 2
        assert "KAKAO_SKILL_SECRET" in result.stderr and "Open Builder" in result.stderr


@pytest.mark.slow
def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    result = _cli(tmp_path, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cli.sqlite3").exists()


@pytest.mark.slow
def test_shell_is_the_default_without_a_token_and_presses_buttons_by_number(tmp_path: Path) -> None:
    result = _cli(tmp_path, stdin="/register\n#1\n김서울\n/quit\n", TELEGRAM_BOT_TOKEN="")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "서울일자리플러스센터" in out and "#1 ✅ 동의합니다" in out and "출생연도" in out


@contextlib.contextmanager
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory holding a database this process cannot write: a read-only tmpfs when root
    (root writes through file modes), a directory without write permission otherwise."""
    where = tmp_path / "ro"
    where.mkdir()
    if os.geteuid() != 0:
        assert _cli(tmp_path, "db", "upgrade", DATABASE_URL=f"sqlite:///{where / 'x.sqlite3'}").returncode == 0
        where.chmod(0o500)
        (where / "x.sqlite3").chmod(0o400)
        try:
            yield where
        finally:
            where.chmod(0o700)
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        assert _cli(tmp_path, "db", "upgrade", DATABASE_URL=f"sqlite:///{where / 'x.sqlite3'}").returncode == 0
        subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True)
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.mark.slow
def test_read_only_database_fails_with_one_line(tmp_path: Path) -> None:
    with read_only_dir(tmp_path) as where:
        # An existing database on a read-only disk, and a new one that cannot be created there.
        existing = _one_error_line(_cli(tmp_path, "counselors", "import", str(ROOT / "tests/data/counselors.csv"),
                                        DATABASE_URL=f"sqlite:///{where / 'x.sqlite3'}"))
        new = _one_error_line(_cli(tmp_path, "db", "upgrade", DATABASE_URL=f"sqlite:///{where / 'new.sqlite3'}"))
    assert "x.sqlite3" in existing and "new.sqlite3" in new
    assert "writable" in existing or "Read-only" in existing or "readonly" in existing


@pytest.mark.slow
def test_full_disk_at_start_fails_with_one_line(tmp_path: Path) -> None:
    # RLIMIT_FSIZE: writes beyond 16 KiB fail with EFBIG, what a full disk looks like to SQLite.
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_", "WEBHOOK_", "KAKAO_"))}
    clean.update({"PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{tmp_path / 'full.sqlite3'}",
                  "KAKAO_SKILL_SECRET": "s", "WEBHOOK_PORT": "1"})
    limit = 16 * 1024
    for command in (["db", "upgrade"], ["serve"]):
        result = subprocess.run([sys.executable, "-m", "bot", *command], cwd=tmp_path, env=clean,
                                capture_output=True, text=True, timeout=60,
                                preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)))
        line = _one_error_line(result)
        assert "full.sqlite3" in line and "disk has room" in line


def test_env_example_documents_every_setting() -> None:
    import re

    from kernel.config import Settings

    documented = set(re.findall(r"^#?\s*([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert {name.upper() for name in Settings.model_fields} == documented
