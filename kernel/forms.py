"""Forms as data, and the one runner that asks them.

A `Form` lists its `Field`s in asking order (like a Rasa form's required slots). Each
field has a parser that returns a clean value or raises `Invalid` with a catalog key,
and/or fixed choices shown as buttons. The runner gives every form the same parts for
free: progress, Back and Cancel on every step, bounded retries (after three rejected
answers it explains the field and offers to skip or stop; a required question that later
ones are built from is never skipped, `Form.postponable`), a summary where any answer
can be corrected before submitting, and resume of an unfinished draft.

State lives in `Conversation` (flow, step, data), read and written on every message: the
step (a `Step`, stored as its text) and the `FormState` (stored as JSON in `data`):
  Ask(field)   "ask:<field>"  waiting for that field
  SUMMARY      "summary"      showing the answers with submit / edit
  EDIT         "edit"         picking the field to correct
  RESUME       "resume"       asking whether to continue a draft
Button payloads are `f<version>:<code>`; the version is bumped whenever buttons are
shown, so a press on an older message is recognised as stale.

Typed text is as good as a press (KakaoTalk users type as often as they tap): the form's own
buttons by their label or a usual word ("취소", "그만", "메뉴", "이전", "완료", "건너뛰기"), at every
question, free-text ones included; a choice by its label without emoji, shortened, or a plain
yes / no, never a refusal for an agreement (`matching.text.pick`); a service's name ("채용정보")
asks whether to leave, the draft kept, or take the words as the answer; asking what the
question is for ("이거 왜 물어봐요?", `matching.intents.asks_why`) gets its explanation. A question with one
possible answer is answered for the person (`FormState.auto`) and said above the next one.

A field with `attachments` (e.g. ("photo", "document")) also takes a sent photo or file
as its answer: the engine hands it to `FormRunner.attachment` with the platform's file id,
and the field's `accept` may fetch and keep the file first, or refuse it.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Final, Literal

from kernel.core import Button, Ctx, Invalid, Reply, payload
from kernel.i18n import LOCALES, Translator, translator
from matching.intents import asks_why
from matching.text import pick, plain

MAX_FAILS = 3
# Typed words that work like the form's own buttons at every step, free-text questions included
# (else "취소" typed at the name question would be saved as the name). They are what people type,
# not what the bot says, so they live here rather than in the catalogs; compared in `plain` form.
CANCEL_WORDS = frozenset(map(plain, ("취소", "취소할래요", "취소할게요", "취소해요", "취소해 주세요", "cancel")))
# Leaving while keeping the draft, like the 그만하기 button: also "메뉴", whose menu then offers to go on.
STOP_WORDS = frozenset(map(plain, ("그만", "그만할래요", "그만할게요", "그만해요", "그만하기", "중단", "메뉴",
                                   "메인 메뉴", "처음으로", "처음", "홈", "stop", "quit", "exit", "menu", "main menu",
                                   "home")))
BACK_WORDS = frozenset(map(plain, ("이전", "뒤로", "이전으로", "back", "previous")))
DONE_WORDS = frozenset(map(plain, ("완료", "선택 완료", "선택완료", "다 골랐어요", "done", "finish")))
# At an optional question: no answer ("없음" for a phone number, "skip").
SKIP_WORDS = frozenset(map(plain, ("건너뛰기", "건너뛸게요", "넘어가기", "패스", "없음", "없어요", "없습니다",
                                   "skip", "pass", "none")))
# The codes of the buttons a channel that shows buttons a page at a time (KakaoTalk's ten quick
# replies) repeats on every page of a question, so a long multi-select never hides its way on.
PINNED_CODES = ("done", "back")
Answers = dict[str, Any]
# What the code that opens a form hands to its submit besides the answers (the posting being
# edited, the booking being moved, the command to go back to): ids and words, kept as JSON.
Extra = Mapping[str, str | int]
Mode = Literal["new", "edit"]  # "edit": only the questions without an answer yet are asked in turn


@dataclass(frozen=True)
class Choice:
    value: str
    label: str = ""  # catalog key
    text: str | None = None  # a literal label instead (computed choices: places, days, times)


@dataclass(frozen=True)
class FieldInput:
    """What a parser may look at besides the text: earlier answers and the time."""

    answers: Answers
    now: dt.datetime
    tz: dt.tzinfo


def choices(group: str, values: Sequence[str]) -> tuple[Choice, ...]:
    """Fixed choices whose labels are catalog keys `<group>.<value>`."""
    return tuple(Choice(v, f"{group}.{v}") for v in values)


Parser = Callable[[str, FieldInput], Any]
Options = Callable[[Ctx, "Answers"], Awaitable[Sequence[Choice]]]


@dataclass(frozen=True)
class Field:
    name: str
    parse: Parser | None = None
    choices: Sequence[Choice] = ()
    multi: bool = False
    optional: bool = False
    # Asked only when this returns True for the answers so far.
    when: Callable[[Answers], bool] | None = None
    # Value of the choice to mark as suggested, from earlier answers.
    suggest: Callable[[Answers, FieldInput], str | None] | None = None
    # A multi-choice value that excludes all others ("anywhere").
    exclusive: str | None = None
    # The choice value that ends the form without storing anything (consent refused).
    refuse: str | None = None
    show: Callable[[Any, Translator], str] | None = None
    columns: int = 2
    # Choices computed when the question is asked (from the database); kept in the state so a
    # press picks exactly what was shown. An optional field with no options is skipped.
    options: Options | None = None
    # Answers that no longer hold when this one changes (a new place invalidates the day).
    resets: tuple[str, ...] = ()
    # Attachment kinds ("photo", "document") this field takes as its answer. The value is
    # {"kind": ..., "channel": ..., "ref": <the platform's file id>}; typed text still goes
    # to `parse` (which may refuse it with a hint to send a file).
    attachments: tuple[str, ...] = ()
    # Takes a sent file's value before it is accepted and returns the value to keep (e.g. with the
    # bytes fetched and stored); an `Invalid` it raises is shown above the question asked again.
    accept: Callable[[Ctx, dict[str, Any]], Awaitable[dict[str, Any]]] | None = None
    # A check between questions, run once this answer is taken (it is among the answers): the
    # database says whether the form can go on (a broadcast audience with nobody in it). An
    # `Invalid` it raises is shown above the question it names with `field=` (default: this one),
    # asked again with what was built on it dropped.
    check: Callable[[Ctx, Answers], Awaitable[None]] | None = None


@dataclass(frozen=True)
class Form:
    name: str
    fields: tuple[Field, ...]
    on_submit: Callable[[Ctx, Answers, Extra], Awaitable[list[Reply]]]
    summary: bool = True
    # The commands that open this form ("register" for the registration): typed or sent inside
    # it, they mean "where was I", not another service to leave for.
    opened_by: tuple[str, ...] = ()
    # False for a question or two that are quicker asked again than resumed (a firm search, a
    # period): starting something else drops it without "continue your draft?".
    keep_draft: bool = True

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def applicable(self, answers: Answers) -> list[Field]:
        return [f for f in self.fields if f.when is None or f.when(answers)]

    def postponable(self, fld: Field) -> bool:
        """Whether a required question may be left for later (after three rejected answers).

        Not when a later question is built from its answer, which the form says with `resets`
        (the booking's places are those offering its type, its days those of its place): that
        question would be asked without it, and its choices could not even be computed. Any
        required question would be the simpler rule, but then a long form (the registration's
        birth year) could no longer be finished first and completed at the summary. Parsers
        that compare with an earlier answer (an end after the start) read it with `.get` and
        `when` conditions are evaluated again before submitting, so they do not need this.
        """
        later = {f.name for f in self.fields[self.fields.index(fld) + 1:]}
        return not later.intersection(fld.resets)


# --- the state kept between messages ------------------------------------------------------------


@dataclass(frozen=True)
class Ask:
    """The step waiting for the answer to `field`."""

    field: str


class Screen(Enum):
    """The steps that are not a question."""

    SUMMARY = "summary"
    EDIT = "edit"
    RESUME = "resume"


Step = Ask | Screen
SUMMARY: Final = Screen.SUMMARY
EDIT: Final = Screen.EDIT
RESUME: Final = Screen.RESUME
_ASK = "ask:"


def step_text(step: Step) -> str:
    """The step as stored in `Conversation.step`."""
    return f"{_ASK}{step.field}" if isinstance(step, Ask) else step.value


def parse_step(text: str | None) -> Step | None:
    """The stored step back; None for none (or one that is not a form's)."""
    if not text:
        return None
    if text.startswith(_ASK):
        return Ask(text[len(_ASK):])
    try:
        return Screen(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class PendingStart:
    """A form asked for while another was unfinished: started if the person picks "new"."""

    name: str
    answers: Answers | None = None
    extra: dict[str, str | int] | None = None
    mode: Mode = "new"
    step: Step | None = None
    # How the given answers read (a place's name for its id): without them the summary shows raw values.
    labels: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        data = {"name": self.name, "answers": self.answers, "extra": self.extra, "mode": self.mode,
                "step": step_text(self.step) if self.step is not None else None}
        # Only when given: a row without them keeps the shape earlier releases wrote and read.
        return {**data, "labels": self.labels} if self.labels else data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PendingStart:
        return cls(data["name"], data.get("answers"), data.get("extra"), _mode(data.get("mode")),
                   parse_step(data.get("step")), data.get("labels"))


@dataclass(frozen=True)
class Resumable:
    """While asking whether to continue a draft: the step to go back to, and what else was asked for."""

    prev: Step | None
    to: PendingStart | None

    def to_json(self) -> dict[str, Any]:
        return {"prev": step_text(self.prev) if self.prev is not None else None,
                "to": self.to.to_json() if self.to is not None else None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Resumable:
        to = data.get("to")
        return cls(parse_step(data.get("prev")), PendingStart.from_json(to) if to else None)


def _mode(value: object) -> Mode:
    return "edit" if value == "edit" else "new"


@dataclass
class FormState:
    """A form in progress, kept in `Conversation.data` between messages.

    `to_json`/`from_json` spell the stored shape out. Its keys are the short ones every release
    so far has written ("a", "x", "hist", ...), so rows saved before this code load unchanged, and
    rows it writes still load in a worker of the previous release during a rolling restart. Keys
    an older row lacks (no "skipped", "auto", "opts", "lbl" or "x" before those features) take
    their defaults, as they always did.
    """

    answers: Answers = field(default_factory=dict)  # "a"
    extra: dict[str, str | int] = field(default_factory=dict)  # "x": handed to the submit, never shown
    mode: Mode = "new"  # "mode"
    returning: bool = False  # "ret": back to the summary once this answer is in (correcting one answer)
    history: list[str] = field(default_factory=list)  # "hist": the questions answered in order (for Back)
    fails: int = 0  # "fails": rejected answers in a row to the current question
    selection: list[str] = field(default_factory=list)  # "sel": a multi-choice question's ticks so far
    skipped: list[str] = field(default_factory=list)  # "skipped": required questions left for later
    labels: dict[str, str] = field(default_factory=dict)  # "lbl": a computed choice's label as shown
    # "opts": a computed question's choices as (value, label), as shown when it was asked.
    options: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # "auto": answered without asking (no option, or only one); Back passes over them.
    auto: list[str] = field(default_factory=list)
    held: str | None = None  # "held": typed text that named a service, kept while asking whether to leave
    resume: Resumable | None = None  # "resume": only on the RESUME step

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "a": dict(self.answers), "mode": self.mode, "ret": self.returning, "hist": list(self.history),
            "fails": self.fails, "sel": list(self.selection), "skipped": list(self.skipped),
            "x": dict(self.extra), "lbl": dict(self.labels), "auto": list(self.auto),
            "opts": {name: [[value, label] for value, label in pairs] for name, pairs in self.options.items()},
        }
        if self.resume is not None:
            data["resume"] = self.resume.to_json()
        if self.held is not None:
            data["held"] = self.held
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> FormState:
        data = data or {}
        resume = data.get("resume")
        return cls(
            answers=dict(data.get("a") or {}), extra=dict(data.get("x") or {}), mode=_mode(data.get("mode")),
            returning=bool(data.get("ret", False)), history=list(data.get("hist") or []),
            fails=int(data.get("fails") or 0), selection=list(data.get("sel") or []),
            skipped=list(data.get("skipped") or []), labels=dict(data.get("lbl") or {}),
            options={name: [(value, label) for value, label in pairs]
                     for name, pairs in (data.get("opts") or {}).items()},
            auto=list(data.get("auto") or []), resume=Resumable.from_json(resume) if resume else None,
            held=data.get("held"),
        )


def norm(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).lower().split())


class FormRunner:
    """Asks forms; one instance serves every flow of the app."""

    def __init__(self, forms: Sequence[Form], menu: Callable[[Ctx], Awaitable[Reply]],
                 service: Callable[[str], str | None] | None = None) -> None:
        self.forms = {f.name: f for f in forms}
        self._menu = menu
        # The command a typed service name starts ("채용정보" -> "jobs"), from the engine's phrases.
        self._service = service

    # --- entry points used by the engine -------------------------------------------

    async def start(
        self,
        ctx: Ctx,
        name: str,
        *,
        answers: Answers | None = None,
        extra: Extra | None = None,
        mode: Mode = "new",
        step: Step | None = None,
        force: bool = False,
        labels: dict[str, str] | None = None,
    ) -> list[Reply]:
        """Starts form `name`, or first offers to continue a draft the person left.

        `extra` goes to the submit as is; `step=EDIT` opens at the list of answers to correct.
        """
        conv = ctx.conv
        if conv.flow == name and not conv.paused and not force and answers is None and step is None:
            return self._already(ctx, self.forms[name])
        if conv.flow in self.forms and not force and self.forms[conv.flow].keep_draft:
            pending = PendingStart(name, answers, dict(extra) if extra is not None else None, mode, step, labels)
            return [self._resume_prompt(ctx, to=pending)]
        form = self.forms[name]
        st = FormState(answers=dict(answers or {}), extra=dict(extra or {}), mode=mode, labels=dict(labels or {}))
        conv.flow, conv.paused = name, False
        if step is EDIT:
            return [self._go(ctx, form, st, EDIT)]
        first = self._next_field(form, st, after=None)
        if first is None:
            return [self._go(ctx, form, st, SUMMARY)]
        return await self._enter(ctx, form, st, first)

    async def text(self, ctx: Ctx, text: str) -> list[Reply]:
        form, st = self._load(ctx)
        step = parse_step(ctx.conv.step)
        fld = form.field(step.field) if isinstance(step, Ask) else None
        code = self._typed_button(ctx, form, st, step, fld, text)
        if code is not None:
            return await self.button(ctx, code)
        command = self._service(text) if self._service is not None and step is not RESUME else None
        if command is not None and (fld is None or self._typed_pick(fld, st, text, exact=True) is None):
            if command.partition(":")[0] in form.opened_by:
                return self._already(ctx, form)
            return [self._leave_prompt(ctx, form, st, text, command)]
        if fld is None:
            # Typed text on a summary or button-only step: say what is expected, with the buttons again.
            return [Reply(ctx.t("form.use_buttons"), self.prompt(ctx, fresh=False)[-1].buttons)]
        return await self._answer(ctx, form, st, fld, text)

    async def _answer(self, ctx: Ctx, form: Form, st: FormState, fld: Field, text: str) -> list[Reply]:
        if (fld.choices or fld.options) and fld.parse is None:
            return await self._typed_choice(ctx, form, st, fld, text)
        assert fld.parse is not None
        # A button's label typed ("신입" at the years of experience) means that button.
        picked = self._typed_pick(fld, st, text, exact=True) if fld.choices else None
        try:
            value = fld.parse(picked if picked is not None else text, self._input(ctx, st))
        except Invalid as exc:
            return [self._rejected(ctx, form, st, fld, exc)]
        return await self._accept(ctx, form, st, fld, value)

    def _typed_button(self, ctx: Ctx, form: Form, st: FormState, step: Step | None, fld: Field | None,
                      text: str) -> str | None:
        """The code of the form's own button that typed text means (a way out, back, done, skip,
        keep), or None. A choice whose label is exactly the text wins: that is what was typed."""
        key = plain(text)
        if not key or (fld is not None and self._typed_pick(fld, st, text, exact=True) is not None):
            return None
        own: dict[str, tuple[str, ...]] = {"cancel": ("form.cancel",), "back": ("form.back",)}
        if step is SUMMARY:
            own |= {"ok": ("form.submit",), "edit": ("form.edit",)}
        elif step is EDIT:
            own |= {"sum": ("form.to_summary",)}
        elif step is RESUME:
            own = {"res": ("form.resume_yes",), "cancel": ("form.discard",)}
        elif fld is not None:
            # The stuck screen's buttons too (after three rejected answers), typed.
            own["retry"] = ("form.retry",)
            if fld.multi:
                own["done"] = ("form.done",)
            if fld.optional:
                own["skip"] = ("form.skip",)
            elif form.postponable(fld):
                own["skip"] = ("form.skip_for_now",)
        for code, keys in own.items():
            if any(plain(translator(loc)(k)) == key for k in keys for loc in LOCALES):
                return code
        if key in CANCEL_WORDS:
            return "cancel"
        if key in STOP_WORDS:
            return "stop"
        if key in BACK_WORDS and step is not RESUME:
            return "back"
        if fld is not None and fld.multi and key in DONE_WORDS:
            return "done"
        if fld is not None and fld.optional and key in SKIP_WORDS:
            return "skip"
        if fld is not None and asks_why(text):
            return "why"
        return None

    def _typed_pick(self, fld: Field, st: FormState, text: str, *, exact: bool = False) -> str | None:
        """The choice of `fld` typed text names (its label in any language, without emoji); with
        `exact`, only a whole label."""
        options = []
        for ch in self._choices(fld, st):
            labels = [ch.text] if ch.text else [translator(loc)(ch.label) for loc in LOCALES]
            options.append((ch.value, [ch.value, *labels]))
        if exact:
            key = plain(text)
            return next((value for value, names in options if key and key in map(plain, names)), None)
        return pick(text, options)

    def _already(self, ctx: Ctx, form: Form) -> list[Reply]:
        """The form's own command inside it: the question again, said to be the same form."""
        *before, current = self.prompt(ctx, fresh=False)
        note = ctx.t("form.already", title=ctx.t(f"title.{form.name}"))
        return [*before, replace(current, text=note + "\n\n" + current.text)]

    def _leave_prompt(self, ctx: Ctx, form: Form, st: FormState, text: str, command: str) -> Reply:
        """A service named in the middle of a form: leave (the draft kept) or go on, the text
        taken as the answer after all."""
        t = ctx.t
        service = " ".join(text.split())[:30]
        st.held = text
        ctx.conv.version += 1
        self._save(ctx, st)
        title = t(f"title.{form.name}")
        return Reply(t("form.leave_ask", service=service, title=title), [
            [Button(t("form.leave_go", service=service), self._pl(ctx, "go:" + command))],
            [Button(t("form.leave_stay", title=title), self._pl(ctx, "stay"))],
        ])

    def takes_attachment(self, ctx: Ctx) -> bool:
        """Whether the current step is a question that accepts a photo or file."""
        step = parse_step(ctx.conv.step)
        form = self.forms.get(ctx.conv.flow or "")
        if form is None or not isinstance(step, Ask):
            return False
        return bool(form.field(step.field).attachments)

    async def attachment(self, ctx: Ctx, kind: str, ref: str | None) -> list[Reply]:
        """A photo or file sent as the answer to a field that accepts one (`takes_attachment`)."""
        form, st = self._load(ctx)
        step = parse_step(ctx.conv.step)
        assert isinstance(step, Ask), "only called when `takes_attachment`"
        fld = form.field(step.field)
        if kind not in fld.attachments or not ref:
            return [self._rejected(ctx, form, st, fld, Invalid("form.attachment_kind"))]
        value = {"kind": kind, "channel": ctx.incoming.channel, "ref": ref}
        if fld.accept is not None:
            try:
                value = await fld.accept(ctx, value)
            except Invalid as exc:
                # Not the person's typing: the question again (its skip button included), the reason on top.
                return [self._ask(ctx, form, st, fld, error=ctx.t(exc.key, **exc.params))]
        return await self._accept(ctx, form, st, fld, value)

    async def button(self, ctx: Ctx, code: str) -> list[Reply]:
        form, st = self._load(ctx)
        step = parse_step(ctx.conv.step)
        t = ctx.t
        if code == "cancel":
            return await self._cancel(ctx)
        if code == "stop":
            ctx.conv.paused = True
            self._save(ctx, st)
            return [Reply(t("form.paused", title=t(f"title.{form.name}"), hours=ctx.settings.draft_ttl_hours)),
                    await self._menu(ctx)]
        if step is RESUME:
            return await self._resume_choice(ctx, form, st, code)
        if code.startswith("go:"):
            # Leaving for another service: the draft stays, offered again from the menu.
            name, *args = code[3:].split(":")
            st.held = None
            ctx.conv.paused = True
            self._save(ctx, st)
            return [Reply(t("form.paused", title=t(f"title.{form.name}"), hours=ctx.settings.draft_ttl_hours)),
                    *await ctx.app.run_command(ctx, name, tuple(args))]
        if code == "stay":
            held, st.held = st.held, None
            self._save(ctx, st)
            if held is not None and isinstance(step, Ask):
                return await self._answer(ctx, form, st, form.field(step.field), held)
            return self.prompt(ctx)
        if code == "back":
            return await self._back(ctx, form, st)
        if step is SUMMARY:
            if code == "ok":
                return await self._submit(ctx, form, st)
            if code == "edit":
                return [self._go(ctx, form, st, EDIT)]
        if step is EDIT:
            if code.startswith("e") and code[1:].isdigit():
                idx = int(code[1:])
                if idx < len(form.fields):
                    st.returning = True
                    return await self._enter(ctx, form, st, form.fields[idx])
            if code == "sum":
                return [self._go(ctx, form, st, SUMMARY)]
        if isinstance(step, Ask):
            fld = form.field(step.field)
            return await self._field_button(ctx, form, st, fld, code)
        return [Reply(t("button.expired")), *self.prompt(ctx)]

    def prompt(self, ctx: Ctx, *, fresh: bool = True) -> list[Reply]:
        """The current step asked again (after /help, a language change or a stale button).

        `fresh=False` keeps the buttons already shown valid (the version stays): for an answer
        shown again because the first copy may have been lost with a worker.
        """
        form, st = self._load(ctx)
        step = parse_step(ctx.conv.step)
        if isinstance(step, Ask):
            return [self._ask(ctx, form, st, form.field(step.field), keep_selection=True, fresh=fresh)]
        if step is RESUME:
            return [self._resume_prompt(ctx, to=st.resume.to if st.resume else None, fresh=fresh)]
        return [self._go(ctx, form, st, step or SUMMARY, fresh=fresh)]

    def offer_resume(self, ctx: Ctx) -> Reply:
        """After a long pause: ask whether to go on before taking the next answer."""
        return self._resume_prompt(ctx, to=None)

    # --- steps ---------------------------------------------------------------------

    def _ask(self, ctx: Ctx, form: Form, st: FormState, fld: Field, *,
             error: str | None = None, keep_selection: bool = False, fresh: bool = True) -> Reply:
        t = ctx.t
        ctx.conv.step = step_text(Ask(fld.name))
        ctx.conv.version += fresh
        if fld.multi and not keep_selection:
            current = st.answers.get(fld.name)
            st.selection = list(current) if isinstance(current, list) else []
        self._save(ctx, st)
        fields = form.applicable(st.answers)
        pos = next((i for i, f in enumerate(fields) if f.name == fld.name), 0) + 1
        lines = []
        if form.summary:
            lines.append(t("form.progress", n=pos, total=len(fields)))
        lines.append(self._question(ctx, form, fld))
        if fld.optional:
            # Said once for every optional question, whatever its own wording says.
            if form.summary:
                lines[0] += " " + t("form.optional")
            else:
                lines[-1] = t("form.optional") + " " + lines[-1]
        if fld.multi and st.selection:
            labels = (self._choice_label(t, self._choices(fld, st), v) for v in st.selection)
            lines.append(t("form.selected", items=", ".join(labels)))
        if error:
            lines.insert(0, error)
        rows = self._choice_rows(ctx, fld, st)
        earlier = st.answers.get(fld.name)
        among = any(ch.value == str(earlier) for ch in self._choices(fld, st))
        if earlier is not None and earlier != [] and fld.parse is not None and not among and not fld.attachments:
            # Asked again (Back, or correcting from the summary): the earlier typed answer kept with
            # one tap (a choice is marked among the buttons instead, `_choice_rows`).
            rows.insert(0, [Button(t("form.keep", answer=self._shown(t, fld, st, earlier)), self._pl(ctx, "keep"))])
        tail = []
        if fld.multi and (st.selection or fld.optional):
            # Not before something is chosen: a press could only be refused, and on KakaoTalk it
            # would take a quick reply from the choices.
            tail.append(Button(t("form.done"), self._pl(ctx, "done")))
        if fld.optional:
            tail.append(Button(t("form.skip"), self._pl(ctx, "skip")))
        if tail:
            rows.append(tail)
        rows.append([Button(t("form.back"), self._pl(ctx, "back")), Button(t("form.cancel"), self._pl(ctx, "cancel"))])
        return Reply("\n\n".join(lines), rows)

    def _shown(self, t: Translator, fld: Field, st: FormState, value: Any) -> str:
        """An answer as the person saw it (a computed choice by its label)."""
        if fld.options is not None and fld.name in st.labels:
            return st.labels[fld.name]
        return self.display(t, fld, value)[:40]

    @staticmethod
    def _text(ctx: Ctx, key: str) -> str:
        # Settings the texts promise (retention, how far ahead one can book) come from the config.
        s = ctx.settings
        return ctx.t(key, months=s.retention_months, hours=s.draft_ttl_hours, days=s.booking_horizon_days,
                     keep_days=s.clinic_keep_days)

    def _question(self, ctx: Ctx, form: Form, fld: Field) -> str:
        return self._text(ctx, f"ask.{form.name}.{fld.name}")

    @staticmethod
    def _choices(fld: Field, st: FormState) -> Sequence[Choice]:
        if fld.options is None:
            return fld.choices
        return [Choice(value, text=label) for value, label in st.options.get(fld.name, [])]

    async def _enter(self, ctx: Ctx, form: Form, st: FormState, fld: Field, *,
                     error: str | None = None) -> list[Reply]:
        """Asks `fld`, first computing its options when they come from the database."""
        source = self._unanswered_source(form, st, fld)
        if source is not None:
            # A draft saved while such a question could be left for later (see `Form.postponable`):
            # `fld` cannot be asked without it, so it is asked first, and what was answered without
            # it is asked again after it rather than kept.
            dropped = set(source.resets)
            for name in dropped:
                st.answers.pop(name, None)
            st.auto = [name for name in st.auto if name not in dropped]
            st.skipped = [name for name in st.skipped if name != source.name]
            return await self._enter(ctx, form, st, source, error=error)
        if fld.options is not None:
            found = await fld.options(ctx, st.answers)
            st.options = {**st.options, fld.name: [(c.value, c.text or ctx.t(c.label)) for c in found]}
            if len(found) == 1 and not fld.multi and fld.parse is None and fld.refuse is None and error is None:
                # One possible answer (one place offers this type): given for the person, said on
                # top of the next question and shown in the summary; Back passes over it. Not when
                # asked again with why (a time taken meanwhile): then the person sees what is left.
                only = found[0]
                shown = only.text or ctx.t(only.label)
                st.auto = sorted(set(st.auto) | {fld.name})
                if fld.resets and st.answers.get(fld.name, only.value) != only.value:
                    for name in fld.resets:
                        st.answers.pop(name, None)
                st.answers[fld.name] = only.value
                st.labels = {**st.labels, fld.name: shown}
                st.skipped = [s for s in st.skipped if s != fld.name]
                following = await self._advance(ctx, form, st, fld)
                note = ctx.t("form.auto_chosen", label=ctx.t(f"label.{form.name}.{fld.name}"), answer=shown)
                if following:
                    following[0].text = note + "\n\n" + following[0].text
                return following
            st.auto = [name for name in st.auto if name != fld.name]
            if not found:
                if fld.optional:
                    st.auto = sorted(set(st.auto) | {fld.name})
                    st.answers[fld.name] = None
                    return await self._advance(ctx, form, st, fld)
                source = self._source(form, st, fld) if fld.parse is None else None
                if source is not None:
                    # Nothing left to pick here and nothing to type (the last time of the day
                    # taken meanwhile): the earlier answer these options come from is asked again,
                    # with why on top. Offering only Back would lead to the summary and round again.
                    notice = self._text(ctx, f"empty.{form.name}.{fld.name}")
                    # What depends on the source goes with it (the day's time, the place's day):
                    # asked afresh after the new answer, not kept from the old one.
                    dropped = {source.name, *source.resets}
                    for name in dropped:
                        st.answers.pop(name, None)
                    st.auto = [name for name in st.auto if name not in dropped]
                    if st.history and st.history[-1] == source.name:
                        st.history.pop()
                    return await self._enter(ctx, form, st, source, error="\n\n".join(filter(None, (error, notice))))
                reply = self._ask(ctx, form, st, fld, error=error)
                reply.text += "\n\n" + self._text(ctx, f"empty.{form.name}.{fld.name}")
                return [reply]
        return [self._ask(ctx, form, st, fld, error=error)]

    @staticmethod
    def _unanswered_source(form: Form, st: FormState, fld: Field) -> Field | None:
        """The first earlier question `fld` is built from (it names `fld` in `resets`) that applies
        and has no answer."""
        for f in form.fields[:form.fields.index(fld)]:
            if fld.name in f.resets and f.name not in st.answers and (f.when is None or f.when(st.answers)):
                return f
        return None

    @staticmethod
    def _source(form: Form, st: FormState, fld: Field) -> Field | None:
        """The nearest earlier question, asked and answered, whose change resets `fld`."""
        before = form.fields[:form.fields.index(fld)]
        for f in reversed(before):
            if fld.name in f.resets and f.name in st.answers and f.name not in st.auto:
                return f
        return None

    def _choice_rows(self, ctx: Ctx, fld: Field, st: FormState) -> list[list[Button]]:
        choices = self._choices(fld, st)
        if not choices:
            return []
        t = ctx.t
        suggested = fld.suggest(st.answers, self._input(ctx, st)) if fld.suggest else None
        # Asked again (Back, correcting from the summary): the earlier choice is marked, one tap keeps it.
        current = st.answers.get(fld.name) if not fld.multi and fld.refuse is None else None
        buttons = []
        for i, ch in enumerate(choices):
            label = ch.text or t(ch.label)
            if fld.multi:
                label = ("✅ " if ch.value in st.selection else "") + label
                code = f"t{i}"
            else:
                code = f"c{i}"
            if current is not None and ch.value == str(current):
                label = t("form.current", label=label)
            elif ch.value == suggested:
                label = t("form.suggested", label=label)
            buttons.append(Button(label, self._pl(ctx, code)))
        return [buttons[i:i + fld.columns] for i in range(0, len(buttons), fld.columns)]

    def _go(self, ctx: Ctx, form: Form, st: FormState, step: Literal[Screen.SUMMARY, Screen.EDIT], *,
            fresh: bool = True) -> Reply:
        t = ctx.t
        ctx.conv.step = step_text(step)
        ctx.conv.version += fresh
        self._save(ctx, st)
        if step is EDIT:
            rows = [[Button(t(f"label.{form.name}.{f.name}"), self._pl(ctx, f"e{form.fields.index(f)}"))]
                    for f in form.applicable(st.answers) if f.refuse is None]
            rows.append([Button(t("form.to_summary"), self._pl(ctx, "sum"))])
            return Reply(t("form.pick_field"), rows)
        text = self.summary_text(t, form, st.answers, st.labels)
        return Reply(text, [
            [Button(t("form.submit"), self._pl(ctx, "ok")), Button(t("form.edit"), self._pl(ctx, "edit"))],
            [Button(t("form.back"), self._pl(ctx, "back")), Button(t("form.cancel"), self._pl(ctx, "cancel"))],
        ])

    def summary_text(self, t: Translator, form: Form, answers: Answers, labels: dict[str, str] | None = None) -> str:
        lines = [t("form.summary_title", title=t(f"title.{form.name}")), ""]
        for f in form.applicable(answers):
            if f.refuse is not None:
                continue
            label = t(f"label.{form.name}.{f.name}")
            if f.name not in answers:
                value = t("form.missing") if not f.optional else self._blank(t, form, f)
            elif answers[f.name] is None and f.exclusive is None:
                value = self._blank(t, form, f)
            elif labels and f.name in labels and answers[f.name] is not None:
                value = labels[f.name]
            else:
                value = self.display(t, f, answers[f.name])
            lines.append(f"• {label}: {value}")
        lines += ["", t("form.summary_hint")]
        return "\n".join(lines)

    @staticmethod
    def _blank(t: Translator, form: Form, fld: Field) -> str:
        """A skipped optional answer: what it means when the catalog says so (an event without a
        deadline takes registrations "시작 전까지"), else "입력 안 함"."""
        key = f"blank.{form.name}.{fld.name}"
        return t(key) if t.has(key) else t("form.not_given")

    def display(self, t: Translator, fld: Field, value: Any) -> str:
        if value is None or value == [] or value == "":
            return t("form.not_given") if fld.exclusive is None else t(self._exclusive_label(fld))
        if fld.show:
            return fld.show(value, t)
        if fld.choices:
            values = value if isinstance(value, list) else [value]
            return ", ".join(self._choice_label(t, fld.choices, v) for v in values)
        if isinstance(value, list):
            return ", ".join(map(str, value))
        return str(value)

    @staticmethod
    def _exclusive_label(fld: Field) -> str:
        return next(c.label for c in fld.choices if c.value == fld.exclusive)

    @staticmethod
    def _choice_label(t: Translator, choices: Sequence[Choice], value: str) -> str:
        for ch in choices:
            if ch.value == value:
                return ch.text or t(ch.label)
        return str(value)

    # --- answers -------------------------------------------------------------------

    async def _field_button(self, ctx: Ctx, form: Form, st: FormState, fld: Field, code: str) -> list[Reply]:
        t = ctx.t
        if code == "retry":
            return [self._ask(ctx, form, st, fld, keep_selection=True)]
        if code == "why":
            # "이거 왜 물어봐요?": what the question is for, then the question again (nothing saved).
            return [Reply(self._text(ctx, f"help.{form.name}.{fld.name}")),
                    self._ask(ctx, form, st, fld, keep_selection=True)]
        if code == "keep" and st.answers.get(fld.name) is not None:
            # Back, or correcting from the summary: the earlier answer kept with one tap.
            kept = st.answers[fld.name]
            return await self._accept(ctx, form, st, fld, kept, pressed=True, label=self._shown(t, fld, st, kept))
        if code == "skip":
            if fld.optional:
                return await self._accept(ctx, form, st, fld, [] if fld.multi else None, pressed=True)
            if not form.postponable(fld):
                # A "fill in later" button shown before this rule (still on someone's screen).
                return [self._ask(ctx, form, st, fld, keep_selection=True, error=t("form.cannot_postpone"))]
            st.skipped = sorted(set(st.skipped) | {fld.name})
            st.answers.pop(fld.name, None)
            return await self._advance(ctx, form, st, fld)
        choices = self._choices(fld, st)
        if code[:1] in ("c", "t") and code[1:].isdigit() and int(code[1:]) < len(choices):
            choice = choices[int(code[1:])]
            if code[0] == "t" and fld.multi:
                sel = list(st.selection)
                if choice.value in sel:
                    sel.remove(choice.value)
                elif choice.value == fld.exclusive:
                    sel = [choice.value]
                else:
                    sel = [v for v in sel if v != fld.exclusive] + [choice.value]
                st.selection = sel
                reply = self._ask(ctx, form, st, fld, keep_selection=True)
                reply.edit = True
                return [reply]
            if code[0] == "c" and not fld.multi:
                value: Any = choice.value
                if fld.parse is not None:
                    try:
                        value = fld.parse(choice.value, self._input(ctx, st))
                    except Invalid as exc:
                        return [self._rejected(ctx, form, st, fld, exc)]
                return await self._accept(ctx, form, st, fld, value, pressed=True, label=choice.text or t(choice.label))
        if code == "done" and fld.multi:
            sel = [v for v in st.selection if v != fld.exclusive]
            if not st.selection and not fld.optional:
                return [Reply(t("form.pick_at_least_one"),
                              self._ask(ctx, form, st, fld, keep_selection=True, fresh=False).buttons)]
            return await self._accept(ctx, form, st, fld, sel, pressed=True)
        return [Reply(t("button.expired")), self._ask(ctx, form, st, fld, keep_selection=True)]

    async def _typed_choice(self, ctx: Ctx, form: Form, st: FormState, fld: Field, text: str) -> list[Reply]:
        """Typed instead of pressed (console, Kakao, or habit): match the labels in any language,
        without their emoji, never a refusal for an agreement (`matching.text.pick`)."""
        if not fld.multi:
            value = self._typed_pick(fld, st, text)
            if value is None:
                return [self._rejected(ctx, form, st, fld, Invalid("form.unknown_choice", answer=text.strip()[:30]))]
            return await self._accept(ctx, form, st, fld, value)
        tokens = [p for p in text.replace("、", ",").replace("/", ",").split(",") if p.strip()]
        if len(tokens) == 1:
            tokens = text.split()
        # "마포구 강남구 완료": the closing word is not a choice.
        tokens = [token for token in tokens if plain(token) not in DONE_WORDS]
        values = []
        for token in tokens:
            value = self._typed_pick(fld, st, token)
            if value is None:
                err = Invalid("form.unknown_choice", answer=token.strip()[:30])
                return [self._rejected(ctx, form, st, fld, err)]
            values.append(value)
        if fld.exclusive in values:
            return await self._accept(ctx, form, st, fld, [])
        # Added to what was ticked already (a tap on one page of KakaoTalk's quick replies, a name typed).
        chosen = [v for v in st.selection if v != fld.exclusive] + values
        return await self._accept(ctx, form, st, fld, list(dict.fromkeys(chosen)))

    def _rejected(self, ctx: Ctx, form: Form, st: FormState, fld: Field, exc: Invalid) -> Reply:
        t = ctx.t
        st.fails += 1
        self._save(ctx, st)
        message = t(exc.key, **exc.params)
        if st.fails < MAX_FAILS:
            # Say what was wrong without repeating the whole question (rasa-sdk#240), but with its
            # buttons again: on KakaoTalk the quick replies go with the message they came with.
            return Reply(message, self._ask(ctx, form, st, fld, keep_selection=True, fresh=False).buttons)
        st.fails = 0
        self._save(ctx, st)
        ctx.conv.version += 1
        label = t(f"label.{form.name}.{fld.name}")
        text = "\n\n".join([message, t("form.stuck", label=label), t(f"help.{form.name}.{fld.name}")])
        first = [Button(t("form.retry"), self._pl(ctx, "retry"))]
        if fld.optional or form.postponable(fld):
            first.append(Button(t("form.skip") if fld.optional else t("form.skip_for_now"), self._pl(ctx, "skip")))
        return Reply(text, [first, [Button(t("form.stop"), self._pl(ctx, "stop"))]])

    async def _accept(self, ctx: Ctx, form: Form, st: FormState, fld: Field, value: Any, *,
                      pressed: bool = False, label: str | None = None) -> list[Reply]:
        t = ctx.t
        out: list[Reply] = []
        shown = (label or self.display(t, fld, value)) if pressed else ""
        if pressed and fld.refuse is not None:
            # A consent screen stays in the chat as a record, its buttons replaced by the answer.
            out.append(Reply(self._question(ctx, form, fld) + "\n\n" + t("form.chosen", answer=shown), edit=True))
        if fld.refuse is not None and value == fld.refuse:
            self._clear(ctx)
            return [*out, Reply(t(f"refused.{form.name}")), await self._menu(ctx)]
        if fld.resets and st.answers.get(fld.name, value) != value:
            for name in fld.resets:
                st.answers.pop(name, None)
        if fld.options is not None and not fld.multi:
            shown = label or self._choice_label(t, self._choices(fld, st), value)
            st.labels = {**st.labels, fld.name: shown}
        st.answers[fld.name] = value
        st.fails = 0
        st.skipped = [s for s in st.skipped if s != fld.name]
        if fld.check is not None:
            try:
                await fld.check(ctx, st.answers)
            except Invalid as exc:
                return [*out, *await self._check_failed(ctx, form, st, fld, exc)]
        following = await self._advance(ctx, form, st, fld)
        if pressed and not out and following and following[0].buttons:
            # The pressed message becomes the next step, headed by the answer: one edit
            # instead of an edit and a new message (python-telegram-bot's inline-keyboard style).
            following[0].text = t("form.chosen", answer=shown) + "\n\n" + following[0].text
            following[0].edit = True
        elif pressed and not out:
            out.append(Reply(self._question(ctx, form, fld) + "\n\n" + t("form.chosen", answer=shown), edit=True))
        return out + following

    async def _check_failed(self, ctx: Ctx, form: Form, st: FormState, fld: Field, exc: Invalid) -> list[Reply]:
        again = form.field(exc.field) if exc.field is not None else fld
        for name in (again.name, *again.resets):
            st.answers.pop(name, None)
        if again is not fld and st.history and st.history[-1] == again.name:
            st.history.pop()
        return await self._enter(ctx, form, st, again, error=ctx.t(exc.key, **exc.params))

    async def _advance(self, ctx: Ctx, form: Form, st: FormState, fld: Field) -> list[Reply]:
        if st.returning:
            missing = self._first_missing(form, st)
            if missing is not None and missing.name not in st.skipped:
                return await self._enter(ctx, form, st, missing)
            st.returning = False
            return [self._go(ctx, form, st, SUMMARY)]
        if fld.name not in st.history:
            st.history.append(fld.name)
        nxt = self._next_field(form, st, after=fld.name)
        if nxt is not None:
            return await self._enter(ctx, form, st, nxt)
        if form.summary:
            return [self._go(ctx, form, st, SUMMARY)]
        return await self._submit(ctx, form, st)

    def _next_field(self, form: Form, st: FormState, after: str | None) -> Field | None:
        names = [f.name for f in form.fields]
        start = names.index(after) + 1 if after else 0
        for f in form.fields[start:]:
            if (f.when is None or f.when(st.answers)) and not (st.mode == "edit" and f.name in st.answers):
                return f
        return None

    def _first_missing(self, form: Form, st: FormState) -> Field | None:
        for f in form.applicable(st.answers):
            if f.name not in st.answers and not f.optional:
                return f
        return None

    async def _back(self, ctx: Ctx, form: Form, st: FormState) -> list[Reply]:
        step = parse_step(ctx.conv.step)
        if step is EDIT or (st.returning and isinstance(step, Ask)):
            st.returning = False
            return [self._go(ctx, form, st, SUMMARY)]
        if isinstance(step, Ask) and st.history and st.history[-1] == step.field:
            st.history.pop()
        # Questions that were skipped for lack of options are skipped going back too.
        while st.history and st.history[-1] in st.auto:
            st.history.pop()
        if not st.history:
            self._clear(ctx)
            return [Reply(ctx.t("form.left"))]
        prev = form.field(st.history.pop())
        return await self._enter(ctx, form, st, prev)

    async def _submit(self, ctx: Ctx, form: Form, st: FormState) -> list[Reply]:
        missing = self._first_missing(form, st)
        if missing is not None:
            st.returning = True
            st.skipped = []
            return [Reply(ctx.t("form.fill_missing")), *await self._enter(ctx, form, st, missing)]
        # Copies: a submit refused with `Invalid` leaves the state as it was.
        answers, extra = dict(st.answers), dict(st.extra)
        saved = (ctx.conv.flow, ctx.conv.step, dict(ctx.conv.data))
        self._clear(ctx)
        try:
            async with ctx.session.begin_nested():
                return await form.on_submit(ctx, answers, extra)
        except Invalid as exc:
            # Nothing of the submit is kept; the person stays on the summary to decide, or is
            # asked again the one answer that no longer holds (a slot taken meanwhile).
            ctx.conv.flow, ctx.conv.step, ctx.conv.data = saved
            if exc.field is not None:
                st.returning = True
                st.answers.pop(exc.field, None)
                return await self._enter(ctx, form, st, form.field(exc.field), error=ctx.t(exc.key, **exc.params))
            return [Reply(ctx.t(exc.key, **exc.params)), self._go(ctx, form, st, SUMMARY)]

    async def _cancel(self, ctx: Ctx) -> list[Reply]:
        self._clear(ctx)
        return [Reply(ctx.t("form.cancelled")), await self._menu(ctx)]

    # --- resume --------------------------------------------------------------------

    def _resume_prompt(self, ctx: Ctx, to: PendingStart | None, *, fresh: bool = True) -> Reply:
        t = ctx.t
        conv = ctx.conv
        st = FormState.from_json(conv.data)
        if parse_step(conv.step) is not RESUME:
            st.resume = Resumable(prev=parse_step(conv.step), to=to)
        conv.step = step_text(RESUME)
        self._save(ctx, st)
        conv.version += fresh
        title = t(f"title.{conv.flow}")
        other = to.name if to else conv.flow
        new_label = t("form.restart") if other == conv.flow else t("form.start_other", title=t(f"title.{other}"))
        return Reply(t("form.resume", title=title), [
            [Button(t("form.resume_yes"), self._pl(ctx, "res")), Button(new_label, self._pl(ctx, "new"))],
            [Button(t("form.discard"), self._pl(ctx, "cancel"))],
        ])

    async def _resume_choice(self, ctx: Ctx, form: Form, st: FormState, code: str) -> list[Reply]:
        info, st.resume = st.resume or Resumable(None, None), None
        if code == "res":
            ctx.conv.step = step_text(info.prev or SUMMARY)
            ctx.conv.paused = False
            self._save(ctx, st)
            return self.prompt(ctx)
        if code == "new":
            to = info.to or PendingStart(form.name)
            self._clear(ctx)
            return await self.start(ctx, to.name, answers=to.answers, extra=to.extra, mode=to.mode, step=to.step,
                                    labels=to.labels, force=True)
        return [Reply(ctx.t("button.expired")), self._resume_prompt(ctx, info.to)]

    # --- state helpers -------------------------------------------------------------

    def _load(self, ctx: Ctx) -> tuple[Form, FormState]:
        return self.forms[ctx.conv.flow or ""], FormState.from_json(ctx.conv.data)

    @staticmethod
    def _save(ctx: Ctx, st: FormState) -> None:
        # A new dict each time (`to_json` copies): the JSON column does not see in-place changes.
        ctx.conv.data = st.to_json()

    @staticmethod
    def _clear(ctx: Ctx) -> None:
        ctx.conv.flow = ctx.conv.step = None
        ctx.conv.data = {}
        ctx.conv.paused = False

    @staticmethod
    def _pl(ctx: Ctx, code: str) -> str:
        return payload(f"f{ctx.conv.version}", code)

    @staticmethod
    def _input(ctx: Ctx, st: FormState) -> FieldInput:
        return FieldInput(answers=st.answers, now=ctx.now, tz=ctx.settings.tz)
