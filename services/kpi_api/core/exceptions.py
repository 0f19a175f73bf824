"""Problems every domain of the registry raises (RFC 9457; details in English and Japanese)."""

from __future__ import annotations

from collections.abc import Iterable

from shared.errors import Conflict, NotFound, Unprocessable


class IndicatorNotFound(NotFound):
    slug, title = "indicator-not-found", "Indicator not found"

    def __init__(self, indicator_id: str) -> None:
        super().__init__(
            f"No indicator with id '{indicator_id}'.",
            detail_ja=f"指標 '{indicator_id}' は存在しません。",
        )


class UnknownIndicator(Unprocessable):
    """An indicator named in a request body (not the path) that does not exist."""

    slug, title = "unknown-indicator", "Unknown indicator"

    def __init__(self, ids: Iterable[str], *, field: str) -> None:
        names = ", ".join(sorted(set(ids)))
        super().__init__(
            f"{field}: no indicator with id {names}.",
            detail_ja=f"{field}: 指標 {names} は存在しません。",
            errors=[
                {"loc": ["body", field], "msg": f"unknown indicator {names}", "type": "unknown_indicator"}
            ],
        )


class UnknownSdgTarget(Unprocessable):
    slug, title = "unknown-sdg-target", "Unknown SDG target"

    def __init__(self, codes: Iterable[str], *, loc: list[str]) -> None:
        names = ", ".join(sorted(set(codes)))
        super().__init__(
            f"{'.'.join(loc)}: SDG target {names} does not exist.",
            detail_ja=f"{'.'.join(loc)}: SDGターゲット {names} は存在しません。",
            errors=[{"loc": loc, "msg": f"unknown SDG target {names}", "type": "unknown_sdg_target"}],
        )


class UnknownBreakdown(Unprocessable):
    slug, title = "unknown-breakdown", "Unknown breakdown"

    def __init__(
        self, indicator_id: str, breakdown: str | None, known: Iterable[str], *, loc: list[str]
    ) -> None:
        keys = list(known)
        where = ".".join(loc)
        if breakdown is None:
            detail = f"{where}: indicator '{indicator_id}' is split into breakdowns; give one of {', '.join(keys)}."
            detail_ja = f"{where}: 指標 '{indicator_id}' は内訳ごとに記録します。{', '.join(keys)} のいずれかを指定してください。"
        elif not keys:
            detail = f"{where}: indicator '{indicator_id}' has no breakdowns; leave breakdown empty."
            detail_ja = (
                f"{where}: 指標 '{indicator_id}' に内訳はありません。breakdown は指定しないでください。"
            )
        else:
            detail = f"{where}: indicator '{indicator_id}' has no breakdown '{breakdown}' (known: {', '.join(keys)})."
            detail_ja = (
                f"{where}: 指標 '{indicator_id}' に内訳 '{breakdown}' はありません(有効: {', '.join(keys)})。"
            )
        super().__init__(
            detail,
            detail_ja=detail_ja,
            errors=[{"loc": loc, "msg": detail, "type": "unknown_breakdown"}],
        )


class InvalidRegistryData(Unprocessable):
    """A body that is well-formed but inconsistent (duplicates, a target without value …)."""

    slug, title = "invalid-registry-data", "Invalid registry data"

    def __init__(self, detail: str, detail_ja: str, *, loc: list[str]) -> None:
        super().__init__(detail, detail_ja=detail_ja, errors=[{"loc": loc, "msg": detail, "type": "invalid"}])


class RegistryConflict(Conflict):
    slug, title = "registry-conflict", "Conflict with the registry"


def breakdown_label(breakdown: str | None) -> str:
    return breakdown if breakdown is not None else "(none)"
