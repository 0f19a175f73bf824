"""A small RFC 5545 (iCalendar) writer: pure functions, no I/O, no dependency.

- Lines end with CRLF.
- Content lines longer than 75 octets are folded (CRLF + one space), never inside a UTF-8
  character, so Japanese text stays valid.
- TEXT values escape backslash, semicolon, comma and newlines (section 3.3.11).
- DTSTART/DTEND/DTSTAMP are UTC date-times (``YYYYMMDDTHHMMSSZ``), so no VTIMEZONE is needed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

CRLF = "\r\n"
MAX_OCTETS = 75
PRODID = "-//Gunma SDGs Future City//NETSUGEN booking 1.0//JA"

EventStatus = Literal["CONFIRMED", "TENTATIVE", "CANCELLED"]


def escape_text(value: str) -> str:
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def format_utc(dt: datetime) -> str:
    if dt.tzinfo is None:
        raise ValueError("iCalendar times need an aware datetime")
    return dt.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def fold(line: str) -> str:
    """Fold one content line into chunks of at most 75 octets (continuations start with a space)."""
    out: list[str] = []
    current = ""
    size = 0
    limit = MAX_OCTETS
    for char in line:
        n = len(char.encode("utf-8"))
        if size + n > limit:
            out.append(current)
            current, size = " ", 1  # the leading space counts towards the next line's 75 octets
        current += char
        size += n
    out.append(current)
    return CRLF.join(out)


@dataclass(frozen=True)
class VEvent:
    uid: str
    start: datetime
    end: datetime
    summary: str
    description: str | None = None
    location: str | None = None
    status: EventStatus = "CONFIRMED"
    categories: tuple[str, ...] = field(default_factory=tuple)
    url: str | None = None
    last_modified: datetime | None = None
    #: RFC 5545 3.8.7.4: raised on each change a client must apply (a promotion, a cancellation).
    sequence: int = 0

    def lines(self, dtstamp: datetime) -> list[str]:
        out = [
            "BEGIN:VEVENT",
            f"UID:{self.uid}",
            f"DTSTAMP:{format_utc(dtstamp)}",
            f"DTSTART:{format_utc(self.start)}",
            f"DTEND:{format_utc(self.end)}",
            f"SUMMARY:{escape_text(self.summary)}",
        ]
        if self.description:
            out.append(f"DESCRIPTION:{escape_text(self.description)}")
        if self.location:
            out.append(f"LOCATION:{escape_text(self.location)}")
        if self.categories:
            out.append("CATEGORIES:" + ",".join(escape_text(c) for c in self.categories))
        if self.url:
            out.append(f"URL:{self.url}")
        if self.last_modified:
            out.append(f"LAST-MODIFIED:{format_utc(self.last_modified)}")
        out.append(f"SEQUENCE:{self.sequence}")
        out.append(f"STATUS:{self.status}")
        out.append("END:VEVENT")
        return out


def render_calendar(events: Iterable[VEvent], *, name: str, dtstamp: datetime) -> str:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape_text(name)}",
        "X-WR-TIMEZONE:Asia/Tokyo",
    ]
    for event in events:
        lines.extend(event.lines(dtstamp))
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + CRLF for line in lines)
