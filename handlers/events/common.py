"""What both sides of events share: page sizes and how long an offered seat is held."""

from __future__ import annotations

import datetime as dt

from kernel.core import Ctx

PAGE = 5


def hold(ctx: Ctx) -> dt.timedelta:
    """How long a freed seat offered to the next person waiting stays theirs (EVENT_OFFER_HOURS)."""
    return dt.timedelta(hours=ctx.settings.event_offer_hours)
