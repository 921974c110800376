"""Logging set-up: plain lines for a terminal, JSON lines for a log collector.

Every record carries `request_id`, the id of the update or request being handled (set by
the channel with `request_scope`), so one person's turn can be followed across the lines of
a busy worker. Log calls name people by internal ids only; message texts, names and phone
numbers are never logged (and SQLAlchemy is told to hide statement parameters).

That holds at every LOG_LEVEL, DEBUG included: the libraries that write payloads at DEBUG
(python-telegram-bot logs every Bot API call with its parameters and answer, so message
texts, names and phone numbers) are held at INFO or above (`LIBRARY_FLOORS`), and every
line written passes `Redact`, which puts `REDACTED` in place of the configured secrets and
of any Telegram bot token (the Bot API's URLs carry it: `/bot<token>/method`), in the
message, its arguments and a traceback alike.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

request_id: ContextVar[str] = ContextVar("request_id", default="-")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
REDACTED = "[REDACTED]"
# The lowest level each library may log at, whatever LOG_LEVEL says. At DEBUG these write
# payloads: python-telegram-bot each Bot API call's parameters and answer (message texts, the
# webhook secret in setWebhook) and each update; httpx, httpcore and h2/hpack each request
# with its URL (the token) and headers; aiosqlite and asyncpg statements with their
# parameters; SQLAlchemy result rows. The ones at WARNING also write a line per request, job
# or statement at INFO (httpx with the token in the URL), too many to read.
LIBRARY_FLOORS: dict[str, int] = {
    "telegram": logging.INFO,
    "httpcore": logging.INFO,
    "h2": logging.INFO,
    "hpack": logging.INFO,
    "aiohttp": logging.INFO,
    "aiosqlite": logging.INFO,
    "asyncpg": logging.INFO,
    "urllib3": logging.INFO,
    "httpx": logging.WARNING,
    "apscheduler": logging.WARNING,
    "alembic": logging.WARNING,
    "aiohttp.access": logging.WARNING,
    "sqlalchemy": logging.WARNING,
}
# A bot token in the Bot API's URL shape (`/bot<id>:<secret>/`, `/file/bot<id>:<secret>/`),
# whoever's it is (an old token, another bot's), and one standing alone in a message.
_BOT_URL_TOKEN = r"(?<=/bot)\d+(?::|%3A)[A-Za-z0-9_-]+"
_BARE_TOKEN = r"\b\d{5,}:[A-Za-z0-9_-]{30,}"


class _RequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class Redact(logging.Filter):
    """Writes `REDACTED` over the secrets and bot tokens in a record before it is formatted.

    The message is formatted here with its arguments (a secret may be an argument, or inside
    one), and a traceback is rendered and cleaned here too, since a formatter would render it
    again from `exc_info` (the JSON one does): what a handler writes is the cleaned text.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        values = sorted({s for s in secrets if s}, key=len, reverse=True)  # longest first: no partial marks
        self._pattern = re.compile("|".join([*map(re.escape, values), _BOT_URL_TOKEN, _BARE_TOKEN]))
        self._traceback = logging.Formatter()

    def redact(self, text: str) -> str:
        return self._pattern.sub(REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: the handler would print the arguments raw
            message = f"{record.msg} (log arguments could not be formatted)"
        if record.args or self._pattern.search(message):
            record.msg, record.args = self.redact(message), None
        if record.exc_info:
            record.exc_text = self.redact(self._traceback.formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


@contextmanager
def request_scope(rid: object | None = None) -> Iterator[str]:
    """Tag every log line written inside with one request id (a new one when none is given)."""
    value = str(rid) if rid is not None else uuid.uuid4().hex[:12]
    token = request_id.set(value)
    try:
        yield value
    finally:
        request_id.reset(token)


def setup(level: str, fmt: str, *, secrets: Iterable[str] = ()) -> None:
    """One handler on the root logger; `secrets` (`Settings.secret_values`) never reach it."""
    handler = logging.StreamHandler()
    handler.addFilter(_RequestId())
    handler.addFilter(Redact(secrets))
    if fmt == "json":
        handler.setFormatter(JsonFormatter(
            "{asctime}{levelname}{name}{request_id}{message}", style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"}))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name, floor in LIBRARY_FLOORS.items():
        logging.getLogger(name).setLevel(max(floor, root.level))
