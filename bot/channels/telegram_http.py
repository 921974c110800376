"""python-telegram-bot's HTTP transport on aiohttp instead of httpx.

PTB talks to the Bot API through a `BaseRequest`; its default, `HTTPXRequest`, cost
more CPU per call than everything else the bot does for a message (profiled with
`bench/throughput.py`): httpx and httpcore build each request through several layers
(anyio streams, cookie jars, header objects), and httpcore's pool checks every open
connection (a `poll()` each, and a scan of the whole pool per connection) twice per
request, so the more updates are in flight the dearer each call. aiohttp, which the bot
already uses for its webhook server, sends the same form-encoded or multipart POST over
one keep-alive pool with C-accelerated parsing, at about half the CPU per call.

Only the transport changes: PTB still encodes the parameters, parses the answers and
maps Telegram's errors (`RetryAfter`, `Forbidden`, `BadRequest` ...). As in PTB's
class, a timeout becomes `TimedOut` and any other client error `NetworkError`. The
timeouts mean what PTB's do, except that aiohttp has no write timeout of its own:
`connect_timeout` bounds opening a connection, `pool_timeout` waiting for a free one,
`read_timeout` each wait for the answer. A proxy comes from the usual environment
variables (`HTTPS_PROXY`, `NO_PROXY` ...), as with httpx; they are read once per
server, not per call (aiohttp's `trust_env` would also look for a `.netrc` file on a
thread for every request).

Why replace httpx: 3.54 → 2.21 ms of CPU per message (bench/README.md, `throughput.py`, "Where JobHub's CPU went").
"""

from __future__ import annotations

import urllib.request
from urllib.parse import urlsplit

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

# PTB's "not given" marker class, reached through its public API (the class itself lives in a
# private module): a timeout left at it takes the transport's own.
_NOT_GIVEN = type(BaseRequest.DEFAULT_NONE)


def _pick(given: object, default: float | None) -> float | None:
    """A timeout PTB passed (seconds, None for no limit, or the "not given" marker) as seconds."""
    if isinstance(given, _NOT_GIVEN) or not (given is None or isinstance(given, int | float)):
        return default
    return given


class AiohttpRequest(BaseRequest):
    """A `BaseRequest` on one `aiohttp.ClientSession` (see the module docstring).

    `connections` caps the sockets open to the Bot API at once (PTB's default pool
    holds 256); the timeouts are the defaults for calls that do not pass their own
    (`None`: no limit), the same as `HTTPXRequest`'s.
    """

    def __init__(
        self,
        connections: int = 256,
        *,
        read_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
    ) -> None:
        self._connections = connections
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[str, str | None] = {}  # scheme://host -> proxy URL from the environment

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections),
                headers={"User-Agent": self.USER_AGENT},
                cookie_jar=aiohttp.DummyCookieJar(),  # the Bot API sets none; nothing to parse or store
            )

    async def shutdown(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    def _proxy(self, url: str) -> str | None:
        origin = url.split("/", 3)[:3]
        key = "/".join(origin)
        if key not in self._proxies:
            parts = urlsplit(url)
            bypass = parts.hostname is not None and urllib.request.proxy_bypass(parts.hostname)
            self._proxies[key] = None if bypass else urllib.request.getproxies().get(parts.scheme)
        return self._proxies[key]

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        body: aiohttp.FormData | dict[str, str] | None = None
        if request_data is not None:
            body = request_data.json_parameters
            if request_data.contains_files:
                form = aiohttp.FormData(body)
                for name, (filename, content, mime_type) in request_data.multipart_data.items():
                    form.add_field(name, content, filename=filename, content_type=mime_type)
                body = form
        connect = _pick(connect_timeout, self._connect_timeout)
        pool = _pick(pool_timeout, self._pool_timeout)
        # aiohttp's `connect` covers waiting for a pooled connection and opening a new one.
        timeout = aiohttp.ClientTimeout(
            total=None, connect=None if connect is None or pool is None else connect + pool,
            sock_connect=connect, sock_read=_pick(read_timeout, self._read_timeout))
        try:
            async with session.request(method, url, data=body, timeout=timeout, proxy=self._proxy(url)) as response:
                return response.status, await response.read()
        except TimeoutError as exc:
            raise TimedOut from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc
