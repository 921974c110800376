"""Phone numbers out of free text before admins read it.

A pattern first takes out Korean mobile numbers however they are run together or spaced
(010 1234 5678, 010.1234.5678, 01012345678, +82 10 ...); libphonenumber's matcher then
finds the numbers written the many other ways people write them (landlines with area
codes, brackets, international forms). The matcher is slow, so it only runs on text
that still holds enough digits to be a phone number: most comments have none.
"""

from __future__ import annotations

import re

import phonenumbers

MASK = "***-****-****"
KOREAN_MOBILE = re.compile(r"(?<!\d)(?:\+?82[-.\s]?)?0?1[016789][-.\s)]*\d{3,4}[-.\s]*\d{4}(?!\d)")
MIN_DIGITS = 7  # no phone number has fewer


def redact(text: str) -> str:
    if sum(map(str.isdigit, text)) < MIN_DIGITS:
        return text
    text = KOREAN_MOBILE.sub(MASK, text)
    if sum(map(str.isdigit, text)) < MIN_DIGITS:
        return text
    spans = [(m.start, m.end) for m in phonenumbers.PhoneNumberMatcher(text, "KR")]
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + MASK + text[end:]
    return text
