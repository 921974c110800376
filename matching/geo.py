"""Seoul's districts (구) and which ones border each other, as data (`data/districts.json`).

A seeker who prefers 마포구 will often also take a job in 서대문구 next door: neighbouring
districts count partly in the score. District codes are the ones the registration form
stores (`mapo`); Korean names (마포구, 마포) are accepted where people type them (imports).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from matching.text import compact

_PATH = Path(__file__).with_name("data") / "districts.json"


@cache
def _data() -> tuple[dict[str, str], dict[str, frozenset[str]]]:
    raw = json.loads(_PATH.read_text(encoding="utf-8"))
    return dict(raw["names"]), {k: frozenset(v) for k, v in raw["neighbours"].items()}


def codes() -> tuple[str, ...]:
    return tuple(_data()[0])


def korean(code: str) -> str:
    return _data()[0].get(code, code)


def neighbours(code: str) -> frozenset[str]:
    return _data()[1].get(code, frozenset())


@cache
def _lookup() -> dict[str, str]:
    names, _ = _data()
    table: dict[str, str] = {}
    for code, name in names.items():
        for variant in (code, name, name.removesuffix("구"), f"서울{name}", f"서울특별시{name}", f"{code}-gu"):
            table[compact(variant)] = code
    return table


def district_code(text: str) -> str | None:
    """'마포구', '마포', '서울 마포구', 'Mapo-gu' or 'mapo' -> 'mapo'; None when not a Seoul district."""
    return _lookup().get(compact(text))
