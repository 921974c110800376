"""Broadcasts (공지 발송): an admin writes once, everyone in an audience gets it through the outbox.

What an admin goes through with `/broadcast` (a form; Back, Cancel and retries come free):
1. Audience: everyone, job seekers, members, members at a stage, a campus, registered
   in the last N days, a district, a track (the segments of `storage.audience`).
2. The message text. Over Telegram's 4,096 characters it is refused with its length and
   the limit, never cut: the admin shortens it or splits it into two broadcasts (a text
   the Telegram app itself split in two is recognised at the next step and refused too).
3. Optionally a photo or a file, or 건너뛰기. It is fetched at once (Telegram: getFile and
   download; KakaoTalk: from Kakao's hosts) within the channel's size limit and kept in
   `served_files` by its content; a file that cannot be had or is too big is said at once,
   with the question again to send another or skip. So everyone gets it, whatever their
   channel: on the admin's own channel by its file id; on Telegram, for a KakaoTalk admin's
   file, uploaded by the first send and by the returned file id from then on; on KakaoTalk
   as a signed link that works `BROADCAST_FILE_TTL_DAYS` after 발송.
4. Optionally a link button: its label, then its https address (checked; "job.seoul.go.kr/fair"
   typed without https:// gets it put in front).
   An audience with nobody in it (people who opted out in /settings or blocked the bot are
   not counted) is said right after it is chosen, before the text is written, with the
   audience question again.
5. Preview: the message exactly as recipients will see it, then the audience and the
   number of recipients with 발송 / 수정 / 취소. An audience that emptied meanwhile is
   said so and the audience is asked again.
6. 발송 re-checks the draft, its kept file (kept for the link's lifetime from now on) and the
   audience, writes one outbox row per recipient and records the broadcast in the audit
   trail (who, when, audience, count).

`/broadcasts` shows the recent broadcasts with their progress (delivered, blocked the
bot, failed, still to go, cancelled) and a 중지 button while one is sending; stopping
cancels the messages not sent yet. `finish_broadcasts` (a scheduled job) marks a
broadcast done when nothing is left to send and sends its admin the final report.
Every button here is admin-only (checked by the engine on every press) and re-reads the
broadcast, so a second press, a second admin or an old message cannot send twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kernel import parsers
from kernel.config import Settings
from kernel.core import (
    Attachment,
    Button,
    Clock,
    CommandRoute,
    Ctx,
    FileTooBig,
    FileUnavailable,
    Invalid,
    Job,
    KeptFile,
    MenuItem,
    PlatformFile,
    Reply,
    Router,
    on,
)
from kernel.forms import EDIT, Answers, Choice, Extra, Field, FieldInput, Form, choices
from kernel.i18n import Translator, translator
from kernel.payloads import Payload
from storage import audience, broadcasts, files, outbox, seekers, users
from storage.audit import audit
from storage.memberships import STAGES
from storage.models import Broadcast, User

log = logging.getLogger(__name__)


# --- buttons: each names the broadcast it acts on -------------------------------------------------


@dataclass(frozen=True)
class SendBroadcast(Payload, prefix="bc", action="send"):
    broadcast: int


@dataclass(frozen=True)
class EditBroadcast(Payload, prefix="bc", action="edit"):
    broadcast: int


@dataclass(frozen=True)
class DropBroadcast(Payload, prefix="bc", action="drop"):
    broadcast: int


@dataclass(frozen=True)
class StopBroadcast(Payload, prefix="bc", action="stop"):
    broadcast: int


@dataclass(frozen=True)
class ListBroadcasts(Payload, prefix="bc", action="list"):
    pass

MAX_TEXT = 4096  # Telegram's limit for one message
# A message this long followed at once by more text was most likely split by the Telegram app.
SPLIT_SUSPECT = 3500
RECENT = 5
AUDIENCES = ("everyone", "seekers", "members", "stage", "campus", "recent", "district", "track")
# Segments whose wording the events feature already has.
_EVENT_WORDING = ("everyone", "seekers", "members", "stage", "campus")
_SUB_FIELDS = ("stage", "campus", "days", "district", "track")
_INVISIBLE = parsers.ZERO_WIDTH - {"\u200d"}
# Platforms a kept file is uploaded to for recipients there (KakaoTalk gets links instead).
_UPLOAD_CHANNELS = ("telegram",)


# --- wording -----------------------------------------------------------------------------------


def audience_label(tr: Translator, spec: str) -> str:
    kind, _, value = spec.partition(":")
    if kind == "stage":
        return tr("event.audience_stage", stage=tr(f"stage.{value}"))
    if kind == "campus":
        return tr("event.audience_campus", name=value)
    if kind == "recent":
        return tr("broadcast.audience_recent", n=int(value))
    if kind == "district":
        return tr("broadcast.audience_district", district=tr(f"district.{value}"))
    if kind == "track":
        return tr("broadcast.audience_track", track=tr(f"track.{value}"))
    return tr(f"event.audience.{kind}")


def message(row: Broadcast) -> Reply:
    """The broadcast exactly as every recipient gets it (also the admin's preview)."""
    buttons = [[Button(row.button_label, url=row.button_url)]] if row.button_label and row.button_url else []
    return Reply(row.text, buttons, attachment=_platform_attachment(row.attachment))


def _platform_attachment(value: dict[str, Any] | None) -> Attachment | None:
    """The form's attachment answer as `Reply.attachment`: the platform file ids known (the
    admin's, and those of uploads to other platforms) and the kept file, for the channels
    that have no id of their own."""
    if not value:
        return None
    kind = str(value["kind"])
    refs = {str(value["channel"]): PlatformFile(str(value["ref"]))} if value.get("ref") else {}
    for channel in value.get("uploads") or {}:
        found = broadcasts.platform_ref(value, channel)
        if found is not None:
            refs[channel] = PlatformFile(found[1], found[0] if found[0] != kind else None)
    kept = None
    if value.get("file"):
        kept = KeptFile(str(value["file"]), value.get("expires"), value.get("filename"), value.get("mime"))
    return Attachment(kind, refs, kept)


def progress_text(tr: Translator, row: Broadcast, counts: dict[str, int], tz: dt.tzinfo) -> str:
    local = row.created_at.astimezone(tz)
    return tr("broadcast.line", id=row.id, when=local.strftime("%m-%d %H:%M"),
              audience=audience_label(tr, str(row.audience.get("segment", "everyone"))),
              status=tr(f"broadcast.status.{row.status}"), n=row.recipients, sent=counts["sent"],
              blocked=counts["blocked"], failed=counts["failed"], left=counts["pending"] + counts["sending"],
              cancelled=counts["cancelled"])


# --- the form ----------------------------------------------------------------------------------


def parse_text(raw: str, _inp: FieldInput) -> str:
    """The message as written (line breaks and spacing kept); refused, never cut, when too long."""
    text = raw.strip()
    if not text:
        raise Invalid("invalid.empty")
    # Emoji sequences need the zero-width joiner; other invisible and control characters are refused.
    if any(ch in _INVISIBLE or (unicodedata.category(ch) == "Cc" and ch not in "\n\t\r") for ch in text):
        raise Invalid("invalid.control_chars")
    if len(text) > MAX_TEXT:
        raise Invalid("broadcast.too_long", length=len(text), max=MAX_TEXT)
    return text


def parse_days(raw: str, _inp: FieldInput) -> int:
    return parsers.integer(raw, low=1, high=3650, units=("일", "days", "day"))


def no_text(raw: str, inp: FieldInput) -> Any:
    """Typed text where a photo or file is asked: say what to send (or to skip).

    Telegram's apps split a pasted text over 4,096 characters into several messages: the
    first fits and is taken as the message, the rest lands here. Then the whole was too
    long, and the admin is told so (with its length) instead of the broadcast going out cut.
    """
    previous = inp.answers.get("text")
    if isinstance(previous, str) and len(previous) >= SPLIT_SUSPECT:
        raise Invalid("broadcast.split", length=len(previous) + len(raw.strip()), max=MAX_TEXT)
    raise Invalid("broadcast.send_file")


async def keep_attachment(ctx: Ctx, value: dict[str, Any]) -> dict[str, Any]:
    """The sent photo or file fetched once and kept (see the module docstring); a file that
    cannot be fetched or is too big is refused here, before anything is queued."""
    try:
        data = await ctx.app.fetch_file(value["ref"], value["channel"])
    except FileTooBig as exc:
        size = f"{exc.limit // (1 << 20)}MB" if exc.limit >= 1 << 20 else f"{max(1, exc.limit // 1024)}KB"
        raise Invalid("broadcast.file_too_big", size=size) from None
    except FileUnavailable as exc:
        log.info("broadcast attachment not fetched channel=%s: %s", value["channel"], exc)
        raise Invalid("broadcast.file_unavailable") from None
    if not data:
        raise Invalid("broadcast.file_unavailable")
    filename, mime = files.describe(data, value["kind"], value["ref"])
    row = await files.keep(ctx.session, filename=filename, mime=mime, data=data, now=ctx.now,
                           ttl=_file_ttl(ctx.settings))
    kept = {**value, "file": row.id, "filename": row.filename, "mime": row.mime, "size": len(data),
            "expires": int(row.expires_at.timestamp())}
    # The same file in an earlier broadcast: its uploads to other platforms are reused.
    for channel in set(_UPLOAD_CHANNELS) - {value["channel"]}:
        known = await broadcasts.uploaded(ctx.session, row.id, channel)
        if known is not None:
            kept.setdefault("uploads", {})[channel] = {"kind": known[0], "id": known[1]}
    return kept


def _file_ttl(settings: Settings) -> dt.timedelta:
    return dt.timedelta(days=settings.broadcast_file_ttl_days)


def show_attachment(value: Any, tr: Translator) -> str:
    return tr(f"broadcast.attachment.{value['kind']}") if isinstance(value, dict) else tr("form.not_given")


async def has_recipients(ctx: Ctx, a: Answers) -> None:
    """Counts the audience as soon as it is fully chosen, before the text is written: an
    audience with nobody in it is said at once and asked again."""
    kind = a.get("audience")
    if kind is None or (kind in _SUB_OF and a.get(_SUB_OF[kind]) is None):
        return
    spec = segment_of(a)
    try:
        count = len(await audience.recipients(ctx.session, spec, ctx.now))
    except audience.SegmentError:
        count = 0
    if not count:
        raise Invalid("broadcast.empty_audience", field="audience", audience=audience_label(ctx.t, spec))


# The audiences that need one more answer, and its question.
_SUB_OF = {"stage": "stage", "campus": "campus", "recent": "days", "district": "district", "track": "track"}

FIELDS = (
    Field("audience", choices=tuple(Choice(a, f"event.audience.{a}" if a in _EVENT_WORDING
                                           else f"broadcast.audience.{a}") for a in AUDIENCES),
          resets=_SUB_FIELDS, check=has_recipients),
    Field("stage", choices=choices("stage", STAGES), columns=3, when=lambda a: a.get("audience") == "stage",
          check=has_recipients),
    Field("campus", parse=parsers.text(60), when=lambda a: a.get("audience") == "campus", check=has_recipients),
    Field("days", parse=parse_days, when=lambda a: a.get("audience") == "recent", check=has_recipients),
    Field("district", choices=choices("district", seekers.DISTRICTS), columns=4,
          when=lambda a: a.get("audience") == "district", check=has_recipients),
    Field("track", choices=choices("track", ("youth", "middle")), columns=1,
          when=lambda a: a.get("audience") == "track", check=has_recipients),
    Field("text", parse=parse_text),
    Field("attachment", parse=no_text, attachments=("photo", "document"), optional=True, show=show_attachment,
          accept=keep_attachment),
    Field("button_label", parse=parsers.text(40), optional=True, resets=("button_url",)),
    Field("button_url", parse=parsers.web_link, when=lambda a: bool(a.get("button_label"))),
)


def segment_of(a: Answers) -> str:
    kind = str(a["audience"])
    values = {"stage": a.get("stage"), "campus": a.get("campus"), "recent": a.get("days"),
              "district": a.get("district"), "track": a.get("track")}
    return f"{kind}:{values[kind]}" if kind in values else kind


async def preview(ctx: Ctx, a: Answers, _extra: Extra) -> list[Reply]:
    """Saves a draft and shows the message as recipients will see it, with the count to confirm."""
    t = ctx.t
    spec = segment_of(a)
    try:
        audience.Segment.parse(spec)
    except audience.SegmentError:
        raise Invalid("broadcast.bad_audience", field="audience") from None
    count = len(await audience.recipients(ctx.session, spec, ctx.now))
    if not count:
        raise Invalid("broadcast.empty_audience", field="audience", audience=audience_label(t, spec))
    answers = {k: a[k] for k in ("audience", *_SUB_FIELDS) if a.get(k) is not None}
    row = await broadcasts.create_draft(
        ctx.session, admin_id=ctx.user.id, audience={"segment": spec, "answers": answers}, text=a["text"],
        attachment=a.get("attachment"), button_label=a.get("button_label"), button_url=a.get("button_url"),
        recipients=count, now=ctx.now,
    )
    return [
        Reply(t("broadcast.preview_head")),
        message(row),
        Reply(t("broadcast.preview", audience=audience_label(t, spec), n=count), [
            [Button(t("broadcast.send", n=count), SendBroadcast(row.id).pack())],
            [Button(t("broadcast.edit"), EditBroadcast(row.id).pack()),
             Button(t("broadcast.discard"), DropBroadcast(row.id).pack())],
        ]),
    ]


FORM = Form("broadcast", FIELDS, on_submit=preview, summary=False, opened_by=("broadcast",))


# --- commands and buttons ----------------------------------------------------------------------


async def compose(ctx: Ctx, _args: Sequence[str]) -> list[Reply]:
    return await ctx.app.start_form(ctx, "broadcast")


async def _draft(ctx: Ctx, broadcast_id: int) -> Broadcast | Reply:
    row = await broadcasts.get(ctx.session, broadcast_id, for_update=True)
    if row is None:
        return Reply(ctx.t("broadcast.not_found"))
    if row.status != "draft":
        return Reply(ctx.t("broadcast.already", id=row.id, status=ctx.t(f"broadcast.status.{row.status}")))
    return row


async def send(ctx: Ctx, broadcast_id: int) -> list[Reply]:
    """Confirms a draft: the audience is read again and every recipient gets one outbox row."""
    t = ctx.t
    found = await _draft(ctx, broadcast_id)
    if isinstance(found, Reply):
        return [found]
    row = found
    spec = str(row.audience["segment"])
    recipients = await audience.recipients(ctx.session, spec, ctx.now)
    if not recipients:
        return [Reply(t("broadcast.empty_audience", audience=audience_label(t, spec)))]
    if row.attachment and row.attachment.get("file"):
        # Kept from now for the links' lifetime; a draft left until its file was purged is said so.
        kept = await files.extend(ctx.session, str(row.attachment["file"]), ctx.now + _file_ttl(ctx.settings))
        if kept is None:
            return [Reply(t("broadcast.file_gone"), [[Button(t("broadcast.edit"), EditBroadcast(row.id).pack())]])]
        row.attachment = {**row.attachment, "expires": int(kept.expires_at.timestamp())}
    # "broadcast" marks the rows a channel may send on a paid tier (Telegram's allow_paid_broadcast).
    queued = await broadcasts.queue(ctx.session, row, recipients, {**message(row).to_payload(), "broadcast": True},
                                    ctx.now)
    await audit(ctx.session, ctx.user.id, "broadcast.send", f"broadcast:{row.id}", ctx.now,
                {"audience": spec, "recipients": queued, "attachment": (row.attachment or {}).get("kind"),
                 "button": row.button_url is not None})
    log.info("broadcast queued broadcast=%s admin=%s recipients=%s", row.id, ctx.user.id, queued)
    return [Reply(t("broadcast.queued", id=row.id, n=queued),
                  [[Button(t("broadcast.progress"), ListBroadcasts().pack())]], edit=True)]


async def edit(ctx: Ctx, broadcast_id: int) -> list[Reply]:
    """Back into the form with the draft's answers, to change any of them."""
    found = await _draft(ctx, broadcast_id)
    if isinstance(found, Reply):
        return [found]
    row = found
    answers: Answers = {**row.audience.get("answers", {}), "text": row.text, "attachment": row.attachment,
                        "button_label": row.button_label}
    if row.button_url:
        answers["button_url"] = row.button_url
    await ctx.session.delete(row)
    return await ctx.app.start_form(ctx, "broadcast", answers=answers, step=EDIT)


async def discard(ctx: Ctx, broadcast_id: int) -> list[Reply]:
    found = await _draft(ctx, broadcast_id)
    if isinstance(found, Reply):
        return [found]
    await ctx.session.delete(found)
    return [Reply(ctx.t("broadcast.discarded"), edit=True), await ctx.app.menu(ctx)]


async def listing(ctx: Ctx, _args: Sequence[str]) -> list[Reply]:
    """The recent broadcasts with their progress; 중지 on those still sending."""
    t = ctx.t
    rows = await broadcasts.recent(ctx.session, RECENT)
    if not rows:
        return [Reply(t("broadcast.none"))]
    out = [Reply(t("broadcast.list_title") + "\n" + t("broadcast.refresh_hint"),
                 [[Button(t("broadcast.refresh"), ListBroadcasts().pack())]])]
    for row in rows:
        counts = await broadcasts.counts(ctx.session, row.id)
        buttons = [[Button(t("broadcast.stop"), StopBroadcast(row.id).pack())]] if row.status == "sending" else []
        out.append(Reply(progress_text(t, row, counts, ctx.settings.tz), buttons))
    return out


async def stop(ctx: Ctx, broadcast_id: int) -> list[Reply]:
    """Stops a broadcast: what is not sent yet is cancelled; messages in flight still arrive."""
    t = ctx.t
    row = await broadcasts.get(ctx.session, broadcast_id, for_update=True)
    if row is None:
        return [Reply(t("broadcast.not_found"))]
    if row.status != "sending":
        return [Reply(t("broadcast.not_sending", id=row.id, status=t(f"broadcast.status.{row.status}")))]
    cancelled, counts = await broadcasts.stop_by(ctx.session, row, by=ctx.user.id, now=ctx.now)
    log.info("broadcast stopped broadcast=%s admin=%s cancelled=%s", row.id, ctx.user.id, cancelled)
    return [Reply(t("broadcast.stopped", id=row.id, n=cancelled), edit=True),
            Reply(progress_text(t, row, counts, ctx.settings.tz))]


# --- the scheduled job -------------------------------------------------------------------------


def report(tr: Translator, row: Broadcast, counts: dict[str, int]) -> Reply:
    return Reply(tr("broadcast.report", id=row.id, n=row.recipients, sent=counts["sent"],
                    blocked=counts["blocked"], failed=counts["failed"], cancelled=counts["cancelled"]))


async def finish_broadcasts(sessions: async_sessionmaker[AsyncSession], settings: Settings, clock: Clock) -> int:
    """Marks sending broadcasts with nothing left to send as done and queues each one's final
    report for the admin who sent it (once: dedupe key). Returns how many reports were queued."""
    now = clock.now()
    queued = 0
    async with sessions() as session, session.begin():
        for row in await broadcasts.sending(session):
            if not await broadcasts.finish(session, row, now):
                continue
            counts = await broadcasts.counts(session, row.id)
            await audit(session, row.created_by, "broadcast.done", f"broadcast:{row.id}", now,
                        {"recipients": row.recipients, "sent": counts["sent"], "blocked": counts["blocked"],
                         "failed": counts["failed"]})
            log.info("broadcast done broadcast=%s sent=%s blocked=%s failed=%s", row.id, counts["sent"],
                     counts["blocked"], counts["failed"])
            admin = await session.get(User, row.created_by) if row.created_by is not None else None
            identity = await users.reachable_identity(session, admin.id) if admin is not None else None
            if admin is None or identity is None:
                continue
            queued += await outbox.enqueue(
                session, channel=identity.channel, chat_id=identity.chat_id, user_id=admin.id,
                kind="broadcast.report", payload=report(translator(admin.locale), row, counts).to_payload(),
                now=now, dedupe_key=f"broadcast.report:{row.id}",
            )
    return queued


FINISH_INTERVAL_SECONDS = 30


def build() -> Router:
    """Admins only: /broadcast (compose), /broadcasts (progress, stop)."""
    return Router(
        name="broadcast",
        admin=True,
        commands=[
            CommandRoute("broadcast", compose, describe="cmd.broadcast"),
            CommandRoute("broadcasts", listing, describe="cmd.broadcasts"),
        ],
        buttons=[on(SendBroadcast, lambda ctx, press: send(ctx, press.broadcast)),
                 on(EditBroadcast, lambda ctx, press: edit(ctx, press.broadcast)),
                 on(DropBroadcast, lambda ctx, press: discard(ctx, press.broadcast)),
                 on(StopBroadcast, lambda ctx, press: stop(ctx, press.broadcast)),
                 on(ListBroadcasts, lambda ctx, _press: listing(ctx, ()))],
        forms=[FORM],
        menu=[MenuItem("menu.broadcast", "broadcast")],
        jobs=[Job("broadcasts", finish_broadcasts, every=FINISH_INTERVAL_SECONDS)],
    )
