"""The console shell: chat with the bot in a terminal, no token needed (like `rasa shell`).

Buttons are printed as numbered choices and pressed by typing `#N`; anything else is
sent as typed text, so a number answer ("3") is never mistaken for a button.
Proactive messages addressed to the console user (admin notifications, results) are
printed as they are dispatched. `/file PATH` sends a local file the way a Telegram user
sends a document (an admin's firm list to import, for instance).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from bot.engine import Engine
from kernel.core import Button, FileUnavailable, Incoming, Reply
from kernel.i18n import translator

CHANNEL = "console"


class ConsoleChannel:
    """Renders replies as text; also the console's outbox notifier."""

    channel = CHANNEL

    def __init__(self, engine: Engine, *, user: str = "local", out: TextIO = sys.stdout) -> None:
        self.engine = engine
        self.user = user
        self.out = out
        self.buttons: list[Button] = []
        engine.add_channel(self)

    @staticmethod
    def start_link(_payload: str) -> str | None:
        return None  # a terminal has no links: people type the /start command

    @staticmethod
    async def fetch_file(file_ref: str) -> bytes:
        """A "sent" file is a local path typed with /file."""
        path = Path(file_ref)
        if not path.is_file():
            raise FileUnavailable(f"no such file: {file_ref}")
        return await asyncio.to_thread(path.read_bytes)

    def render(self, replies: Sequence[Reply]) -> None:
        self.buttons = []
        for reply in replies:
            if not reply.text and not reply.buttons and not reply.attachment:
                continue
            print("\n" + ("(수정됨) " if reply.edit else "") + reply.text, file=self.out)
            for row in reply.buttons:
                cells = []
                for button in row:
                    if button.url:
                        cells.append(f"{button.label} <{button.url}>")
                    else:
                        self.buttons.append(button)
                        cells.append(f"#{len(self.buttons)} {button.label}")
                print("   " + "   ".join(cells), file=self.out)
            if reply.file:
                print(f"[file: {reply.file.filename}, {len(reply.file.data)} bytes]", file=self.out)
            if reply.attachment:
                print("[photo]" if reply.attachment.kind == "photo" else "[file]", file=self.out)
        self.out.flush()

    def incoming(self, line: str) -> Incoming:
        """A typed line as the core sees it: a button press, a command or text."""
        line = line.strip()
        if line.startswith("#") and line[1:].isdigit() and 1 <= int(line[1:]) <= len(self.buttons):
            return Incoming(CHANNEL, self.user, self.user, button=self.buttons[int(line[1:]) - 1].payload)
        if line.startswith("/file ") and line[6:].strip():
            path = Path(line[6:].strip()).expanduser().resolve()
            return Incoming(CHANNEL, self.user, self.user, attachment="document", file_ref=str(path),
                            file_name=path.name)
        command = Incoming.parse_command(line)
        if command is not None:
            return Incoming(CHANNEL, self.user, self.user, text=line, command=command[0], args=command[1])
        return Incoming(CHANNEL, self.user, self.user, text=line)

    async def say(self, line: str) -> None:
        response = await self.engine.handle(self.incoming(line))
        # A toast that says what a reply says (a refusal) is Telegram's pop-up; printed here too it
        # read as the notice twice.
        if response.toast and all(response.toast not in r.text for r in response.replies):
            print(f"({response.toast})", file=self.out)
        self.render(response.replies)

    async def send(self, chat_id: str, message: dict[str, Any]) -> None:
        if chat_id != self.user:
            return
        print("\n" + translator(self.engine.settings.default_locale)("console.proactive"), file=self.out)
        self.render([Reply.from_payload(message)])
        print("> ", end="", file=self.out, flush=True)

    async def run(self, stdin: TextIO = sys.stdin) -> None:
        print(translator(self.engine.settings.default_locale)("console.help"), file=self.out)
        await self.say("/start")
        while True:
            print("> ", end="", file=self.out, flush=True)
            line = await asyncio.to_thread(stdin.readline)
            if not line:
                print(file=self.out)
                return
            if line.strip() in ("/quit", "/exit"):
                return
            if line.strip():
                await self.say(line)
