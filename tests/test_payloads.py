"""The typed button payload codec (kernel.payloads): what `pack` writes is what the bot always
sent, so buttons already in people's chats still decode; anything else is BadPayload."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Literal

import pytest

from kernel.core import MAX_ID, BadPayload, stamp
from kernel.payloads import Max, Pattern, Payload, Stamp, form_version, reserved, same_record


@dataclass(frozen=True)
class Attend(Payload, prefix="tst", action="att"):
    registration: int
    proof: Stamp
    offset: int = 0


@dataclass(frozen=True)
class Answer(Payload, prefix="tsv", action="a", action_at=1):
    request: int
    question: Annotated[int, Max(9)]
    value: int


@dataclass(frozen=True)
class Mark(Payload, prefix="tmk"):
    referral: int
    status: Literal["hired", "failed"]
    proof: Stamp


@dataclass(frozen=True)
class Long(Payload, prefix="tlg"):
    text: Annotated[str, Pattern(r"[a-z]+")]


@dataclass(frozen=True)
class Export(Payload, prefix="tex", action="csv"):
    code: Annotated[str, Pattern(r"[0-9]{8}-[0-9]{8}")]


def test_pack_writes_the_strings_the_bot_always_sent() -> None:
    assert Attend(12, "abc", 20).pack() == "tst:att:12:abc:20"
    assert Answer(7, 3, 5).pack() == "tsv:7:a:3:5"
    assert Mark(4, "hired", "z9").pack() == "tmk:4:hired:z9"
    assert Export("20260101-20260331").pack() == "tex:csv:20260101-20260331"


@pytest.mark.parametrize("value", [Attend(12, "abc", 20), Answer(7, 9, MAX_ID), Mark(0, "failed", "1"),
                                   Export("20260101-20260331")])
def test_round_trip(value: Payload) -> None:
    assert type(value).unpack(value.pack()) == value


def test_a_missing_trailing_field_with_a_default_decodes_as_before() -> None:
    assert Attend.unpack("tst:att:12:abc") == Attend(12, "abc", 0)


def test_over_64_bytes_is_refused_at_build_time() -> None:
    assert len(Long("a" * 60).pack()) == 64
    with pytest.raises(ValueError, match="64 bytes"):
        Long("a" * 61).pack()
    with pytest.raises(BadPayload):
        Long.unpack("tlg:" + "a" * 61)


@pytest.mark.parametrize("value", [Attend(-1, "abc"), Attend(1, "ABC"), Attend(1, "a:b"), Answer(1, 10, 1),
                                   Mark(1, "maybe", "abc"), Export("2026-01-01")])  # type: ignore[arg-type]
def test_what_would_not_unpack_is_refused_at_build_time(value: Payload) -> None:
    with pytest.raises(ValueError, match="would not unpack"):
        value.pack()


@pytest.mark.parametrize("codec, data", [
    (Attend, "tst:att:12"), (Attend, "tst:att:-1:abc"), (Attend, "tst:att:1²:abc"), (Attend, "tst:att:１:abc"),
    (Attend, f"tst:att:{MAX_ID + 1}:abc"), (Attend, "tst:att:12:ABC"), (Attend, "tst:att:12::0"),
    (Attend, "tst:att:12:abc:0:extra"), (Attend, "tst:x:12:abc"), (Attend, "zz:att:12:abc"), (Attend, ""),
    (Attend, "tst:att:12:abc:" + "9" * 60), (Answer, "tsv:7:a:10:1"), (Answer, "tsv:a:7:1:1"),
    (Mark, "tmk:4:hire:z9"), (Mark, "tmk:4:hired:\u200b"), (Export, "tex:csv:2026-01-01"), (Export, "tex:csv"),
])
def test_garbage_is_bad_payload(codec: type[Payload], data: str) -> None:
    with pytest.raises(BadPayload):
        codec.unpack(data)


def test_stamps_name_the_record() -> None:
    created = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)
    press = Mark.unpack(f"tmk:4:hired:{stamp(created)}")
    assert same_record(press.proof, created)
    assert not same_record(press.proof, created + dt.timedelta(seconds=1))


def test_reserved_heads_stay_the_engines() -> None:
    assert form_version("f12") == 12 and form_version("f") is None and form_version("f1x") is None
    assert reserved("m") and reserved("f") and reserved("fa") and not reserved("bk")
    for prefix in ("m", "f1", "BK", "b:k", ""):
        with pytest.raises(ValueError):
            type("Bad", (Payload,), {}, prefix=prefix)


# Payloads as the bot sent them before the codecs (and still does): each must decode to a value
# of the kind its prefix and action name, and pack back to the very same string.
OLD_BUTTONS = [
    "bk:c:12", "bk:cy:12", "bk:r:12", "bk:keep", "set:ann:off", "set:dig:on", "ho:a:3:t0x9k2",
    "bc:send:4", "bc:edit:4", "bc:drop:4", "bc:stop:4", "bc:list", "rf:8:hired:t0x9k2", "rf:8:referred:t0x9k2",
    "pa:c:5", "pa:o:5", "pa:e:5", "job:p:5", "job:d:9", "job:i:9", "job:x:9", "job:f:2",
    "ev:p:5", "ev:reg:3", "ev:wait:3", "ev:c:3", "ev:cy:3", "ev:ok:3", "ev:pass:3", "ev:keep",
    "eva:pub:3", "eva:draft:3", "eva:e:3", "eva:x:3", "eva:xy:3", "eva:keep", "eva:v:3", "eva:l:10",
    "eva:ppl:3:0", "eva:ppl:3:20", "eva:att:7:t0x9k2:20", "sv:6:go", "sv:6:skip", "sv:6:later", "sv:6:a:0:5",
    "sv:6:t:2:1", "sv:6:d:2", "sv:6:n:3", "adm:ok:4:t0x9k2", "adm:no:4:t0x9k2", "adm:stg:4:2:t0x9k2",
    "adm:apps:10", "adm:mems:10", "cs:aw", "cs:off", "cs:rw:3", "cs:rd:3", "cs:at:9:t0x9k2", "cs:ns:9:t0x9k2",
    "cadm:pg:10", "cadm:d:2:t0x9k2", "cadm:dy:2:t0x9k2", "cadm:keep", "pit:3", "pia:sl:5:t0x9k2",
    "pia:sel:5:t0x9k2", "pia:rej:5:t0x9k2", "pia:ls:3:0", "pia:nt:3", "pia:csv:3", "st:p:month", "st:custom",
    "st:csv:20260101-20260331", "st:xlsx:20260101-20260331", "qa:centre_location",
    "cmp:c:2", "crs:f:20", "crs:i:1", "crs:s", "crs:my", "crs:a:3", "crs:ay:3", "crs:r:4:5:t0x9k2", "crsa:l:3",
    "crsa:d:4:selected:t0x9k2", "crsa:d:4:not_selected:t0x9k2", "mt:m", "mt:e", "mt:ok:6:t0x9k2",
    "mt:no:6:busy:t0x9k2", "mt:end:6:done:t0x9k2", "mta:sel:2:selected:t0x9k2", "mta:ok:6:t0x9k2",
    "ho:t:3:t0x9k2",
    "cl:s:5:t0x9k2", "cl:w:5:t0x9k2", "cl:v:5:t0x9k2", "cl:r:5:t0x9k2:4", "cl:q:5:t0x9k2", "cl:k:5:t0x9k2",
    "clr:o:5:t0x9k2", "clr:c:5:t0x9k2", "clr:m:5:t0x9k2", "clr:f:5:t0x9k2", "clr:d:5:t0x9k2", "clr:n:5:t0x9k2",
    "clr:a:5:t0x9k2", "clr:g:7:t0x9k2",
]
# Buttons made before a trailing field existed decode with its default.
SHORT_BUTTONS = {"eva:ppl:3": "eva:ppl:3:0", "pia:ls:3": "pia:ls:3:0", "eva:att:7:t0x9k2": "eva:att:7:t0x9k2:0"}


def _codecs() -> dict[str, list[type[Payload]]]:
    from bot.app import ROUTERS

    found: dict[str, list[type[Payload]]] = {}
    for build in ROUTERS:
        for route in build().buttons:
            found.setdefault(route.prefix, []).append(route.codec)
    for kinds in found.values():
        kinds.sort(key=lambda c: c.action is None)  # as the engine tries them
    return found


def _decode(data: str) -> Payload:
    kinds = _codecs()[data.split(":")[0]]
    return next(c for c in kinds if c.matches(data)).unpack(data)


@pytest.mark.parametrize("data", OLD_BUTTONS)
def test_old_buttons_decode_and_pack_back_the_same(data: str) -> None:
    assert _decode(data).pack() == data


@pytest.mark.parametrize("data, full", SHORT_BUTTONS.items())
def test_old_buttons_without_a_later_field_decode_with_its_default(data: str, full: str) -> None:
    assert _decode(data).pack() == full


def test_every_registered_kind_is_among_the_old_buttons() -> None:
    """A new kind of button gets a line in OLD_BUTTONS, so its strings are pinned from then on."""
    pinned = {type(_decode(data)) for data in OLD_BUTTONS}
    assert {c for kinds in _codecs().values() for c in kinds} == pinned
