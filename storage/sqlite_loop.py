"""SQLite on the event loop: the aiosqlite interface SQLAlchemy drives, without its thread.

aiosqlite runs every call (cursor, execute, fetch, close, commit ...) on a worker
thread and wakes the event loop through its self-pipe when done: about fifteen thread
hand-offs for one conversation turn, which cost more CPU than the queries themselves
(a turn's statements take some tens of microseconds each on a local file). Here the
same calls run directly on the loop, so the `sqlite+aiosqlite` dialect, its types and
SQLAlchemy's async API stay exactly as they are; only the driver connection differs.

The one thing SQLite can make a caller wait for is a lock held by another connection
(another process writing the same file, like `python -m bot counselors import`, or a
second engine in the same process). Blocking the loop for that would stall every chat,
so the connection's own busy timeout is 0 and a statement SQLite refuses with
SQLITE_BUSY is retried here after an `asyncio.sleep`, with the same growing delays as
SQLite's own busy handler, until the engine's `timeout` has passed. Only statements
that are safe to repeat are retried: one run outside a transaction (every transaction
here starts with `BEGIN IMMEDIATE`, which either takes the write lock or does nothing)
or a `COMMIT`. Inside a `BEGIN IMMEDIATE` transaction SQLite in WAL mode does not
answer BUSY, since the write lock is held and readers never block a writer.

What stays on the loop is what a turn does: a few indexed statements. A statement
that is known to be big (an `executemany` of many rows: a broadcast's outbox rows, a
bulk import) runs on a short-lived thread instead, so the loop keeps answering chats
meanwhile; the connection's `_execute_mutex` in SQLAlchemy already keeps anything else
off the connection until it is done.

Why replace aiosqlite: 5.78 → 3.54 ms of CPU per message (bench/README.md, `throughput.py`, "Where JobHub's CPU went").
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

# SQLite's default busy handler (sqliteDefaultBusyCallback): delays in ms, the last one repeats.
BUSY_DELAYS = (0.001, 0.002, 0.005, 0.010, 0.015, 0.020, 0.025, 0.025, 0.025, 0.050, 0.050, 0.100)
# An executemany with more parameter sets than this runs off the loop.
OFFLOAD_ROWS = 500


def _busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc).lower() or "busy" in str(exc).lower()


class _Inline:
    """Stands in for aiosqlite's request queue: SQLAlchemy's isolation-level setter puts
    `(future, function)` on `_tx`; here the function runs at once."""

    @staticmethod
    def put_nowait(item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:
            if future is None:
                raise
            future.set_exception(exc)
        else:
            if future is not None:
                future.set_result(result)


class Cursor:
    """An aiosqlite-shaped cursor over a sqlite3 cursor, run on the loop."""

    def __init__(self, conn: Connection, cursor: sqlite3.Cursor) -> None:
        self._conn = conn
        self._cursor = cursor

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> Cursor:
        await self._conn._retrying(sql, lambda: self._cursor.execute(sql, parameters))
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any] | dict[str, Any]]) -> Cursor:
        params = parameters if isinstance(parameters, list) else list(parameters)
        if len(params) > OFFLOAD_ROWS:
            work = asyncio.ensure_future(asyncio.to_thread(self._cursor.executemany, sql, params))
            try:
                await asyncio.shield(work)
            except asyncio.CancelledError:
                # The connection must not be rolled back or closed under the thread's feet.
                await asyncio.wait([work])
                raise
        else:
            # Not retried on BUSY: rows before the refused one may already be written. Inside
            # `BEGIN IMMEDIATE` (all of this app's writes) SQLite does not answer BUSY anyway.
            self._cursor.executemany(sql, params)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    async def setinputsizes(self, *sizes: Any) -> None:
        return None

    async def nextset(self) -> None:
        return None

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _Opening:
    """What `cursor()` returns: awaitable, like aiosqlite's, and usable as `async with`."""

    def __init__(self, cursor: Cursor) -> None:
        self._cursor = cursor

    def __await__(self) -> Any:
        return self.__aenter__().__await__()

    async def __aenter__(self) -> Cursor:
        return self._cursor

    async def __aexit__(self, *exc: object) -> None:
        await self._cursor.close()


class Connection:
    """An aiosqlite-shaped connection whose calls run on the event loop (see the module docstring)."""

    def __init__(self, conn: sqlite3.Connection, timeout: float) -> None:
        self._connection: sqlite3.Connection | None = conn
        self._tx = _Inline()
        self.timeout = timeout

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._connection is None:
            raise ValueError("no active connection")
        return self._connection

    async def _retrying(self, sql: str, run: Callable[[], Any]) -> Any:
        """Run a statement; on SQLITE_BUSY wait on the loop and try again while that is safe."""
        conn = self._conn
        repeatable = not conn.in_transaction or sql.lstrip()[:6].upper() == "COMMIT"
        deadline: float | None = None
        attempt = 0
        while True:
            try:
                return run()
            except sqlite3.OperationalError as exc:
                if not repeatable or not _busy(exc):
                    raise
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self.timeout
                if now >= deadline:
                    raise
                delay = BUSY_DELAYS[min(attempt, len(BUSY_DELAYS) - 1)]
                attempt += 1
                await asyncio.sleep(min(delay, deadline - now))

    def cursor(self) -> _Opening:
        return _Opening(Cursor(self, self._conn.cursor()))

    async def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> Cursor:
        cursor = Cursor(self, self._conn.cursor())
        return await cursor.execute(sql, parameters)

    async def commit(self) -> None:
        conn = self._conn
        if conn.in_transaction:
            await self._retrying("COMMIT", conn.commit)

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        conn, self._connection = self._connection, None
        if conn is not None:
            conn.close()

    def stop(self) -> None:
        conn, self._connection = self._connection, None
        if conn is not None:
            conn.close()

    async def create_function(self, name: str, num_params: int, func: Callable[..., Any],
                              deterministic: bool = False) -> None:
        self._conn.create_function(name, num_params, func, deterministic=deterministic)

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level


def connector(database: str, *, timeout: float, uri: bool = False) -> Callable[[], Any]:
    """An `async_creator` for `create_async_engine`: opens the file on the loop's thread."""

    async def connect() -> Connection:
        # check_same_thread=False: big executemany calls run on a helper thread (never concurrently).
        conn = sqlite3.connect(database, timeout=0, isolation_level=None, check_same_thread=False, uri=uri)
        return Connection(conn, timeout)

    return connect
