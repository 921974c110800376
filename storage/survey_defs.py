"""Survey definitions are data (`storage/data/surveys.json`), loaded and checked once at start.

Each survey key (consultation, event, seeker_followup, member_followup) holds a list of
versions. New invitations use the newest version; an answer stores the version it was
given under, so an old answer is read with the questions it answered even after the
wording or the options changed. Changing a survey means adding a version, never editing
one that has answers.

Question kinds: `rating` (1–5; 1 매우 불만족 to 5 매우 만족 unless a `scale` names both ends), `choice`
(one option), `multi` (several options), `text`
(free text up to `max` characters), `number` (whole number between `min` and `max`) and
`month` (YYYY-MM). `optional` questions can be passed over; `when` asks a question only
if an earlier choice was one of the listed options. Texts are given in Korean and English.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).with_name("data") / "surveys.json"
KINDS = ("rating", "choice", "multi", "text", "number", "month")
LANGS = ("ko", "en")
# "clinic": the document clinic's rating (its 1–5 buttons under the returned review, handlers/clinic.py).
SURVEYS = ("consultation", "event", "seeker_followup", "member_followup", "clinic")
RATING = range(1, 6)


class DefinitionError(ValueError):
    """The survey file is malformed; the message names the survey, version and question."""


@dataclass(frozen=True)
class Option:
    id: str
    text: dict[str, str]


@dataclass(frozen=True)
class Question:
    id: str
    kind: str
    text: dict[str, str]
    options: tuple[Option, ...] = ()
    optional: bool = False
    min: int = 0
    max: int = 500
    when: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # A rating's words for 1 and 5 when they are not satisfaction's: "도움이 되었나요?" is answered
    # from "전혀 도움이 안 됐어요" to "아주 도움이 됐어요", not from 매우 불만족 to 매우 만족.
    scale: tuple[dict[str, str], dict[str, str]] | None = None

    def option(self, option_id: str) -> Option | None:
        return next((o for o in self.options if o.id == option_id), None)

    def applies(self, answers: dict[str, Any]) -> bool:
        """Asked only when every `when` condition holds for the answers so far."""
        return all(answers.get(qid) in allowed for qid, allowed in self.when)


@dataclass(frozen=True)
class Survey:
    key: str
    version: int
    title: dict[str, str]
    questions: tuple[Question, ...]

    def question(self, qid: str) -> Question:
        for q in self.questions:
            if q.id == qid:
                return q
        raise KeyError(qid)

    def index(self, qid: str) -> int:
        return next(i for i, q in enumerate(self.questions) if q.id == qid)


def shown(q: Question | None, kind: str, number: int | None, text: str | None, locale: str) -> Any:
    """A stored answer as people read it: numbers stay numbers, chosen options by their text
    (their ids when the question is no longer known), typed text and months as written."""
    if kind in ("rating", "number"):
        return number
    if kind in ("choice", "multi"):
        picked = [v for v in (text or "").split(",") if v]
        if q is None:
            return "; ".join(picked)
        return "; ".join((o.text[locale] if (o := q.option(v)) else v) for v in picked)
    return text


def _texts(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, dict) or any(not isinstance(raw.get(lang), str) or not raw[lang].strip()
                                        for lang in LANGS):
        raise DefinitionError(f"{where}: needs non-empty texts in {', '.join(LANGS)}")
    return {lang: str(raw[lang]) for lang in LANGS}


def _question(raw: Any, where: str, earlier: dict[str, Question]) -> Question:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not raw["id"]:
        raise DefinitionError(f"{where}: a question needs an id")
    where = f"{where}.{raw['id']}"
    if raw["id"] in earlier:
        raise DefinitionError(f"{where}: the id is used twice")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise DefinitionError(f"{where}: kind must be one of {', '.join(KINDS)}")
    options = tuple(Option(str(o.get("id")), _texts(o.get("text"), f"{where} option"))
                    for o in raw.get("options", []) if isinstance(o, dict))
    if kind in ("choice", "multi"):
        ids = [o.id for o in options]
        if len(ids) < 2 or len(set(ids)) != len(ids) or any(not i or ":" in i for i in ids):
            raise DefinitionError(f"{where}: a choice needs at least two options with distinct ids")
    elif options:
        raise DefinitionError(f"{where}: only choice questions have options")
    low, high = int(raw.get("min", 0)), int(raw.get("max", 500))
    if low > high:
        raise DefinitionError(f"{where}: min is above max")
    when: list[tuple[str, tuple[str, ...]]] = []
    for qid, allowed in dict(raw.get("when", {})).items():
        source = earlier.get(qid)
        if source is None or source.kind != "choice" or any(source.option(a) is None for a in allowed):
            raise DefinitionError(f"{where}: 'when' must name an earlier choice question and its options")
        when.append((qid, tuple(allowed)))
    scale = None
    if "scale" in raw:
        if kind != "rating" or not isinstance(raw["scale"], dict):
            raise DefinitionError(f"{where}: only rating questions have a scale (low and high texts)")
        scale = (_texts(raw["scale"].get("low"), f"{where} scale"), _texts(raw["scale"].get("high"), f"{where} scale"))
    return Question(raw["id"], kind, _texts(raw.get("text"), where), options, bool(raw.get("optional", False)),
                    low, high, tuple(when), scale)


def parse(data: Any) -> dict[str, list[Survey]]:
    """Checks the whole file; DefinitionError names the first problem."""
    if not isinstance(data, dict):
        raise DefinitionError("the survey file must map survey keys to lists of versions")
    out: dict[str, list[Survey]] = {}
    for key in SURVEYS:
        versions = data.get(key)
        if not isinstance(versions, list) or not versions:
            raise DefinitionError(f"{key}: missing (every trigger needs a survey)")
        seen: list[Survey] = []
        for raw in versions:
            version = raw.get("version") if isinstance(raw, dict) else None
            if not isinstance(version, int) or version < 1 or any(s.version == version for s in seen):
                raise DefinitionError(f"{key}: each version needs a distinct positive number")
            where = f"{key} v{version}"
            questions: dict[str, Question] = {}
            for q in raw.get("questions", []):
                question = _question(q, where, questions)
                questions[question.id] = question
            if not questions:
                raise DefinitionError(f"{where}: no questions")
            if all(q.optional for q in questions.values()):
                raise DefinitionError(f"{where}: at least one question must be required")
            seen.append(Survey(key, version, _texts(raw.get("title"), where), tuple(questions.values())))
        out[key] = sorted(seen, key=lambda s: s.version)
    unknown = set(data) - set(SURVEYS)
    if unknown:
        raise DefinitionError(f"unknown survey keys: {', '.join(sorted(unknown))}")
    return out


@cache
def load(path: Path = DATA) -> dict[str, list[Survey]]:
    return parse(json.loads(path.read_text(encoding="utf-8")))


def latest(key: str) -> Survey:
    return load()[key][-1]


def get(key: str, version: int) -> Survey | None:
    """The survey as it was at `version` (old answers stay readable)."""
    return next((s for s in load().get(key, []) if s.version == version), None)
