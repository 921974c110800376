"""Korean particles (조사) chosen by how the word before them ends.

A catalog text writes the particle in its double form after a placeholder ("‘{team}’을(를)",
"{place}(으)로", "‘{stage}’(이)에요"); `particles()` replaces each double form by the one the
rendered word takes, so no person ever reads "하늘랩을(를)". The word's last sound decides:
a Hangul syllable by its final consonant (받침), a number by how it is read (3 삼, 10 십,
2 이), Latin letters by how Koreans read the word or the initialism (Excel 엑셀, IT 아이티).
Closing quotes and brackets after the word are looked through.

tossi (the one library for this) reads numbers but leaves Latin words in the double form and
has had no release since 2018, so the few rules live here.
"""

from __future__ import annotations

import re

# After the word: what is looked through to reach its last sound.
_CLOSERS = "’'\"”)]}」』》〉>"

# How a digit is read when it is the last one said: 0 영, 1 일, 2 이, 3 삼, 4 사, 5 오, 6 육, 7 칠, 8 팔, 9 구.
# Trailing zeros are said by the unit: 10 십, 100 백, 1,000 천, 10,000 만.
_DIGIT = {"0": "영", "1": "일", "2": "이", "3": "삼", "4": "사", "5": "오", "6": "육", "7": "칠", "8": "팔", "9": "구"}
_UNIT = {1: "십", 2: "백", 3: "천", 4: "만"}

# Initialisms are read letter by letter: only L 엘, M 엠, N 엔 and R 알 end in a consonant.
_LETTER_FINAL = {"L": "ㄹ", "M": "ㅁ", "N": "ㄴ", "R": "ㄹ"}
# A word ending in one of these is read with a final consonant (Excel 엑셀, Slack 슬랙, Python 파이썬,
# Zoom 줌, app 앱); endings in a vowel, -r, -d, -t, -s and -e are read open (Manager 매니저, Word 워드).
_WORD_FINAL = {"l": "ㄹ", "m": "ㅁ", "n": "ㄴ", "ng": "ㅇ", "k": "ㄱ", "ck": "ㄱ", "p": "ㅂ", "b": "ㅂ", "g": "ㄱ"}

_FINALS = ("", "ㄱ", "ㄲ", "ㄳ", "ㄴ", "ㄵ", "ㄶ", "ㄷ", "ㄹ", "ㄺ", "ㄻ", "ㄼ", "ㄽ", "ㄾ", "ㄿ", "ㅀ", "ㅁ", "ㅂ",
           "ㅄ", "ㅅ", "ㅆ", "ㅇ", "ㅈ", "ㅊ", "ㅋ", "ㅌ", "ㅍ", "ㅎ")


def _syllable_final(char: str) -> str | None:
    code = ord(char) - 0xAC00
    return _FINALS[code % 28] if 0 <= code < 11172 else None


def _number_final(number: str) -> str:
    digits = number.replace(",", "")
    stripped = digits.rstrip("0")
    zeros = len(digits) - len(stripped)
    if not stripped:  # 0 영
        return "ㅇ"
    said = _UNIT[zeros % 4 or 4] if zeros else _DIGIT[stripped[-1]]
    return _syllable_final(said) or ""


def final_sound(word: str) -> str | None:
    """The final consonant the word is read with ("" for none), or None when it cannot be told
    (nothing but punctuation or emoji)."""
    text = word.rstrip(_CLOSERS + " ")
    if not text:
        return None
    last = text[-1]
    found = _syllable_final(last)
    if found is not None:
        return found
    if last.isascii() and last.isdigit():
        return _number_final(re.search(r"[0-9][0-9,]*$", text).group())  # type: ignore[union-attr]
    if last.isascii() and last.isalpha():
        letters = re.search(r"[A-Za-z]+$", text).group()  # type: ignore[union-attr]
        if letters.isupper() and len(letters) <= 5:
            return _LETTER_FINAL.get(letters[-1], "")
        lower = letters.lower()
        return _WORD_FINAL.get(lower[-2:]) or ("" if lower[-2:] in ("ck", "ng") else _WORD_FINAL.get(lower[-1], ""))
    return None


# double form -> (with a final consonant, without one); (으)로 is special after ㄹ.
_PAIRS = {
    "이(가)": ("이", "가"), "가(이)": ("이", "가"),
    "을(를)": ("을", "를"), "를(을)": ("을", "를"),
    "은(는)": ("은", "는"), "는(은)": ("은", "는"),
    "과(와)": ("과", "와"), "와(과)": ("과", "와"),
    "(이)에요": ("이에요", "예요"), "이에요(예요)": ("이에요", "예요"),
    "(이)나": ("이나", "나"), "(이)라는": ("이라는", "라는"), "(이)라고": ("이라고", "라고"),
    "(으)로": ("으로", "로"),
}
_MARK = re.compile(r"(\S+?)(" + "|".join(re.escape(k) for k in sorted(_PAIRS, key=len, reverse=True)) + ")")


def attach(word: str, double: str) -> str:
    """`word` followed by the form of the particle (`_PAIRS` key) it takes."""
    with_final, without = _PAIRS[double]
    final = final_sound(word)
    if final is None:  # an emoji or a symbol: the double form says both
        return word + double
    if double == "(으)로" and final == "ㄹ":
        return word + without
    return word + (with_final if final else without)


def particles(text: str) -> str:
    """Every double-form particle in a rendered text resolved by the word before it."""
    if "(" not in text:
        return text
    return _MARK.sub(lambda m: attach(m.group(1), m.group(2)), text)


def manwon(amount: int) -> str:
    """An amount given in 만원 as Koreans write money: 4500 → "4,500만원", 15000 → "1억 5,000만원",
    10000 → "1억원". "15,000만원" is correct arithmetic but nobody reads it at a glance."""
    if amount == 0:
        return "0원"
    eok, rest = divmod(amount, 10_000)
    parts = [f"{eok:,}억"] if eok else []
    if rest:
        parts.append(f"{rest:,}만")
    return " ".join(parts) + "원"


def manwon_range(low: int, high: int) -> str:
    """A range in 만원: "3,000~4,500만원" when both are below 1억 (the unit said once), else each in
    full ("8,000만원~1억 2,000만원")."""
    if low > 0 and high < 10_000:
        return f"{low:,}~{high:,}만원"
    return f"{manwon(low)}~{manwon(high)}"
