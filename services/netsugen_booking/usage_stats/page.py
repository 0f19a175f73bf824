"""The staff page: the statistics rendered on the server with SVG charts; no script at all.

The stylesheet is inlined and allowed by its SHA-256 in the page's own Content-Security-Policy
(``default-src 'none'``), so the page loads nothing and runs nothing.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.netsugen_booking.usage_stats.charts import bar_chart, heat_map
from services.netsugen_booking.usage_stats.labels import WEEKDAY_NAMES, Language, t
from services.netsugen_booking.usage_stats.schemas import UsageStatsOut

_HERE = Path(__file__).resolve().parent
CSS = (_HERE / "static" / "usage-stats.css").read_text(encoding="utf-8")
CSS_HASH = "sha256-" + base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
PAGE_CSP = (
    f"default-src 'none'; style-src '{CSS_HASH}'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)

_env = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def yen(amount: int) -> str:
    return f"{amount:,}円"


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def shown_hours(stats: UsageStatsOut) -> list[int]:
    """The opening hours (10–21) widened to any hour someone was in."""
    used = [h for h in stats.occupancy.hours if any(row[h] for row in stats.occupancy.person_minutes)]
    return list(range(min([10, *used]), max([20, *used]) + 1))


def render_page(stats: UsageStatsOut, lang: Language) -> str:
    query: dict[str, str | int] = (
        {"month": stats.period.key}
        if stats.period.kind == "month"
        else {"fiscal_year": stats.period.fiscal_year}
    )
    hours = shown_hours(stats)
    days = WEEKDAY_NAMES[lang]
    present = [[row[h] for h in hours] for row in stats.occupancy.average_present]
    plans = stats.members.by_month[-1].by_plan if stats.members.by_month else []
    last = stats.members.by_month[-1] if stats.members.by_month else None
    return _env.get_template("usage_stats.html.j2").render(
        lang=lang,
        t=lambda key: t(key, lang),
        s=stats,
        css=CSS,
        yen=yen,
        pct=pct,
        hours=hours,
        plan_names=[p.name for p in plans],
        minutes_rows=[
            (days[i], [row[h] for h in hours]) for i, row in enumerate(stats.occupancy.person_minutes)
        ],
        other_lang_url="/usage-stats?" + urlencode({**query, "lang": "en" if lang == "ja" else "ja"}),
        xlsx_url="/v1/usage-stats.xlsx?" + urlencode(query),
        json_url="/v1/usage-stats?" + urlencode(query),
        heat_map=heat_map(
            present,
            row_labels=days,
            hours=hours,
            title=t("occupancy", lang),
            description=t("occupancy_note", lang),
        ),
        visits_chart=bar_chart(
            [(m.month, m.visits, f"{m.visits:,}") for m in stats.visits.by_month],
            title=t("visits_by_month", lang),
            description=t("chart_table_note", lang),
            chart_id="visits",
        ),
        members_chart=bar_chart(
            [(p.name, p.count, f"{p.count:,}") for p in plans],
            title=f"{t('members_at_month_end', lang)} ({last.as_of.isoformat() if last else ''})",
            description=t("chart_table_note", lang),
            chart_id="members",
        ),
        rooms_chart=bar_chart(
            [(r.name, r.utilisation or 0.0, pct(r.utilisation)) for r in stats.rooms],
            title=t("rooms", lang),
            description=t("chart_table_note", lang),
            chart_id="rooms",
            maximum=1.0,
        ),
        revenue_chart=bar_chart(
            [(k.name, k.net_yen, yen(k.net_yen)) for k in stats.revenue.by_kind],
            title=t("revenue_by_kind", lang),
            description=t("chart_table_note", lang),
            chart_id="revenue",
        ),
    )
