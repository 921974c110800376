"""The online document clinic (구직서류클리닉): a seeker sends a résumé or cover letter, a counselor reviews it.

What the seeker goes through:
1. `/clinic` (📝 서류 첨삭 in the menu, or "서류클리닉" typed). With earlier requests, their states
   are listed first (접수 → 검토 중 → 완료, with the due time) and 새로 신청하기 starts a new one.
2. Consent for the documents (items, purpose: review by a counselor, kept CLINIC_KEEP_DAYS after the
   review is returned, the right to refuse: refusing stores nothing) → which documents (이력서,
   자기소개서, 경력기술서, 포트폴리오; several) → the target (a posting's number from /jobs as "#12", a
   firm or a job in words; may be skipped) → what to check (맞춤법, 구성, 직무 적합성, 분량; several)
   → summary → confirm.
3. The files, with the limits said first (PDF, DOCX, HWPX, HWP, JPG/PNG; CLINIC_MAX_FILE_BYTES each;
   up to CLINIC_MAX_FILES): each file is checked (a program's name such as ".pdf.exe", a wrong type,
   an empty file, one over the limit, an encrypted PDF, too many pages, a zip bomb, a damaged file
   each get their own line and the question again, and nothing of it is stored), its text read where
   the format allows and shown back in a short preview. 제출 (or "완료" typed) sends the request;
   취소 drops it with its files.
4. At once, the automatic first pass: length, missing résumé sections, a resident registration number
   (masked, never stored), spelling of common words, the target posting's skills the text never
   names. Skills found in the text that the profile lacks are offered: 프로필에 추가.
5. The state changes come through the outbox: 검토 중 when a counselor takes it, then 완료 with the
   counselor's comments section by section and any returned file, with 1–5 rating buttons and one
   follow-up question (질문하기), whose answer comes the same way.

What a counselor goes through:
1. A new request is announced to the counselors who take document clinics (all active ones when
   none does). `/reviews` lists open requests in order of
   arrival with their due time (CLINIC_DUE_HOURS working hours, OPENING_HOURS on weekdays; overdue
   ones marked); 열기 shows the person, the documents, the target, the first-pass findings and each
   file's preview.
2. 맡기 claims it (one counselor per request: the first press wins, the seeker is told 검토 중).
   Then: 파일 보기 (the file itself, to the claiming counselor only), 코멘트 (a section, then the
   words; several), 파일 돌려주기 (a corrected file), 메모 (a case note on the person, for counselors
   and admins, shown to the person on /profile), 완료 (sends everything to the seeker).
3. Requests past due are announced to the admins once (`clinic-overdue` job). Files and texts of
   returned requests go CLINIC_KEEP_DAYS later (`clinic-purge` job), with the person on /delete,
   and by the retention run.
Every counselor button and submit re-checks the counselor and, for the request's work, that it is
theirs; a seeker's button re-checks that the request is their own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import mimetypes
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Annotated, Any
from urllib.parse import urlparse

from sqlalchemy import select

from kernel import parsers
from kernel.config import Settings
from kernel.core import (
    Attachment,
    Button,
    Clock,
    CommandRoute,
    Ctx,
    FileOut,
    FileTooBig,
    FileUnavailable,
    Invalid,
    Job,
    KeptFile,
    MenuItem,
    Reply,
    Router,
    arg_int,
    clip,
    on,
    payload,
    stamp,
)
from kernel.forms import CANCEL_WORDS, DONE_WORDS, Answers, Choice, Extra, Field, FieldInput, Form, choices
from kernel.i18n import Translator
from kernel.payloads import Max, Payload, Stamp, same_record
from kernel.people import not_counselor, person_name, require_counselor
from matching import documents
from matching.text import plain
from scheduler import queue
from storage import bookings, clinic, counselors, files, seekers, survey_defs, surveys
from storage.audit import audit
from storage.models import ClinicFile, ClinicRequest, Counselor, Posting

log = logging.getLogger(__name__)

UPLOAD_MODE = "clinic_files"
CONSENT = (Choice("yes", "consent.agree"), Choice("no", "consent.refuse"))
MAX_TARGET = 100
MAX_COMMENT = 2000
MAX_NOTE = 1000
QUEUE_PAGE = 10
# Sent files stay until the review is returned; then CLINIC_KEEP_DAYS (`storage.clinic.purge_returned`).
OPEN_FILE_DAYS = 365
SUBMIT_WORDS = frozenset(map(plain, ("제출", "제출하기", "보내기", "submit", "send"))) | DONE_WORDS
# Skills looked for in a text besides those of the postings (what a Seoul job seeker often lists).
COMMON_SKILLS = ("Python", "Java", "JavaScript", "SQL", "Excel", "엑셀", "PowerPoint", "파워포인트", "Photoshop",
                 "포토샵", "Illustrator", "일러스트레이터", "AutoCAD", "React", "C++", "HTML", "CSS", "회계", "영어",
                 "중국어", "일본어", "컴퓨터활용능력", "운전면허")


# --- buttons -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submit(Payload, prefix="cl", action="s"):
    request: int
    proof: Stamp


@dataclass(frozen=True)
class Withdraw(Payload, prefix="cl", action="w"):
    request: int
    proof: Stamp


@dataclass(frozen=True)
class View(Payload, prefix="cl", action="v"):
    request: int
    proof: Stamp


@dataclass(frozen=True)
class Rate(Payload, prefix="cl", action="r"):
    request: int
    proof: Stamp
    score: Annotated[int, Max(5)]


@dataclass(frozen=True)
class Ask(Payload, prefix="cl", action="q"):
    request: int
    proof: Stamp


@dataclass(frozen=True)
class AddSkills(Payload, prefix="cl", action="k"):
    request: int
    proof: Stamp


@dataclass(frozen=True)
class Open(Payload, prefix="clr", action="o"):
    request: int
    proof: Stamp


@dataclass(frozen=True)
class Claim(Payload, prefix="clr", action="c"):
    request: int
    proof: Stamp


@dataclass(frozen=True)
class Comment(Payload, prefix="clr", action="m"):
    request: int
    proof: Stamp


@dataclass(frozen=True)
class Return(Payload, prefix="clr", action="f"):
    request: int
    proof: Stamp


@dataclass(frozen=True)
class Done(Payload, prefix="clr", action="d"):
    request: int
    proof: Stamp


@dataclass(frozen=True)
class Note(Payload, prefix="clr", action="n"):
    request: int
    proof: Stamp


@dataclass(frozen=True)
class Answer(Payload, prefix="clr", action="a"):
    request: int
    proof: Stamp


@dataclass(frozen=True)
class GetFile(Payload, prefix="clr", action="g"):
    file: int
    proof: Stamp


# --- the seeker's side ---------------------------------------------------------------------------


def mb(size: int) -> str:
    return f"{size // (1 << 20)}MB" if size >= 1 << 20 else f"{max(1, size // 1024)}KB"


def doc_names(t: Translator, docs: Sequence[str]) -> str:
    return ", ".join(t(f"clinic.doc.{d}") for d in docs if d in clinic.DOCUMENTS)


def local(ctx_or_tz: dt.tzinfo, moment: dt.datetime | None) -> str:
    return moment.astimezone(ctx_or_tz).strftime("%Y-%m-%d %H:%M") if moment is not None else "-"


async def start_clinic(ctx: Ctx, args: Sequence[str]) -> list[Reply]:
    """The person's requests and their states, or the form when there are none (or `/clinic new`)."""
    t = ctx.t
    mine = await clinic.of_user(ctx.session, ctx.user.id)
    if not mine or (args and args[0] == "new"):
        return await ctx.app.start_form(ctx, "clinic")
    lines = [t("clinic.mine")]
    rows: list[list[Button]] = []
    for row in mine:
        lines.append(t("clinic.mine_line", id=row.id, documents=doc_names(t, row.documents),
                       state=t(f"clinic.state.{row.status}"),
                       due=local(ctx.settings.tz, row.due_at)))
        if row.status == "done":
            rows.append([Button(t("clinic.view", id=row.id), View(row.id, stamp(row.created_at)).pack())])
    rows.append([Button(t("clinic.new"), payload("m", "clinic", "new"))])
    return [Reply("\n".join(lines), rows)]


def parse_target(raw: str, _inp: FieldInput) -> str:
    return parsers.clean(raw, max_len=MAX_TARGET)


CLINIC_FIELDS = (
    Field("consent", choices=CONSENT, refuse="no", columns=1),
    Field("documents", choices=choices("clinic.doc", clinic.DOCUMENTS), multi=True),
    Field("target", parse=parse_target, optional=True),
    Field("checks", choices=choices("clinic.check", clinic.CHECKS), multi=True),
)


async def posting_for(ctx: Ctx, target: str) -> Posting | None:
    """The open posting a target names: "#12" (its number in /jobs) or its exact title."""
    text = target.strip()
    number = text.lstrip("#")
    if text.startswith("#") and number.isascii() and number.isdigit() and len(number) < 10:
        found = await ctx.session.get(Posting, int(number))
        return found if found is not None and found.status == "open" else None
    return (await ctx.session.scalars(select(Posting).where(Posting.status == "open", Posting.title == text)
                                      .limit(1))).first()


async def begin_uploads(ctx: Ctx, answers: Answers, _extra: Extra) -> list[Reply]:
    """The request is kept as a draft and the files are asked for (several, so not a form field)."""
    old = await clinic.draft_of(ctx.session, ctx.user.id)
    if old is not None:
        await clinic.forget_requests(ctx.session, [old])
        await ctx.session.delete(old)
    target = str(answers.get("target") or "")
    posting = await posting_for(ctx, target) if target else None
    row = ClinicRequest(user_id=ctx.user.id, status="draft", documents=list(answers["documents"]),
                        checks=list(answers["checks"]), target=target, posting_id=posting.id if posting else None,
                        created_at=ctx.now)
    ctx.session.add(row)
    await ctx.session.flush()
    ctx.conv.flow, ctx.conv.step, ctx.conv.paused = UPLOAD_MODE, "files", False
    ctx.conv.data = {"r": row.id}
    return [upload_prompt(ctx, row)]


def upload_buttons(t: Translator, row: ClinicRequest) -> list[list[Button]]:
    proof = stamp(row.created_at)
    return [[Button(t("clinic.submit"), Submit(row.id, proof).pack()),
             Button(t("clinic.withdraw"), Withdraw(row.id, proof).pack())]]


def upload_prompt(ctx: Ctx, row: ClinicRequest, error: str | None = None) -> Reply:
    s = ctx.settings
    text = ctx.t("clinic.send_files", size=mb(s.clinic_max_file_bytes), n=s.clinic_max_files)
    return Reply(f"{error}\n\n{text}" if error else text, upload_buttons(ctx.t, row))


async def _draft(ctx: Ctx) -> ClinicRequest | None:
    request_id = (ctx.conv.data or {}).get("r")
    row = await ctx.session.get(ClinicRequest, int(request_id)) if isinstance(request_id, int) else None
    return row if row is not None and row.user_id == ctx.user.id and row.status == "draft" else None


def _leave(ctx: Ctx) -> None:
    ctx.conv.flow = ctx.conv.step = None
    ctx.conv.data, ctx.conv.paused = {}, False


async def uploads(ctx: Ctx, args: Sequence[str]) -> list[Reply]:
    """While files are being sent: a file is taken, 제출 / 취소 typed work like the buttons."""
    row = await _draft(ctx)
    if row is None:
        _leave(ctx)
        return [await ctx.app.menu(ctx)]
    if ctx.incoming.command is not None:
        return [upload_prompt(ctx, row, ctx.t("clinic.finish_first"))]
    if not args:
        return await take_file(ctx, row)
    said = plain(args[0])
    if said in SUBMIT_WORDS:
        return await submit(ctx, row)
    if said in CANCEL_WORDS:
        return await withdraw(ctx, row)
    return [upload_prompt(ctx, row, ctx.t("clinic.files_expected"))]


def _file_name(ctx: Ctx) -> str:
    """The sent file's name, without what no column or log takes (NUL, control characters)."""
    inc = ctx.incoming
    ref = inc.file_ref or ""
    # A KakaoTalk URL or a console path carries the name; Telegram's photos have none.
    name = inc.file_name or (PurePosixPath(urlparse(ref).path).name if "/" in ref else "")
    return documents.printable(name)[:120]


async def take_file(ctx: Ctx, row: ClinicRequest) -> list[Reply]:
    t, s, inc = ctx.t, ctx.settings, ctx.incoming
    count = await clinic.count_files(ctx.session, row.id)
    if count >= s.clinic_max_files:
        return [upload_prompt(ctx, row, t("clinic.too_many", n=s.clinic_max_files))]
    if inc.attachment not in ("photo", "document") or not inc.file_ref:
        return [upload_prompt(ctx, row, t("clinic.file_type"))]
    name = _file_name(ctx)
    if documents.risky_name(name):
        log.info("clinic file refused: a program's name user=%s", ctx.user.id)
        return [upload_prompt(ctx, row, t("clinic.file_risky"))]
    try:
        data = await ctx.app.fetch_file(inc.file_ref, inc.channel)
    except FileTooBig as exc:
        # The channel's own cap (KAKAO_MAX_FILE_BYTES, Telegram's 20 MB) may be the smaller one.
        limit = min(exc.limit, s.clinic_max_file_bytes)
        return [upload_prompt(ctx, row, t("clinic.file_too_big", size=mb(limit)))]
    except FileUnavailable as exc:
        log.info("clinic file not fetched channel=%s: %s", inc.channel, exc)
        return [upload_prompt(ctx, row, t("clinic.file_unavailable"))]
    if not data:
        return [upload_prompt(ctx, row, t("clinic.unreadable.empty"))]
    if len(data) > s.clinic_max_file_bytes:
        return [upload_prompt(ctx, row, t("clinic.file_too_big", size=mb(s.clinic_max_file_bytes)))]
    fmt = documents.identify(data)
    if fmt is None:
        return [upload_prompt(ctx, row, t("clinic.file_type"))]
    try:
        # Off the event loop: a long PDF takes a moment, and other people's turns go on meanwhile.
        read = await asyncio.to_thread(documents.extract, data, fmt)
    except documents.Unreadable as exc:
        log.info("clinic file refused reason=%s format=%s user=%s", exc.reason, fmt, ctx.user.id)
        return [upload_prompt(ctx, row, t(f"clinic.unreadable.{exc.reason}"))]
    filename = name if name and not documents.risky_name(name) else f"document.{fmt}"
    mime = mimetypes.guess_type(f"x.{fmt}")[0] or "application/octet-stream"
    kept = await files.store(ctx.session, user_id=ctx.user.id, filename=filename, mime=mime, data=data,
                             now=ctx.now, ttl=dt.timedelta(days=OPEN_FILE_DAYS), about=[ctx.user.id])
    ctx.session.add(ClinicFile(request_id=row.id, file_id=kept.id, format=fmt, size=len(data), pages=read.pages,
                               text=read.text, created_at=ctx.now))
    shown = f"{fmt.upper()}, {t('clinic.pages', n=read.pages)}" if read.pages else fmt.upper()
    lines = [t("clinic.file_taken", n=count + 1, max=s.clinic_max_files, format=shown)]
    if read.ids_masked:
        lines.append(t("clinic.finding.id_number", n=read.ids_masked))
    if read.text:
        lines.append(t("clinic.preview", text=documents.preview(read.text)))
    elif fmt in documents.READABLE:
        lines.append(t("clinic.no_text"))
    else:
        lines.append(t("clinic.not_read", format=fmt.upper()))
    lines.append(t("clinic.more_or_submit"))
    return [Reply("\n\n".join(lines), upload_buttons(t, row))]


async def submit_pressed(ctx: Ctx, press: Submit) -> list[Reply]:
    row = await _draft(ctx)
    if row is None or row.id != press.request or not same_record(press.proof, row.created_at):
        return [Reply(ctx.t("clinic.gone"))]
    return await submit(ctx, row)


async def withdraw_pressed(ctx: Ctx, press: Withdraw) -> list[Reply]:
    row = await _draft(ctx)
    if row is None or row.id != press.request or not same_record(press.proof, row.created_at):
        return [Reply(ctx.t("clinic.gone"))]
    return await withdraw(ctx, row)


async def withdraw(ctx: Ctx, row: ClinicRequest) -> list[Reply]:
    await clinic.forget_requests(ctx.session, [row])
    await ctx.session.delete(row)
    _leave(ctx)
    return [Reply(ctx.t("clinic.withdrawn")), await ctx.app.menu(ctx)]


async def submit(ctx: Ctx, row: ClinicRequest) -> list[Reply]:
    t = ctx.t
    sent = await clinic.files_of(ctx.session, row.id)
    if not sent:
        return [upload_prompt(ctx, row, t("clinic.no_files"))]
    text = "\n".join(f.text for f in sent)
    posting = await ctx.session.get(Posting, row.posting_id) if row.posting_id else None
    wanted = [str(s) for s in (posting.required_skills if posting else [])]
    masked = len(documents.ID_NUMBER_MASKED.findall(text))
    findings = documents.first_pass(text, row.documents, ids_masked=masked, wanted_skills=wanted)
    if not text.strip() and all(f.format not in documents.READABLE for f in sent):
        findings = [f for f in findings if f.code != "no_text"]  # photos and HWP: the counselor reads them
    row.findings = [f.to_json() for f in findings]
    row.status, row.submitted_at = "received", ctx.now
    row.due_at = clinic.due_after(ctx.now, ctx.settings.clinic_due_hours, ctx.settings.tz,
                                  *ctx.settings.opening_minutes)
    _leave(ctx)
    await _announce(ctx, row)
    lines = [t("clinic.received", id=row.id, due=local(ctx.settings.tz, row.due_at))]
    said = render_findings(t, row.findings)
    if said:
        lines.append(t("clinic.first_pass") + "\n" + "\n".join(f"• {line}" for line in said))
    replies = [Reply("\n\n".join(lines))]
    offer = await _skills_offer(ctx, row, text)
    if offer is not None:
        replies.append(offer)
    return replies


async def _announce(ctx: Ctx, row: ClinicRequest) -> None:
    docs = list(row.documents)
    due = row.due_at
    # Counselors who take document clinics; everyone active when nobody has the type.
    staff = await counselors.active(ctx.session, "document_clinic") or await counselors.active(ctx.session)
    for counselor in staff:
        await queue.to_user(
            ctx.session, counselor.user_id,
            _new_request(row.id, docs, due, ctx.settings.tz),
            now=ctx.now, kind="clinic.new", dedupe_key=f"clinic:new:{row.id}:{counselor.id}", about=ctx.user.id)


def _new_request(request_id: int, docs: list[str], due: dt.datetime | None,
                 tz: dt.tzinfo) -> Callable[[Translator], Reply]:
    return lambda tr: Reply(tr("clinic.new_request", id=request_id, documents=doc_names(tr, docs),
                               due=local(tz, due)),
                            [[Button(tr("clinic.queue_button"), payload("m", "reviews"))]])


def render_findings(t: Translator, findings: Sequence[dict[str, Any]]) -> list[str]:
    """The first pass in the reader's language, one plain line each."""
    out: list[str] = []
    for item in findings:
        code, params = str(item.get("code")), dict(item.get("params") or {})
        if code == "missing_sections":
            params["sections"] = ", ".join(t(f"clinic.section.{s}") for s in params.get("sections", []))
        elif code == "short_section":
            params["section"] = t(f"clinic.section.{params.get('section')}")
        elif code == "spelling":
            params["pairs"] = ", ".join(f"{wrong} → {right}" for wrong, right in params.get("pairs", []))
        elif code == "skills_absent":
            params["skills"] = ", ".join(params.get("skills", []))
        if code in FINDING_CODES:
            out.append(t(f"clinic.finding.{code}", **params))
    return out


FINDING_CODES = frozenset(("id_number", "no_text", "length", "missing_sections", "phone", "short_section", "long",
                           "spelling", "skills_absent"))


async def _vocabulary(ctx: Ctx) -> list[str]:
    rows = await ctx.session.execute(select(Posting.required_skills, Posting.preferred_skills)
                                     .where(Posting.status == "open").limit(500))
    seen = dict.fromkeys(COMMON_SKILLS)
    for required, preferred in rows:
        seen.update(dict.fromkeys(str(s) for s in [*(required or []), *(preferred or [])] if s))
    return list(seen)


async def _new_skills(ctx: Ctx, user_id: int, text: str) -> list[str]:
    profile = await seekers.get(ctx.session, user_id)
    if profile is None or not text:
        return []
    have = {str(s).lower() for s in profile.skills or []}
    return [s for s in documents.skills_in(text, await _vocabulary(ctx)) if s.lower() not in have][:10]


async def _skills_offer(ctx: Ctx, row: ClinicRequest, text: str) -> Reply | None:
    found = await _new_skills(ctx, ctx.user.id, text)
    if not found:
        return None
    return Reply(ctx.t("clinic.skills_found", skills=", ".join(found)),
                 [[Button(ctx.t("clinic.skills_add"), AddSkills(row.id, stamp(row.created_at)).pack())]])


async def _own(ctx: Ctx, request_id: int, proof: str) -> ClinicRequest | None:
    row = await ctx.session.get(ClinicRequest, request_id)
    if row is None or row.user_id != ctx.user.id or not same_record(proof, row.created_at):
        return None
    return row


async def add_skills(ctx: Ctx, press: AddSkills) -> list[Reply]:
    row = await _own(ctx, press.request, press.proof)
    if row is None:
        return [Reply(ctx.t("clinic.gone"))]
    text = "\n".join(f.text for f in await clinic.files_of(ctx.session, row.id))
    found = await _new_skills(ctx, ctx.user.id, text)
    profile = await seekers.get(ctx.session, ctx.user.id)
    if profile is None or not found:
        return [Reply(ctx.t("clinic.skills_none"))]
    profile.skills = [*(profile.skills or []), *found]
    return [Reply(ctx.t("clinic.skills_added", skills=", ".join(found)), edit=True)]


def result_reply(t: Translator, row: ClinicRequest, counselor_name: str) -> Reply:
    """The review as the seeker gets it: comments by section, with rating and a follow-up question."""
    lines = [t("clinic.result", id=row.id, counselor=counselor_name)]
    for section in clinic.SECTIONS:
        said = (row.comments or {}).get(section)
        if said:
            lines.append(f"[{t(f'clinic.section.{section}')}]\n" + "\n".join(said))
    if row.returned_file_id:
        lines.append(t("clinic.result_file"))
    lines.append(t("clinic.keep_note"))
    proof = stamp(row.created_at)
    rows: list[list[Button]] = []
    if row.rating is None:
        rows.append([Button(t("clinic.stars", n=n), Rate(row.id, proof, n).pack()) for n in range(1, 6)])
    if row.question is None:
        rows.append([Button(t("clinic.ask"), Ask(row.id, proof).pack())])
    return Reply("\n\n".join(lines), rows)


async def view(ctx: Ctx, press: View) -> list[Reply]:
    row = await _own(ctx, press.request, press.proof)
    if row is None or row.status != "done":
        return [Reply(ctx.t("clinic.gone"))]
    counselor = await counselors.get(ctx.session, row.counselor_id or 0)
    reply = result_reply(ctx.t, row, counselor.display_name if counselor else "-")
    if row.answer:
        reply.text += "\n\n" + ctx.t("clinic.answered", question=row.question or "", answer=row.answer)
    return [reply]


async def rate(ctx: Ctx, press: Rate) -> list[Reply]:
    row = await _own(ctx, press.request, press.proof)
    if row is None or row.status != "done" or not 1 <= press.score <= 5:
        return [Reply(ctx.t("clinic.gone"))]
    if row.rating is not None:
        return [Reply(ctx.t("clinic.rated", n=row.rating))]
    row.rating = press.score
    # The rating joins the satisfaction surveys (their /stats section and exports), as one answer.
    survey = await surveys.open_request(ctx.session, user_id=ctx.user.id, survey="clinic", subject=f"clinic:{row.id}",
                                        due_at=ctx.now, now=ctx.now, counselor_id=row.counselor_id)
    if survey is not None:
        await surveys.save_answer(ctx.session, survey, survey_defs.latest("clinic").questions[0], press.score, ctx.now)
        surveys.finish(survey, "done", ctx.now)
    return [Reply(ctx.t("clinic.rated", n=press.score))]


async def ask(ctx: Ctx, press: Ask) -> list[Reply]:
    row = await _own(ctx, press.request, press.proof)
    if row is None or row.status != "done":
        return [Reply(ctx.t("clinic.gone"))]
    if row.question is not None:
        return [Reply(ctx.t("clinic.asked_already"))]
    return await ctx.app.start_form(ctx, "clinic_question", extra={"r": row.id})


def parse_words(limit: int) -> Callable[[str, FieldInput], str]:
    return parsers.text(limit, newlines=True)


async def save_question(ctx: Ctx, answers: Answers, extra: Extra) -> list[Reply]:
    row = await ctx.session.get(ClinicRequest, int(extra["r"]))
    if row is None or row.user_id != ctx.user.id or row.status != "done" or row.question is not None:
        raise Invalid("clinic.gone")
    row.question = str(answers["text"])
    counselor = await counselors.get(ctx.session, row.counselor_id or 0)
    if counselor is not None:
        question, request_id, proof = row.question, row.id, stamp(row.created_at)
        await queue.to_user(ctx.session, counselor.user_id,
                            lambda tr: Reply(tr("clinic.question_for_you", id=request_id, text=question),
                                             [[Button(tr("clinic.answer"), Answer(request_id, proof).pack())]]),
                            now=ctx.now, kind="clinic.question", about=ctx.user.id)
    return [Reply(ctx.t("clinic.question_sent"))]


# --- the counselor's side ------------------------------------------------------------------------


async def reviews(ctx: Ctx, args: Sequence[str]) -> list[Reply]:
    """The review queue, in order of arrival, a page at a time."""
    t = ctx.t
    found = await require_counselor(ctx)
    if isinstance(found, Reply):
        return [found]
    offset = arg_int(args, 0, default=0)
    rows = await clinic.queue(ctx.session, limit=QUEUE_PAGE, offset=offset)
    total = await clinic.count_open(ctx.session)
    if not rows:
        return [Reply(t("clinic.queue_empty"))]
    names = await _names(ctx, [r.user_id for r in rows])
    lines = [t("clinic.queue_title", n=total)]
    buttons: list[list[Button]] = []
    for row in rows:
        late = row.due_at is not None and row.due_at < ctx.now
        lines.append(t("clinic.queue_line", id=row.id, name=names.get(row.user_id, "-"),
                       documents=doc_names(t, row.documents), state=t(f"clinic.state.{row.status}"),
                       due=local(ctx.settings.tz, row.due_at)) + (" " + t("clinic.late") if late else ""))
        buttons.append([Button(t("clinic.open", id=row.id), Open(row.id, stamp(row.created_at)).pack())])
    if offset + QUEUE_PAGE < total:
        buttons.append([Button(t("clinic.more"), payload("m", "reviews", offset + QUEUE_PAGE))])
    return [Reply("\n".join(lines), buttons)]


async def _names(ctx: Ctx, user_ids: Sequence[int]) -> dict[int, str]:
    """How counselors see these people, in one query for the page."""
    known = await bookings.person_names(ctx.session, list(dict.fromkeys(user_ids)))
    return {uid: known.get(uid) or ctx.t("booking.no_name") for uid in user_ids}


async def _staff_request(ctx: Ctx, request_id: int, proof: str) -> tuple[Counselor, ClinicRequest] | Reply:
    found = await require_counselor(ctx)
    if isinstance(found, Reply):
        return found
    row = await ctx.session.get(ClinicRequest, request_id)
    if row is None or not same_record(proof, row.created_at) or row.status in ("draft", "withdrawn"):
        return Reply(ctx.t("clinic.gone"))
    return found, row


async def _mine(ctx: Ctx, request_id: int, proof: str) -> tuple[Counselor, ClinicRequest] | Reply:
    got = await _staff_request(ctx, request_id, proof)
    if isinstance(got, Reply):
        return got
    counselor, row = got
    if row.status != "reviewing" or row.counselor_id != counselor.id:
        return Reply(ctx.t("clinic.not_yours"))
    return got


async def details(ctx: Ctx, counselor: Counselor, row: ClinicRequest) -> Reply:
    """Everything a counselor needs for the review, with what they can do now."""
    t, tz = ctx.t, ctx.settings.tz
    await audit(ctx.session, ctx.user.id, "clinic.view", f"user:{row.user_id}", ctx.now, {"request": row.id})
    name = await person_name(ctx, row.user_id)
    lines = [t("clinic.detail", id=row.id, name=name, documents=doc_names(t, row.documents),
               target=row.target or "-", checks=", ".join(t(f"clinic.check.{c}") for c in row.checks),
               state=t(f"clinic.state.{row.status}"), submitted=local(tz, row.submitted_at),
               due=local(tz, row.due_at))]
    said = render_findings(t, row.findings or [])
    if said:
        lines.append(t("clinic.first_pass") + "\n" + "\n".join(f"• {line}" for line in said))
    sent = await clinic.files_of(ctx.session, row.id)
    for i, f in enumerate(sent, 1):
        head = t("clinic.file_line", n=i, format=f.format.upper(), size=mb(f.size))
        lines.append(head + ("\n" + clip(documents.preview(f.text, 200), 200) if f.text else ""))
    for section in clinic.SECTIONS:
        for words in (row.comments or {}).get(section, []):
            lines.append(f"[{t(f'clinic.section.{section}')}] {words}")
    notes = await clinic.notes_about(ctx.session, row.user_id, limit=5)
    if notes:
        lines.append(t("clinic.notes") + "\n" + "\n".join(
            f"• {n.created_at.astimezone(tz):%Y-%m-%d} {clip(n.text, 200)}" for n in notes))
    if row.question:
        lines.append(t("clinic.question_line", text=row.question))
    proof = stamp(row.created_at)
    buttons: list[list[Button]] = []
    if row.status == "received":
        buttons.append([Button(t("clinic.claim"), Claim(row.id, proof).pack())])
    elif row.status == "reviewing" and row.counselor_id == counselor.id:
        buttons += [[Button(t("clinic.get_file", n=i), GetFile(f.id, stamp(f.created_at)).pack())
                     for i, f in enumerate(sent, 1) if f.file_id][:5],
                    [Button(t("clinic.comment"), Comment(row.id, proof).pack()),
                     Button(t("clinic.return_file"), Return(row.id, proof).pack())],
                    [Button(t("clinic.note"), Note(row.id, proof).pack()),
                     Button(t("clinic.done"), Done(row.id, proof).pack())]]
    elif row.status == "reviewing":
        lines.append(t("clinic.someone_else"))
    elif row.status == "done" and row.counselor_id == counselor.id and row.question and not row.answer:
        buttons.append([Button(t("clinic.answer"), Answer(row.id, proof).pack())])
    return Reply("\n\n".join(lines), [r for r in buttons if r])


async def open_request(ctx: Ctx, press: Open) -> list[Reply]:
    got = await _staff_request(ctx, press.request, press.proof)
    if isinstance(got, Reply):
        return [got]
    return [await details(ctx, *got)]


async def claim(ctx: Ctx, press: Claim) -> list[Reply]:
    got = await _staff_request(ctx, press.request, press.proof)
    if isinstance(got, Reply):
        return [got]
    counselor, row = got
    if not await clinic.claim(ctx.session, row.id, counselor.id, ctx.now):
        return [Reply(ctx.t("clinic.taken"))]
    await ctx.session.refresh(row)
    request_id = row.id
    await queue.to_user(ctx.session, row.user_id, lambda tr: Reply(tr("clinic.reviewing", id=request_id)),
                        now=ctx.now, kind="clinic.state", dedupe_key=f"clinic:reviewing:{row.id}")
    return [await details(ctx, counselor, row)]


async def get_file(ctx: Ctx, press: GetFile) -> list[Reply]:
    """The sent file itself, to the counselor who has the request (nobody else, the seeker excepted)."""
    found = await require_counselor(ctx)
    if isinstance(found, Reply):
        return [found]
    f = await ctx.session.get(ClinicFile, press.file)
    row = await ctx.session.get(ClinicRequest, f.request_id) if f is not None else None
    if f is None or row is None or not same_record(press.proof, f.created_at) or f.file_id is None:
        return [Reply(ctx.t("clinic.gone"))]
    if row.status != "reviewing" or row.counselor_id != found.id:
        return [Reply(ctx.t("clinic.not_yours"))]
    kept = await files.fetch(ctx.session, f.file_id, ctx.now)
    if kept is None:
        return [Reply(ctx.t("clinic.gone"))]
    await audit(ctx.session, ctx.user.id, "clinic.file", f"user:{row.user_id}", ctx.now, {"file": f.id})
    return [Reply(ctx.t("clinic.file_for_you", id=row.id),
                  file=FileOut(kept.filename, kept.data, kept.mime, about=(row.user_id,)))]


async def comment(ctx: Ctx, press: Comment) -> list[Reply]:
    got = await _mine(ctx, press.request, press.proof)
    if isinstance(got, Reply):
        return [got]
    return await ctx.app.start_form(ctx, "clinic_comment", extra={"r": press.request})


async def save_comment(ctx: Ctx, answers: Answers, extra: Extra) -> list[Reply]:
    row = await ctx.session.get(ClinicRequest, int(extra["r"]))
    got = await _mine(ctx, int(extra["r"]), stamp(row.created_at)) if row is not None else Reply("")
    if isinstance(got, Reply):
        raise Invalid("clinic.not_yours")
    counselor, row = got
    comments = {k: list(v) for k, v in (row.comments or {}).items()}
    comments.setdefault(str(answers["section"]), []).append(str(answers["text"]))
    row.comments = comments  # a new dict: the JSON column is written again
    return [Reply(ctx.t("clinic.comment_saved")), await details(ctx, counselor, row)]


async def return_file(ctx: Ctx, press: Return) -> list[Reply]:
    got = await _mine(ctx, press.request, press.proof)
    if isinstance(got, Reply):
        return [got]
    return await ctx.app.start_form(ctx, "clinic_return", extra={"r": press.request})


def no_text(_raw: str, _inp: FieldInput) -> Any:
    raise Invalid("clinic.send_a_file")


async def keep_returned(ctx: Ctx, value: dict[str, Any]) -> dict[str, Any]:
    """The counselor's corrected file, checked like a seeker's and kept for the seeker."""
    s = ctx.settings
    row = await ctx.session.get(ClinicRequest, int(_extra(ctx).get("r", 0)))
    if row is None:
        raise Invalid("clinic.gone")
    name = _file_name(ctx)
    if documents.risky_name(name):
        raise Invalid("clinic.file_risky")
    try:
        data = await ctx.app.fetch_file(value["ref"], value["channel"])
    except FileTooBig as exc:
        raise Invalid("clinic.file_too_big", size=mb(min(exc.limit, s.clinic_max_file_bytes))) from None
    except FileUnavailable:
        raise Invalid("clinic.file_unavailable") from None
    if not data:
        raise Invalid("clinic.unreadable.empty")
    if len(data) > s.clinic_max_file_bytes:
        raise Invalid("clinic.file_too_big", size=mb(s.clinic_max_file_bytes))
    fmt = documents.identify(data)
    if fmt is None:
        raise Invalid("clinic.file_type")
    mime = mimetypes.guess_type(f"x.{fmt}")[0] or "application/octet-stream"
    filename = name or f"review.{fmt}"
    kept = await files.store(ctx.session, user_id=row.user_id, filename=filename, mime=mime, data=data,
                             now=ctx.now, ttl=dt.timedelta(days=OPEN_FILE_DAYS), about=[row.user_id])
    return {**value, "file": kept.id, "filename": kept.filename, "mime": kept.mime}


def _extra(ctx: Ctx) -> dict[str, Any]:
    data = ctx.conv.data or {}
    extra = data.get("x")
    return extra if isinstance(extra, dict) else {}


async def save_returned(ctx: Ctx, answers: Answers, extra: Extra) -> list[Reply]:
    row = await ctx.session.get(ClinicRequest, int(extra["r"]))
    got = await _mine(ctx, int(extra["r"]), stamp(row.created_at)) if row is not None else Reply("")
    if isinstance(got, Reply):
        raise Invalid("clinic.not_yours")
    counselor, row = got
    row.returned_file_id = str(answers["file"]["file"])
    return [Reply(ctx.t("clinic.file_returned")), await details(ctx, counselor, row)]


async def note(ctx: Ctx, press: Note) -> list[Reply]:
    got = await _mine(ctx, press.request, press.proof)
    if isinstance(got, Reply):
        return [got]
    return await ctx.app.start_form(ctx, "clinic_note", extra={"r": press.request})


async def save_note(ctx: Ctx, answers: Answers, extra: Extra) -> list[Reply]:
    found = await require_counselor(ctx)
    row = await ctx.session.get(ClinicRequest, int(extra["r"]))
    if isinstance(found, Reply) or row is None:
        raise Invalid("clinic.gone")
    await clinic.add_note(ctx.session, row.user_id, found.id, str(answers["text"]), ctx.now)
    await audit(ctx.session, ctx.user.id, "clinic.note", f"user:{row.user_id}", ctx.now)
    return [Reply(ctx.t("clinic.note_saved"))]


async def done(ctx: Ctx, press: Done) -> list[Reply]:
    got = await _mine(ctx, press.request, press.proof)
    if isinstance(got, Reply):
        return [got]
    counselor, row = got
    if not any(k in clinic.SECTIONS for k in (row.comments or {})) and not row.returned_file_id:
        return [Reply(ctx.t("clinic.nothing_to_return"))]
    row.status, row.done_at = "done", ctx.now
    until = ctx.now + dt.timedelta(days=ctx.settings.clinic_keep_days)
    kept_ids = [f.file_id for f in await clinic.files_of(ctx.session, row.id) if f.file_id]
    for file_id in [*kept_ids, *([row.returned_file_id] if row.returned_file_id else [])]:
        kept = await files.extend(ctx.session, file_id, until)
        if kept is not None:
            kept.expires_at = until  # no longer the open request's long hold
    attachment = await _returned_attachment(ctx, row)
    shown = counselor.display_name

    def render(tr: Translator) -> Reply:
        reply = result_reply(tr, row, shown)
        reply.attachment = attachment
        return reply

    await queue.to_user(ctx.session, row.user_id, render, now=ctx.now, kind="clinic.result",
                        dedupe_key=f"clinic:done:{row.id}")
    return [Reply(ctx.t("clinic.sent_back", id=row.id))]


async def _returned_attachment(ctx: Ctx, row: ClinicRequest) -> Attachment | None:
    if not row.returned_file_id:
        return None
    kept = await files.fetch(ctx.session, row.returned_file_id, ctx.now)
    if kept is None:
        return None
    # By the kept bytes on every channel: Telegram uploads them, KakaoTalk links to them.
    return Attachment("document", {}, KeptFile(kept.id, int(kept.expires_at.timestamp()), kept.filename, kept.mime))


async def answer(ctx: Ctx, press: Answer) -> list[Reply]:
    got = await _staff_request(ctx, press.request, press.proof)
    if isinstance(got, Reply):
        return [got]
    counselor, row = got
    if row.counselor_id != counselor.id or not row.question or row.answer:
        return [Reply(ctx.t("clinic.not_yours"))]
    return await ctx.app.start_form(ctx, "clinic_answer", extra={"r": row.id})


async def save_answer(ctx: Ctx, answers: Answers, extra: Extra) -> list[Reply]:
    found = await require_counselor(ctx)
    row = await ctx.session.get(ClinicRequest, int(extra["r"]))
    if isinstance(found, Reply) or row is None or row.counselor_id != found.id or row.answer:
        raise Invalid("clinic.not_yours")
    row.answer = str(answers["text"])
    question, said, request_id = row.question or "", row.answer, row.id
    await queue.to_user(ctx.session, row.user_id,
                        lambda tr: Reply(tr("clinic.answer_for_you", id=request_id, question=question, answer=said)),
                        now=ctx.now, kind="clinic.answer", dedupe_key=f"clinic:answer:{row.id}")
    return [Reply(ctx.t("clinic.answer_sent"))]


# --- periodic work -------------------------------------------------------------------------------


async def announce_overdue(sessions: Any, settings: Settings, clock: Clock) -> int:
    """Requests past due, announced to the admins once each."""
    now = clock.now()
    told = 0
    async with sessions() as session, session.begin():
        for row in await clinic.overdue(session, now):
            request_id, due = row.id, row.due_at
            told += await queue.to_admins(
                session, settings,
                _overdue_notice(request_id, due, settings.tz),
                kind="clinic.overdue", now=now, dedupe_key=f"clinic:overdue:{request_id}", about=[row.user_id])
            row.overdue_told_at = now
    return told


def _overdue_notice(request_id: int, due: dt.datetime | None, tz: dt.tzinfo) -> Callable[[Translator], Reply]:
    return lambda tr: Reply(tr("clinic.overdue", id=request_id, due=local(tz, due)),
                            [[Button(tr("clinic.queue_button"), payload("m", "reviews"))]])


async def purge_returned(sessions: Any, settings: Settings, clock: Clock) -> int:
    async with sessions() as session, session.begin():
        return await clinic.purge_returned(session, clock.now(), settings.clinic_keep_days)


def build() -> Router:
    words = Field("text", parse=parse_words(MAX_COMMENT))
    return Router(
        name="clinic",
        commands=[CommandRoute("clinic", start_clinic, describe="cmd.clinic"),
                  CommandRoute("reviews", reviews, describe="cmd.reviews", roles=("counselor",))],
        buttons=[on(Submit, submit_pressed), on(Withdraw, withdraw_pressed), on(View, view), on(Rate, rate),
                 on(Ask, ask), on(AddSkills, add_skills),
                 on(Open, open_request, guard=not_counselor), on(Claim, claim, guard=not_counselor),
                 on(Comment, comment, guard=not_counselor), on(Return, return_file, guard=not_counselor),
                 on(Done, done, guard=not_counselor), on(Note, note, guard=not_counselor),
                 on(Answer, answer, guard=not_counselor), on(GetFile, get_file, guard=not_counselor)],
        forms=[Form("clinic", CLINIC_FIELDS, begin_uploads),
               Form("clinic_question", (Field("text", parse=parse_words(MAX_COMMENT)),), save_question,
                    summary=False),
               Form("clinic_comment", (Field("section", choices=choices("clinic.section", clinic.SECTIONS)), words),
                    save_comment, summary=False),
               Form("clinic_return", (Field("file", parse=no_text, attachments=("document", "photo"),
                                            accept=keep_returned),), save_returned, summary=False),
               Form("clinic_note", (Field("text", parse=parse_words(MAX_NOTE)),), save_note, summary=False),
               Form("clinic_answer", (words,), save_answer, summary=False)],
        menu=[MenuItem("menu.clinic", "clinic", order=45)],
        modes={UPLOAD_MODE: uploads},
        phrases={"서류클리닉": "clinic", "구직서류클리닉": "clinic", "서류첨삭": "clinic", "clinic": "clinic",
                 "검토대기열": "reviews"},
        jobs=[Job("clinic-overdue", announce_overdue, every=600),
              Job("clinic-purge", purge_returned, every=3600)],
    )
