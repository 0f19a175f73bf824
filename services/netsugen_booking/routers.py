"""Every router of the service, in the order of the OpenAPI document. The front-desk console's pages come last.

Wired by hand, here and only here: a new domain adds its line (``tests/test_structure.py`` fails
when a domain's ``router.py`` is not in this list).
"""

from fastapi import APIRouter

from services.netsugen_booking.accounts.router import router as accounts_router
from services.netsugen_booking.audit.router import router as audit_router
from services.netsugen_booking.billing.router import router as billing_router
from services.netsugen_booking.bookings.router import router as bookings_router
from services.netsugen_booking.calendar.router import router as calendar_router
from services.netsugen_booking.consultations.router import router as consultations_router
from services.netsugen_booking.feeds.router import router as feeds_router
from services.netsugen_booking.frontdesk.router import router as frontdesk_router
from services.netsugen_booking.kpi_reporting.router import router as kpi_reporting_router
from services.netsugen_booking.mail_facts.router import router as mail_facts_router
from services.netsugen_booking.members.router import router as members_router
from services.netsugen_booking.plans.router import router as plans_router
from services.netsugen_booking.portal.router import router as portal_router
from services.netsugen_booking.privacy.router import router as privacy_router
from services.netsugen_booking.programs.router import router as programs_router
from services.netsugen_booking.resources.router import router as resources_router
from services.netsugen_booking.usage_stats.router import router as usage_stats_router
from services.netsugen_booking.visits.router import router as visits_router

ROUTERS: list[APIRouter] = [
    calendar_router,
    plans_router,
    members_router,
    privacy_router,
    resources_router,
    visits_router,
    bookings_router,
    programs_router,
    consultations_router,
    feeds_router,
    kpi_reporting_router,
    billing_router,
    usage_stats_router,
    audit_router,
    accounts_router,
    frontdesk_router,
    portal_router,
    mail_facts_router,
]
