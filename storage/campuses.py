"""Campus branches (캠퍼스점) and partner 특성화고, as data.

The directory is a JSON file (`storage/data/campuses.json`, or the centre's own copy named by
CAMPUSES_FILE) listing the 22 university campus branches, where a counselor sits on given
weekdays, and the vocational high schools the centre partners with, two per district, each
with its assigned 시민일자리설계사. A branch's `place` is the name of the place its counselors'
hours are kept under (`storage.counselors.place`), so the hours, bookings and the branch meet
by that name.

A seeker's typed school name is resolved to an entry (`Directory.resolve`): exact on the name
or an alias once spaces, case and the long form are gone ("연세대학교", "연세대", "연대",
"Yonsei"), or close enough by
rapidfuzz for a typo ("연새대학교"). The code is kept on the profile (`school_code`).
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rapidfuzz import fuzz, process
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from matching import geo
from matching.text import compact
from storage.models import SeekerProfile

DEFAULT_FILE = Path(__file__).with_name("data") / "campuses.json"
# rapidfuzz ratio on the compacted names at or above which a typed school is taken as that one.
CLOSE_ENOUGH = 88.0


# Long and short forms of one school: 연세대학교 / 연세대학 / 연세대, 서울디지텍고등학교 / 서울디지텍고.
_SHORT = (("여자대학교", "여대"), ("대학교", "대"), ("대학", "대"), ("고등학교", "고"))


def canonical(typed: str) -> str:
    word = compact(typed)
    for long, short in _SHORT:
        if word.endswith(long):
            return word[: -len(long)] + short
    return word


def _jamo(word: str) -> str:
    return unicodedata.normalize("NFD", word)


@dataclass(frozen=True)
class Branch:
    """A campus branch (kind "campus") or a partner school (kind "high_school")."""

    code: str
    kind: str
    name: str  # the university or the school
    district: str
    address: str
    counselor: str
    place: str  # the place name the counselors' hours use
    days: tuple[str, ...] = ()  # weekdays a campus counselor is there: mon ... sun
    aliases: tuple[str, ...] = ()


class Directory:
    def __init__(self, branches: list[Branch]) -> None:
        self.branches = branches
        self.by_code = {b.code: b for b in branches}
        self.by_place = {(b.kind, b.place): b for b in branches}
        self._names: dict[str, str] = {}
        for b in branches:
            for word in (b.name, *b.aliases):
                self._names.setdefault(canonical(word), b.code)
        self._by_jamo = {_jamo(compact(b.name)): b.code for b in branches}
        self._jamo = list(self._by_jamo)

    def resolve(self, typed: str) -> Branch | None:
        """The branch or partner school a typed school name means, or None."""
        word = canonical(typed)
        if not word:
            return None
        found = self._names.get(word)
        if found is None:
            # Compared letter by letter (jamo): a typo changes one jamo of a syllable (연새 / 연세),
            # which whole syllables would count as a different character.
            # Only full names are compared: among short ones (한국대 / 한국외대) one letter is too much.
            best = process.extractOne(_jamo(compact(typed)), self._jamo, scorer=fuzz.ratio,
                                      score_cutoff=CLOSE_ENOUGH)
            found = self._by_jamo[best[0]] if best else None
        return self.by_code.get(found) if found else None

    def campuses(self) -> list[Branch]:
        return [b for b in self.branches if b.kind == "campus"]

    def near(self, districts: tuple[str, ...] | list[str], kind: str = "campus", limit: int = 5) -> list[Branch]:
        """Branches in the districts given, then in neighbouring ones (the whole list when none is given)."""
        pool = [b for b in self.branches if b.kind == kind]
        if not districts:
            return pool[:limit]
        mine = set(districts)
        around = set().union(*(geo.neighbours(d) for d in mine)) - mine
        ordered = [b for b in pool if b.district in mine] + [b for b in pool if b.district in around]
        return ordered[:limit]


def parse(data: dict[str, object]) -> Directory:
    """The directory from the file's JSON; a malformed entry raises ValueError naming it."""
    branches: list[Branch] = []
    codes = set(geo.codes())
    for kind, key in (("campus", "campuses"), ("high_school", "schools")):
        rows = data.get(key, [])
        if not isinstance(rows, list):
            raise ValueError(f"{key} must be a list")
        for row in rows:
            try:
                name = str(row["university" if kind == "campus" else "name"])
                branch = Branch(code=str(row["code"]), kind=kind, name=name, district=str(row["district"]),
                                address=str(row.get("address") or ""), counselor=str(row.get("counselor") or ""),
                                place=str(row.get("place") or name), days=tuple(row.get("days") or ()),
                                aliases=tuple(row.get("aliases") or ()))
            except (KeyError, TypeError) as exc:
                raise ValueError(f"{key}: entry {row!r} lacks {exc}") from None
            if branch.district not in codes:
                raise ValueError(f"{key}: {branch.code} has unknown district {branch.district!r}")
            if branch.code in {b.code for b in branches}:
                raise ValueError(f"{key}: code {branch.code} appears twice")
            branches.append(branch)
    return Directory(branches)


@lru_cache(maxsize=4)
def directory(path: Path | None = None) -> Directory:
    """The directory of that file (default: the packaged one), read once per process."""
    return parse(json.loads((path or DEFAULT_FILE).read_text(encoding="utf-8")))


async def branch_of(session: AsyncSession, user_id: int, found: Directory) -> Branch | None:
    """The campus branch or partner school a registered seeker's school links to."""
    code = await session.scalar(select(SeekerProfile.school_code).where(SeekerProfile.user_id == user_id))
    return found.by_code.get(code) if code else None


async def students_of(session: AsyncSession, code: str, limit: int = 50) -> tuple[list[SeekerProfile], int]:
    """The registered seekers linked to one branch (newest first, at most `limit`) and how many there are."""
    rows = list(await session.scalars(select(SeekerProfile).where(SeekerProfile.school_code == code)
                                      .order_by(SeekerProfile.registered_at.desc()).limit(limit)))
    total = await session.scalar(select(func.count()).select_from(SeekerProfile)
                                 .where(SeekerProfile.school_code == code))
    return rows, int(total or 0)
