"""Throwaway PostgreSQL servers for the test suite and the benchmarks.

Usage::

    with PostgresServer() as pg:
        pg.create_database("jobhub_test")
        engine = create_async_engine(pg.url("jobhub_test"))
        ...

Each server gets a fresh cluster in its own temporary directory (data dir,
log file and unix socket all live there), listens on a free TCP port on
127.0.0.1 and trusts every local connection as user ``postgres``.  Durability
is switched off (fsync, synchronous_commit, full_page_writes) because the data
is thrown away at the end.  ``stop()`` is registered with :mod:`atexit`, so an
interrupted test run does not leave a server behind.

PostgreSQL refuses to run as root; when this process is root, initdb and
pg_ctl run as the ``postgres`` OS user (created by ``apt-get install
postgresql``) and the temporary directory is handed over to that user.

This module has no pytest dependency, so benchmarks can use it too.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import asyncpg

__all__ = [
    "PostgresServer",
    "PostgresStartError",
    "PostgresUnavailable",
    "find_pg_bin",
]

_REQUIRED_BINARIES = ("initdb", "pg_ctl", "postgres")
_OS_USER = "postgres"  # OS account used when running as root
_DB_USER = "postgres"  # database superuser created by initdb -U
_HOST = "127.0.0.1"

_T = TypeVar("_T")


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries (or the OS user to run them) are missing."""


class PostgresStartError(RuntimeError):
    """initdb or the server failed; the message carries the output / log tail."""


# --------------------------------------------------------------------------
# Locating the binaries
# --------------------------------------------------------------------------


def _has_binaries(directory: Path) -> bool:
    return all(os.access(directory / name, os.X_OK) for name in _REQUIRED_BINARIES)


def _version_key(directory: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/<version>/bin, version like "15" or "9.6"
    return tuple(int(part) for part in re.findall(r"\d+", directory.parent.name))


def find_pg_bin() -> Path | None:
    """Return the directory holding initdb, pg_ctl and postgres, or None.

    Order: the ``PG_BIN`` environment variable (if set it is authoritative:
    None when it does not hold the binaries), then the directory of
    ``initdb`` on PATH (symlinks resolved), then the newest
    ``/usr/lib/postgresql/*/bin``.
    """
    env = os.environ.get("PG_BIN")
    if env:
        path = Path(env).expanduser()
        return path if _has_binaries(path) else None

    initdb = shutil.which("initdb")
    if initdb:
        path = Path(initdb).resolve().parent
        if _has_binaries(path):
            return path

    candidates = [
        path for path in Path("/usr/lib/postgresql").glob("*/bin") if _has_binaries(path)
    ]
    if candidates:
        return max(candidates, key=_version_key)
    return None


def _unavailable_message(explicit: Path | None = None) -> str:
    env = os.environ.get("PG_BIN")
    missing = f"does not contain {', '.join(_REQUIRED_BINARIES)}"
    where = (
        f"{explicit} {missing}"
        if explicit is not None
        else f"PG_BIN={env} {missing}"
        if env
        else "initdb/pg_ctl/postgres not found on PATH or in /usr/lib/postgresql/*/bin"
    )
    return (
        f"PostgreSQL server binaries not available ({where}): "
        "run `apt-get install postgresql` or set PG_BIN to the directory holding initdb"
    )


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        return sock.getsockname()[1]


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _conf_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log file)"
    return "\n".join(text.splitlines()[-lines:]) or "(log file is empty)"


def _run_blocking(factory: Callable[[], Awaitable[_T]]) -> _T:
    """Run a coroutine to completion from synchronous code.

    With no event loop running in this thread, ``asyncio.run`` is used
    directly; inside a running loop the coroutine gets its own loop in a
    worker thread (the calling loop is blocked meanwhile, which is fine for
    quick administrative statements).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


# --------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------


class PostgresServer:
    """A throwaway PostgreSQL cluster.  See the module docstring."""

    #: Settings appended to postgresql.conf (port and socket dir are added per run).
    SETTINGS: dict[str, str] = {
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "listen_addresses": "'127.0.0.1'",
        "max_connections": "200",
        "shared_buffers": "64MB",
    }

    def __init__(self, pg_bin: Path | str | None = None, *, start_timeout: int = 30) -> None:
        self._pg_bin = Path(pg_bin) if pg_bin is not None else None
        self._start_timeout = start_timeout
        self._port: int | None = None
        self._bin: Path | None = None  # resolved in start()
        self._run_as: pwd.struct_passwd | None = None
        self.tmpdir: Path | None = None  #: temp dir holding data/, postgres.log, socket
        self.startup_seconds: float | None = None  #: wall time of the last start()

    # -- properties --------------------------------------------------------

    @property
    def host(self) -> str:
        return _HOST

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("PostgresServer is not running; call start() first")
        return self._port

    @property
    def user(self) -> str:
        return _DB_USER

    @property
    def running(self) -> bool:
        return self._port is not None

    @property
    def data_dir(self) -> Path:
        return self._require_tmpdir() / "data"

    @property
    def log_path(self) -> Path:
        return self._require_tmpdir() / "postgres.log"

    def url(self, dbname: str = "postgres") -> str:
        """SQLAlchemy URL for create_async_engine()."""
        return f"postgresql+asyncpg://{self.user}@{self.host}:{self.port}/{dbname}"

    def dsn(self, dbname: str = "postgres") -> str:
        """Plain libpq-style DSN, e.g. for asyncpg.connect()."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{dbname}"

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> PostgresServer:
        """initdb a fresh cluster and start it; returns self.  ~1-3 s."""
        if self.running:
            return self
        began = time.monotonic()
        pg_bin = self._pg_bin or find_pg_bin()
        if pg_bin is None or not _has_binaries(pg_bin):
            raise PostgresUnavailable(_unavailable_message(self._pg_bin))
        self._bin = pg_bin
        self._run_as = self._os_user()

        self._make_tmpdir()
        atexit.register(self.stop)
        try:
            self._initdb(pg_bin)
            self._start_server(pg_bin)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def stop(self) -> None:
        """Fast shutdown and removal of the temp dir.  Idempotent."""
        atexit.unregister(self.stop)
        tmpdir, self.tmpdir = self.tmpdir, None
        self._port = None
        if tmpdir is None:
            return
        data = tmpdir / "data"
        # Also covers a start() interrupted before the port was recorded.
        if self._bin is not None and (data / "postmaster.pid").exists():
            result = self._run(
                [str(self._bin / "pg_ctl"), "stop", "-D", str(data), "-m", "fast", "-w", "-t", "20"],
                cwd=tmpdir,
                check=False,
            )
            if result.returncode != 0:
                self._kill_postmaster(data)
        shutil.rmtree(tmpdir, ignore_errors=True)

    def pause(self) -> None:
        """Stop the server, keeping its data and port: a database outage (`resume` ends it)."""
        assert self._bin is not None and self.tmpdir is not None, "not started"
        self._run([str(self._bin / "pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "fast", "-w"],
                  cwd=self.tmpdir)

    def resume(self) -> None:
        """Start the paused server again on the same port."""
        assert self._bin is not None and self.tmpdir is not None, "not started"
        self._run([str(self._bin / "pg_ctl"), "start", "-D", str(self.data_dir), "-l", str(self.log_path),
                   "-o", f"-p {self.port}", "-w", "-t", str(self._start_timeout)], cwd=self.tmpdir)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"port={self._port}" if self.running else "stopped"
        return f"<PostgresServer {state} tmpdir={self.tmpdir}>"

    # -- databases ---------------------------------------------------------

    async def acreate_database(self, name: str, template: str | None = None) -> None:
        """CREATE DATABASE name [TEMPLATE template].

        PostgreSQL refuses to copy a template that has open connections, so
        dispose engines connected to the template first.
        """
        sql = f"CREATE DATABASE {_quote_ident(name)}"
        if template is not None:
            sql += f" TEMPLATE {_quote_ident(template)}"
        conn = await self._admin_connect()
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def adrop_database(self, name: str) -> None:
        """DROP DATABASE IF EXISTS name, terminating open connections to it."""
        conn = await self._admin_connect()
        try:
            if conn.get_server_version().major >= 13:
                await conn.execute(f"DROP DATABASE IF EXISTS {_quote_ident(name)} WITH (FORCE)")
            else:  # pragma: no cover - pre-13 servers lack WITH (FORCE)
                await conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = $1 AND pid <> pg_backend_pid()",
                    name,
                )
                await conn.execute(f"DROP DATABASE IF EXISTS {_quote_ident(name)}")
        finally:
            await conn.close()

    def create_database(self, name: str, template: str | None = None) -> None:
        """Sync :meth:`acreate_database`; safe with or without a running loop."""
        _run_blocking(lambda: self.acreate_database(name, template))

    def drop_database(self, name: str) -> None:
        """Sync :meth:`adrop_database`; safe with or without a running loop."""
        _run_blocking(lambda: self.adrop_database(name))

    async def _admin_connect(self) -> Any:
        return await asyncpg.connect(
            host=self.host, port=self.port, user=self.user, database="postgres", timeout=10
        )

    # -- internals ---------------------------------------------------------

    def _require_tmpdir(self) -> Path:
        if self.tmpdir is None:
            raise RuntimeError("PostgresServer is not running; call start() first")
        return self.tmpdir

    @staticmethod
    def _os_user() -> pwd.struct_passwd | None:
        """The account to run PostgreSQL as, or None for the current one."""
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam(_OS_USER)
        except KeyError:
            raise PostgresUnavailable(
                f"running as root but there is no {_OS_USER!r} OS user to run PostgreSQL as: "
                "run `apt-get install postgresql` (it creates the user) or run the tests as non-root"
            ) from None

    def _make_tmpdir(self) -> None:
        # As root, stay directly under /tmp (world-traversable) rather than a
        # $TMPDIR that the postgres user might not be able to reach.
        base = "/tmp" if self._run_as is not None else None
        tmpdir = Path(tempfile.mkdtemp(prefix="jobhub-pg-", dir=base))
        if self._run_as is not None:
            os.chmod(tmpdir, 0o755)
            os.chown(tmpdir, self._run_as.pw_uid, self._run_as.pw_gid)
        self.tmpdir = tmpdir

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        if self._run_as is not None:
            env["HOME"] = self._run_as.pw_dir
            env["USER"] = env["LOGNAME"] = self._run_as.pw_name
        return env

    def _run(self, args: list[str], *, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, Any] = {}
        if self._run_as is not None:
            kwargs = {"user": self._run_as.pw_uid, "group": self._run_as.pw_gid, "extra_groups": []}
        result = subprocess.run(
            args,
            cwd=cwd,
            env=self._env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            **kwargs,
        )
        if check and result.returncode != 0:
            raise PostgresStartError(
                f"{Path(args[0]).name} failed with exit code {result.returncode}:\n{result.stdout.strip()}"
            )
        return result

    def _initdb(self, pg_bin: Path) -> None:
        tmpdir = self._require_tmpdir()
        self._run(
            [
                str(pg_bin / "initdb"),
                "-D", str(self.data_dir),
                "-A", "trust",
                "-U", _DB_USER,
                "--no-sync",
                "-E", "UTF8",
                "--locale=C",
            ],
            cwd=tmpdir,
        )
        settings = dict(self.SETTINGS)
        settings["unix_socket_directories"] = _conf_literal(str(tmpdir))
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write("\n# jobhub tests/pg.py\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    def _start_server(self, pg_bin: Path, attempts: int = 3) -> None:
        tmpdir = self._require_tmpdir()
        for attempt in range(attempts):
            port = _free_port()
            result = self._run(
                [
                    str(pg_bin / "pg_ctl"), "start",
                    "-D", str(self.data_dir),
                    "-l", str(self.log_path),
                    "-o", f"-p {port}",
                    "-w", "-t", str(self._start_timeout),
                ],
                cwd=tmpdir,
                check=False,
            )
            if result.returncode == 0:
                self._port = port
                return
            log = _tail(self.log_path)
            # Another process grabbed the port between probing and binding: retry.
            if "could not bind" in log and attempt + 1 < attempts:
                self._kill_postmaster(self.data_dir)
                continue
            self._kill_postmaster(self.data_dir)
            raise PostgresStartError(
                f"PostgreSQL failed to start (pg_ctl exit code {result.returncode}): "
                f"{result.stdout.strip()}\n--- tail of postgres.log ---\n{log}"
            )

    @staticmethod
    def _kill_postmaster(data: Path) -> None:
        """Last resort: immediate shutdown via the pid in postmaster.pid."""
        try:
            pid = int((data / "postmaster.pid").read_text().split("\n", 1)[0])
            os.kill(pid, signal.SIGQUIT)
        except (OSError, ValueError):
            return
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except OSError:
                return
            time.sleep(0.05)
