"""Settings of guest registration (double opt-in and rate limits), mixed into ``NetsugenSettings``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings


class GuestRegistrationSettings(BaseSettings):
    # A guest's registration holds nothing until confirmed from the emailed link; unconfirmed ones
    # expire this many minutes after they were made (the link stops working).
    guest_confirmation_ttl_minutes: int = Field(default=60, ge=5, le=60 * 24 * 3)
    # Anonymous guest registrations allowed per client address / per normalized email address in
    # each window (counters in Redis, shared by every replica); 429 + Retry-After above.
    guest_registration_limit_per_address: int = Field(default=20, ge=1, le=100_000)
    guest_registration_limit_per_email: int = Field(default=5, ge=1, le=10_000)
    guest_registration_limit_window_s: int = Field(default=3600, ge=1, le=7 * 24 * 3600)
