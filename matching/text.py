"""Korean-aware text normalisation for matching job names and skills.

Korean job names are written with and without spaces (웹 개발자 / 웹개발자), in
Hangul or Latin letters (프론트엔드 / 프런트엔드 / front-end), with full-width forms
from word processors, and with role endings (개발자, 담당자, 사무원). Matching
compares a *key*: NFKC, lower case, no spaces or joining punctuation, synonyms
replaced by their group's first word, and a role ending dropped. The synonym table is
data (`data/synonyms.json`) so counselors' vocabulary can grow without code changes.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from functools import cache
from pathlib import Path

DATA = Path(__file__).with_name("data")
# Joining punctuation people put between parts of one word ("front-end", "node.js", "ui/ux").
_JOINERS = re.compile(r"[\s\-_./·•()\[\]{}'\"`~!?:;,]+")


def _is_hangul(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7a3"


def compact(text: str) -> str:
    """NFKC, lower case, without spaces and joining punctuation ('웹 개발자' -> '웹개발자')."""
    return _JOINERS.sub("", unicodedata.normalize("NFKC", text).casefold())


class Synonyms:
    """The synonym groups and role endings, compiled for replacement inside longer text."""

    def __init__(self, groups: list[list[str]], role_suffixes: list[str]) -> None:
        self.canonical: dict[str, str] = {}
        for group in groups:
            head = compact(group[0])
            for word in group:
                self.canonical.setdefault(compact(word), head)
        self.suffixes = sorted((compact(s) for s in role_suffixes), key=len, reverse=True)
        # Inside longer text only words unlikely to be part of another word are replaced:
        # two Hangul syllables or more, or three Latin letters or more ("cs" sits in "physics").
        inner = [w for w in self.canonical if len(w) >= 3 or (len(w) >= 2 and any(_is_hangul(c) for c in w))]
        inner.sort(key=len, reverse=True)
        self._inner = re.compile("|".join(re.escape(w) for w in inner)) if inner else None

    @classmethod
    def load(cls, path: Path = DATA / "synonyms.json") -> Synonyms:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(data["groups"], data["role_suffixes"])

    def strip_role(self, word: str) -> str:
        for suffix in self.suffixes:
            if word.endswith(suffix) and len(word) - len(suffix) >= 2:
                return word[: -len(suffix)]
        return word

    def key(self, text: str) -> str:
        """The comparison key of a job name, skill or title."""
        word = compact(text)
        if not word:
            return ""
        if word in self.canonical:
            return self.canonical[word]
        stripped = self.strip_role(word)
        if stripped in self.canonical:
            return self.canonical[stripped]
        if self._inner is not None:
            stripped = self._inner.sub(lambda m: self.canonical[m.group(0)], stripped)
        return stripped


@cache
def synonyms() -> Synonyms:
    return Synonyms.load()


def key(text: str) -> str:
    """`Synonyms.key` with the shipped table."""
    return synonyms().key(text)


# --- typed answers to a question with buttons ----------------------------------------------------
#
# People type what a button says, without its emoji ("동의합니다" for "✅ 동의합니다"), shortened
# ("동의", "마포"), or as a plain yes or no. A short word may begin both a label and its negation
# ("동의" begins "동의하지 않습니다"), so a typed answer is only matched to labels of its own
# polarity: picking the refusal for an agreement (or the reverse) is the one mistake that matters.

# Parts of a word that make it a negation; looked for in the `plain` form (no spaces).
NEGATIONS = ("않", "아니", "아뇨", "싫", "거부", "거절", "반대", "비동의", "미동의", "못", "안해", "안할",
             "안함", "안하", "그대로둘", "notagree", "disagree", "refuse", "decline", "dont", "donot", "nothanks")
NEGATIVE_WORDS = frozenset({"no", "nope", "n", "not", "never", "노", "ㄴㄴ", "ㄴ", "안돼", "안돼요", "안"})
# A plain yes / no: the one positive or negative choice of a two-way question.
YES = frozenset({"네", "예", "응", "어", "ㅇㅇ", "ㅇ", "좋아요", "좋아", "그래요", "맞아요", "yes", "y", "yeah", "yep",
                 "ok", "okay", "sure"})
NO = frozenset({"아니요", "아니오", "아뇨", "아니", "싫어요", "싫어", "no", "n", "nope", "ㄴㄴ", "노"})


def plain(text: str) -> str:
    """Letters and digits only, NFKC and case-folded: emoji, symbols, punctuation and spaces go
    ('✅ 동의합니다' -> '동의합니다', 'Mapo-gu' -> 'mapogu')."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")


def negative(text: str) -> bool:
    """Whether a label or a typed answer says no ('동의하지 않습니다', '안 해요', 'I do not agree')."""
    key = plain(text)
    if key in NEGATIVE_WORDS or key in NO:
        return True
    words = {plain(w) for w in unicodedata.normalize("NFKC", text).casefold().split()}
    return any(n in key for n in NEGATIONS) or bool(words & {"no", "not", "don't", "dont"})


def pick(typed: str, options: list[tuple[str, list[str]]]) -> str | None:
    """The value among `options` ((value, its names)) the typed answer means, or None.

    An exact name (ignoring decoration) wins; then a name the typed text begins, or that begins
    the typed text ('마포구요'), of the same polarity, when only one value has one; then a plain
    yes / no on a question with exactly one positive and one or more negative choices."""
    key = plain(typed)
    if not key:
        return None
    for value, names in options:
        if key in {plain(n) for n in names}:
            return value
    polarity = negative(typed)
    # One part inside the other ('마포' in '마포구', '마포구' in '마포구요'), else the same first two
    # letters ('동의해요' and '동의합니다'): the first test that names a single value decides.
    tests: tuple[Callable[[str], bool], ...] = (
        lambda other: (len(key) >= 2 and key in other) or (len(other) >= 2 and other in key),
        lambda other: len(key) >= 2 and other[:2] == key[:2],
    )
    for test in tests:
        hits = {value for value, names in options
                if any(plain(n) and negative(n) == polarity and test(plain(n)) for n in names)}
        if len(hits) == 1:
            return hits.pop()
        if hits:
            return None
    positive = [value for value, names in options if not any(negative(n) for n in names)]
    negatives = [value for value, names in options if any(negative(n) for n in names)]
    if len(positive) == 1 and len(negatives) == 1:
        # A two-way question: a plain yes is the one positive choice, any no ('아니요', '안 해요')
        # the one negative choice.
        if key in YES:
            return positive[0]
        if polarity:
            return negatives[0]
    return None
