"""Finds the per-domain modules of a service (``<service>/<domain>/router.py`` …).

Each domain folder has the same file names (see STYLE: Netflix Dispatch's layout), so a service
assembles its routers, jobs and seeds by discovery instead of a hand-kept list that every new
domain would have to edit. A module may set ``ORDER: int`` (default 100) to sort itself.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType


def discover(package: str, module_name: str) -> list[ModuleType]:
    root = Path(importlib.import_module(package).__path__[0])
    modules = []
    for path in sorted(root.glob(f"*/{module_name}.py")):
        modules.append(importlib.import_module(f"{package}.{path.parent.name}.{module_name}"))
    return sorted(modules, key=lambda m: (getattr(m, "ORDER", 100), m.__name__))
