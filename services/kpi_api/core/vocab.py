"""The registry's closed vocabularies, defined once (models' CHECK constraints, schemas, seed)."""

from __future__ import annotations

from typing import Final, Literal, get_args

from services.kpi_api.progress.rules import Comparator, Direction, Status

Aspect = Literal["economy", "society", "environment"]
Determination = Literal["as_written", "inferred"]
#: The plan sections that cite KPIs (群馬県SDGs未来都市計画).
Section = Literal["1.1(3)", "1.2(1)", "2(2)①", "2(2)②", "2(2)③", "2(3)-1", "2(3)-2"]
Language = Literal["ja", "en"]

ASPECTS: Final[tuple[str, ...]] = get_args(Aspect)
DIRECTIONS: Final[tuple[str, ...]] = get_args(Direction)
COMPARATORS: Final[tuple[str, ...]] = get_args(Comparator)
DETERMINATIONS: Final[tuple[str, ...]] = get_args(Determination)
SECTIONS: Final[tuple[str, ...]] = get_args(Section)
#: Best first, the order rollups list them in.
STATUSES: Final[tuple[Status, ...]] = (
    "achieved",
    "on_track",
    "behind",
    "regressing",
    "baseline_pending",
    "no_data",
)

ASPECT_NAMES: Final[dict[str, dict[Language, str]]] = {
    "economy": {"ja": "経済", "en": "Economy"},
    "society": {"ja": "社会", "en": "Society"},
    "environment": {"ja": "環境", "en": "Environment"},
}

#: Observations, baselines and targets: fiscal years (年度) the registry accepts.
MIN_FISCAL_YEAR: Final = 1990
MAX_FISCAL_YEAR: Final = 2100

SLUG_PATTERN: Final = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
BREAKDOWN_KEY_PATTERN: Final = r"^[a-z0-9_]+$"
SDG_CODE_PATTERN: Final = r"^(?:[1-9]|1[0-7])\.(?:[1-9][0-9]?|[a-z])$"


def sql_in(values: tuple[str, ...]) -> str:
    """`'a', 'b'` for a CHECK constraint over a closed vocabulary."""
    return ", ".join(f"'{v}'" for v in values)
