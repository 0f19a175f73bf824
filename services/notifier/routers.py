"""Every router of the service, in the order of the OpenAPI document.

Wired by hand, here and only here: a new domain adds its line (``tests/test_structure.py`` fails
when a domain's ``router.py`` is not in this list).
"""

from fastapi import APIRouter

from services.notifier.deliveries.router import router as deliveries_router
from services.notifier.event_types.router import router as event_types_router
from services.notifier.notifications.router import router as notifications_router
from services.notifier.preferences.router import router as preferences_router
from services.notifier.webhooks.router import router as webhooks_router

ROUTERS: list[APIRouter] = [
    notifications_router,
    deliveries_router,
    webhooks_router,
    preferences_router,
    event_types_router,
]
