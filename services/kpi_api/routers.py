"""Every router of the service: each domain folder's `router.py` exposing `router`."""

from fastapi import APIRouter

from shared.discovery import discover

ROUTERS: list[APIRouter] = [m.router for m in discover("services.kpi_api", "router")]
