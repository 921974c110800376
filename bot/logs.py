"""Logging set-up: plain lines for a terminal, JSON lines for a log collector.

Every record carries `request_id`, the id of the update or request being handled (set by
the channel with `request_scope`), so one person's turn can be followed across the lines of
a busy worker. Log calls name people by internal ids only; message texts, names and phone
numbers are never logged (and SQLAlchemy is told to hide statement parameters).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

request_id: ContextVar[str] = ContextVar("request_id", default="-")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
# Noisy libraries: python-telegram-bot and httpx log every request at INFO.
QUIET = ("httpx", "apscheduler", "alembic", "aiohttp.access")


class _RequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
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


def setup(level: str, fmt: str) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(_RequestId())
    if fmt == "json":
        handler.setFormatter(JsonFormatter(
            "{asctime}{levelname}{name}{request_id}{message}", style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"}))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
