"""Small texts shared by the workbook and the page: a target's condition and the implied-baseline note."""

from __future__ import annotations

from services.kpi_api.core.vocab import Language
from services.kpi_api.progress.schemas import TargetProgressOut
from services.kpi_api.reports.labels import t


def condition(target: TargetProgressOut, lang: Language) -> str:
    """What meeting the target means beyond its value: 以上, 以下, or an increase over a year."""
    if target.comparator == "increase_from_baseline":
        return t("increase_from", lang).format(year=target.reference_fiscal_year)
    if target.comparator in ("gte", "lte"):
        return t(target.comparator, lang)
    return ""


def implied_note(target: TargetProgressOut, lang: Language) -> str:
    return t("implied", lang) if target.baseline_implied else ""
