"""Settings (`/settings`, 설정): what a person can switch for themselves.

1. `/settings` (or 설정 in the menu) shows whether they receive announcements and
   promotions (공지·홍보 메시지 받기: on/off) and their language, with a button to switch
   announcements and one to change the language (the `/lang` choice).
2. Switching announcements off takes them out of every broadcast and event announcement
   from then on (`storage.audience.recipients`); messages about their own bookings and
   event registrations still reach them.
3. Registered job seekers also see the daily digest of new postings (새 채용공고 알림:
   on/off, off by default): at most one message a day with new postings that fit them
   (`handlers.jobs.postings.send_digests`).
The switch button says which state it sets (not "toggle"), and the press is checked
against the database: a press on an old settings message, or twice, never flips the
setting back.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from kernel.core import BadPayload, Button, CommandRoute, Ctx, MenuItem, Reply, Router, on, payload
from kernel.payloads import Payload
from storage import firms, seekers

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Switch(Payload, prefix="set"):
    """`set:ann|dig:on|off`: the state the press sets, never "flip" (an old message pressed twice is harmless)."""

    switch: Literal["ann", "dig"]
    state: Literal["on", "off"]


async def card(ctx: Ctx, note: str | None = None, *, edit: bool = False) -> Reply:
    t = ctx.t
    on = not ctx.user.announcements_opt_out
    lines = [note] if note else []
    lines.append(t("settings.title", announcements=t("settings.on" if on else "settings.off"),
                   language=t("lang.name")))
    rows = [
        [Button(t("settings.turn_off" if on else "settings.turn_on"), Switch("ann", "off" if on else "on").pack())],
    ]
    if await seekers.get(ctx.session, ctx.user.id) is not None:
        digest = await firms.digest_on(ctx.session, ctx.user.id)
        lines.append(t("settings.digest", state=t("settings.on" if digest else "settings.off")))
        rows.append([Button(t("settings.digest_off" if digest else "settings.digest_on"),
                            Switch("dig", "off" if digest else "on").pack())])
    rows.append([Button(t("settings.language"), payload("m", "lang"))])
    rows.append([Button(t("settings.link"), payload("m", "link"))])
    return Reply("\n\n".join(lines), rows, edit=edit)


async def show(ctx: Ctx, _args: Sequence[str]) -> list[Reply]:
    return [await card(ctx)]


async def on_button(ctx: Ctx, press: Switch) -> list[Reply]:
    """Sets (not flips) a switch, whatever it was."""
    want_on = press.state == "on"
    if press.switch == "dig":
        if await seekers.get(ctx.session, ctx.user.id) is None:
            raise BadPayload("digest switch without a seeker profile")
        if await firms.digest_on(ctx.session, ctx.user.id) != want_on:
            await firms.set_digest(ctx.session, ctx.user.id, want_on, ctx.now)
            log.info("job digest %s user=%s", press.state, ctx.user.id)
        return [await card(ctx, ctx.t("settings.digest_saved_on" if want_on else "settings.digest_saved_off"),
                           edit=True)]
    if ctx.user.announcements_opt_out != (not want_on):
        ctx.user.announcements_opt_out = not want_on
        log.info("announcements %s user=%s", press.state, ctx.user.id)
    return [await card(ctx, ctx.t("settings.saved_on" if want_on else "settings.saved_off"), edit=True)]


def build() -> Router:
    return Router(
        name="settings",
        commands=[CommandRoute("settings", show, describe="cmd.settings")],
        buttons=[on(Switch, on_button)],
        menu=[MenuItem("menu.settings", "settings", order=85)],
        phrases={"설정": "settings", "수신거부": "settings", "settings": "settings"},
    )
