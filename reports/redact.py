"""Phone numbers out of free text before admins read it.

libphonenumber's matcher finds numbers written the many ways people write them (with
+82, spaces, brackets); the pattern below also catches Korean mobile numbers the
matcher leaves alone in lenient text (010 1234 5678 run together with words, 010.1234.5678).
"""

from __future__ import annotations

import re

import phonenumbers

MASK = "***-****-****"
KOREAN_MOBILE = re.compile(r"(?<!\d)(?:\+?82[-.\s]?)?0?1[016789][-.\s)]*\d{3,4}[-.\s]*\d{4}(?!\d)")


MIN_DIGITS = 7  # no phone number has fewer; most comments have none, and the matcher is slow


def redact(text: str) -> str:
    if sum(map(str.isdigit, text)) < MIN_DIGITS:
        return text
    spans = [(m.start, m.end) for m in phonenumbers.PhoneNumberMatcher(text, "KR")]
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + MASK + text[end:]
    return KOREAN_MOBILE.sub(MASK, text)
