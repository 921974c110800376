"""Settings, read once from the environment and `.env` (pydantic-settings).

Every setting is documented in `.env.example`. A missing or malformed value stops the
start with one line that names the setting (`load_settings` turns pydantic's report
into that line), because a newcomer should not have to read a validation traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

TELEGRAM_DEFAULT_API = "https://api.telegram.org/bot"
TELEGRAM_FREE_RATE = 30.0  # messages/s a bot may send without paid broadcasts
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_hhmm(value: str) -> int:
    """'08:30' -> 510 minutes after midnight; ValueError otherwise."""
    hours, sep, minutes = value.strip().partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise ValueError(f"{value!r} is not a time like 08:30")
    total = int(hours) * 60 + int(minutes)
    if int(hours) > 24 or int(minutes) > 59 or total > 24 * 60:
        raise ValueError(f"{value!r} is not a time like 08:30")
    return total


class ConfigError(Exception):
    """A setting is missing or malformed; the message is the one line shown to the operator."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_bot_token: str = ""
    telegram_api_base_url: str = TELEGRAM_DEFAULT_API
    database_url: str = "sqlite+aiosqlite:///data/jobhub.sqlite3"
    admin_telegram_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    timezone: str = "Asia/Seoul"
    default_locale: str = "ko"
    # Overall sends per second through python-telegram-bot's AIORateLimiter (Telegram: ~30/s).
    telegram_overall_rate: float = Field(default=30, ge=0)
    # Updates handled at once; one person's messages still go one at a time, in order.
    telegram_concurrency: int = Field(default=64, ge=1, le=1024)
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8080, ge=1, le=65535)
    # How long an unfinished form is kept for "이어서 작성하시겠어요?".
    draft_ttl_hours: int = Field(default=24, ge=1, le=24 * 30)
    membership_yearly_quota: int = Field(default=3000, ge=0)
    # Retention promised on the consent screen (months after the last activity).
    retention_months: int = Field(default=24, ge=1, le=120)
    # Sent, failed, blocked and cancelled outbox rows (they keep message texts) are deleted after this many days.
    outbox_keep_days: int = Field(default=30, ge=1, le=3650)
    # Hours a handled update's id is remembered, so a redelivery is skipped (Telegram redelivers for 24 h).
    processed_updates_keep_hours: int = Field(default=48, ge=25, le=24 * 30)
    # /healthz answers 503 when the oldest due outbox message has waited longer than this.
    health_max_outbox_lag_seconds: float = Field(default=300, gt=0)
    outbox_tick_seconds: float = Field(default=1.0, gt=0, le=60)
    # Broadcasts to Telegram with allow_paid_broadcast: up to 1,000 messages/s, each paid for with
    # 0.1 Telegram Star from the bot's balance. Other queued messages (reminders) never are.
    telegram_paid_broadcast: bool = False
    # Queued messages per second, all channels together. Above Telegram's free ~30/s only with
    # its paid broadcasts (checked below; declared after the two settings the check reads).
    outbox_rate: float = Field(default=30, ge=1, le=1000)
    # Consultation booking. Minutes per session, per consultation type.
    slot_minutes: Annotated[dict[str, int], NoDecode] = {
        "job_counselling": 60, "document_clinic": 30, "mentoring": 60, "startup_consulting": 60, "bm_coaching": 60,
    }
    booking_min_notice_minutes: int = Field(default=120, ge=0)
    booking_buffer_minutes: int = Field(default=10, ge=0, le=120)
    booking_horizon_days: int = Field(default=14, ge=1, le=90)
    counselor_daily_cap: int = Field(default=8, ge=1, le=48)
    max_upcoming_bookings: int = Field(default=3, ge=1, le=50)
    cancel_cutoff_minutes: int = Field(default=120, ge=0)
    invite_ttl_hours: int = Field(default=72, ge=1, le=24 * 30)
    # Hours a freed event seat is held for the first person on the waiting list.
    event_offer_hours: int = Field(default=24, ge=1, le=24 * 7)
    # When "상담원 연결" reaches a person (weekdays, local time) and when counselors get their agenda.
    opening_hours: str = "09:00-18:00"
    # How people reach the centre when the bot cannot help (no counselor for their consultation
    # yet): phone, address, e-mail, as one line shown as is. Empty: only 상담원 연결 is offered.
    centre_contact: str = Field(default="", max_length=200)
    agenda_time: str = "08:30"
    # Matching (/jobs): postings scoring below this (0-100) are not offered at all.
    jobs_min_score: int = Field(default=40, ge=0, le=100)
    # The daily digest of new postings (opt-in in /settings): threshold and earliest local time.
    jobs_digest_min_score: int = Field(default=60, ge=0, le=100)
    jobs_digest_time: str = "09:00"
    # --- youth programmes (students, campus branches) ---
    # A student (재학·휴학) graduating within this many months is matched at the degree in progress.
    student_grad_window_months: int = Field(default=12, ge=0, le=60)
    # The campus branches and partner 특성화고 (JSON like storage/data/campuses.json); empty: that file.
    campuses_file: Path | None = None
    # 청년취업멘토단: mentors selected per half-year cohort, the days cohorts start (MM-DD, comma-separated;
    # a mentor applies for the next one), and the sessions each mentor–mentee pair may hold.
    mentoring_cohort_quota: int = Field(default=100, ge=1, le=10_000)
    mentoring_cohort_starts: str = "03-01,09-01"
    mentoring_sessions: int = Field(default=3, ge=1, le=20)
    # Every start (run, kakao, serve, shell) loads the demo firms and postings when there are no
    # firms at all, so a first try shows matches; false for a real centre, whose data is imported.
    demo_data: bool = True
    # The admins' weekly digest (last week's headline figures and the chart): "<weekday> HH:MM"
    # in TIMEZONE, e.g. "mon 09:00"; "off" sends none.
    weekly_digest: str = "mon 09:00"
    log_level: str = "INFO"
    # "json" for one JSON object per line (time, level, logger, request_id, message), for a log collector.
    log_format: Literal["text", "json"] = "text"
    # --- KakaoTalk (Kakao i Open Builder skill server) and the shared HTTP server ---
    kakao_skill_path: str = "/kakao/skill"
    kakao_skill_secret: str = ""
    kakao_skill_secret_header: str = "X-JobHub-Skill-Secret"
    # Open Builder's bot id; when set, requests for another bot are refused (a trailing "!" is ignored).
    kakao_bot_id: str = ""
    kakao_max_body: int = Field(default=64 * 1024, ge=1024, le=1 << 20)
    kakao_callback_after_seconds: float = Field(default=3.0, gt=0, le=4.5)
    kakao_deadline_seconds: float = Field(default=4.0, gt=0, le=4.8)
    # Hosts (and their subdomains) a callbackUrl may point at; anything else is ignored (SSRF guard).
    kakao_callback_hosts: Annotated[frozenset[str], NoDecode] = frozenset({"kakao.com"})
    # Hosts (and subdomains) a photo or file a KakaoTalk user sent may be downloaded from (SSRF guard),
    # and the largest such download.
    kakao_file_hosts: Annotated[frozenset[str], NoDecode] = frozenset({"kakaocdn.net", "kakao.com"})
    kakao_max_file_bytes: int = Field(default=20 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024)
    kakao_button_block_id: str = ""
    kakao_rest_api_key: str = ""
    kakao_event_api_url: str = "https://bot-api.kakao.com/v2/bots/{bot_id}/talk"
    kakao_event_name: str = "jobhub_message"
    # Task results of Event API calls (who a message did not reach); {task_id} is Kakao's taskId.
    kakao_task_url: str = "https://bot-api.kakao.com/v1/tasks/{task_id}"
    # A task's result is first asked (at least) this long after the call; while not final, again after doubling pauses.
    kakao_task_check_seconds: float = Field(default=60, ge=1, le=3600)
    # A task without a final result this many hours after the call is given up (logged).
    kakao_task_give_up_hours: float = Field(default=24, gt=0, le=24 * 14)
    # Task results asked per batch (a round asks batches until none is due).
    kakao_task_batch: int = Field(default=50, ge=1, le=1000)
    public_base_url: str = ""
    file_link_secret: str = ""
    file_link_ttl_minutes: int = Field(default=24 * 60, ge=5, le=60 * 24 * 30)
    # Days a broadcast's photo or file is kept after 발송 (its KakaoTalk link works that long,
    # also for a message held until the person's next message).
    broadcast_file_ttl_days: int = Field(default=14, ge=1, le=90)
    # The staff web console (/console on the HTTP server; sign-in by a link from `/console` in chat).
    console_enabled: bool = True
    # A console session ends after this many minutes without a request.
    console_idle_minutes: int = Field(default=60, ge=5, le=24 * 60)
    # The document clinic (구직서류클리닉, handlers/clinic.py): days a request's files and texts are
    # kept after the review is returned, working hours a counselor has for a review, the largest
    # file taken (bytes) and how many files one request takes.
    clinic_keep_days: int = Field(default=90, ge=1, le=3650)
    clinic_due_hours: int = Field(default=48, ge=1, le=24 * 30)
    clinic_max_file_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=20 * 1024 * 1024)
    clinic_max_files: int = Field(default=5, ge=1, le=10)
    # Minutes a /human request waits for a counselor before the person is offered a booking instead.
    handoff_wait_minutes: int = Field(default=10, ge=1, le=240)

    @field_validator("mentoring_cohort_starts")
    @classmethod
    def _cohort_days(cls, value: str) -> str:
        for part in value.split(","):
            month, _, day = part.strip().partition("-")
            if not (month.isdigit() and day.isdigit() and 1 <= int(month) <= 12 and 1 <= int(day) <= 28):
                raise ValueError("comma-separated MM-DD days (day 1..28), e.g. 03-01,09-01")
        return value

    @field_validator("campuses_file", mode="before")
    @classmethod
    def _no_file(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("admin_telegram_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p for p in value.replace(";", ",").replace(" ", ",").split(",") if p]
            try:
                return frozenset(int(p) for p in parts)
            except ValueError:
                raise ValueError("a comma-separated list of numeric Telegram user ids") from None
        return value

    @field_validator("kakao_callback_hosts", "kakao_file_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(p.strip().lower() for p in value.replace(";", ",").split(",") if p.strip())
        return value

    @field_validator("kakao_skill_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or " " in value:
            raise ValueError("must be a URL path starting with /, e.g. /kakao/skill")
        return value

    @field_validator("kakao_task_url")
    @classmethod
    def _task_url(cls, value: str) -> str:
        try:
            ok = value.startswith(("http://", "https://")) and value.format(task_id="x") != value.format(task_id="y")
        except (KeyError, IndexError, ValueError):
            ok = False
        if not ok:
            raise ValueError("must be an http(s) URL with {task_id}, e.g. https://bot-api.kakao.com/v1/tasks/{task_id}")
        return value

    @field_validator("outbox_rate")
    @classmethod
    def _paid_rate(cls, value: float, info: ValidationInfo) -> float:
        if info.data.get("telegram_bot_token") and value > TELEGRAM_FREE_RATE \
                and not info.data.get("telegram_paid_broadcast"):
            raise ValueError(f"above {TELEGRAM_FREE_RATE:g} messages/s needs TELEGRAM_PAID_BROADCAST=true "
                             "(Telegram's free limit; paid broadcasts cost 0.1 Star each)")
        return value

    @field_validator("public_base_url")
    @classmethod
    def _base(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL, e.g. https://bot.example.org")
        return value.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Seoul)") from None
        return value

    @field_validator("default_locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        if value not in ("ko", "en"):
            raise ValueError("must be ko or en")
        return value

    @field_validator("slot_minutes", mode="before")
    @classmethod
    def _slot_table(cls, value: object) -> object:
        if isinstance(value, str):
            table: dict[str, int] = {}
            for part in filter(None, (p.strip() for p in value.split(","))):
                name, sep, minutes = part.partition("=")
                if not sep or not minutes.strip().isdigit():
                    raise ValueError("use type=minutes pairs, e.g. job_counselling=60,document_clinic=30")
                table[name.strip()] = int(minutes)
            value = table
        if isinstance(value, dict):
            for name, minutes in value.items():
                if not 10 <= int(minutes) <= 240 or int(minutes) % 10:
                    raise ValueError(f"{name}: minutes must be a multiple of 10 between 10 and 240")
        return value

    @field_validator("opening_hours")
    @classmethod
    def _hours_range(cls, value: str) -> str:
        start, sep, end = value.partition("-")
        if not sep or parse_hhmm(start) >= parse_hhmm(end):
            raise ValueError("use HH:MM-HH:MM with the start before the end, e.g. 09:00-18:00")
        return value

    @field_validator("agenda_time", "jobs_digest_time")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        parse_hhmm(value)
        return value

    @field_validator("weekly_digest")
    @classmethod
    def _digest_when(cls, value: str) -> str:
        value = value.strip().lower()
        if value == "off":
            return value
        day, _, at = value.partition(" ")
        if day not in WEEKDAYS:
            raise ValueError("use a weekday and a time, e.g. mon 09:00, or off")
        parse_hhmm(at)
        return value

    @property
    def digest_at(self) -> tuple[str, int, int] | None:
        """(weekday as 'mon'…'sun', hour, minute) of the weekly digest, or None when it is off."""
        if self.weekly_digest == "off":
            return None
        day, _, at = self.weekly_digest.partition(" ")
        minutes = parse_hhmm(at)
        return day, minutes // 60, minutes % 60

    @property
    def opening_minutes(self) -> tuple[int, int]:
        start, _, end = self.opening_hours.partition("-")
        return parse_hhmm(start), parse_hhmm(end)

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value.upper()

    @field_validator("telegram_api_base_url")
    @classmethod
    def _bot_suffix(cls, value: str) -> str:
        # People paste the server root of a self-hosted Bot API server; PTB wants ".../bot".
        value = value.rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value if value.endswith("/bot") else value + "/bot"

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        # Accept the URLs people already have and pick the async driver for them.
        if value.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + value.removeprefix("sqlite:///")
        if value.startswith(("postgres://", "postgresql://")):
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("use sqlite:///path or postgresql://user@host/db")
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def kakao_event_api(self) -> bool:
        """Whether proactive messages to KakaoTalk users can go out through Kakao's Event API."""
        return bool(self.kakao_rest_api_key and self.kakao_bot_id)

    @property
    def secret_values(self) -> tuple[str, ...]:
        """What no log line may show (`bot.logs.Redact` writes a mark instead): the bot token
        and its secret half, the webhook and skill secrets, the file-link key, the Event API
        key and the database password (as written in the URL and decoded)."""
        token_secret = self.telegram_bot_token.partition(":")[2]
        try:
            password = urlsplit(self.database_url).password or ""
        except ValueError:
            password = ""
        return tuple(v for v in (self.telegram_bot_token, token_secret, self.webhook_secret,
                                 self.kakao_skill_secret, self.file_link_secret, self.kakao_rest_api_key,
                                 password, unquote(password)) if v)

    @property
    def file_links_key(self) -> bytes:
        """The HMAC key of file links; derived from the skill secret when not set on its own."""
        return (self.file_link_secret or "jobhub-files:" + self.kakao_skill_secret).encode()

    @property
    def base_url(self) -> str:
        return self.public_base_url or f"http://{self.webhook_listen}:{self.webhook_port}"

    @property
    def webhook_mode(self) -> bool:
        return bool(self.webhook_url)

    def sqlite_path(self) -> Path | None:
        if self.database_url.startswith("sqlite+aiosqlite:///"):
            rest = self.database_url.removeprefix("sqlite+aiosqlite:///")
            return None if rest in ("", ":memory:") else Path(rest)
        return None


def load_settings(**overrides: object) -> Settings:
    """Read the settings; raise ConfigError with one line naming the first bad setting."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]).upper() if err["loc"] else "settings"
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"setting {name} is invalid: {msg}") from None
    if settings.webhook_url and not settings.webhook_secret:
        raise ConfigError("setting WEBHOOK_SECRET is missing: webhook mode (WEBHOOK_URL) needs a secret")
    if settings.webhook_secret and not all(c.isalnum() or c in "_-" for c in settings.webhook_secret):
        raise ConfigError("setting WEBHOOK_SECRET is invalid: only A-Z, a-z, 0-9, _ and - are allowed")
    return settings
