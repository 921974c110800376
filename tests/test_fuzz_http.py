"""Arbitrary requests into the HTTP handlers (issue 13, "Fuzzing that keeps it fixed").

The real aiohttp Application of `python -m bot serve` (`bot.channels.http.base_app` with the
Telegram webhook of `bot.channels.telegram.add_webhook`, the KakaoTalk skill and file links of
`bot.channels.kakao.KakaoSkill`) behind aiohttp's test client, the Telegram channel talking to
the fake Bot API, once per test on SQLite and on PostgreSQL. Bodies are:

* any JSON at all (wrong shapes, odd Unicode, lone surrogates, huge numbers), nested up to
  thousands deep, or bytes that are not JSON or not UTF-8;
* KakaoTalk skill requests of Open Builder's shape (`tests.fake_kakao.payload`), and Telegram
  updates of the Bot API's shape (messages, commands, photos, documents, button presses with the
  last bot message's keyboard), with fields replaced by odd values, removed, or nested deeper;
  a few people write, so their conversations go on across examples (pressing the buttons of the
  answers they were given);
* file links with any id, expiry and signature, and links the bot signed, to a file it keeps
  or not, expired or not, altered or not;
* now and then a wrong, missing or non-ASCII secret header.

The property, for every request: an answer below 500, no ERROR log line, a JSON body where the
route answers JSON, a SkillResponse within Kakao's limits when the skill answers 200, and the
database unchanged when the request was refused (4xx).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, assume, event, given, note, settings
from hypothesis import strategies as st
from yarl import URL

from bot.app import App, running
from bot.channels import kakao as kakao_channel
from bot.channels import telegram as telegram_channel
from bot.channels.http import base_app
from kernel.config import Settings
from storage.models import ServedFile
from tests.conftest import ADMIN_ID, make_settings
from tests.fake_kakao import BOT_ID, SECRET_HEADER, buttons_of
from tests.fake_kakao import payload as kakao_payload
from tests.fake_telegram import FakeTelegram
from tests.fuzz import Snapshot, any_char, changes, error_log, odd_part, odd_text, snapshot

# Real processes or many generated examples: left out of the quick loop (`-m 'not slow'`), run by CI.
pytestmark = pytest.mark.slow

SKILL_SECRET = "skill-secret-for-fuzzing"
WEBHOOK_SECRET = "webhook-secret-for-fuzzing"
WEBHOOK_PATH = "/telegram/webhook"
WEBHOOK_HEADER = "X-Telegram-Bot-Api-Secret-Token"
KAKAO_PATH = "/kakao/skill"
# The people who write: their conversations go on across examples.
KAKAO_USERS = ["k-fuzz-1", "k-fuzz-2", "k-fuzz-3"]
TELEGRAM_USERS = [4201, 4202, ADMIN_ID]


@dataclass(repr=False)
class Site:
    app: App
    fake: FakeTelegram
    client: TestClient[web.Request, web.Application]
    settings: Settings
    before: Snapshot | None = None  # the database before the next request, when known
    # The last KakaoTalk answer to each person, to press its buttons.
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    next_update: int = 1

    def __repr__(self) -> str:
        return f"Site({self.settings.database_url.split(':')[0]})"

    def _repr_pretty_(self, printer: Any, _cycle: bool) -> None:  # how Hypothesis shows a failing example
        printer.text(repr(self))


@pytest_asyncio.fixture
async def site(db_url: str) -> AsyncIterator[Site]:
    async with FakeTelegram() as fake:
        settings = make_settings(
            db_url, telegram_bot_token="123:TEST", telegram_api_base_url=fake.base_url,
            webhook_url=f"https://bot.example.org{WEBHOOK_PATH}", webhook_secret=WEBHOOK_SECRET,
            kakao_skill_secret=SKILL_SECRET, kakao_bot_id=BOT_ID, public_base_url="https://bot.example.org",
            # Nothing a request names is ever fetched or called back: no host is allowed.
            kakao_callback_hosts="callback.invalid", kakao_file_hosts="files.invalid")
        async with running(settings, schedule=False) as app:
            channel = await telegram_channel.start(app)
            web_app = base_app(app)
            telegram_channel.add_webhook(web_app, channel, settings)
            kakao_channel.KakaoSkill(app.engine, settings).routes(web_app)
            client: TestClient[web.Request, web.Application] = TestClient(TestServer(web_app))
            await client.start_server()
            try:
                yield Site(app, fake, client, settings)
            finally:
                await client.close()
                await app.engine.idle()
                await telegram_channel.stop(channel)


# --- JSON of any shape ----------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.sampled_from([2**31, 2**53 + 1, 2**63, -(2**63) - 1, 10**30]),
    st.floats(allow_nan=False, allow_infinity=False), odd_text, odd_part,
)
JSON_KEYS = ["userRequest", "user", "id", "utterance", "action", "clientExtra", "payload", "more", "params", "media",
             "url", "bot", "message", "callback_query", "from", "chat", "text", "data", "update_id"]
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.one_of(odd_text, st.sampled_from(JSON_KEYS)), inner, max_size=4),
), max_leaves=12)


def encode(value: Any, ascii_only: bool) -> bytes:
    """JSON text of `value`: lone surrogates as \\u escapes (valid JSON, not storable text) or as
    the raw bytes they would be (not UTF-8)."""
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


def deep(depth: int, kind: str) -> bytes:
    if kind == "list":
        return b"[" * depth + b"]" * depth
    if kind == "dict":
        return b'{"a":' * depth + b"1" + b"}" * depth
    return b'{"userRequest":' + b"[" * depth + b"]" * depth + b"}"


raw_bodies = st.one_of(
    st.binary(max_size=200),
    st.builds(deep, st.integers(min_value=1, max_value=5000), st.sampled_from(["list", "dict", "inside"])),
    st.sampled_from([b"", b"null", b"[1,2]", b"{}", b'{"n": NaN}', b'{"n": Infinity}', b"\xff\xfe",
                     b'{"update_id": 1e400}', b'{"n": ' + b"9" * 5000 + b"}", b"{" * 3, b'"\\ud800"']),
    st.text(any_char, max_size=60).map(lambda s: s.encode("utf-8", "surrogatepass")),
)

# A path in a body, and what goes there: any JSON, odd text, or (sentinel) the key removed.
DELETE = object()
replacement = st.one_of(json_values, odd_text, st.just(DELETE))


def edited(body: dict[str, Any], edits: list[tuple[tuple[str, ...], Any]]) -> Any:
    """`body` with each path set to its value (made where missing), or removed."""
    out: Any = copy.deepcopy(body)
    for path, value in edits:
        node = out
        for key in path[:-1]:
            if not isinstance(node, dict):
                break
            node = node.setdefault(key, {})
        else:
            if isinstance(node, dict):
                if value is DELETE:
                    node.pop(path[-1], None)
                else:
                    node[path[-1]] = copy.deepcopy(value)  # the same value at two paths is no cycle
    return out


def secret_headers(name: str, secret: str) -> st.SearchStrategy[dict[str, str]]:
    """Mostly the right secret (so the body is read); else none, a near miss, or any printable
    Latin-1 text (what a client can put in a header)."""
    odd = st.text(st.characters(codec="latin-1", categories=["L", "M", "N", "P", "S", "Zs"]), max_size=40)
    wrong = st.one_of(st.just({}), odd.map(lambda v: {name: v}), st.just({name: secret + " "}),
                      st.just({name: secret.upper()}), st.just({name: secret[:-1]}))
    return st.sampled_from([True] * 15 + [False]).flatmap(lambda right: st.just({name: secret}) if right else wrong)


# --- checking one request -------------------------------------------------------------------------


async def exchange(site: Site, method: str, target: str | URL, *, body: bytes = b"",
                   headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """One request; checks what every request must hold and returns (status, body)."""
    if site.before is None:
        site.before = await snapshot(site.app.sessions)
    with error_log() as errors:
        resp = await site.client.request(method, target, data=body,
                                         headers={"Content-Type": "application/json", **(headers or {})})
        answer = await resp.read()
        await site.app.engine.idle()
    status = resp.status
    note(f"{method} {target!s:.200} -> {status} {answer[:300]!r}")
    assert status < 500, (status, answer[:500])
    assert not errors.records, "\n".join(errors.lines())
    if status >= 400:
        event(f"refused {status}")
        after = await snapshot(site.app.sessions)
        assert not changes(site.before, after), (status, changes(site.before, after))
        site.before = after
    else:
        event(f"answered {status}")
        site.before = None
    return status, answer


def check_skill_response(answer: Any) -> None:
    """What Open Builder accepts (reference: ../shared/reference/kakao-skill-api.md)."""
    assert answer.get("version") == "2.0", answer
    if answer.get("useCallback"):
        return
    template = answer["template"]
    assert 1 <= len(template["outputs"]) <= kakao_channel.MAX_OUTPUTS, template
    assert len(template.get("quickReplies", [])) <= kakao_channel.MAX_QUICK_REPLIES, template
    for output in template["outputs"]:
        if "simpleText" in output:
            assert 0 < len(output["simpleText"]["text"]) <= kakao_channel.MAX_TEXT, output
    for button in buttons_of(template):
        assert len(button["label"]) <= kakao_channel.MAX_LABEL, button


# --- KakaoTalk ------------------------------------------------------------------------------------

KAKAO_PATHS = [
    ("userRequest", "user", "id"), ("userRequest", "utterance"), ("userRequest", "lang"),
    ("userRequest", "callbackUrl"), ("userRequest", "params", "media"), ("userRequest", "user"),
    ("userRequest",), ("action", "clientExtra"), ("action", "clientExtra", "payload"),
    ("action", "clientExtra", "more"), ("action", "params", "media"), ("action", "params", "secureimage"),
    ("action", "params"), ("action",), ("bot", "id"), ("bot",), ("flow", "trigger", "type"), ("contexts",),
]
UTTERANCES = ["/start", "/menu", "/register", "/membership", "/book", "/events", "/jobs", "/profile", "/delete",
              "/help", "/cancel", "/human", "/end", "/link", "/link 123456", "/settings", "/surveys", "더보기",
              "취소", "메뉴", "구직등록", "네", "1999", "김서울", ""]
MEDIA = [{"type": "image", "url": "https://k.kakaocdn.net/x.jpg"}, '{"url": "https://files.invalid/a.csv"}',
         '{"secureUrls": "List(https://a.example/x.jpg, https://b.example/y.jpg)"}', "List()", "{", "[1]"]
kakao_requests = st.one_of(
    st.tuples(st.just("json"), json_values, st.booleans(), st.sampled_from(["bare", "for the bot", "as userRequest"])),
    st.tuples(st.just("raw"), raw_bodies),
    *[st.tuples(st.just("shaped"), st.sampled_from(KAKAO_USERS), st.one_of(st.sampled_from(UTTERANCES), odd_text),
                st.lists(st.tuples(st.sampled_from(KAKAO_PATHS), st.one_of(replacement, st.sampled_from(MEDIA))),
                         max_size=3), st.booleans())] * 2,
    *[st.tuples(st.just("press"), st.sampled_from(KAKAO_USERS), st.integers(min_value=0, max_value=100),
                st.sampled_from(["as is", "as text", "odd"]), odd_part)] * 3,
)


def kakao_body(site: Site, recipe: tuple[Any, ...]) -> tuple[bytes, str | None]:
    """The request's bytes, and the person it speaks for (whose answer to keep), if any."""
    kind = recipe[0]
    if kind == "json":
        _, value, ascii_only, envelope = recipe
        if envelope == "for the bot":  # past the bot id check
            value = {**value, "bot": {"id": BOT_ID}} if isinstance(value, dict) else value
        elif envelope == "as userRequest":
            value = {"bot": {"id": BOT_ID}, "userRequest": value}
        return encode(value, ascii_only), None
    if kind == "raw":
        return recipe[1], None
    if kind == "shaped":
        _, user, utterance, edits, ascii_only = recipe
        return encode(edited(kakao_payload(user, utterance), edits), ascii_only), user
    _, user, index, how, odd = recipe
    buttons = [b for b in buttons_of(site.answers.get(user, {})) if b.get("action") != "webLink"]
    if not buttons:
        return encode(kakao_payload(user, "/menu"), True), user
    button = buttons[index % len(buttons)]
    extra = button.get("extra") or {}
    if how == "odd" and "payload" in extra:
        extra = {"payload": extra["payload"] + ":" + odd}
    body = kakao_payload(user, button.get("messageText") or button.get("label", ""),
                         extra=None if how == "as text" else extra, trigger="QUICKREPLY_BUTTON_MESSAGE")
    return encode(body, True), user


# One application (database, fake Bot API) per test, reused by every example: starting it takes
# about a second, a request a few milliseconds; the property holds whatever earlier examples did.
FUZZ = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@FUZZ
@given(recipe=kakao_requests, headers=secret_headers(SECRET_HEADER, SKILL_SECRET))
async def test_kakao_skill_answers_any_request(site: Site, recipe: tuple[Any, ...], headers: dict[str, str]) -> None:
    body, user = kakao_body(site, recipe)
    status, answer = await exchange(site, "POST", KAKAO_PATH, body=body, headers=headers)
    event(f"{recipe[0]}: {status}")
    parsed = json.loads(answer)
    if status == 200:
        check_skill_response(parsed)
        if user is not None and "template" in parsed:
            site.answers[user] = parsed["template"]
    else:
        assert parsed["ok"] is False, parsed


# --- Telegram -------------------------------------------------------------------------------------

TELEGRAM_PATHS = [
    ("update_id",), ("message",), ("message", "text"), ("message", "chat"), ("message", "chat", "id"),
    ("message", "chat", "type"), ("message", "from"), ("message", "from", "id"), ("message", "from", "is_bot"),
    ("message", "from", "language_code"), ("message", "date"), ("message", "message_id"), ("message", "entities"),
    ("message", "photo"), ("message", "document"), ("message", "sticker"), ("message", "caption"),
    ("callback_query",), ("callback_query", "data"), ("callback_query", "id"), ("callback_query", "from"),
    ("callback_query", "from", "id"), ("callback_query", "message"), ("callback_query", "message", "chat", "id"),
    ("edited_message",), ("my_chat_member",),
]
TEXTS = [u for u in UTTERANCES if u.startswith("/")] + ["/start inv_abc", "/event 2147483648", "/pitches ²",
                                                         "/firms 가", "/checkin ABC123", "/posting -1"]
ODD_INTS = st.one_of(st.integers(min_value=-(2**64), max_value=2**64),
                     st.sampled_from([0, -1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63), 10**30]))


def _message(user: int, text: str, chat: int | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"message_id": 1, "date": 1_700_000_000, "chat": {"id": chat or user, "type": "private"},
                               "from": {"id": user, "is_bot": False, "first_name": "Fuzz", "language_code": "ko"},
                               "text": text}
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return message


telegram_requests = st.one_of(
    st.tuples(st.just("json"), json_values, st.booleans()),
    st.tuples(st.just("raw"), raw_bodies),
    *[st.tuples(st.just("shaped"), st.sampled_from(TELEGRAM_USERS), st.one_of(st.sampled_from(TEXTS), odd_text),
                st.sampled_from(["text", "photo", "document", "sticker", "press"]),
                st.lists(st.tuples(st.sampled_from(TELEGRAM_PATHS), st.one_of(replacement, ODD_INTS)), max_size=3),
                st.booleans())] * 2,
    *[st.tuples(st.just("press"), st.sampled_from(TELEGRAM_USERS), st.integers(min_value=0, max_value=100),
                st.sampled_from(["as is", "odd", "other message"]), odd_part)] * 3,
)


def telegram_body(site: Site, recipe: tuple[Any, ...]) -> bytes:
    kind = recipe[0]
    if kind == "json":
        return encode(recipe[1], recipe[2])
    if kind == "raw":
        return recipe[1]  # type: ignore[no-any-return]
    site.next_update += 1
    if kind == "shaped":
        _, user, text, what, edits, ascii_only = recipe
        message = _message(user, text)
        if what == "photo":
            del message["text"]
            message["photo"] = [{"file_id": "AgAD-fuzz", "file_unique_id": "u1", "width": 90, "height": 90}]
        elif what == "document":
            del message["text"]
            message["document"] = {"file_id": "BQAD-fuzz", "file_unique_id": "u2", "file_name": "firms.csv"}
        elif what == "sticker":
            del message["text"]
            message["sticker"] = {"file_id": "CAAD", "file_unique_id": "u3", "type": "regular", "width": 1,
                                  "height": 1, "is_animated": False, "is_video": False}
        update: dict[str, Any] = {"update_id": site.next_update}
        if what == "press":
            update["callback_query"] = {"id": str(site.next_update), "from": message["from"],
                                        "chat_instance": "1", "data": text[:64], "message": message}
        else:
            update["message"] = message
        return encode(edited(update, edits), ascii_only)
    _, user, index, how, odd = recipe
    last = site.fake.last_message(user)
    keyboard = ((last or {}).get("reply_markup") or {}).get("inline_keyboard", [])
    data = [b["callback_data"] for row in keyboard for b in row if "callback_data" in b]
    if last is None or not data:
        return encode({"update_id": site.next_update, "message": _message(user, "/menu")}, True)
    pressed = data[index % len(data)]
    if how == "odd":
        pressed = (pressed + ":" + odd)[:64]
    source = last if how != "other message" else {**last, "message_id": last["message_id"] + 1000}
    query = {"id": str(site.next_update), "from": _message(user, "")["from"], "chat_instance": "1",
             "data": pressed, "message": source}
    return encode({"update_id": site.next_update, "callback_query": query}, True)


@FUZZ
@given(recipe=telegram_requests, headers=secret_headers(WEBHOOK_HEADER, WEBHOOK_SECRET))
async def test_telegram_webhook_answers_any_request(site: Site, recipe: tuple[Any, ...],
                                                    headers: dict[str, str]) -> None:
    status, answer = await exchange(site, "POST", WEBHOOK_PATH, body=telegram_body(site, recipe), headers=headers)
    event(f"{recipe[0]}: {status}")
    parsed = json.loads(answer)
    assert parsed["ok"] is (status == 200), parsed


# --- file links and everything else -------------------------------------------------------------

url_part = st.one_of(st.binary(max_size=30).map(lambda b: quote(b, safe="")), odd_part.map(
    lambda s: quote(s.encode("utf-8", "surrogatepass"), safe="")), st.sampled_from(
    ["", "0", "-1", "99999999999", "9" * 5000, "%C2%B2", "%FF", "%00", "..", "%2F..%2F"]),
    st.from_regex(r"[A-Za-z0-9_-]{1,70}", fullmatch=True), st.from_regex(r"[0-9a-f]{30,34}", fullmatch=True))


@st.composite
def targets(draw: st.DrawFn) -> tuple[str, URL]:
    method = draw(st.sampled_from(["GET", "GET", "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"]))
    path = draw(st.sampled_from(["/files/{id}", "/files/{id}", "/files/", "/files/{id}/x", "/{id}", "/kakao/{id}",
                                 "/healthz/{id}", "/metrics/{id}", "/telegram/{id}"]))
    query = draw(st.sampled_from(["?e={e}&s={s}", "?e={e}&s={s}", "?e={e}", "?s={s}", "", "?e={e}&e={e}&s={s}"]))
    text = (path + query).format(id=draw(url_part), e=draw(url_part), s=draw(url_part))
    # Longer request lines never reach the bot behind deploy/nginx.conf (414 there); aiohttp's own
    # answer to them is one WARNING line (the test below).
    assume(len(text) < 8000)
    return method, URL(text, encoded=True)


KEPT = "fuzzKeptFile_0123456789"  # a file the site holds (`kept_file`)
NOW = int(time.time())
# A link signed by the bot: the kept file or another id, an expiry to come or gone, maybe altered.
signed_links = st.tuples(st.sampled_from([KEPT, KEPT, "fuzzGone", "a" * 64]),
                         st.sampled_from([NOW + 3600, NOW + 3600, NOW - 1, 0, 10**12 - 1]),
                         st.sampled_from(["as signed", "as signed", "signature upper case", "signature cut",
                                          "other expiry", "id changed", "expiry with a sign", "expiry padded"]))


async def kept_file(site: Site) -> None:
    async with site.app.sessions() as s, s.begin():
        if await s.get(ServedFile, KEPT) is None:
            now = dt.datetime.now(dt.UTC)
            s.add(ServedFile(id=KEPT, user_id=None, filename="일정.ics", mime="text/calendar; charset=utf-8",
                             data=b"BEGIN:VCALENDAR", created_at=now, expires_at=now + dt.timedelta(days=1)))
    site.before = None


def signed_url(site: Site, link: tuple[str, int, str]) -> tuple[URL, bool]:
    """The link's URL, and whether it is the genuine link to a file still kept."""
    file_id, expires, how = link
    signature = kakao_channel.sign(site.settings.file_links_key, file_id, expires)
    e = str(expires)
    if how == "signature upper case":
        signature = signature.upper()
    elif how == "signature cut":
        signature = signature[:-1]
    elif how == "other expiry":
        e = str(expires + 1)
    elif how == "id changed":
        file_id = file_id[:-1] + ("x" if file_id[-1] != "x" else "y")
    elif how == "expiry with a sign":
        e = "+" + e
    elif how == "expiry padded":
        e = "0" + e
    # A padded expiry is the same number, which is what the signature covers, as long as it stays
    # within the 12 digits a link's expiry may have (the bot writes at most 12).
    genuine = (how in ("as signed", "expiry padded") and file_id == KEPT and expires > time.time()
               and len(e) <= 12)
    return URL(f"/files/{file_id}?e={quote(e)}&s={signature}", encoded=True), genuine


@FUZZ
@given(target=targets(), link=signed_links, signed=st.booleans())
async def test_file_links_and_unknown_routes_answer_any_request(site: Site, target: tuple[str, URL],
                                                                link: tuple[str, int, str], signed: bool) -> None:
    if signed:
        await kept_file(site)
        url, genuine = signed_url(site, link)
        status, body = await exchange(site, "GET", url)
        assert (status == 200) is genuine, (status, body[:200])
        if genuine:
            assert body == b"BEGIN:VCALENDAR"
        return
    method, url = target
    status, _ = await exchange(site, method, url)
    assert status >= 400, status  # nothing is served without a valid signature


async def test_http_aiohttp_cannot_parse_is_a_warning_not_an_error(site: Site) -> None:
    with error_log() as errors:
        resp = await site.client.get("/files/x?e=" + "9" * 9000 + "&s=x")
        assert resp.status == 400
    assert not errors.records, "\n".join(errors.lines())
