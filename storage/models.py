"""Typed SQLAlchemy 2.0 models: the whole schema in one place.

The aggregates' queries live in their own modules (`users`, `conversations`,
`memberships`, `outbox`); this file only says what is stored. Rules that must hold
under concurrency are constraints here, not only Python checks.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC in, aware UTC out, on SQLite (no tz support) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


intpk = Annotated[int, mapped_column(Integer, primary_key=True, autoincrement=True)]
timestamp = Annotated[dt.datetime, mapped_column(UTCDateTime())]
user_fk = Annotated[int, mapped_column(ForeignKey("users.id", ondelete="CASCADE"))]


class Base(AsyncAttrs, DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        table = cls.__dict__.get("__table__")
        if isinstance(table, Table) and has_surrogate_key(table):
            # Ids are never reused (DESIGN.md §5): without AUTOINCREMENT SQLite gives a deleted
            # newest row's id to the next insert, and an old button or key would reach it.
            # PostgreSQL's sequences never go back; the option means nothing there.
            table.dialect_kwargs["sqlite_autoincrement"] = True


def has_surrogate_key(table: Table) -> bool:
    """Keyed by one integer column of its own (not a person's id borrowed from users)."""
    key = list(table.primary_key.columns)
    return len(key) == 1 and isinstance(key[0].type, Integer) and not key[0].foreign_keys


class User(Base):
    """A person, whatever channels they reach us on. Names live in the profile, not here."""

    __tablename__ = "users"

    id: Mapped[intpk]
    locale: Mapped[str] = mapped_column(String(8))
    role: Mapped[str] = mapped_column(String(16), default="user")  # user | counselor | admin
    created_at: Mapped[timestamp]
    last_seen_at: Mapped[timestamp]
    # `/settings`: no announcements or broadcasts (reminders of one's own events still come).
    announcements_opt_out: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # Set by `python -m bot retention`: identities and personal data gone, coded fields kept for the reports.
    anonymised_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)


class Identity(Base):
    """How one channel knows a user (Telegram user id, Kakao user key, console)."""

    __tablename__ = "identities"
    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        Index("ix_identities_channel_chat", "channel", "chat_id"),
    )

    id: Mapped[intpk]
    user_id: Mapped[user_fk] = mapped_column(index=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    # Where proactive messages go (Telegram: the private chat id).
    chat_id: Mapped[str] = mapped_column(String(128))
    blocked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)


class SeekerProfile(Base):
    """Job-seeker registration (구직등록)."""

    __tablename__ = "seeker_profiles"
    __table_args__ = (Index("ix_seeker_profiles_registered", "registered_at", "track"),)

    user_id: Mapped[user_fk] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    birth_year: Mapped[int]
    track: Mapped[str] = mapped_column(String(16))  # youth | middle
    school_kind: Mapped[str] = mapped_column(String(16))  # university | vocational_high | other
    school_name: Mapped[str] = mapped_column(String(60))
    desired_jobs: Mapped[list[Any]]
    skills: Mapped[list[Any]]
    districts: Mapped[list[Any]]  # empty list = anywhere in Seoul
    education: Mapped[str] = mapped_column(String(16))
    experience_years: Mapped[int]
    desired_salary: Mapped[int | None]  # 만원 per year
    phone: Mapped[str | None] = mapped_column(String(20))  # E.164
    consent_at: Mapped[timestamp]
    registered_at: Mapped[timestamp]
    updated_at: Mapped[timestamp]
    # Students (education "enrolled", 재학·휴학): the degree in progress and the expected graduation
    # month "YYYY-MM"; the campus branch or partner school the school name resolved to (storage.campuses).
    degree: Mapped[str | None] = mapped_column(String(16), default=None)
    graduation: Mapped[str | None] = mapped_column(String(7), default=None)
    school_code: Mapped[str | None] = mapped_column(String(24), default=None, index=True)


class Membership(Base):
    """An application for the startup-centre membership (공동회원제) and, once approved, the member."""

    __tablename__ = "memberships"
    __table_args__ = (
        # One live application or membership per person, even under concurrent submits.
        Index(
            "uq_memberships_live_user",
            "user_id",
            unique=True,
            sqlite_where=text("status IN ('pending', 'approved')"),
            postgresql_where=text("status IN ('pending', 'approved')"),
        ),
        Index("ix_memberships_status_applied", "status", "applied_at"),
    )

    id: Mapped[intpk]
    user_id: Mapped[user_fk]
    applicant_type: Mapped[str] = mapped_column(String(24))
    team_name: Mapped[str] = mapped_column(String(60))
    idea: Mapped[str] = mapped_column(Text)
    industry: Mapped[str] = mapped_column(String(24))
    startup_stage: Mapped[str] = mapped_column(String(16))  # idea | prototype | revenue
    team_size: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    member_stage: Mapped[str | None] = mapped_column(String(16), default=None)
    reject_reason: Mapped[str | None] = mapped_column(Text, default=None)
    consent_at: Mapped[timestamp]
    applied_at: Mapped[timestamp]
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    decided_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )


class Conversation(Base):
    """Where a person is in a flow, per channel identity; read and written on every message."""

    __tablename__ = "conversations"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_id: Mapped[user_fk]
    flow: Mapped[str | None] = mapped_column(String(32), default=None)
    step: Mapped[str | None] = mapped_column(String(48), default=None)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Bumped whenever new buttons are shown; a press carrying an older version is stale.
    version: Mapped[int] = mapped_column(default=0)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    last_button: Mapped[str | None] = mapped_column(String(64), default=None)
    updated_at: Mapped[timestamp]


class OutboxMessage(Base):
    """A proactive message: a row first, sent later by the dispatcher (DESIGN.md §3)."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("dedupe_key"),
        Index("ix_outbox_status_due", "status", "due_at", "id"),
        # Marking a blocked chat's pending rows (one UPDATE per blocked recipient in a broadcast).
        Index("ix_outbox_chat_status", "channel", "chat_id", "status"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]]
    due_at: Mapped[timestamp]
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sent|failed|blocked|cancelled
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(200), default=None)
    dedupe_key: Mapped[str | None] = mapped_column(String(128), default=None)
    created_at: Mapped[timestamp]
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)


class OutboxSubject(Base):
    """A person an outbox message names or describes, whoever it is addressed to (an alert to
    staff about a seeker, a counselor's agenda listing several people). Erasing the person
    (/delete, the retention run) deletes the message with them, sent or still queued, in one
    statement (`storage.outbox.forget`); a message to the person themselves goes with them
    anyway (`user_id`). A table, not a column: one agenda names everyone booked that day."""

    __tablename__ = "outbox_subjects"
    __table_args__ = (Index("ix_outbox_subjects_user", "user_id"),)

    outbox_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("outbox.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)


class AuditEntry(Base):
    """Who decided what, for admins' actions (ids only, no personal data)."""

    __tablename__ = "audit_log"

    id: Mapped[intpk]
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(48))
    subject: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[timestamp]


# --- consultation booking (counselors, places, availability, bookings) -------------------------


class Invite(Base):
    """A one-time deep-link invitation (e.g. to become a counselor)."""

    __tablename__ = "invites"
    __table_args__ = (UniqueConstraint("token"),)

    id: Mapped[intpk]
    token: Mapped[str] = mapped_column(String(40))
    role: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[timestamp]
    expires_at: Mapped[timestamp]
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    used_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)


class Counselor(Base):
    __tablename__ = "counselors"
    __table_args__ = (UniqueConstraint("user_id"),)

    id: Mapped[intpk]
    user_id: Mapped[user_fk]
    display_name: Mapped[str] = mapped_column(String(40))
    # Consultation types this counselor gives (see handlers.booking.TYPES).
    types: Mapped[list[Any]]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[timestamp]
    deactivated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)


class Place(Base):
    """Where sessions happen: the centre, a campus branch (캠퍼스점), a specialised high school, online."""

    __tablename__ = "places"
    __table_args__ = (UniqueConstraint("kind", "name"),)

    id: Mapped[intpk]
    kind: Mapped[str] = mapped_column(String(16))  # centre | campus | high_school | online
    name: Mapped[str] = mapped_column(String(60))
    address: Mapped[str | None] = mapped_column(String(120), default=None)
    video_link: Mapped[str | None] = mapped_column(String(200), default=None)


class Availability(Base):
    """A weekly window in local time: counselor X is at place P on weekday W from start to end."""

    __tablename__ = "availability"
    __table_args__ = (Index("ix_availability_counselor_weekday", "counselor_id", "weekday"),)

    id: Mapped[intpk]
    counselor_id: Mapped[int] = mapped_column(ForeignKey("counselors.id", ondelete="CASCADE"))
    place_id: Mapped[int] = mapped_column(ForeignKey("places.id", ondelete="CASCADE"))
    weekday: Mapped[int]  # 0 = Monday
    start_minute: Mapped[int]  # minutes after local midnight
    end_minute: Mapped[int]


class TimeOff(Base):
    """A counselor's day off or exception (a whole local day)."""

    __tablename__ = "time_off"
    __table_args__ = (UniqueConstraint("counselor_id", "day"),)

    id: Mapped[intpk]
    counselor_id: Mapped[int] = mapped_column(ForeignKey("counselors.id", ondelete="CASCADE"))
    day: Mapped[dt.date]
    note: Mapped[str | None] = mapped_column(String(100), default=None)


class Booking(Base):
    __tablename__ = "bookings"
    __table_args__ = (
        Index("ix_bookings_user_status_start", "user_id", "status", "starts_at"),
        Index("ix_bookings_counselor_start", "counselor_id", "starts_at"),
        # /stats counts a period's sessions by type, place and status from this index alone; with
        # the time last, SQLite skip-scans the few (type, place, status) groups in order (no sort).
        Index("ix_bookings_type_place_status_start", "type", "place_id", "status", "starts_at"),
    )

    id: Mapped[intpk]
    user_id: Mapped[user_fk]
    counselor_id: Mapped[int] = mapped_column(ForeignKey("counselors.id", ondelete="CASCADE"))
    place_id: Mapped[int] = mapped_column(ForeignKey("places.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(24))
    starts_at: Mapped[timestamp]
    ends_at: Mapped[timestamp]
    status: Mapped[str] = mapped_column(String(16), default="booked")  # booked|cancelled|attended|no_show
    note: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[timestamp]
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    cancel_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    rescheduled_from: Mapped[int | None] = mapped_column(ForeignKey("bookings.id", ondelete="SET NULL"), default=None)


class BookingCell(Base):
    """No double booking, as a database rule.

    A live booking holds one row per 10-minute cell of its counselor's time it occupies
    (the session plus the buffer after it). The primary key makes two bookings that
    overlap by even one cell impossible, on SQLite and PostgreSQL alike.
    """

    __tablename__ = "booking_cells"

    counselor_id: Mapped[int] = mapped_column(ForeignKey("counselors.id", ondelete="CASCADE"), primary_key=True)
    cell_start: Mapped[dt.datetime] = mapped_column(UTCDateTime(), primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"), index=True)


class Handoff(Base):
    """A person talking to a counselor through the bot ("상담원 연결")."""

    __tablename__ = "handoffs"
    __table_args__ = (Index("ix_handoffs_status", "status"),)

    id: Mapped[intpk]
    user_id: Mapped[user_fk]
    counselor_id: Mapped[int | None] = mapped_column(ForeignKey("counselors.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="waiting")  # waiting | active | closed
    created_at: Mapped[timestamp]
    accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)


# --- events (investment academy, demo days, ...) and broadcasts ---------------------------------


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_status_start", "status", "starts_at"),)

    id: Mapped[intpk]
    kind: Mapped[str] = mapped_column(String(24))  # academy | demo_day | startup_school | networking | job_fair | other
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[timestamp]
    ends_at: Mapped[timestamp]
    place: Mapped[str | None] = mapped_column(String(120), default=None)
    online_link: Mapped[str | None] = mapped_column(String(200), default=None)
    capacity: Mapped[int]
    # Who may see and join it: everyone | seekers | members | stage:<stage> | campus:<name>
    audience: Mapped[str] = mapped_column(String(80), default="everyone")
    registration_deadline: Mapped[timestamp]
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft | published | cancelled
    checkin_code: Mapped[str] = mapped_column(String(12))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[timestamp]
    updated_at: Mapped[timestamp]
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)


class EventRegistration(Base):
    """A seat (seat_no set) or a place on the waiting list (seat_no empty) for one person.

    Capacity is a database rule: seats are numbered 1..capacity and (event, seat_no) is
    unique, so concurrent registrations for the last seat cannot both get it.
    """

    __tablename__ = "event_registrations"
    __table_args__ = (
        UniqueConstraint("event_id", "user_id"),
        UniqueConstraint("event_id", "seat_no", name="uq_event_registrations_seat"),
        Index("ix_event_registrations_event_status", "event_id", "status", "created_at"),
    )

    id: Mapped[intpk]
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    user_id: Mapped[user_fk]
    # registered | waiting | offered (a freed seat held until offered_until) | cancelled
    status: Mapped[str] = mapped_column(String(16))
    seat_no: Mapped[int | None] = mapped_column(default=None)
    offered_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_at: Mapped[timestamp]
    updated_at: Mapped[timestamp]
    attended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)


class PitchApplication(Base):
    """A member team's application to pitch at a demo day."""

    __tablename__ = "pitch_applications"
    __table_args__ = (UniqueConstraint("event_id", "user_id"),)

    id: Mapped[intpk]
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    user_id: Mapped[user_fk]
    team: Mapped[str] = mapped_column(String(60))
    pitch: Mapped[str] = mapped_column(String(200))
    stage: Mapped[str] = mapped_column(String(16))
    deck_link: Mapped[str] = mapped_column(String(300))
    funding_sought: Mapped[int]  # 만원
    status: Mapped[str] = mapped_column(String(16), default="applied")  # applied|shortlisted|selected|rejected
    created_at: Mapped[timestamp]
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)


class Broadcast(Base):
    """An announcement to a segment; its messages are outbox rows with kind 'broadcast'."""

    __tablename__ = "broadcasts"

    id: Mapped[intpk]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    audience: Mapped[dict[str, Any]]
    text: Mapped[str] = mapped_column(Text)
    attachment: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    button_label: Mapped[str | None] = mapped_column(String(60), default=None)
    button_url: Mapped[str | None] = mapped_column(String(300), default=None)
    status: Mapped[str] = mapped_column(String(16), default="sending")  # sending | stopped | done
    recipients: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[timestamp]
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)


# --- vetted firms, their postings, and referrals (취업알선) ----------------------------------------


class Firm(Base):
    """A vetted small or medium firm (서울형 강소기업); upserted by business registration number."""

    __tablename__ = "firms"
    __table_args__ = (UniqueConstraint("brn"),)

    id: Mapped[intpk]
    brn: Mapped[str] = mapped_column(String(10))  # 사업자등록번호, 10 digits, check digit valid
    name: Mapped[str] = mapped_column(String(80))
    industry: Mapped[str] = mapped_column(String(24))
    district: Mapped[str] = mapped_column(String(16))  # code, as in the seeker profile
    address: Mapped[str] = mapped_column(String(160))
    founded_year: Mapped[int | None] = mapped_column(default=None)
    employees: Mapped[int | None] = mapped_column(default=None)
    revenue: Mapped[int | None] = mapped_column(BigInteger, default=None)  # 백만원 a year
    programme: Mapped[str] = mapped_column(String(60))
    vetted_on: Mapped[dt.date | None] = mapped_column(default=None)
    vetting_expires: Mapped[dt.date | None] = mapped_column(default=None)
    benefits: Mapped[list[Any]] = mapped_column(default=list)
    website: Mapped[str | None] = mapped_column(String(200), default=None)
    history: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[timestamp]
    updated_at: Mapped[timestamp]


class Posting(Base):
    """A job opening of a firm; upserted by its reference (`ref`, the source's posting number)."""

    __tablename__ = "postings"
    __table_args__ = (
        UniqueConstraint("ref"),
        Index("ix_postings_status_created", "status", "created_at"),
        Index("ix_postings_firm", "firm_id"),
    )

    id: Mapped[intpk]
    ref: Mapped[str] = mapped_column(String(40))
    firm_id: Mapped[int] = mapped_column(ForeignKey("firms.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(100))
    duties: Mapped[str] = mapped_column(Text)
    required_skills: Mapped[list[Any]] = mapped_column(default=list)
    preferred_skills: Mapped[list[Any]] = mapped_column(default=list)
    min_education: Mapped[str] = mapped_column(String(16))  # none | high_school | college | university | graduate
    exp_min: Mapped[int] = mapped_column(default=0)
    exp_max: Mapped[int | None] = mapped_column(default=None)
    employment_type: Mapped[str] = mapped_column(String(16))  # full_time | contract | part_time | intern
    salary_min: Mapped[int | None] = mapped_column(default=None)  # 만원 a year
    salary_max: Mapped[int | None] = mapped_column(default=None)
    district: Mapped[str] = mapped_column(String(16))
    hours: Mapped[str | None] = mapped_column(String(60), default=None)
    deadline: Mapped[dt.date | None] = mapped_column(default=None)  # last day to apply, local date
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    created_at: Mapped[timestamp]
    updated_at: Mapped[timestamp]


class Referral(Base):
    """A seeker's interest in a posting, followed up by a counselor (취업알선).

    One per person and posting (a second 관심 있어요 finds the first). Status:
    requested → referred → hired | declined; each step keeps its own time for the reports.
    """

    __tablename__ = "referrals"
    __table_args__ = (
        UniqueConstraint("user_id", "posting_id"),
        Index("ix_referrals_firm_status", "firm_id", "status"),
        Index("ix_referrals_counselor_status", "counselor_id", "status"),
    )

    id: Mapped[intpk]
    user_id: Mapped[user_fk]
    # Kept when the posting is deleted (the firm's outcome counts still hold).
    posting_id: Mapped[int | None] = mapped_column(ForeignKey("postings.id", ondelete="SET NULL"))
    firm_id: Mapped[int] = mapped_column(ForeignKey("firms.id", ondelete="CASCADE"))
    counselor_id: Mapped[int | None] = mapped_column(ForeignKey("counselors.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="requested")  # requested | referred | hired | declined
    score: Mapped[int] = mapped_column(default=0)
    requested_at: Mapped[timestamp]
    referred_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    hired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    declined_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)


class HiddenPosting(Base):
    """"관심 없어요": a posting one person does not want to see again."""

    __tablename__ = "hidden_postings"

    user_id: Mapped[user_fk] = mapped_column(primary_key=True)
    posting_id: Mapped[int] = mapped_column(ForeignKey("postings.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[timestamp]


class JobDigest(Base):
    """Opted in (`/settings`) to a daily digest of new postings; `since`: postings newer than this are new."""

    __tablename__ = "job_digests"

    user_id: Mapped[user_fk] = mapped_column(primary_key=True)
    since: Mapped[timestamp]
    last_sent_on: Mapped[dt.date | None] = mapped_column(default=None)  # local date of the last digest


# --- satisfaction surveys and follow-ups --------------------------------------------------------


class SurveyRequest(Base):
    """One invitation of one person to one survey for one trigger (a session, an event, a quarter).

    `(user_id, subject)` is unique: one answer per person per trigger, whoever races. The
    questions come from `storage/data/surveys.json` at `version`, so old answers stay
    readable after the survey changes.
    """

    __tablename__ = "survey_requests"
    __table_args__ = (
        UniqueConstraint("user_id", "subject"),
        Index("ix_survey_requests_status_expires", "status", "expires_at"),
        Index("ix_survey_requests_booking", "booking_id"),
        Index("ix_survey_requests_event", "event_id"),
        Index("ix_survey_requests_counselor", "counselor_id"),
    )

    id: Mapped[intpk]
    user_id: Mapped[user_fk]
    survey: Mapped[str] = mapped_column(String(24))
    version: Mapped[int]
    # booking:<id> | event:<id> | seeker:q<n> | member:<year>h<1|2>
    subject: Mapped[str] = mapped_column(String(40))
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id", ondelete="SET NULL"), default=None)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"), default=None)
    counselor_id: Mapped[int | None] = mapped_column(ForeignKey("counselors.id", ondelete="SET NULL"), default=None)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | done | skipped | closed
    # The question waiting for a typed answer, and a multi-choice selection not yet confirmed.
    asking: Mapped[str | None] = mapped_column(String(32), default=None)
    draft: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[timestamp]
    due_at: Mapped[timestamp]
    expires_at: Mapped[timestamp]
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)


class SurveyAnswer(Base):
    """One answered question; a partly answered survey keeps the answers it has."""

    __tablename__ = "survey_answers"
    __table_args__ = (
        UniqueConstraint("request_id", "question"),
        # Reports read answers by time (the export, in time order) and count them per question and
        # value (ratings, choices); both indexes cover what those queries read.
        Index("ix_survey_answers_time", "answered_at", "survey", "question", "value_int"),
        Index("ix_survey_answers_question", "survey", "question", "value_int", "answered_at"),
    )

    id: Mapped[intpk]
    request_id: Mapped[int] = mapped_column(ForeignKey("survey_requests.id", ondelete="CASCADE"))
    survey: Mapped[str] = mapped_column(String(24))
    version: Mapped[int]
    question: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(8))
    value_int: Mapped[int | None] = mapped_column(default=None)  # rating, number
    value_text: Mapped[str | None] = mapped_column(Text, default=None)  # choice id(s) comma-joined, text, month
    answered_at: Mapped[timestamp]


# --- KakaoTalk channel and account linking ---------------------------------------------------


class KakaoPage(Base):
    """Per Kakao user: the rest of an answer that did not fit one SkillResponse (3 outputs,
    10 quick replies), served by the "더보기" reply (`more`); and what is waiting to be shown
    before the person's next answer (`late`): proactive messages when the Event API is not
    configured; and an answer finished after Kakao stopped waiting (`owed`), which the message
    sent after the "send any message" notice fetches instead of being handled."""

    __tablename__ = "kakao_pages"

    user_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # more | late | owed
    token: Mapped[str] = mapped_column(String(16))
    pages: Mapped[list[Any]]
    created_at: Mapped[timestamp]


class KakaoTask(Base):
    """One Event API call accepted by Kakao (`taskId`), to ask later whether its recipient got it.

    Kakao's answer to the call only says it was accepted; the task result names the users it
    did not reach (blocked the channel, never added it). `next_check_at` is when to ask next,
    and doubles as a claim: a worker moves it ahead before asking, so no other worker asks
    the same task meanwhile. `checked_at` is set once the answer is final (or given up).
    """

    __tablename__ = "kakao_tasks"
    __table_args__ = (Index("ix_kakao_tasks_due", "checked_at", "next_check_at"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    task_id: Mapped[str] = mapped_column(String(64))
    user_key: Mapped[str] = mapped_column(String(128), index=True)
    # The outbox row the call delivered; None when it was sent outside the dispatcher.
    outbox_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("outbox.id", ondelete="CASCADE"), index=True,
        default=None)
    created_at: Mapped[timestamp]
    next_check_at: Mapped[timestamp]
    attempts: Mapped[int] = mapped_column(default=0)
    checked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    # delivered | failed (the recipient is marked blocked) | expired (no final answer in time)
    outcome: Mapped[str | None] = mapped_column(String(16), default=None)


class ServedFile(Base):
    """A file (.ics, CSV, chart) a channel without attachments links to; served behind a signed,
    expiring URL. Kept in the database so any worker behind the load balancer can serve it."""

    __tablename__ = "served_files"
    __table_args__ = (Index("ix_served_files_expires", "expires_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(120))
    mime: Mapped[str] = mapped_column(String(80))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[timestamp]
    expires_at: Mapped[timestamp]


class ServedFileSubject(Base):
    """A person a file behind a link names or describes when it is not only theirs (an export
    handed to an admin): erasing the person deletes the file (`storage.files.forget`)."""

    __tablename__ = "served_file_subjects"
    __table_args__ = (Index("ix_served_file_subjects_user", "user_id"),)

    file_id: Mapped[str] = mapped_column(String(32), ForeignKey("served_files.id", ondelete="CASCADE"),
                                         primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)


class LinkCode(Base):
    """A one-time code that joins a person's identities on two messengers (`/link`)."""

    __tablename__ = "link_codes"
    __table_args__ = (UniqueConstraint("code"), UniqueConstraint("user_id"))

    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(String(6))
    user_id: Mapped[user_fk]
    channel: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[timestamp]
    expires_at: Mapped[timestamp]


class LinkAttempt(Base):
    """Wrong codes typed by one person in the current window, so codes cannot be guessed."""

    __tablename__ = "link_attempts"

    user_id: Mapped[user_fk] = mapped_column(primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_start: Mapped[timestamp]


# --- operations ------------------------------------------------------------------------------


class ProcessedUpdate(Base):
    """A platform update already handled (Telegram's update_id), written in the turn's own
    transaction: a redelivered update finds its row and is skipped, a turn that rolled back left
    none. Purged after a few days (Telegram stops redelivering after 24 hours)."""

    __tablename__ = "processed_updates"
    __table_args__ = (Index("ix_processed_updates_at", "processed_at"),)

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    update_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    processed_at: Mapped[timestamp]


# --- the front door: free text and the questions people ask (issue 16) ----------------------


class FaqVersion(Base):
    """An FAQ file an admin imported (`python -m bot faq import`, or a document after /faq):
    the newest row is what the bot answers from; none: the shipped storage/data/faq.json."""

    __tablename__ = "faq_versions"

    id: Mapped[intpk]
    body: Mapped[str] = mapped_column(Text)
    imported_at: Mapped[timestamp]


class FaqAsk(Base):
    """One answered question, by topic and time only (no person): /faq counts them by month."""

    __tablename__ = "faq_asks"
    __table_args__ = (Index("ix_faq_asks_at", "asked_at"),)

    id: Mapped[intpk]
    topic: Mapped[str] = mapped_column(String(40))
    asked_at: Mapped[timestamp]


class NluMiss(Base):
    """Free text the bot did not understand, kept so the centre can improve its data: the text
    only, phone numbers removed, no person; purged with the retention run (RETENTION_MONTHS)."""

    __tablename__ = "nlu_misses"
    __table_args__ = (Index("ix_nlu_misses_at", "created_at"),)

    id: Mapped[intpk]
    text: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[timestamp]


# --- youth programmes and 기술교육원 courses (issue 18) -----------------------------------------


class Course(Base):
    """A course of a technical education institute (기술교육원), imported by its reference (`ref`).

    Eligibility: an age range and the kinds of person it is for (`eligible`: youth, middle,
    student, or any). `cost` is in won, 0 for a free course. Applications close at the end of
    `deadline` (local date); `capacity` trainees are selected, others wait.
    """

    __tablename__ = "courses"
    __table_args__ = (UniqueConstraint("ref"), Index("ix_courses_status_deadline", "status", "deadline"))

    id: Mapped[intpk]
    ref: Mapped[str] = mapped_column(String(40))
    institute: Mapped[str] = mapped_column(String(60))
    campus: Mapped[str] = mapped_column(String(60), default="")
    title: Mapped[str] = mapped_column(String(100))
    ncs_code: Mapped[int]  # the NCS large category, 1..24
    skills: Mapped[list[Any]] = mapped_column(default=list)  # what the course teaches (for suggestions)
    hours: Mapped[int]
    starts_on: Mapped[dt.date]
    ends_on: Mapped[dt.date]
    schedule: Mapped[str] = mapped_column(String(60), default="")
    capacity: Mapped[int]
    min_age: Mapped[int | None] = mapped_column(default=None)
    max_age: Mapped[int | None] = mapped_column(default=None)
    eligible: Mapped[list[Any]] = mapped_column(default=list)
    cost: Mapped[int] = mapped_column(default=0)
    deadline: Mapped[dt.date]
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    created_at: Mapped[timestamp]
    updated_at: Mapped[timestamp]


class CourseApplication(Base):
    """A person's application to a course: applied → selected | waitlisted | not_selected, or
    cancelled by them. One per person and course."""

    __tablename__ = "course_applications"
    __table_args__ = (UniqueConstraint("course_id", "user_id"), Index("ix_course_applications_user", "user_id"))

    id: Mapped[intpk]
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    user_id: Mapped[user_fk]
    status: Mapped[str] = mapped_column(String(16), default="applied")
    created_at: Mapped[timestamp]
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    decided_by: Mapped[int | None] = mapped_column(default=None)  # the admin's user id
    rating: Mapped[int | None] = mapped_column(default=None)  # 훈련생 만족도, 1..5, after the course


class Mentor(Base):
    """A working professional's application to the youth job mentor group (청년취업멘토단), and,
    once an admin selects them for a half-year cohort, the mentor. One per person."""

    __tablename__ = "mentors"
    __table_args__ = (UniqueConstraint("user_id"), Index("ix_mentors_cohort_status", "cohort", "status"))

    id: Mapped[intpk]
    user_id: Mapped[user_fk]
    name: Mapped[str] = mapped_column(String(40))
    company: Mapped[str] = mapped_column(String(60))
    job: Mapped[str] = mapped_column(String(60))
    years: Mapped[int]
    fields: Mapped[list[Any]]  # job families (storage.demo.FAMILIES keys)
    district: Mapped[str] = mapped_column(String(16))  # where they meet on site
    capacity: Mapped[int]  # mentees at once
    format: Mapped[str] = mapped_column(String(16))  # online | onsite | both
    cohort: Mapped[str] = mapped_column(String(8))  # "2026-1": the half-year applied for
    status: Mapped[str] = mapped_column(String(16), default="applied")  # applied | selected | not_selected
    consent_at: Mapped[timestamp]
    created_at: Mapped[timestamp]
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)


class MentoringRequest(Base):
    """A young seeker's request for a mentor: waiting → paired, or cancelled."""

    __tablename__ = "mentoring_requests"
    __table_args__ = (Index("ix_mentoring_requests_user", "user_id"),)

    id: Mapped[intpk]
    user_id: Mapped[user_fk]
    field: Mapped[str] = mapped_column(String(24))
    questions: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    created_at: Mapped[timestamp]


class MentorPair(Base):
    """A mentor and a mentee: proposed (by the matcher) → active (the mentor accepted or an admin
    confirmed) → ended; or declined by the mentor with a reason."""

    __tablename__ = "mentor_pairs"
    __table_args__ = (Index("ix_mentor_pairs_mentor_status", "mentor_id", "status"),
                      Index("ix_mentor_pairs_mentee", "mentee_id"))

    id: Mapped[intpk]
    mentor_id: Mapped[int] = mapped_column(ForeignKey("mentors.id", ondelete="CASCADE"))
    mentee_id: Mapped[user_fk]
    request_id: Mapped[int] = mapped_column(ForeignKey("mentoring_requests.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="proposed")
    sessions_cap: Mapped[int]
    created_at: Mapped[timestamp]
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    end_reason: Mapped[str | None] = mapped_column(String(16), default=None)


class CoachingSession(Base):
    """A booking that is one step of a 특성화고 student's three-session coaching package
    (1 진로 탐색, 2 서류, 3 모의면접). Goes with its booking."""

    __tablename__ = "coaching_sessions"
    __table_args__ = (Index("ix_coaching_sessions_user", "user_id"),)

    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[user_fk]
    step: Mapped[int]


# --- document clinic (구직서류클리닉) and the counselor's workspace --------------------------------


class ClinicRequest(Base):
    """A seeker's documents sent for review: `draft` while files are being sent, then `received`
    (접수) → `reviewing` (검토 중, claimed by one counselor) → `done` (완료); `withdrawn` when the
    seeker cancels. Texts and files go CLINIC_KEEP_DAYS after `done_at` (`purged_at` set)."""

    __tablename__ = "clinic_requests"
    __table_args__ = (Index("ix_clinic_requests_queue", "status", "submitted_at"),
                      Index("ix_clinic_requests_user", "user_id"))

    id: Mapped[intpk]
    user_id: Mapped[user_fk]
    status: Mapped[str] = mapped_column(String(16), default="draft")
    documents: Mapped[list[Any]] = mapped_column(default=list)  # resume | cover_letter | career | portfolio
    checks: Mapped[list[Any]] = mapped_column(default=list)  # spelling | structure | fit | length
    target: Mapped[str] = mapped_column(String(200), default="")
    posting_id: Mapped[int | None] = mapped_column(ForeignKey("postings.id", ondelete="SET NULL"), default=None)
    findings: Mapped[list[Any]] = mapped_column(default=list)
    counselor_id: Mapped[int | None] = mapped_column(ForeignKey("counselors.id", ondelete="SET NULL"),
                                                     default=None)
    comments: Mapped[dict[str, Any]] = mapped_column(default=dict)  # section -> the counselor's words
    returned_file_id: Mapped[str | None] = mapped_column(String(32), default=None)
    question: Mapped[str | None] = mapped_column(Text, default=None)
    answer: Mapped[str | None] = mapped_column(Text, default=None)
    rating: Mapped[int | None] = mapped_column(default=None)
    created_at: Mapped[timestamp]
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    overdue_told_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    purged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)


class ClinicFile(Base):
    """One file of a clinic request: the kept bytes (`served_files`, by id) and its extracted text,
    with resident registration numbers already masked."""

    __tablename__ = "clinic_files"

    id: Mapped[intpk]
    request_id: Mapped[int] = mapped_column(ForeignKey("clinic_requests.id", ondelete="CASCADE"), index=True)
    file_id: Mapped[str | None] = mapped_column(String(32), default=None)
    format: Mapped[str] = mapped_column(String(8))
    size: Mapped[int] = mapped_column(default=0)
    pages: Mapped[int | None] = mapped_column(default=None)
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[timestamp]


class CaseNote(Base):
    """A counselor's note on a person (counselors and admins only; shown to the person on /profile)."""

    __tablename__ = "case_notes"

    id: Mapped[intpk]
    user_id: Mapped[user_fk] = mapped_column(index=True)
    counselor_id: Mapped[int | None] = mapped_column(ForeignKey("counselors.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[timestamp]


class OutsideSession(Base):
    """A session a counselor held outside the bot (walk-in, phone, school visit), counted by /stats
    beside booked ones. `user_id` when the person is registered, else `people` anonymous heads;
    `package_session` 1–3 for a 특성화고 coaching package's session at a school visit."""

    __tablename__ = "outside_sessions"
    __table_args__ = (Index("ix_outside_sessions_held", "held_at"),)

    id: Mapped[intpk]
    counselor_id: Mapped[int | None] = mapped_column(ForeignKey("counselors.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(16))  # walk_in | phone | school_visit
    service: Mapped[str] = mapped_column(String(16))  # counselling | clinic
    place: Mapped[str] = mapped_column(String(100), default="")
    # SET NULL: erasing the person leaves the session counted, no longer naming them.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None,
                                                index=True)
    people: Mapped[int] = mapped_column(default=1)
    minutes: Mapped[int] = mapped_column(default=30)
    package_session: Mapped[int | None] = mapped_column(default=None)
    held_at: Mapped[timestamp]
    created_at: Mapped[timestamp]


class HandoffMessage(Base):
    """One message relayed in a "상담원 연결" chat, kept as its transcript for the counselor; it goes
    with the handoff, hence with the person (/delete, retention)."""

    __tablename__ = "handoff_messages"

    id: Mapped[intpk]
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id", ondelete="CASCADE"), index=True)
    from_counselor: Mapped[bool] = mapped_column(default=False)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[timestamp]


# --- staff console (the web back office) -----------------------------------------------------


class StaffRole(Base):
    """What a person may do in the web console. ADMIN_TELEGRAM_IDS only seeds the first admins;
    admins grant and remove the rest in the console."""

    __tablename__ = "staff_roles"

    user_id: Mapped[user_fk] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(String(16))  # admin | counselor | campus_manager | reviewer | viewer
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    granted_at: Mapped[timestamp]


class ConsoleLink(Base):
    """A single-use sign-in link sent in chat (`/console`); only the token's SHA-256 is kept."""

    __tablename__ = "console_links"
    __table_args__ = (Index("ix_console_links_user_created", "user_id", "created_at"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[user_fk]
    created_at: Mapped[timestamp]
    expires_at: Mapped[timestamp]
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)


class ConsoleSession(Base):
    """A signed-in browser: the cookie holds a random id, the database its SHA-256, so any
    worker serves any request and a leaked database row opens nothing."""

    __tablename__ = "console_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[user_fk] = mapped_column(index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[timestamp]
    last_seen_at: Mapped[timestamp]
