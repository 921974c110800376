"""Arbitrary button payloads into every router's decoding, pressed by an admin, an ordinary person
and the owner of the records (issue 13, "Fuzzing that keeps it fixed"), on SQLite and PostgreSQL.

The world of `tests/test_access_walk.py` is built once per test (a registered seeker with a
referral, a membership application, bookings, an event seat, a demo-day pitch, a survey
invitation; a counselor; the admin's lists), so real ids, stamps and actions exist. Each example
is one press by one of the three people of a payload that is either any text at all, or built
from the real heads (every registered button kind's prefix and action word, "m:<command>",
"f<version>:" with the presser's current version) and odd parts (negative, huge, non-ASCII
digits, empty, surrogates, ':' runs), or a real payload of the world or of the presser's last
answer, as is or with a part changed, dropped or added, or cut short: so examples reach into
each handler and each form step.

The property, for every press: the engine answers (a reply or a toast), nothing escapes it, no
ERROR is logged (a handler failure is logged at ERROR and answered with the retry line, so this
is "no handler bug"), and a press answered as expired or refused leaves the database as it was,
but for what any message writes about its sender (their conversation row, last-seen time, and
their user and identity on their first message). Valid presses may change anything: the world is
kept across examples, so later examples meet what earlier ones did (a cancelled booking, a
deleted account, a form half filled). `--hypothesis-show-statistics` shows how the presses split.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from kernel import metrics
from kernel.core import Response
from kernel.i18n import LOCALES, catalog
from storage.models import Conversation
from tests.conftest import ADMIN_ID, Chat, Harness
from tests.fuzz import Snapshot, changes, error_log, odd_part, odd_text, snapshot
from tests.test_access_walk import SEEKER, STRANGER, _payloads, _world

# Real processes or many generated examples: left out of the quick loop (`-m 'not slow'`), run by CI.
pytestmark = pytest.mark.slow

CHANNEL = "telegram"
# Who presses: the admin, an ordinary person with nothing of their own, the owner of the records.
PRESSERS = (ADMIN_ID, STRANGER, SEEKER)

# --- what counts as "refused" ---------------------------------------------------------------------

# Answers that say nothing was done: the guards, items gone or not found, buttons expired or
# already used, a live chat that takes no menu. A press answered with one of them (or that the
# engine counted as expired) must leave the database as it was.
_REFUSAL_KEY = re.compile(r"^button\.(expired|expired_short|already)$|\.only$|not_found|gone|already|"
                          r"^command\.unknown$|^form\.unknown_choice$|^mode\.busy$")


def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(".*?".join(map(re.escape, re.split(r"\{[^{}]*\}", text))), re.DOTALL)


REFUSALS = [_pattern(text) for locale in LOCALES for key, text in catalog(locale).items() if _REFUSAL_KEY.search(key)]


def refused(response: Response) -> bool:
    said = [response.toast or "", response.replies[0].text if response.replies else ""]
    return any(p.fullmatch(text) for p in REFUSALS for text in said if text)


def expired_count() -> float:
    return metrics.REGISTRY.get_sample_value("jobhub_updates_total",
                                             {"channel": CHANNEL, "outcome": "expired"}) or 0.0


# --- payloads -------------------------------------------------------------------------------------

# A payload as a recipe that does not depend on the world (Hypothesis needs the same draws for the
# same choices); `resolve` makes the payload from it against the world and the presser's buttons.
# Indices pick from lists known only once the world is built, modulo their length.
index = st.integers(min_value=0, max_value=10_000)
part = st.one_of(odd_part, st.tuples(st.just("real"), index))
recipes = st.one_of(
    st.tuples(st.just("text"), odd_text),
    st.tuples(st.just("built"), index, st.lists(part, max_size=6)),
    st.tuples(st.just("built"), index, st.lists(part, max_size=6)),
    st.tuples(st.just("real"), index),
    st.tuples(st.just("own"), index),
    st.tuples(st.just("own"), index),
    st.tuples(st.just("change"), st.sampled_from(["real", "own"]), index,
              st.sampled_from(["replace", "replace", "drop", "add", "cut"]), index, part),
)


@dataclass
class World:
    pressers: dict[int, Chat]
    real: list[str]  # every payload the world's people were shown
    heads: list[str]  # every button kind's head ("bk:c", "sv"), every prefix, "m:<command>", old form versions
    parts: list[str]  # every part of a real payload after its prefix
    before: Snapshot | None = None  # the database before the next press, when known


def resolve(recipe: tuple[Any, ...], world: World, heads: list[str], own: list[str]) -> str:
    def pick(items: list[str], i: int) -> str:
        return items[i % len(items)]

    def one(p: str | tuple[str, int]) -> str:
        return p if isinstance(p, str) else pick(world.parts, p[1])

    kind = recipe[0]
    if kind == "text":
        return str(recipe[1])
    if kind == "built":
        return ":".join([pick(heads, recipe[1]), *map(one, recipe[2])])
    if kind == "real" or (kind == "own" and not own):
        return pick(world.real, recipe[1])
    if kind == "own":
        return pick(own, recipe[1])
    _, source, i, how, j, new = recipe
    base = pick(own if source == "own" and own else world.real, i)
    pieces = base.split(":")
    j %= len(pieces)
    if how == "replace":
        pieces[j] = one(new)
    elif how == "drop" and len(pieces) > 1:
        del pieces[j]
    elif how == "add":
        pieces.insert(j + 1, one(new))
    else:
        return base[: j * 7 % (len(base) + 1)]
    return ":".join(pieces)


async def build_world(h: Harness) -> World:
    staff, mine = await _world(h)
    pressers = {who: h.chat(who) for who in PRESSERS}
    await pressers[STRANGER].send("/start")
    await pressers[SEEKER].send("/end")  # out of the live chat the world left them in: the menu works
    real = sorted(staff | mine | _payloads(pressers[STRANGER].replies))
    # Every registered codec, by its head (prefix and action word), so built payloads reach each kind's
    # fields; the bare prefixes too, for payloads that name no kind of theirs.
    kinds = {route.codec.head() for routes in h.engine._buttons.values() for route in routes}
    heads = sorted({*h.engine._buttons, *kinds, "kakao", "f", "f0", "f-1"}
                   | {f"m:{name}" for name in h.engine._commands})
    return World(pressers, real, heads, sorted({x for p in real for x in p.split(":")[1:]}))


def sender(chat: Chat) -> tuple[str, str]:
    return chat.channel, chat.user_id


async def _version(h: Harness, chat: Chat) -> int:
    async with h.sessions() as s:
        conv = await s.get(Conversation, (chat.channel, chat.user_id))
        return int(conv.version) if conv is not None else 0


# One harness (database) per test, reused by every example: the world takes a second or two to
# build, a press a few milliseconds. The property holds whatever earlier examples did.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
async def test_arbitrary_payloads_are_answered_and_change_nothing_unless_valid(harness: Harness,
                                                                                 data: st.DataObject) -> None:
    h = harness
    world: World | None = getattr(h, "fuzz_world", None)
    if world is None:
        world = await build_world(h)
        h.fuzz_world = world  # type: ignore[attr-defined]
    chat = world.pressers[data.draw(st.sampled_from(PRESSERS), label="presser")]
    recipe = data.draw(recipes, label="recipe")
    version = await _version(h, chat)
    # The presser's current form version (twice: the likeliest to reach a form step) and the one before.
    heads = [*world.heads, f"f{version}", f"f{version}", f"f{version - 1}"]
    payload = resolve(recipe, world, heads, sorted(chat.last_buttons.values()))
    note(f"payload {payload!r} pressed by {chat.user_id}")
    if world.before is None:
        world.before = await snapshot(h.sessions)
    expired = expired_count()
    with error_log() as errors:
        response = await chat.press_payload(payload)
        await h.engine.idle()
    assert not errors.records, f"{payload!r} by {chat.user_id}:\n" + "\n".join(errors.lines())
    assert response.replies or response.toast, payload
    if expired_count() > expired or refused(response):
        event(f"refused ({recipe[0]})")
        after = await snapshot(h.sessions)
        changed = changes(world.before, after, sender(chat))
        assert not changed, (payload, chat.user_id, chat.text, changed)
        world.before = after
    else:
        event(f"valid ({recipe[0]})")
        world.before = None  # a valid press may change anything: a fresh snapshot before the next one


async def test_the_snapshot_sees_every_change_but_the_senders_own(harness: Harness) -> None:
    """The check above is only as good as the snapshot: it sees a change in any table, a new
    person and a file's bytes, and leaves out only the sender's own conversation and first visit."""
    from storage.models import ServedFile

    h = harness
    first = harness.chat(7001)
    await first.send("/start")
    before = await snapshot(h.sessions)
    await harness.chat(7002).send("/start")  # someone else's first message
    assert changes(before, await snapshot(h.sessions), sender(first)) == ["conversations", "identities", "users"]
    before = await snapshot(h.sessions)
    await first.send("/settings")
    await first.press("공지")  # the sender's own setting: a real change
    assert changes(before, await snapshot(h.sessions), sender(first)) == ["users"]
    before = await snapshot(h.sessions)
    newcomer = harness.chat(7003)
    await newcomer.press_payload("zz:1")  # a refused first press: their user, identity and conversation only
    assert changes(before, await snapshot(h.sessions), sender(newcomer)) == []
    async with h.sessions() as s, s.begin():
        s.add(ServedFile(id="f1", filename="a.bin", mime="application/octet-stream", data=b"\x00\xff",
                         created_at=h.clock.now(), expires_at=h.clock.now()))
    after = await snapshot(h.sessions)
    assert changes(before, after, sender(newcomer)) == ["served_files"]
    async with h.sessions() as s, s.begin():
        (await s.get(ServedFile, "f1")).data = b"\x00\xfe"  # type: ignore[union-attr]
    assert changes(after, await snapshot(h.sessions), sender(newcomer)) == ["served_files"]
