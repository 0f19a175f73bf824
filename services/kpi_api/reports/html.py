"""The KPI progress report as a printable HTML page (A4 landscape print CSS; no script).

The stylesheet is inlined and allowed by its SHA-256 in the page's own Content-Security-Policy
(``default-src 'none'``): the page loads nothing and runs nothing.
"""

from __future__ import annotations

import base64
import hashlib
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.kpi_api.core.vocab import STATUSES
from services.kpi_api.progress.schemas import PointOut
from services.kpi_api.reports.labels import PART_NAMES, STATUS_NAMES, t
from services.kpi_api.reports.service import KpiReport
from services.kpi_api.reports.text import condition

_HERE = Path(__file__).resolve().parent
CSS = (_HERE / "static" / "report.css").read_text(encoding="utf-8")
CSS_HASH = "sha256-" + base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
PAGE_CSP = (
    f"default-src 'none'; style-src '{CSS_HASH}'; img-src 'self'; form-action 'none'; "
    "frame-ancestors 'none'; base-uri 'none'"
)

_env = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def value(number: Decimal | None) -> str:
    """Exact digits with thousands separators: 8970400000000 → 8,970,400,000,000; 72.07 stays 72.07."""
    if number is None:
        return ""
    text = format(number.normalize(), "f")
    whole, _, fraction = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    return f"{sign}{int(whole.lstrip('-')):,}" + (f".{fraction}" if fraction else "")


def point(p: PointOut | None) -> str:
    return "—" if p is None else f"{value(p.value)} ({p.fiscal_year})"


def pct(rate: Decimal | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def render_report(report: KpiReport) -> str:
    lang = report.lang

    query = {"fiscal_year": report.fiscal_year}
    return _env.get_template("kpi_progress.html.j2").render(
        lang=lang,
        r=report,
        css=CSS,
        t=lambda key: t(key, lang),
        statuses=STATUSES,
        status_name=lambda s: STATUS_NAMES[s][lang],
        part_name=lambda p: PART_NAMES.get(p, {}).get(lang, p),
        summary=[
            (t("total", lang), [report.total]),
            (t("by_aspect", lang), report.by_aspect),
            (t("by_goal", lang), report.by_goal),
            (t("by_section", lang), report.by_section),
        ],
        value=value,
        point=point,
        pct=pct,
        condition=lambda target: condition(target, lang),
        other_lang_url="/v1/reports/kpi-progress?"
        + urlencode({**query, "lang": "en" if lang == "ja" else "ja"}),
        xlsx_url="/v1/reports/kpi-progress.xlsx?" + urlencode({**query, "lang": lang}),
    )
