"""Linking Telegram and KakaoTalk (`/link`, 계정 연결): one person, one profile.

What a person goes through:
1. On one messenger, `/link` (or 설정 → 계정 연결) gives a 6-digit code, valid 10 minutes
   and only once, with the line to send on the other messenger.
2. On the other messenger, `/link 123456` (or `/link` → 코드 입력하기 → the code).
   Everything the first messenger's account holds (registration, membership, bookings,
   event registrations, settings) joins the account they type it on, and both
   messengers are now the same person; the answer says which messenger reminders go to
   (the identity `storage.users.reachable_identity` picks).
3. A code from the same messenger, an unknown or expired one is refused with a clear
   line; after 5 wrong codes in an hour, linking is paused for that hour (a code cannot
   be guessed). When both accounts hold something that exists once per person (two
   job-seeker registrations, both registered for the same event ...), nothing is
   changed and the answer says what to delete or cancel first on one side.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Sequence

from kernel.core import Button, CommandRoute, Ctx, Invalid, Reply, Router, payload
from kernel.forms import Answers, Extra, Field, FieldInput, Form
from storage import linking, users
from storage.audit import audit

log = logging.getLogger(__name__)


def parse_code(text: str, _inp: FieldInput | None = None) -> str:
    code = "".join(unicodedata.normalize("NFKC", text).split()).replace("-", "")
    if len(code) != 6 or not code.isdigit():
        raise Invalid("link.code_format")
    return code


async def link(ctx: Ctx, args: Sequence[str]) -> list[Reply]:
    t = ctx.t
    if args and args[0] == "enter":
        return await ctx.app.start_form(ctx, "link")
    if args:
        try:
            return await redeem(ctx, parse_code("".join(args)))
        except Invalid as exc:
            return [Reply(t(exc.key))]
    code = await linking.issue(ctx.session, ctx.user.id, ctx.incoming.channel, ctx.now)
    minutes = int(linking.CODE_TTL.total_seconds() // 60)
    return [Reply(t("link.code", code=code.code, minutes=minutes),
                  [[Button(t("link.enter"), payload("m", "link", "enter"))]])]


async def _submit(ctx: Ctx, a: Answers, _extra: Extra) -> list[Reply]:
    return [*await redeem(ctx, a["code"]), await ctx.app.menu(ctx)]


async def redeem(ctx: Ctx, code: str) -> list[Reply]:
    t = ctx.t
    if await linking.locked_out(ctx.session, ctx.user.id, ctx.now):
        return [Reply(t("link.locked"))]
    found = await linking.find(ctx.session, code, ctx.now)
    if found is None:
        left = await linking.record_failure(ctx.session, ctx.user.id, ctx.now)
        return [Reply(t("link.unknown", n=left) if left else t("link.locked"))]
    if found.user_id == ctx.user.id:
        return [Reply(t("link.same_account"))]
    if found.channel == ctx.incoming.channel:
        return [Reply(t("link.same_channel"))]
    result = await linking.merge(ctx.session, found.user_id, ctx.user, ctx.now)
    if isinstance(result, linking.Conflict):
        log.info("link refused user=%s other=%s table=%s", ctx.user.id, found.user_id, result.table)
        key = f"link.conflict.{result.table}"
        return [Reply(t(key) if t.has(key) else t("link.conflict"))]
    await audit(ctx.session, ctx.user.id, "account.linked", f"user:{ctx.user.id}", ctx.now,
                {"merged_user": found.user_id, "moved": result.moved})
    log.info("accounts linked user=%s merged=%s", ctx.user.id, found.user_id)
    reachable = await users.reachable_identity(ctx.session, ctx.user.id)
    notify = t(f"channel.{reachable.channel}") if reachable is not None else t(f"channel.{ctx.incoming.channel}")
    return [Reply(t("link.done", channel=t(f"channel.{found.channel}"), notify=notify))]


FORM = Form("link", (Field("code", parse=parse_code),), on_submit=_submit, summary=False, opened_by=("link",),
            keep_draft=False)


def build() -> Router:
    return Router(
        name="link",
        commands=[CommandRoute("link", link, describe="cmd.link")],
        forms=[FORM],
        phrases={"계정연결": "link", "계정 연결": "link", "link": "link"},
    )
