from __future__ import annotations

from shared.errors import Conflict, NotFound, ProblemError, Unprocessable


class ProgramNotFound(NotFound):
    slug, title = "program-not-found", "Unknown event"


class RegistrationNotFound(NotFound):
    slug, title = "registration-not-found", "Unknown registration"


class RegistrationClosed(Conflict):
    slug, title = "registration-closed", "Registration is not open"


class AlreadyRegistered(Conflict):
    slug, title = "already-registered", "Already registered for this event"


class ProgramClosed(Conflict):
    slug, title = "program-closed", "The event is closed"


class ProgramStarted(Conflict):
    slug, title = "program-started", "The event has already started"


class ProgramNotStarted(Conflict):
    slug, title = "program-not-started", "The event has not started yet"


class NotConfirmed(Conflict):
    slug, title = "registration-not-confirmed", "The registration is not confirmed"


class InvalidRegistrationWindow(Unprocessable):
    slug, title = "invalid-registration-window", "Invalid registration window"


class CapacityExceedsResource(Unprocessable):
    slug, title = "capacity-exceeds-resource", "More seats than the resource holds"


class GuestsNotAllowed(Unprocessable):
    slug, title = "guests-not-allowed", "This event is for members only"


class ConfirmationExpired(ProblemError):
    status, slug, title = 410, "confirmation-expired", "The confirmation link has expired"


class AlreadyConfirmed(Conflict):
    slug, title = "registration-already-confirmed", "The registration is already confirmed"


class ConfirmationNotPending(ProblemError):
    status, slug, title = 410, "confirmation-not-pending", "The registration is not waiting for confirmation"
