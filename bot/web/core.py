"""The console's frame: a page registry, sign-in, the role and CSRF checks every page passes.

A `Page` is a path, a method, the roles allowed and an async handler taking a `WebCtx`; a
handler returns `Html` (a template and its values) or any aiohttp response (a redirect, a
file). `mount` wraps each page in `guard`, which, on every request and before the handler:

* reads the cookie's session from the database (any worker serves any request) and sends a
  browser without a valid one to the sign-in page (303);
* answers 403 to a role the page does not allow (the same page whatever the record);
* reads a POST's form through `bot.channels.boundary.read_form` and answers 403 when its
  `csrf` field is not the session's token (compared in constant time);
* runs the handler in one transaction: what it changes is committed with what it queues.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession
from yarl import URL

from bot.app import App
from bot.channels import boundary
from kernel import parsers
from kernel.config import Settings
from kernel.i18n import Translator, day_label, translator
from storage import staff
from storage.models import User

log = logging.getLogger(__name__)

PREFIX = "/console"
COOKIE = "jobhub_console"
# Sign-in is pressed on the page the link opened: that page sets this cookie and puts the same value in
# its form. A cross-site POST carries no such cookie (SameSite=Strict), so a staff member's own
# link cannot sign someone else's browser into their account (login CSRF).
NONCE_COOKIE = "jobhub_signin"
# A console form is a few fields; an upload page would raise its own limit.
FORM_LIMIT = 64 * 1024
# What `secrets.token_urlsafe(32)` makes: anything else is not looked up at all.
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
ALL_ROLES = staff.ROLES
HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Html:
    template: str
    values: Mapping[str, Any] = field(default_factory=dict)
    status: int = 200


@dataclass
class WebCtx:
    """One request of a signed-in staff member, with the transaction the page runs in."""

    request: web.Request
    app: App
    session: AsyncSession
    user: User
    role: str
    csrf: str
    t: Translator
    now: dt.datetime
    form: dict[str, list[str]]

    @property
    def settings(self) -> Settings:
        return self.app.settings

    def field(self, name: str, default: str = "") -> str:
        """A POST field's first value, or a query parameter's on GET."""
        values = self.form.get(name)
        if values:
            return values[0].strip()
        return self.request.query.get(name, default).strip()


Result = Html | web.StreamResponse
Handler = Callable[[WebCtx], Awaitable[Result]]


@dataclass(frozen=True)
class Page:
    """One route of the console. `nav`: the catalog key of its menu entry (None: not in the
    menu); the menu shows a page only to the roles it allows, and the server checks anyway."""

    path: str
    handler: Handler
    roles: tuple[str, ...]
    method: str = "GET"
    nav: str | None = None


def redirect(path: str, **query: str) -> web.Response:
    """303 to a console path (after a POST: the browser then GETs the page, a reload posts nothing)."""
    url = URL(PREFIX + path)
    return web.Response(status=303, headers={"Location": str(url.with_query(query) if query else url)})


def _secure_headers(response: web.StreamResponse) -> web.StreamResponse:
    # Pages carry personal data: not cached, not framed, no referrer (a sign-in link in the
    # address bar never leaves with a click), nothing loaded or run from elsewhere.
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; "
        "form-action 'self'; base-uri 'none'")
    return response


def _cookie(request: web.Request) -> str | None:
    value = request.cookies.get(COOKIE, "")
    return value if TOKEN.fullmatch(value) else None


def _secure(settings: Settings) -> bool:
    return settings.base_url.startswith("https://")


def visible_nav(pages: Sequence[Page], role: str) -> list[Page]:
    return [p for p in pages if p.nav is not None and role in p.roles and p.method == "GET"]


def render(request: web.Request, html: Html, values: Mapping[str, Any]) -> web.Response:
    response = aiohttp_jinja2.render_template(html.template, request, {**values, **html.values}, status=html.status)
    return response


def guard(app: App, page: Page, pages: Sequence[Page]) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    idle = dt.timedelta(minutes=app.settings.console_idle_minutes)

    async def run(request: web.Request) -> web.StreamResponse:
        form = await boundary.read_form(request, FORM_LIMIT) if request.method == "POST" else {}
        now = app.engine.clock.now()
        cookie = _cookie(request)
        base: dict[str, Any] = {}
        try:
            async with app.sessions() as session, session.begin():
                signed = await staff.signed_in(session, cookie, now, idle) if cookie else None
                user = await session.get(User, signed.user_id) if signed else None
                if signed is None or user is None:
                    return _secure_headers(redirect("/signin"))
                t = translator(user.locale)
                base |= {"t": t, "role": signed.role, "csrf": signed.csrf, "nav": visible_nav(pages, signed.role),
                        "prefix": PREFIX, "path": request.path, "lang": t.locale, "user_id": user.id,
                        "day": lambda d: day_label(t, d), "tz": app.settings.tz}
                if signed.role not in page.roles:
                    log.info("console page refused (403) path=%s role=%s user=%s", page.path, signed.role, user.id)
                    return _secure_headers(render(request, Html("refused.html", status=403), base))
                if request.method == "POST" and not boundary.same_secret(
                        (form.get("csrf") or [""])[0], signed.csrf):
                    log.warning("console POST without a valid CSRF token refused (403) path=%s user=%s",
                                page.path, user.id)
                    return _secure_headers(render(request, Html("refused.html", {"csrf_failed": True}, 403), base))
                ctx = WebCtx(request, app, session, user, signed.role, signed.csrf, t, now, form)
                result = await page.handler(ctx)
                if isinstance(result, Html):
                    return _secure_headers(render(request, result, base))
                return _secure_headers(result)
        except web.HTTPNotFound:
            # A record that does not exist, or not any more: rolled back, said in the page's frame.
            return _secure_headers(render(request, Html("refused.html", {"missing": True}, 404), base))

    return boundary.guarded("console", run)


def mount(web_app: web.Application, app: App, pages: Sequence[Page]) -> None:
    """The console's routes on the process's one aiohttp Application."""
    env = aiohttp_jinja2.setup(web_app, loader=jinja2.FileSystemLoader(HERE / "templates"),
                               autoescape=jinja2.select_autoescape(default=True), undefined=jinja2.StrictUndefined)
    env.globals["prefix"] = PREFIX
    env.filters["phone"] = parsers.show_phone
    web_app.router.add_static(PREFIX + "/static/", HERE / "static", append_version=True)
    signin = SignIn(app)
    web_app.router.add_get(PREFIX + "/signin", signin.ask)
    web_app.router.add_get(PREFIX + "/signin/{token}", signin.confirm)
    web_app.router.add_post(PREFIX + "/signin/{token}", boundary.guarded("console", signin.enter))
    for page in pages:
        web_app.router.add_route(page.method, PREFIX + page.path, guard(app, page, pages))
    if not any(p.path == "/" for p in pages):
        raise ValueError("the console needs a page at /")
    web_app.router.add_get(PREFIX, to_home)


async def to_home(_request: web.Request) -> web.StreamResponse:
    return _secure_headers(redirect("/"))


class SignIn:
    """The sign-in pages: a link from chat shows one button, pressing it opens a session."""

    def __init__(self, app: App) -> None:
        self.app = app

    def _t(self, request: web.Request) -> Translator:
        # Before sign-in the browser's language is all there is to go by.
        accept = request.headers.get("Accept-Language", "")
        return translator("en" if accept[:2].lower() == "en" else self.app.settings.default_locale)

    def _page(self, request: web.Request, state: str, status: int = 200, nonce: str = "") -> web.StreamResponse:
        t = self._t(request)
        return _secure_headers(render(request, Html("signin.html", {"state": state, "nonce": nonce}, status),
                                      {"t": t, "lang": t.locale, "nav": [], "role": None, "csrf": ""}))

    async def ask(self, request: web.Request) -> web.StreamResponse:
        return self._page(request, "ask")

    async def confirm(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        if not TOKEN.fullmatch(token):
            return self._page(request, "expired", 410)
        async with self.app.sessions() as session:
            valid = await staff.link_valid(session, token, self.app.engine.clock.now())
        if not valid:
            return self._page(request, "expired", 410)
        nonce = secrets.token_urlsafe(16)
        response = self._page(request, "confirm", nonce=nonce)
        response.set_cookie(NONCE_COOKIE, nonce, httponly=True, samesite="Strict", secure=_secure(self.app.settings),
                            path=PREFIX + "/signin", max_age=600)
        return response

    async def enter(self, request: web.Request) -> web.StreamResponse:
        form = await boundary.read_form(request, FORM_LIMIT)
        token = request.match_info["token"]
        now = self.app.engine.clock.now()
        if not TOKEN.fullmatch(token):
            return self._page(request, "expired", 410)
        async with self.app.sessions() as session:
            if not await staff.link_valid(session, token, now):
                return self._page(request, "expired", 410)
        nonce = (form.get("nonce") or [""])[0].encode()
        if not nonce or not hmac.compare_digest(nonce, request.cookies.get(NONCE_COOKIE, "").encode()):
            # Not pressed on the page the link opened in this browser: the link stays unused.
            log.info("console sign-in refused: not from the sign-in page of this browser")
            return self._page(request, "again", 403)
        async with self.app.sessions() as session, session.begin():
            user_id = await staff.redeem_link(session, token, now)
            role = await staff.role_of(session, user_id) if user_id is not None else None
            if user_id is None or role is None:
                log.info("console sign-in refused: link unknown, used or expired")
                return self._page(request, "expired", 410)
            opened = await staff.open_session(session, user_id, now)
        log.info("console sign-in user=%s role=%s", user_id, role)
        response = redirect("/")
        response.del_cookie(NONCE_COOKIE, path=PREFIX + "/signin")
        response.set_cookie(COOKIE, opened.cookie, httponly=True, samesite="Lax", secure=_secure(self.app.settings),
                            path=PREFIX)
        return _secure_headers(response)


async def sign_out(ctx: WebCtx) -> Result:
    cookie = _cookie(ctx.request)
    if cookie:
        await staff.end_session(ctx.session, cookie)
    response = redirect("/signin")
    response.del_cookie(COOKIE, path=PREFIX)
    return response


PAGES = (Page("/signout", sign_out, ALL_ROLES, method="POST"),)
