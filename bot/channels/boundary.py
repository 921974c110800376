"""What the HTTP routes take from strangers, read the same way for every route.

Telegram's webhook, the KakaoTalk skill and file links are open to anyone who finds the
address (deploy/nginx.conf passes them on). Each route reads what arrives through here:

* a secret (a header, a link's signature) is compared as bytes in constant time
  (`same_secret`, `header_secret_ok`), whatever bytes were sent: the header's own bytes,
  never a decoded string that may not encode back;
* a body is read up to a size cap (413), then parsed as strict UTF-8 JSON (no NaN or
  Infinity) nested at most `MAX_DEPTH` deep, whose every string, keys included, is text a
  database stores (no lone surrogate, no NUL): otherwise 400 (`read_json`, `loads`). The
  depth is checked without recursion, and JSON too deep for the parser itself is refused
  the same way;
* a form (the staff console's POSTs) is read the same way: up to a size cap (413), then as
  strict UTF-8 `application/x-www-form-urlencoded` whose every name and value is storable
  text (`read_form`), otherwise 400;
* the route then checks the shape it reads (`conforms`; the skill's `to_incoming`) and
  refuses the rest with 400.

A refusal (`Refused`, answered by `guarded`) is a small JSON error and one log line
naming the route and the reason, at WARNING (at INFO for what happens in normal use,
like an expired link): never what was sent, which may be personal, and never a traceback.
Nothing is processed.
"""

from __future__ import annotations

import hmac
import json
import logging
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiohttp import http_exceptions, web

from kernel.core import UNSTORABLE

log = logging.getLogger(__name__)

# Telegram updates nest about 10 deep (a pressed button's message and its keyboard), Kakao's
# requests about 5; nothing real comes near this.
MAX_DEPTH = 32
# Ids that are numbers (Telegram's update, chat and user ids) fit PostgreSQL's bigint.
MAX_INT = 2**63 - 1

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# What `conforms` checks: a type (int: a 64-bit integer, never a bool), a mapping of the
# optional keys read to their shapes, or a one-item list: a list of that shape.
Shape = type | Mapping[str, "Shape"] | Sequence["Shape"]


class Refused(Exception):
    """A request the route does not process: `status` and `reason` go in the JSON error,
    `detail` (default: the reason) in the log line."""

    def __init__(self, status: int, reason: str, *, detail: str | None = None, level: int = logging.WARNING) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.detail = detail or reason
        self.level = level


class UnreadableRequests(logging.Filter):
    """aiohttp answers a request it cannot parse (a request line or header over its limits, a
    malformed request line) with 400 by itself, but logs it at ERROR with a traceback: to a
    reader of the logs, that is a stranger's bad request, not a fault of ours. It becomes one
    WARNING line, like every other refusal here."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, http_exceptions.HttpProcessingError):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg, record.args = "unreadable HTTP request refused (400): %s", (type(error).__name__,)
            record.exc_info = record.exc_text = None
        return True


def quiet_unreadable_requests() -> None:
    """Install `UnreadableRequests` on aiohttp's server logger, once."""
    server = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, UnreadableRequests) for f in server.filters):
        server.addFilter(UnreadableRequests())


class Malformed(ValueError):
    """JSON that is not read: its text, its nesting or its strings."""


def refusal(route: str, request: web.Request, refused: Refused) -> web.Response:
    log.log(refused.level, "%s request refused (%d): %s, from %s", route, refused.status, refused.detail,
            request.remote)
    return web.json_response({"ok": False, "error": refused.reason}, status=refused.status)


def guarded(route: str, handler: Handler) -> Handler:
    """`handler` with the requests it refuses answered by `refusal`."""

    async def run(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except Refused as refused:
            return refusal(route, request, refused)

    return run


def same_secret(given: str | bytes, expected: str | bytes) -> bool:
    """Constant-time equality as bytes; never true for an empty expected secret. A string
    given is encoded with surrogatepass, so any text a request decodes to compares (unequal)
    instead of raising."""
    given_bytes = given if isinstance(given, bytes) else given.encode("utf-8", "surrogatepass")
    expected_bytes = expected if isinstance(expected, bytes) else expected.encode()
    return hmac.compare_digest(given_bytes, expected_bytes) and bool(expected_bytes)


def header_secret_ok(request: web.Request, name: str, expected: str) -> bool:
    """Whether the first header `name` carries exactly `expected`, as the bytes sent."""
    wanted = name.lower().encode("latin-1")
    given = next((value for key, value in request.raw_headers if key.lower() == wanted), b"")
    return same_secret(given, expected)


def loads(raw: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Strict JSON as described in the module docstring; `Malformed` otherwise."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise Malformed("JSON nested too deep") from None
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors, as is a number too long
        raise Malformed("malformed JSON") from None
    _check(value, max_depth)
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _check(value: Any, max_depth: int) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if UNSTORABLE.search(item):
                raise Malformed("invalid text in JSON")
        elif isinstance(item, (dict, list)):
            if depth > max_depth:
                raise Malformed("JSON nested too deep")
            if isinstance(item, dict):
                for key, child in item.items():
                    if UNSTORABLE.search(key):
                        raise Malformed("invalid text in JSON")
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)


async def read_body(request: web.Request, limit: int) -> bytes:
    """The request's body, read up to `limit` bytes; `Refused` (413) beyond."""
    if request.content_length is not None and request.content_length > limit:
        raise Refused(413, "request body too large")
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(16 * 1024):
        size += len(chunk)
        if size > limit:  # sent without a Content-Length, or with a false one
            raise Refused(413, "request body too large")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_form(request: web.Request, limit: int) -> dict[str, list[str]]:
    """A urlencoded form's fields (each name to its values in order), read up to `limit` bytes:
    strict UTF-8, every name and value storable text; `Refused` otherwise."""
    raw = await read_body(request, limit)
    try:
        fields = urllib.parse.parse_qsl(raw.decode("ascii"), keep_blank_values=True, encoding="utf-8",
                                        errors="strict", max_num_fields=1000)
    except ValueError:  # not ASCII on the wire, bad percent-encoded UTF-8, too many fields
        raise Refused(400, "malformed form") from None
    form: dict[str, list[str]] = {}
    for name, value in fields:
        if UNSTORABLE.search(name) or UNSTORABLE.search(value):
            raise Refused(400, "malformed form", detail="invalid text in form")
        form.setdefault(name, []).append(value)
    return form


async def read_json(request: web.Request, limit: int) -> Any:
    """The request's body as JSON (`loads`), read up to `limit` bytes; `Refused` otherwise."""
    raw = await read_body(request, limit)
    try:
        return loads(raw)
    except Malformed as exc:
        raise Refused(400, "malformed JSON", detail=str(exc)) from None


def conforms(value: Any, shape: Shape) -> bool:
    """Whether `value` has `shape` (see `Shape`): keys absent from a mapping are not checked."""
    if isinstance(shape, Mapping):
        return isinstance(value, dict) and all(key not in value or conforms(value[key], inner)
                                               for key, inner in shape.items())
    if isinstance(shape, Sequence):
        return isinstance(value, list) and all(conforms(item, shape[0]) for item in value)
    if shape is int:
        return isinstance(value, int) and not isinstance(value, bool) and -MAX_INT <= value <= MAX_INT
    return isinstance(value, shape)
