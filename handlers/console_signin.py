"""Signing in to the staff web console from chat (`/console`, 콘솔).

What a staff member goes through:
1. `/console` (or 콘솔) in Telegram or KakaoTalk answers with a sign-in link, valid
   10 minutes and only once, and says so. A configured admin (ADMIN_TELEGRAM_IDS) is made a
   console admin the first time; other staff get their role from an admin in the console.
2. Opening the link shows one button, 로그인; pressing it starts a session in that browser
   (a link preview fetched by the messenger does not use the link up).
3. Someone without a staff role hears that the console is for staff, and no link is made;
   a sixth link within an hour is refused with when to try again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from kernel.core import CommandRoute, Ctx, Reply, Router
from storage import staff

log = logging.getLogger(__name__)


async def console(ctx: Ctx, _args: Sequence[str]) -> list[Reply]:
    t = ctx.t
    if ctx.is_admin:
        await staff.seed_admin(ctx.session, ctx.user.id, ctx.now)
    role = await staff.role_of(ctx.session, ctx.user.id)
    if role is None:
        log.info("console link refused: no staff role user=%s", ctx.user.id)
        return [Reply(t("console.not_staff"))]
    token = await staff.issue_link(ctx.session, ctx.user.id, ctx.now)
    if token is None:
        log.info("console link refused: rate limit user=%s", ctx.user.id)
        return [Reply(t("console.too_many", n=staff.LINKS_PER_HOUR))]
    url = ctx.settings.base_url.rstrip("/") + staff.SIGNIN_PATH + token
    log.info("console link issued user=%s role=%s", ctx.user.id, role)
    return [Reply(t("console.link", url=url, minutes=int(staff.LINK_TTL.total_seconds() // 60),
                    role=t(f"console.role.{role}")))]


def build() -> Router:
    return Router(
        name="console",
        commands=[CommandRoute("console", console, describe="cmd.console", roles=("counselor", "admin"))],
        phrases={"콘솔": "console", "console": "console"},
    )
