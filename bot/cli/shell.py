"""`python -m bot shell [--admin] [--user ID]`: chat with the bot in the terminal, no token needed.

The newcomer's first contact. The first run loads the demo set when the firm table is
empty (`bot.cli.firms.demo_if_empty`), so `/jobs` shows matches, and the sample 기술교육원 courses
when there are none (`bot.cli.courses.sample_if_empty`); not with `DEMO_DATA=false`.
"""

from __future__ import annotations

from bot.app import running
from bot.channels.console import CHANNEL, ConsoleChannel
from bot.cli import courses as courses_cli
from bot.cli.firms import demo_if_empty
from kernel.config import Settings
from kernel.i18n import translator


async def run(settings: Settings, admin: bool, user: str) -> None:
    extra = [(CHANNEL, user)] if admin else []
    async with running(settings, extra_admins=extra) as app:
        loaded = await demo_if_empty(app.sessions, app.engine.clock.now(), settings.tz) if settings.demo_data else None
        if loaded is not None:
            print(translator(settings.default_locale)("import.demo_loaded", firms=loaded.firms.added,
                                                      postings=loaded.postings.added))
        if settings.demo_data:
            await courses_cli.sample_if_empty(app.sessions, app.engine.clock.now(), settings.tz)
        console = ConsoleChannel(app.engine, user=user)
        app.dispatcher.add_notifier(console)
        await console.run()
