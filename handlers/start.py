"""Welcome, main menu, help, language and cancel: the commands that work anywhere.

What the user goes through:
1. `/start` (or opening a deep link `/start register`): a short Korean welcome that
   says what the centre offers, then the main menu as buttons.
2. `/menu` at any time: the menu; an unfinished form is kept as a draft and offered on
   top of the menu ("작성 중인 구직등록 이어서 하기").
3. `/help`: what each command does, for who they are: everyone's commands, a counselor's
   also theirs (/availability, /agenda, /myrating, /referrals), an admin's also the admin
   commands; inside a form, the current question is asked again.
4. `/lang`: 한국어 / English; every later text comes in that language.
5. `/cancel`: leaves the current form without saving it.
"""

from __future__ import annotations

from collections.abc import Sequence

from kernel.core import Button, CommandRoute, Ctx, MenuItem, Reply, Router, payload
from kernel.i18n import LOCALES, translator
from kernel.people import is_counselor

# Deep-link payloads (t.me/<bot>?start=<payload>) that open a feature directly.
DEEP_LINKS = {"register": "register", "membership": "membership", "profile": "profile"}


async def start(ctx: Ctx, args: Sequence[str]) -> list[Reply]:
    """Greets, then opens the deep-linked feature or the menu."""
    t = ctx.t
    if args and args[0] in DEEP_LINKS:
        return [Reply(t("start.welcome")), *await ctx.app.run_command(ctx, DEEP_LINKS[args[0]], ())]
    if args:
        claimed = await ctx.app.run_deep_link(ctx, args[0])
        if claimed is not None:
            return claimed
    if ctx.conv.flow:
        ctx.conv.paused = True
    return [Reply(t("start.welcome")), await ctx.app.menu(ctx)]


async def menu(ctx: Ctx, _args: Sequence[str]) -> list[Reply]:
    """Shows the menu; an open form waits as a draft."""
    if ctx.conv.flow:
        ctx.conv.paused = True
    return [await ctx.app.menu(ctx)]


async def help_(ctx: Ctx, _args: Sequence[str]) -> list[Reply]:
    t = ctx.t
    lines = [t("help.intro"), ""]
    roles = frozenset({"admin"} if ctx.is_admin else set()) | ({"counselor"} if await is_counselor(ctx) else set())
    lines += [f"/{name} — {t(key)}" for name, key in ctx.app.commands(roles)]
    lines += ["", t("help.privacy")]
    out = [Reply("\n".join(lines))]
    if ctx.conv.flow and not ctx.conv.paused:
        out += await ctx.app.where_you_were(ctx)
    return out


async def cancel(ctx: Ctx, _args: Sequence[str]) -> list[Reply]:
    t = ctx.t
    if not ctx.conv.flow:
        return [Reply(t("cancel.nothing")), await ctx.app.menu(ctx)]
    ctx.conv.flow = ctx.conv.step = None
    ctx.conv.data, ctx.conv.paused = {}, False
    return [Reply(t("form.cancelled")), await ctx.app.menu(ctx)]


async def lang(ctx: Ctx, args: Sequence[str]) -> list[Reply]:
    """Without an argument offers the languages; with one switches and goes on where the person was."""
    t = ctx.t
    if not args or args[0] not in LOCALES:
        rows = [[Button(translator(loc)("lang.name"), payload("m", "lang", loc)) for loc in LOCALES]]
        return [Reply(t("lang.pick"), rows)]
    ctx.user.locale = args[0]
    ctx.t = translator(args[0])
    return [Reply(ctx.t("lang.changed")), *await ctx.app.where_you_were(ctx)]


def build() -> Router:
    return Router(
        name="start",
        commands=[
            CommandRoute("start", start, describe="cmd.start"),
            CommandRoute("menu", menu, describe="cmd.menu"),
            CommandRoute("help", help_, describe="cmd.help"),
            CommandRoute("lang", lang, describe="cmd.lang"),
            CommandRoute("cancel", cancel, describe="cmd.cancel"),
        ],
        menu=[MenuItem("menu.help", "help", order=90), MenuItem("menu.lang", "lang", order=91)],
        phrases={"메뉴": "menu", "menu": "menu", "도움말": "help", "help": "help", "취소": "cancel", "cancel": "cancel",
                 "처음": "start", "시작": "start", "english": "lang:en", "한국어": "lang:ko"},
    )
