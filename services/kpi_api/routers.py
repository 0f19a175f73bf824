"""Every router of the service, in the order of the OpenAPI document.

Wired by hand, here and only here: a new domain adds its line (``tests/test_structure.py`` fails
when a domain's ``router.py`` is not in this list).
"""

from fastapi import APIRouter

from services.kpi_api.dashboard.router import router as dashboard_router
from services.kpi_api.exports.router import router as exports_router
from services.kpi_api.indicators.router import router as indicators_router
from services.kpi_api.initiatives.router import router as initiatives_router
from services.kpi_api.observations.router import router as observations_router
from services.kpi_api.progress.router import router as progress_router
from services.kpi_api.reports.router import router as reports_router
from services.kpi_api.sdgs.router import router as sdgs_router

ROUTERS: list[APIRouter] = [
    sdgs_router,
    indicators_router,
    observations_router,
    progress_router,
    initiatives_router,
    exports_router,
    reports_router,
    dashboard_router,
]
