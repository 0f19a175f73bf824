from __future__ import annotations

from shared.errors import Conflict, NotFound, Unprocessable


class CoordinatorNotFound(NotFound):
    slug, title = "coordinator-not-found", "Unknown coordinator"


class AvailabilityNotFound(NotFound):
    slug, title = "availability-not-found", "Unknown availability window"


class ConsultationNotFound(NotFound):
    slug, title = "consultation-not-found", "Unknown consultation"


class UnknownSlot(Unprocessable):
    slug, title = "unknown-slot", "Unknown consultation slot"


class SlotBooked(Conflict):
    slug, title = "slot-taken", "The consultation slot is already booked"


class CoordinatorInactive(Conflict):
    slug, title = "coordinator-inactive", "The coordinator takes no consultations"


class ConsultationCancelled(Conflict):
    slug, title = "consultation-cancelled", "The consultation was cancelled"


class ConsultationNotHeld(Conflict):
    slug, title = "consultation-not-held", "The consultation has not taken place yet"


class ConsultationStarted(Conflict):
    slug, title = "consultation-started", "The consultation has already started"


class InvalidWindow(Unprocessable):
    slug, title = "invalid-window", "Invalid availability window"
