"""What both sides of events share: page sizes, how long an offered seat is held, and the
people's event buttons (the admin's announcement carries "register")."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from kernel.core import Ctx
from kernel.payloads import Payload

PAGE = 5


def hold(ctx: Ctx) -> dt.timedelta:
    """How long a freed seat offered to the next person waiting stays theirs (EVENT_OFFER_HOURS)."""
    return dt.timedelta(hours=ctx.settings.event_offer_hours)


# --- the people's buttons (the seat offer's two are scheduler.events', which sends them) ----------


@dataclass(frozen=True)
class EventsPage(Payload, prefix="ev", action="p"):
    offset: int


@dataclass(frozen=True)
class Register(Payload, prefix="ev", action="reg"):
    event: int


@dataclass(frozen=True)
class JoinWaitlist(Payload, prefix="ev", action="wait"):
    event: int


@dataclass(frozen=True)
class AskUnregister(Payload, prefix="ev", action="c"):
    event: int


@dataclass(frozen=True)
class Unregister(Payload, prefix="ev", action="cy"):
    event: int


@dataclass(frozen=True)
class KeepSeat(Payload, prefix="ev", action="keep"):
    pass
