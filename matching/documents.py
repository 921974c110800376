"""Reading a sent résumé or cover letter, and the clinic's automatic first pass (pure, no I/O).

`identify` says what a file is from its bytes (never from its name alone: a name is only used to
refuse a disguised program such as "이력서.pdf.exe"); `extract` reads its text within fixed bounds
(pages, characters, and for DOCX/HWPX, which are zip archives of XML, the bytes decompressed, read
chunk by chunk so a zip bomb stops at the limit instead of filling memory); `first_pass` lists
findings in plain terms for the seeker and the counselor.

A resident registration number (주민등록번호) found in a text is flagged and masked in the extract
(`mask_ids`), so it is never stored.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import defusedxml.ElementTree as SafeXml
import pypdf
from defusedxml import DefusedXmlException
from pypdf import PasswordType
from pypdf.errors import FileNotDecryptedError, PdfReadError, PyPdfError

# The formats taken and their first bytes; office formats are zip or OLE containers told apart below.
READABLE = ("pdf", "docx", "hwpx")
TAKEN = ("pdf", "docx", "hwpx", "hwp", "jpg", "png")
MAX_PAGES = 30  # a résumé or portfolio excerpt; more is refused rather than read for seconds
MAX_CHARS = 60_000  # kept of a text (about 20 pages of Korean)
MAX_UNZIPPED = 8 * 1024 * 1024  # bytes of XML read from one DOCX/HWPX in all
MAX_MEMBERS = 2000  # entries in its zip
PREVIEW_CHARS = 300
# Names of programs and scripts that a person never sends as a document.
RISKY_SUFFIXES = frozenset(("exe", "scr", "bat", "cmd", "com", "js", "vbs", "msi", "jar", "ps1", "lnk", "pif",
                            "apk", "sh", "dll", "hta", "wsf"))


class Unreadable(Exception):
    """A file refused; `reason` names why ("type", "empty", "encrypted", "pages", "bomb", "damaged", "risky")."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Extract:
    format: str
    text: str  # masked (`mask_ids`); "" for photos and HWP
    pages: int | None = None
    truncated: bool = False
    ids_masked: int = 0  # resident registration numbers found and masked


def risky_name(name: str | None) -> bool:
    """A file name that hides a program ("이력서.pdf.exe"), or ends in one."""
    if not name:
        return False
    parts = name.lower().rsplit(".", 2)
    return len(parts) > 1 and (parts[-1] in RISKY_SUFFIXES or (len(parts) > 2 and parts[-2] in RISKY_SUFFIXES))


def identify(data: bytes) -> str | None:
    """The format of `data` among `TAKEN`, or None when it is none of them."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        # 한글's binary format: an OLE file with its own summary stream.
        return "hwp" if "HwpSummaryInformation".encode("utf-16-le") in data[:1 << 16] else None
    if data.startswith(b"PK\x03\x04"):
        try:
            names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        except (zipfile.BadZipFile, ValueError, OSError):
            return None
        if "word/document.xml" in names:
            return "docx"
        if any(n.startswith("Contents/section") for n in names):
            return "hwpx"
    return None


ID_NUMBER = re.compile(r"(?<!\d)(\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\s?-\s?([1-8])\d{6}(?!\d)")
# A number as `mask_ids` leaves it: counted again at the first pass over the stored text.
ID_NUMBER_MASKED = re.compile(r"(?<!\d)\d{6}-\*{7}")
PHONE = re.compile(r"(?<!\d)01[016789][\s.-]?\d{3,4}[\s.-]?\d{4}(?!\d)")


# What no database column takes (NUL, lone surrogates) and control characters a page can carry.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def printable(text: str) -> str:
    return _UNPRINTABLE.sub("", text)


def mask_ids(text: str) -> tuple[str, int]:
    """`text` with every resident registration number masked to its birth date, and how many there were."""
    masked, count = ID_NUMBER.subn(lambda m: f"{m[1]}{m[2]}{m[3]}-*******", text)
    return masked, count


def extract(data: bytes, fmt: str) -> Extract:
    """The text of a file of format `fmt` (from `identify`), bounded; Unreadable when it cannot be read."""
    if not data:
        raise Unreadable("empty")
    if fmt == "pdf":
        text, pages = _pdf(data)
    elif fmt == "docx":
        text, pages = _zipped_xml(data, ["word/document.xml"]), None
    elif fmt == "hwpx":
        names = _zip_names(data)
        sections = sorted((n for n in names if re.fullmatch(r"Contents/section\d+\.xml", n)),
                          key=lambda n: int(re.sub(r"\D", "", n)))
        text, pages = _zipped_xml(data, sections), None
    elif fmt in TAKEN:
        return Extract(fmt, "")  # photos and HWP: the counselor reads the file itself
    else:
        raise Unreadable("type")
    text = re.sub(r"[ \t\u00a0]+", " ", printable(text))
    text = re.sub(r"\n\s*\n+", "\n", text).strip()
    truncated = len(text) > MAX_CHARS
    masked, count = mask_ids(text[:MAX_CHARS])
    return Extract(fmt, masked, pages, truncated, count)


def _pdf(data: bytes) -> tuple[str, int]:
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            # Only an owner password (printing/copying limits) opens with the empty one.
            try:
                opened = reader.decrypt("") != PasswordType.NOT_DECRYPTED
            except (NotImplementedError, PyPdfError, ValueError):  # an unknown or unsupported scheme
                opened = False
            if not opened:
                raise Unreadable("encrypted")
        pages = len(reader.pages)
        if pages > MAX_PAGES:
            raise Unreadable("pages")
        parts: list[str] = []
        size = 0
        for page in reader.pages:
            chunk = page.extract_text() or ""
            parts.append(chunk)
            size += len(chunk)
            if size > MAX_CHARS:
                break
        return "\n".join(parts), pages
    except Unreadable:
        raise
    except FileNotDecryptedError:
        raise Unreadable("encrypted") from None
    # A sent file is anything at all: pypdf meets damage with many kinds of error, all "damaged" here.
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError,
            RecursionError, OSError, ZeroDivisionError, AssertionError):
        raise Unreadable("damaged") from None


def _zip_names(data: bytes) -> list[str]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError):
        raise Unreadable("damaged") from None
    names = archive.namelist()
    if len(names) > MAX_MEMBERS:
        raise Unreadable("bomb")
    return names


def _zipped_xml(data: bytes, members: Sequence[str]) -> str:
    """The text of these XML members, decompressing at most MAX_UNZIPPED bytes in all (the sizes the
    archive declares are not trusted: it is read in chunks and stopped at the limit)."""
    if not members:
        raise Unreadable("damaged")
    _zip_names(data)
    budget = MAX_UNZIPPED
    texts: list[str] = []
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        for name in members:
            buf = bytearray()
            with archive.open(name) as stream:
                while chunk := stream.read(64 * 1024):
                    buf += chunk
                    if len(buf) > budget:
                        raise Unreadable("bomb")
            budget -= len(buf)
            texts.append(_xml_text(bytes(buf)))
    except (KeyError, zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError):
        raise Unreadable("damaged") from None
    return "\n".join(texts)


def _xml_text(xml: bytes) -> str:
    """Paragraph texts of a Word (w:p / w:t) or 한글 (hp:p / hp:t) body, one line per paragraph."""
    try:
        root = SafeXml.fromstring(xml)
    except (DefusedXmlException, SafeXml.ParseError, ValueError):
        raise Unreadable("damaged") from None
    out: list[str] = []

    def walk(node: Any) -> None:
        for child in node:
            local = child.tag.rsplit("}", 1)[-1] if isinstance(child.tag, str) else ""
            if local == "t":
                out.append("".join(child.itertext()))
            elif local == "tab":
                out.append(" ")
            else:
                walk(child)
                if local == "p":
                    out.append("\n")

    walk(root)
    return "".join(out)


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


# --- the first pass -------------------------------------------------------------------------------

# The sections a Korean résumé is expected to have, with words that mark each.
SECTIONS: dict[str, tuple[str, ...]] = {
    "personal": ("인적사항", "인적 사항", "성명", "이름", "연락처", "이메일"),
    "education": ("학력", "학교", "졸업", "전공"),
    "career": ("경력", "경험", "근무", "인턴", "프로젝트", "활동"),
    "certificates": ("자격증", "자격", "면허", "어학"),
    "introduction": ("자기소개", "지원동기", "지원 동기", "성장과정", "성장 과정", "입사 후 포부", "포부"),
}
# Words often misspelt in applications, and how they are written.
SPELLING: dict[str, str] = {
    "되요": "돼요", "됬": "됐", "몇일": "며칠", "역활": "역할", "금새": "금세", "희안": "희한",
    "오랫만": "오랜만", "왠만": "웬만", "일일히": "일일이", "할께요": "할게요", "할께": "할게",
    "어떻해": "어떻게 해", "어떡게": "어떻게", "않되": "안 되", "안되요": "안 돼요", "바램": "바람",
    "단언컨데": "단언컨대", "설레임": "설렘", "내노라": "내로라", "문안하": "무난하", "어의없": "어이없",
    "역임하였": "맡았", "틈틈히": "틈틈이", "깨끗히": "깨끗이", "곰곰히": "곰곰이", "솔직이": "솔직히",
}
SHORT_SECTION = 150  # characters: a section of a cover letter shorter than this says little
LONG_TEXT = 5000  # characters: more than a cover letter usually takes


@dataclass(frozen=True)
class Finding:
    """One finding: a catalog key's last part and its parameters (said in the reader's language)."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "params": self.params}


def sections_found(text: str) -> dict[str, int]:
    """Section -> characters under its heading, for the sections whose heading words appear at the
    start of a line; a section that only appears mid-sentence counts as present with 0."""
    lengths: dict[str, int] = {}
    current: str | None = None
    for line in text.splitlines():
        stripped = line.strip().lstrip("■□●○◆◇▶-*#0123456789.[]() ")
        heading = next((name for name, words in SECTIONS.items()
                        if len(stripped) <= 30 and any(stripped.startswith(w) for w in words)), None)
        if heading is not None:
            current = heading
            lengths.setdefault(current, 0)
            continue
        if current is not None:
            lengths[current] += len(line.strip())
    for name, words in SECTIONS.items():
        if name not in lengths and any(w in text for w in words):
            lengths[name] = 0
    return lengths


def first_pass(text: str, documents: Iterable[str], *, ids_masked: int = 0,
               wanted_skills: Sequence[str] = ()) -> list[Finding]:
    """Findings about a document's text, in the order a reader would fix them."""
    documents = set(documents)
    found: list[Finding] = []
    if ids_masked:
        found.append(Finding("id_number", {"n": ids_masked}))
    if not text.strip():
        return [*found, Finding("no_text")]
    found.append(Finding("length", {"n": len(text)}))
    sections = sections_found(text)
    if "resume" in documents:
        missing = [name for name in SECTIONS if name not in sections]
        if missing:
            found.append(Finding("missing_sections", {"sections": missing}))
    if "cover_letter" in documents:
        if PHONE.search(text) and "resume" not in documents:
            found.append(Finding("phone"))
        for name, length in sections.items():
            if 0 < length < SHORT_SECTION and name == "introduction":
                found.append(Finding("short_section", {"section": name, "n": length}))
        if len(text) > LONG_TEXT:
            found.append(Finding("long", {"n": len(text)}))
    spelt = [(wrong, right) for wrong, right in SPELLING.items() if wrong in text]
    if spelt:
        found.append(Finding("spelling", {"pairs": spelt[:8]}))
    if wanted_skills:
        flat = text.lower().replace(" ", "")
        absent = [s for s in wanted_skills if s.lower().replace(" ", "") not in flat]
        if absent:
            found.append(Finding("skills_absent", {"skills": absent[:10]}))
    return found


def skills_in(text: str, vocabulary: Iterable[str]) -> list[str]:
    """The skills of `vocabulary` the text names (whole words for Latin names: "R" is not in "Rust")."""
    hits: list[str] = []
    for skill in vocabulary:
        if not skill or skill in hits:
            continue
        if skill.isascii():
            if re.search(rf"(?<![A-Za-z0-9+#]){re.escape(skill)}(?![A-Za-z0-9+#])", text, re.IGNORECASE):
                hits.append(skill)
        elif skill in text:
            hits.append(skill)
    return hits
