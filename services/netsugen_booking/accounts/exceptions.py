"""Problems of sign-in and account management (RFC 9457, shared/errors.py)."""

from __future__ import annotations

from shared.errors import Conflict, Forbidden, NotFound, ProblemError, Unauthorized, Unprocessable


class WeakPassword(Unprocessable):
    slug, title = "weak-password", "Password refused"


class InvalidCredentials(Unauthorized):
    slug, title = "invalid-credentials", "Invalid credentials"


class TotpRequired(Unauthorized):
    slug, title = "totp-required", "Two-factor code required"


class TotpEnrolmentRequired(Forbidden):
    slug, title = "totp-enrolment-required", "Two-factor enrolment required"


class InvalidRefreshToken(Unauthorized):
    slug, title = "invalid-refresh-token", "Invalid refresh token"


class InvalidLink(ProblemError):
    status, slug, title = 400, "invalid-link", "Invalid or expired link or code"


class AccountNotFound(NotFound):
    slug, title = "account-not-found", "Account not found"


class SessionNotFound(NotFound):
    slug, title = "session-not-found", "Session not found"


class EmailTaken(Conflict):
    slug, title = "email-taken", "Email already in use"


class NotSignedIn(Forbidden):
    slug, title = "session-required", "A signed-in session is required"


class ChangeNotAllowed(Unprocessable):
    slug, title = "change-not-allowed", "Change not allowed"


class MessageGone(ProblemError):
    status, slug, title = 410, "message-gone", "Message already sent or used"
