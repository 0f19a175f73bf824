"""The public progress site (見える化): ``/dashboard`` and ``/dashboard/kpis/{id}``, server-rendered.

Japanese by default; English with ``?lang=en`` or an ``Accept-Language`` preferring English
(``?lang=`` wins). Pages are HTML rendered with Jinja2 (autoescaped) with the charts as inline
SVG, so nothing needs a script to be read; the only other resource is one stylesheet. They go
through the same :func:`~services.kpi_api.core.http.conditional_get` as the API: a strong ETag
keyed by the registry version, 304 on ``If-None-Match``, and :class:`KpiFastPath` replaying a
warm answer from memory without SQL.

Every page sends a strict Content-Security-Policy of its own (no script at all, styles only from
this origin); a browser enforces every CSP header it receives, so it holds even beside the
platform's general HTML policy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Final, Literal

from fastapi import APIRouter, Query, Request, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from services.kpi_api.core.http import conditional_get, language
from services.kpi_api.core.vocab import Language
from services.kpi_api.dashboard import service
from services.kpi_api.dashboard.charts import legend, render_chart
from services.kpi_api.dashboard.i18n import t
from services.kpi_api.dashboard.xlsx import XLSX, indicator_xlsx
from services.kpi_api.indicators.router import CACHED, IndicatorPath
from shared.db import DbSession
from shared.errors import NotFound, problem_responses

router = APIRouter(prefix="/dashboard", tags=["dashboard"])

_HERE = Path(__file__).parent
#: The site's only other resources, read once: the stylesheet and the icon.
STATIC: Final = {
    "dashboard.css": ((_HERE / "static" / "dashboard.css").read_bytes(), "text/css; charset=utf-8"),
    "favicon.svg": ((_HERE / "static" / "favicon.svg").read_bytes(), "image/svg+xml"),
}
HTML: Final = "text/html; charset=utf-8"
#: No script of any kind; styles and images only from this origin.
DASHBOARD_CSP: Final = (
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
PAGE_HEADERS: Final = (("Content-Security-Policy", DASHBOARD_CSP),)

_env = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

LangQuery = Annotated[
    Literal["ja", "en"] | None,
    Query(description="Page language; without it, Accept-Language decides (Japanese by default)."),
]
HTML_RESPONSE = {
    **CACHED,
    200: {"content": {"text/html": {"schema": {"type": "string"}}}, **{"headers": CACHED[200]["headers"]}},
}


def _lang(request: Request, lang: Language | None) -> Language:
    return lang if lang is not None else language(request)


def _render(template: str, lang: Language, **context: object) -> bytes:
    def text(key: str, **values: object) -> str:
        return t(key, lang, **values)

    return (
        _env.get_template(template)
        .render(lang=lang, t=text, other_lang="en" if lang == "ja" else "ja", **context)
        .encode()
    )


@router.get(
    "",
    summary="Progress site: home",
    description=(
        "HTML. The three aspects and the 17 SDG goals (official colours and numbers) with counts of "
        "indicators by status, the plan sections with their titles, and every indicator. `?lang=en` for English."
    ),
    response_class=Response,
    responses={**HTML_RESPONSE, **problem_responses(422)},
)
async def home(request: Request, session: DbSession, lang: LangQuery = None) -> Response:
    chosen = _lang(request, lang)

    async def build(_: Language) -> bytes:
        view = await service.home_view(session, chosen)
        return _render("home.html.j2", chosen, view=view, path="/dashboard")

    return await conditional_get(
        request, session, build, media_type=HTML, headers=PAGE_HEADERS, content_language=chosen
    )


@router.get("/static/{name}", include_in_schema=False)
async def static_file(name: str) -> Response:
    if name not in STATIC:
        raise NotFound(f"No file '{name}'.", detail_ja=f"ファイル '{name}' はありません。")
    content, media_type = STATIC[name]
    return Response(content, media_type=media_type, headers={"Cache-Control": "public, max-age=3600"})


@router.get(
    "/kpis/{indicator_id}.xlsx",
    summary="Progress site: one indicator as XLSX",
    description="The indicator's metadata, data and targets with status (the same facts as its page).",
    response_class=Response,
    responses={
        **CACHED,
        200: {"content": {XLSX: {"schema": {"type": "string", "format": "binary"}}}},
        **problem_responses(404, 422),
    },
)
async def indicator_workbook(
    request: Request, session: DbSession, indicator_id: IndicatorPath, lang: LangQuery = None
) -> Response:
    chosen = _lang(request, lang)

    async def build(_: Language) -> bytes:
        return indicator_xlsx(await service.indicator_view(session, indicator_id, chosen))

    return await conditional_get(
        request,
        session,
        build,
        media_type=XLSX,
        headers=(("Content-Disposition", f'attachment; filename="{indicator_id}.xlsx"'),),
        content_language=chosen,
    )


@router.get(
    "/kpis/{indicator_id}",
    summary="Progress site: one indicator",
    description=(
        "HTML. Name, unit, direction, owner department, SDG targets, an SVG chart per series (observations, "
        "baseline, dated targets, expected straight line, projection when meaningful), status and achievement "
        "rate per breakdown and target, a data table with the same facts, source and notes, downloads."
    ),
    response_class=Response,
    responses={**HTML_RESPONSE, **problem_responses(404, 422)},
)
async def indicator_page(
    request: Request, session: DbSession, indicator_id: IndicatorPath, lang: LangQuery = None
) -> Response:
    chosen = _lang(request, lang)

    async def build(_: Language) -> bytes:
        view = await service.indicator_view(session, indicator_id, chosen)
        charts = {
            s.chart_id: Markup(  # noqa: S704 - built by render_chart, which escapes every text it writes
                render_chart(
                    s.chart,
                    title=f"{view.name}{(' — ' + s.name) if s.name else ''}",
                    description=s.description,
                    chart_id=s.chart_id,
                )
            )
            for s in view.series
        }
        legends = {
            s.chart_id: Markup(  # noqa: S704 - fixed markup with escaped labels
                legend(
                    {
                        "observed": t("observed", chosen),
                        "baseline": t("baseline_implied" if s.chart.baseline_implied else "baseline", chosen),
                        "expected": t("expected", chosen),
                        "target_mark": t("target_mark", chosen),
                        "projection": t("projection", chosen),
                    },
                    projection=s.has_projection,
                    baseline_implied=s.chart.baseline_implied,
                )
            )
            for s in view.series
        }
        return _render(
            "indicator.html.j2",
            chosen,
            view=view,
            charts=charts,
            legends=legends,
            path=f"/dashboard/kpis/{indicator_id}",
        )

    return await conditional_get(
        request, session, build, media_type=HTML, headers=PAGE_HEADERS, content_language=chosen
    )
