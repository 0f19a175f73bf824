"""Problems of bookings, and of the time rules shared by bookings, events and consultations."""

from __future__ import annotations

from shared.errors import Conflict, Forbidden, NotFound, Unprocessable


# ---- time rules (bookings, events, consultation windows) --------------------------------------
class TimesNotInOrder(Unprocessable):
    slug, title = "times-not-in-order", "The end is not after the start"


class OffGrid(Unprocessable):
    slug, title = "off-grid", "Time is not on the booking grid"


class InThePast(Unprocessable):
    slug, title = "in-the-past", "Time is in the past"


class ClosedDay(Unprocessable):
    slug, title = "closed-day", "NETSUGEN is closed that day"


class OutsideOpeningHours(Unprocessable):
    slug, title = "outside-opening-hours", "Outside opening hours"


class UnsupportedDate(Unprocessable):
    slug, title = "unsupported-date", "Date outside the supported calendar"


# ---- resources and members -------------------------------------------------------------------
class ResourceNotFound(NotFound):
    slug, title = "resource-not-found", "Unknown resource"


class UnknownResource(Unprocessable):
    """An unknown ``resource_id`` in a request body."""

    slug, title = "unknown-resource", "Unknown resource"


class ResourceInactive(Conflict):
    slug, title = "resource-inactive", "Resource not bookable"


class ResourceSlugTaken(Conflict):
    slug, title = "resource-slug-taken", "Resource slug already used"


class UnknownMember(Unprocessable):
    slug, title = "unknown-member", "Unknown member"


class MemberNotActive(Conflict):
    slug, title = "member-not-active", "Member is suspended or has left"


class NotYourMember(Forbidden):
    slug, title = "forbidden", "Forbidden"


# ---- bookings --------------------------------------------------------------------------------
class BookingNotFound(NotFound):
    slug, title = "booking-not-found", "Unknown booking"


class SlotTaken(Conflict):
    slug, title = "slot-taken", "The resource is already booked at that time"


class CancellationDeadlinePassed(Conflict):
    slug, title = "cancellation-deadline-passed", "The cancellation deadline has passed"


class BookingEnded(Conflict):
    slug, title = "booking-ended", "The booking has already ended"


class HeldByEvent(Conflict):
    slug, title = "held-by-event", "This booking holds the resource for an event"
