"""Front-desk problems. The slugs are shown at the desk and by kiosks: keep them stable.

Refusals that depend on the state of the space or the visit are 409 (`space-closed`, `space-full`,
`visit-already-open`, `visit-overlap`); a time that can never be valid is 422.
"""

from __future__ import annotations

from shared.errors import Conflict, Forbidden, NotFound, Unprocessable


class VisitNotFound(NotFound):
    slug, title = "visit-not-found", "Unknown visit"


class SpaceClosed(Conflict):
    slug, title = "space-closed", "NETSUGEN is closed now"


class SpaceFull(Conflict):
    slug, title = "space-full", "NETSUGEN is at capacity"


class VisitAlreadyOpen(Conflict):
    slug, title = "visit-already-open", "Already checked in"


class VisitOverlap(Conflict):
    slug, title = "visit-overlap", "The visit overlaps another visit of the same person"


class NotYourVisit(Forbidden):
    slug, title = "not-your-visit", "This visit is another member's"


class TimesNotInOrder(Unprocessable):
    slug, title = "times-not-in-order", "check_out_at must be after check_in_at"


class TimeInFuture(Unprocessable):
    slug, title = "time-in-future", "Visit times cannot be in the future"


class OutsideOpeningHours(Unprocessable):
    slug, title = "outside-opening-hours", "Outside that day's opening hours"


class ManualEntryMemberSuspended(Conflict):
    slug, title = "manual-entry-member-suspended", "The member is suspended"


class ManualEntryMemberLeft(Conflict):
    slug, title = "manual-entry-member-left", "The member had left by then"


class ManualEntryBeforeRegistration(Unprocessable):
    slug, title = "manual-entry-before-registration", "The day is before the member registered"


class NoOpenVisit(Conflict):
    slug, title = "no-open-visit", "The person is not checked in"
