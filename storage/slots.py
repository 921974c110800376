"""Free consultation slots, computed from what storage loaded (pure functions, no I/O).

Time is cut into 10-minute cells on a global grid. A booking occupies the cells of its
session plus the counselor's buffer after it; a slot is free when none of its cells is
taken. The same cells are the database rule against double booking
(`storage.models.BookingCell`), so what is shown as free and what can be confirmed
are decided by one piece of arithmetic.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

CELL = dt.timedelta(minutes=10)
STEP_MAX = dt.timedelta(minutes=30)  # offered start times: every 30 minutes at most


@dataclass(frozen=True)
class Window:
    counselor_id: int
    place_id: int
    weekday: int
    start_minute: int
    end_minute: int


@dataclass(frozen=True)
class Slot:
    counselor_id: int
    place_id: int
    starts_at: dt.datetime  # UTC
    ends_at: dt.datetime


def cells(start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """The grid cells covering [start, end); `end` is rounded up to the grid."""
    epoch = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    first = epoch + ((start - epoch) // CELL) * CELL
    out = []
    cell = first
    while cell < end:
        out.append(cell)
        cell += CELL
    return out


def occupied(start: dt.datetime, end: dt.datetime, buffer: dt.timedelta) -> list[dt.datetime]:
    """Cells a booking holds: the session and the buffer after it."""
    return cells(start, end + buffer)


def local_dt(day: dt.date, minute: int, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=tz) + dt.timedelta(minutes=minute)


def free_slots(
    *,
    windows: Iterable[Window],
    day: dt.date,
    tz: dt.tzinfo,
    length: dt.timedelta,
    buffer: dt.timedelta,
    earliest: dt.datetime,
    busy: Mapping[int, AbstractSet[dt.datetime]],
    days_off: set[tuple[int, dt.date]],
    day_counts: Mapping[tuple[int, dt.date], int],
    daily_cap: int,
    first_only: bool = False,
) -> list[Slot]:
    """Every free slot of `day` (local date) across the given windows, in time order.

    `busy`: the taken cells per counselor (`by_counselor`). A counselor with no taken cell
    in the window's span has every slot free, which is most of them: their slots are not
    checked cell by cell. `first_only`: stop at the first free slot found (whether a day
    has room at all), not necessarily the earliest.
    """
    step = min(length, STEP_MAX)
    out: list[Slot] = []
    weekday = day.weekday()
    for w in windows:
        if w.weekday != weekday or (w.counselor_id, day) in days_off:
            continue
        if day_counts.get((w.counselor_id, day), 0) >= daily_cap:
            continue
        start = local_dt(day, w.start_minute, tz)
        end = local_dt(day, w.end_minute, tz)
        held = busy.get(w.counselor_id, ())
        span = cells(start.astimezone(dt.UTC), end.astimezone(dt.UTC) + buffer) if held else []
        check = any(c in held for c in span)
        while start + length <= end:
            s_utc = start.astimezone(dt.UTC)
            e_utc = s_utc + length
            if s_utc >= earliest and not (check and any(c in held for c in occupied(s_utc, e_utc, buffer))):
                out.append(Slot(w.counselor_id, w.place_id, s_utc, e_utc))
                if first_only:
                    return out
            start += step
    return sorted(out, key=lambda s: (s.starts_at, s.counselor_id))


def by_counselor(taken: Iterable[tuple[int, dt.datetime]]) -> dict[int, set[dt.datetime]]:
    """Taken cells grouped per counselor, as `free_slots` reads them."""
    out: dict[int, set[dt.datetime]] = {}
    for counselor_id, cell in taken:
        out.setdefault(counselor_id, set()).add(cell)
    return out


def pick_counselor(candidates: Sequence[Slot], week_load: Mapping[int, int],
                   prefer: int | None = None) -> Slot | None:
    """The slot whose counselor has the fewest sessions that week (ties: lowest id); `prefer` wins if free."""
    if not candidates:
        return None
    if prefer is not None:
        for slot in candidates:
            if slot.counselor_id == prefer:
                return slot
    return min(candidates, key=lambda s: (week_load.get(s.counselor_id, 0), s.counselor_id))
