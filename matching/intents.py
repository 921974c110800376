"""Free text to an intent, an FAQ topic or "unknown": pure functions, no I/O but the data files.

People write to the bot the way they talk: "상담받고싶어요", "예약좀", "얘약 할께요", "job 추천",
"demo day 언제". The matcher reads such a sentence in four steps:

1. `normalise`: NFKC and case folded, colloquial spellings and common typos put right (the
   `variants` table: 할께 → 할게, 센타 → 센터, 머에요 → 뭐예요), a space between Hangul and Latin
   letters ("job추천" → "job 추천"), punctuation dropped, and for each word its stem without
   the particles and endings Korean glues on (을/를/이/가/은/는/에서/으로, -하고 싶어요, -할게요,
   -되나요). Korean is then compared without spaces (웹 개발 = 웹개발), English word by word.
2. Cues (data: `data/intents.json` for the services, the FAQ file's topics for questions): a
   weight and parts that must all occur, each a set of alternatives ("상담|컨설팅|consult" and
   "받|예약|신청"). A Hangul alternative is looked for inside the spaceless text, a Latin one at
   the start of a word. A word that is none of the cue words but close to one (rapidfuzz ratio
   on its jamo, so 얘약 is one vowel from 예약 and 등녹 one consonant from 등록) counts as it.
3. Scores: a label's best cue, plus a little for each further cue it matched; a question
   ("뭐예요", "언제", "?", "what", "how") leans to the FAQ topics, a request ("하고 싶어요",
   "신청", "please") to the services.
4. The decision: a clear winner (`CONFIDENT`, ahead by `MARGIN`) is acted on; a weaker best
   (`ASK_FROM`) is offered with the second best as buttons; below that the text is unknown.
   A destructive intent (deleting data, cancelling a booking) scores only from its own words.

Slots are read from the same sentence: a district (matching.geo's names, 마포구 / 마포 / Mapo),
a job (matching.text's synonym groups), a day ("다음 주 화요일", "내일", "12월 8일", "next
Tuesday") and a language ("영어로").
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process

from matching import geo
from matching.text import compact, synonyms

DATA = Path(__file__).with_name("data")
# Scores: a cue's weight is about 2 (a hint) to 6 (says it all). A winner from CONFIDENT on, ahead
# of the next by MARGIN, is acted on; from ASK_FROM on the two best are offered; below, unknown.
CONFIDENT = 4.0
MARGIN = 1.0
ASK_FROM = 2.5
# Each further cue of the same label adds this (two ways of saying it beat one).
EXTRA_CUE = 0.5
# A question leans to the FAQ topics, a request to the services (see the module docstring).
QUESTION_BONUS = 1.0
WANT_BONUS = 0.75
# rapidfuzz ratio (0-100) on jamo from which a word counts as a cue word it is close to.
FUZZY_MIN = 80
# Longer text is cut before matching: a paragraph is no menu request, and the cost stays bounded.
MAX_CHARS = 300

_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_SCRIPT_CHANGE = re.compile(r"(?<=[\uac00-\ud7a3])(?=[a-z0-9])|(?<=[a-z0-9])(?=[\uac00-\ud7a3])")
_NOT_WORD = re.compile(r"[^\w\s]+")
_WEEKDAYS_KO = "월화수목금토일"
_WEEKDAYS_EN = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def has_hangul(text: str) -> bool:
    return bool(_HANGUL.search(text))


def jamo(text: str) -> str:
    """Hangul syllables split into their letters (예약 -> ㅇㅖㅇㅑㄱ), so a typo costs one letter."""
    return unicodedata.normalize("NFD", text)


@dataclass(frozen=True)
class Part:
    """One part of a cue: any of its alternatives occurs."""

    hangul: tuple[str, ...]
    latin: re.Pattern[str] | None
    latin_words: tuple[str, ...] = ()
    inside: re.Pattern[str] | None = None  # the Hangul alternatives as one pattern (faster than a loop)

    def found(self, text: Text) -> bool:
        if self.inside is not None and self.inside.search(text.compact) is not None:
            return True
        return self.latin is not None and self.latin.search(text.spaced) is not None


@dataclass(frozen=True)
class Cue:
    weight: float
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class Label:
    """An intent ("book") or an FAQ topic ("faq:opening_hours") with its cues."""

    key: str
    intent: str
    topic: str | None
    cues: tuple[Cue, ...]
    destructive: bool = False


@dataclass(frozen=True)
class Text:
    """A sentence normalised: `spaced` (words), `compact` (no spaces, for Korean), its cues."""

    spaced: str
    compact: str
    question: bool
    want: bool


@dataclass(frozen=True)
class Guess:
    intent: str
    topic: str | None
    score: float


@dataclass(frozen=True)
class Result:
    """What the text means: `intent` ("faq" with `topic`, "unknown" when nothing is close), the
    slots found, a score 0..1, whether it is clear enough to act on, and the best guesses."""

    intent: str
    topic: str | None
    slots: dict[str, str]
    score: float
    confident: bool
    guesses: tuple[Guess, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"intent": self.intent, "topic": self.topic, "slots": self.slots, "score": self.score,
                "confident": self.confident}


@dataclass
class Model:
    """The compiled data: labels and their cues, the normalisation tables, the fuzzy vocabulary."""

    labels: list[Label]
    variants: list[tuple[str, str]]
    endings: tuple[str, ...]
    particles: tuple[str, ...]
    question: Part
    want: Part
    vocabulary: list[str] = field(default_factory=list)
    _jamo: list[str] = field(default_factory=list)
    _latin_vocab: list[str] = field(default_factory=list)
    _known: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        words: set[str] = set()
        latin: set[str] = set()
        for label in self.labels:
            for cue in label.cues:
                for part in cue.parts:
                    words.update(w for w in part.hangul if len(w) >= 2)
                    if part.latin is not None:
                        latin.update(w for w in part.latin_words if len(w) >= 5 and " " not in w)
        self.vocabulary = sorted(words)
        self._known = frozenset(words) | latin
        self._jamo = [jamo(w) for w in self.vocabulary]
        self._latin_vocab = sorted(latin)

    def near(self, word: str) -> str | None:
        """The cue word `word` is a typo of, or None."""
        if has_hangul(word):
            if not 2 <= len(word) <= 6:
                return None
            hit = process.extractOne(jamo(word), self._jamo, scorer=fuzz.ratio, score_cutoff=FUZZY_MIN)
            return self.vocabulary[hit[2]] if hit else None
        if len(word) < 5:
            return None
        hit = process.extractOne(word, self._latin_vocab, scorer=fuzz.ratio, score_cutoff=85)
        return hit[0] if hit else None

    def known(self, word: str) -> bool:
        return word in self._known


def _part(spec: str) -> Part:
    alts = [a.strip() for a in unicodedata.normalize("NFKC", spec).casefold().split("|") if a.strip()]
    hangul = tuple(sorted({compact(a) for a in alts if has_hangul(a)}))
    latin = [a for a in alts if not has_hangul(a)]
    pattern = re.compile(r"(?<![a-z0-9])(?:" + "|".join(re.escape(a) for a in latin) + ")") if latin else None
    inside = re.compile("|".join(map(re.escape, hangul))) if hangul else None
    return Part(hangul, pattern, tuple(latin), inside)


def _cues(raw: Iterable[Mapping[str, Any]]) -> tuple[Cue, ...]:
    return tuple(Cue(float(c["w"]), tuple(_part(p) for p in c["all"])) for c in raw)


def build(intents: Mapping[str, Any], topics: Sequence[Mapping[str, Any]]) -> Model:
    """The model from the intents data and the FAQ topics (`storage.faq` reads both files)."""
    labels = [Label(name, name, None, _cues(spec["cues"]), bool(spec.get("destructive")))
              for name, spec in intents["intents"].items()]
    labels += [Label("faq:" + t["id"], "faq", t["id"], _cues(t.get("cues") or ())) for t in topics]
    variants = sorted(((unicodedata.normalize("NFKC", k).casefold(), v) for k, v in intents["variants"].items()),
                      key=lambda kv: len(kv[0]), reverse=True)
    return Model(labels=labels, variants=variants,
                 endings=tuple(sorted((compact(e) for e in intents["endings"]), key=len, reverse=True)),
                 particles=tuple(sorted(intents["particles"], key=len, reverse=True)),
                 question=_part(intents["question_cues"]), want=_part(intents["want_cues"]))


@cache
def intents_data() -> dict[str, Any]:
    """The shipped intents file (`data/intents.json`)."""
    data: dict[str, Any] = json.loads((DATA / "intents.json").read_text(encoding="utf-8"))
    return data


def commands() -> dict[str, str | None]:
    """Intent -> the command it starts (None: no flow yet; answered with its FAQ topic)."""
    return {name: spec.get("command") for name, spec in intents_data()["intents"].items()}


def fallback_topics() -> dict[str, str]:
    """Intent without a flow -> the FAQ topic that answers it meanwhile."""
    return {name: spec["faq"] for name, spec in intents_data()["intents"].items() if spec.get("faq")}


def stem(word: str, model: Model) -> str:
    """A Korean word without its ending and then its particle (예약하고싶어요 -> 예약, 센터는 -> 센터),
    keeping at least one syllable."""
    for ending in model.endings:
        if word.endswith(ending) and len(word) > len(ending):
            word = word[: -len(ending)]
            break
    for particle in model.particles:
        if word.endswith(particle) and len(word) > len(particle):
            return word[: -len(particle)]
    return word


def normalise(text: str, model: Model) -> Text:
    """The sentence the way cues are compared (see the module docstring, step 1)."""
    low = unicodedata.normalize("NFKC", text[:MAX_CHARS]).casefold()
    asks = "?" in low
    for wrong, right in model.variants:
        if wrong in low:
            low = low.replace(wrong, right)
    low = _SCRIPT_CHANGE.sub(" ", _NOT_WORD.sub(" ", low.replace("'", "")))
    words = low.split()
    stems = [stem(w, model) if has_hangul(w) else w for w in words]
    fixed = []
    for word in stems:
        # A word no cue names but one is close to: a typo of it ("얘약", "apointment").
        if len(word) >= 2 and not model.known(word):
            near = model.near(word)
            if near is not None and near not in word:
                fixed.append(near)
    spaced = " ".join(words + fixed)
    plain = Text(spaced, compact(" ".join(words + stems + fixed)), asks, False)
    return Text(spaced, plain.compact, asks or model.question.found(plain), model.want.found(plain))


def scores(text: Text, model: Model) -> list[tuple[float, Label]]:
    """Every label with a score above zero, best first."""
    out = []
    for label in model.labels:
        matched = sorted((c.weight for c in label.cues if all(p.found(text) for p in c.parts)), reverse=True)
        if not matched:
            continue
        score = matched[0] + EXTRA_CUE * min(len(matched) - 1, 2)
        if label.topic is not None and text.question:
            score += QUESTION_BONUS
        elif label.topic is None and text.want and not text.question:
            score += WANT_BONUS
        out.append((score, label))
    out.sort(key=lambda sl: sl[0], reverse=True)
    return out


def match(text: str, model: Model, today: dt.date | None = None) -> Result:
    """What `text` means (module docstring). With `today`, a day named is given as a date."""
    norm = normalise(text, model)
    ranked = scores(norm, model)
    guesses = tuple(Guess(label.intent, label.topic, round(score, 2)) for score, label in ranked[:3])
    if not ranked or ranked[0][0] < ASK_FROM:
        return Result("unknown", None, {}, round(ranked[0][0] / 6, 2) if ranked else 0.0, False, guesses)
    best, label = ranked[0]
    second = ranked[1][0] if len(ranked) > 1 else 0.0
    confident = best >= CONFIDENT and best - second >= MARGIN
    return Result(label.intent, label.topic, slots(label.intent, norm, text, today), round(min(best / 6, 1.0), 2),
                  confident, guesses)


# --- slots -----------------------------------------------------------------------------------------


def slots(intent: str, norm: Text, raw: str, today: dt.date | None) -> dict[str, str]:
    out: dict[str, str] = {}
    if intent in ("jobs", "firms"):
        district = find_district(norm)
        if district:
            out["district"] = district
        job = find_job(norm)
        if job:
            out["job"] = job
    elif intent in ("book", "cancel_booking", "my_bookings"):
        day = find_day(raw, today) if today is not None else None
        if day is not None:
            out["day"] = day.isoformat()
    elif intent == "language":
        lang = find_language(norm)
        if lang:
            out["language"] = lang
    return out


@cache
def _district_names() -> list[tuple[str, str, bool]]:
    """(name as compared, district code, is Hangul), longest first: 마포구, 마포, mapo."""
    names: list[tuple[str, str, bool]] = []
    for code in geo.codes():
        full = compact(geo.korean(code))
        names.append((full, code, True))
        short = full.removesuffix("구")
        if len(short) >= 2:
            names.append((short, code, True))
        names.append((code, code, False))
    names.sort(key=lambda n: len(n[0]), reverse=True)
    return names


def find_district(norm: Text) -> str | None:
    words = norm.spaced.split()
    for name, code, hangul in _district_names():
        if hangul and name in norm.compact:
            return code
        if not hangul and any(w == name or w == name + "gu" for w in words):
            return code
    return None


@cache
def _job_words() -> list[tuple[str, str]]:
    table = synonyms().canonical
    words = [(w, head) for w, head in table.items()
             if (has_hangul(w) and len(w) >= 2) or (not has_hangul(w) and len(w) >= 3)]
    return sorted(words, key=lambda wh: len(wh[0]), reverse=True)


def find_job(norm: Text) -> str | None:
    """The job named, as its synonym group's first word (웹 개발자 -> 웹개발)."""
    words = norm.spaced.split()
    for word, head in _job_words():
        if has_hangul(word) and word in norm.compact:
            return head
        if not has_hangul(word) and word in words:
            return head
    return None


def find_language(norm: Text) -> str | None:
    if any(w in norm.compact for w in ("영어", "영문")) or "english" in norm.spaced.split():
        return "en"
    if any(w in norm.compact for w in ("한국어", "한국말", "한글")) or "korean" in norm.spaced.split():
        return "ko"
    return None


_KO_WEEK = re.compile(r"(이번|다음|담|다다음)?\s*주?\s*([월화수목금토일])요일")
_KO_DATE = re.compile(r"(?:(\d{1,2})\s*월\s*)?(\d{1,2})\s*일(?!정)")
_EN_WEEK = re.compile(r"(this|next)?\s*(" + "|".join(_WEEKDAYS_EN) + ")")


def find_day(text: str, today: dt.date) -> dt.date | None:
    """The day a sentence names, from `today` (오늘, 내일, 모레, 다음 주 화요일, 금요일, 12월 8일,
    tomorrow, next Tuesday); None when it names none or one in the past."""
    low = unicodedata.normalize("NFKC", text).casefold()
    relative = {"오늘": 0, "today": 0, "내일": 1, "tomorrow": 1, "모레": 2, "글피": 3}
    for word, days in relative.items():
        if word in low:
            return today + dt.timedelta(days=days)
    monday = today - dt.timedelta(days=today.weekday())
    found = _KO_WEEK.search(low)
    if found:
        weeks = {None: None, "이번": 0, "다음": 1, "담": 1, "다다음": 2}[found.group(1)]
        return _weekday(today, monday, _WEEKDAYS_KO.index(found.group(2)), weeks)
    found = _EN_WEEK.search(low)
    if found:
        weeks_en = {None: None, "this": 0, "next": 1}[found.group(1)]
        return _weekday(today, monday, _WEEKDAYS_EN.index(found.group(2)), weeks_en)
    found = _KO_DATE.search(low)
    if found:
        month = int(found.group(1)) if found.group(1) else today.month
        number = int(found.group(2))
        try:
            named = dt.date(today.year, month, number)
            if named < today:
                # A day already past this year (or this month, without a month) means the next one.
                named = (dt.date(today.year + 1, month, number) if found.group(1)
                         else dt.date(today.year + today.month // 12, today.month % 12 + 1, number))
        except ValueError:
            return None
        return named
    return None


def _weekday(today: dt.date, monday: dt.date, weekday: int, weeks: int | None) -> dt.date | None:
    if weeks is None:
        # "화요일" alone: the next one from today on.
        return today + dt.timedelta(days=(weekday - today.weekday()) % 7)
    day = monday + dt.timedelta(days=7 * weeks + weekday)
    return day if day >= today else None


# --- a question about the question, inside a form ---------------------------------------------------

_WHY = re.compile(
    r"왜\s*(물어|묻|필요|알아야|받|적어야|써야|알려야|입력)|^(이거|그거|이건|그건)?\s*왜(요|죠|예요|에요)?\s*[?？]*$"
    r"|무슨\s*용도|어디에?\s*(써|쓰)|^why\b|why do you (ask|need|want)|what (is|s) (this|it) for|what for")


def asks_why(text: str) -> bool:
    """Whether a short text asks why the bot wants to know ("이거 왜 물어봐요?", "왜 필요해요",
    "why do you need this"): answered with the field's explanation, never taken as the answer."""
    low = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    return len(low) <= 30 and bool(_WHY.search(low))
