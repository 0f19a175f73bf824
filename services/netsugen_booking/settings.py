from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from services.netsugen_booking.accounts.config import AuthSettings
from services.netsugen_booking.billing.config import BillingSettings
from services.netsugen_booking.bookings.config import BookingSettings
from services.netsugen_booking.programs.config import GuestRegistrationSettings
from shared.settings import CommonSettings


# Billing's settings (BILLING_*) live in billing/config.py and are mixed in here; bookings', events'
# and KPI reporting's in bookings/config.py.
class NetsugenSettings(
    AuthSettings, GuestRegistrationSettings, BookingSettings, BillingSettings, CommonSettings
):
    netsugen_port: int = Field(default=8002, ge=1, le=65535)
    # How many people may be in the space at once (fire-safety capacity). Check-ins beyond it are
    # refused with 409 `space-full`. Environment: NETSUGEN_CAPACITY.
    netsugen_capacity: int = Field(default=80, ge=1, le=10_000)
    # Check-ins one token may attempt per minute (counted in Redis across every replica), refused ones
    # included: stops card guessing and runaway kiosks with 429 + Retry-After (shared/ratelimit.py).
    checkin_rate_limit_per_minute: int = Field(
        default=120,
        ge=1,
        description="Check-ins one token may attempt per minute (all replicas together); 429 above.",
    )
    # How long an Idempotency-Key and its first answer are remembered.
    netsugen_idempotency_ttl_hours: int = Field(default=24, ge=1, le=24 * 30)


@lru_cache
def get_settings() -> NetsugenSettings:
    return NetsugenSettings()
