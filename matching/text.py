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
