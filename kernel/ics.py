"""One calendar entry as an .ics file (icalendar), for a booking or an event the person can add
to their phone's calendar."""

from __future__ import annotations

import datetime as dt

from icalendar import Calendar, Event


def ics(*, prodid: str, uid: str, stamp: dt.datetime, start: dt.datetime, end: dt.datetime, summary: str,
        location: str, description: str, url: str | None = None) -> bytes:
    cal = Calendar()
    cal.add("prodid", prodid)
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    item = Event()
    item.add("uid", uid)
    item.add("dtstamp", stamp)
    item.add("dtstart", start)
    item.add("dtend", end)
    item.add("summary", summary)
    item.add("location", location)
    if url:
        item.add("url", url)
    item.add("description", description)
    cal.add_component(item)
    return bytes(cal.to_ical())
