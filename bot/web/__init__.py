"""The staff web console: the centre's daily work in a browser, on the bot's own HTTP server.

Staff sign in with a single-use link from `/console` in chat (`handlers/console_signin.py`);
the session lives in the database, the role too (`storage/staff.py`). Pages are rendered on
the server (Jinja2, `templates/`), work without JavaScript and on a phone, in the staff
member's language. `core.py` is the frame every page passes (session, role → 403, CSRF on
every POST, one transaction); each module here is one area of pages.

`PAGES` is the table of contents, like `bot.app.ROUTERS`: a feature adds its pages as a
module with its own `PAGES` (paths, roles, handlers, an optional menu entry) and one entry
here; the menu, the role checks and CSRF come with it. Pages read and act through storage,
reports and the scheduler's shared actions, the same code the chat handlers call.
"""

from __future__ import annotations

from aiohttp import web

from bot.app import App
from bot.web import admin, broadcasts, calendar, clinic, core, dashboard, events, firms, people

PAGES: tuple[core.Page, ...] = (
    *dashboard.PAGES,
    *people.PAGES,
    *calendar.PAGES,
    *clinic.PAGES,
    *events.PAGES,
    *firms.PAGES,
    *broadcasts.PAGES,
    *admin.PAGES,
    *core.PAGES,
)


def mount(web_app: web.Application, app: App) -> None:
    core.mount(web_app, app, PAGES)
