"""Collects every service's MetaData, so Alembic and the drift test see the whole platform.

Model modules are discovered (``services/*/**/models.py``) rather than listed, so a new domain
folder is covered without editing this file.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from sqlalchemy import MetaData

ROOT = Path(__file__).resolve().parent.parent


def import_all_models() -> None:
    importlib.import_module("shared.auth")
    importlib.import_module("shared.audit")  # auth.audit_entry
    for path in sorted((ROOT / "services").rglob("models.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        importlib.import_module(module)


def all_metadata() -> list[MetaData]:
    import_all_models()
    from services.kpi_api.db import Base as KpiBase
    from services.netsugen_booking.db import Base as NetsugenBase
    from services.notifier.db import Base as NotifierBase
    from shared.auth import AuthBase

    return [AuthBase.metadata, KpiBase.metadata, NetsugenBase.metadata, NotifierBase.metadata]
