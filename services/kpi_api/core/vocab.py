"""The registry's closed vocabularies, defined once (models' CHECK constraints, schemas, seed)."""

from __future__ import annotations

from typing import Final, Literal, get_args

from services.kpi_api.progress.rules import Comparator, Direction, Status

Aspect = Literal["economy", "society", "environment"]
Determination = Literal["as_written", "inferred"]
#: The plan sections that cite KPIs (群馬県SDGs未来都市計画).
Section = Literal["1.1(3)", "1.2(1)", "2(2)①", "2(2)②", "2(2)③", "2(3)-1", "2(3)-2"]
Language = Literal["ja", "en"]
#: How an indicator's observations are reported (see ``Indicator.observation_basis``).
ObservationBasis = Literal["running_total", "fiscal_year_count"]

ASPECTS: Final[tuple[str, ...]] = get_args(Aspect)
DIRECTIONS: Final[tuple[str, ...]] = get_args(Direction)
COMPARATORS: Final[tuple[str, ...]] = get_args(Comparator)
DETERMINATIONS: Final[tuple[str, ...]] = get_args(Determination)
SECTIONS: Final[tuple[str, ...]] = get_args(Section)
OBSERVATION_BASES: Final[tuple[str, ...]] = get_args(ObservationBasis)
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

#: Display labels of the statuses (API ``status_label``, the progress site, exports).
STATUS_LABELS: Final[dict[str, dict[Language, str]]] = {
    "achieved": {"ja": "達成", "en": "Achieved"},
    "on_track": {"ja": "順調", "en": "On track"},
    "behind": {"ja": "遅れ", "en": "Behind"},
    "regressing": {"ja": "後退", "en": "Regressing"},
    "baseline_pending": {"ja": "判定保留", "en": "Not yet assessable"},
    "no_data": {"ja": "データなし", "en": "No data"},
}

#: The plan sections citing KPIs, with the plan's own headings (seed/000_*.txt lines 141, 245,
#: 621-687, 724 and 786) and an English rendering.
SECTION_LABELS: Final[dict[str, dict[Language, str]]] = {
    "1.1(3)": {
        "ja": "2030年のあるべき姿の実現に向けた優先的なゴール、ターゲット",
        "en": "Priority goals and targets towards the 2030 vision",
    },
    "1.2(1)": {
        "ja": "自治体SDGsの推進に資する取組",
        "en": "Initiatives that advance the municipal SDGs",
    },
    "2(2)①": {"ja": "三側面の取組: 経済面の取組", "en": "Flagship initiatives: economy"},
    "2(2)②": {"ja": "三側面の取組: 社会面の取組", "en": "Flagship initiatives: society"},
    "2(2)③": {"ja": "三側面の取組: 環境面の取組", "en": "Flagship initiatives: environment"},
    "2(3)-1": {"ja": "統合的取組の事業", "en": "The integrated initiative"},
    "2(3)-2": {
        "ja": "三側面をつなぐ統合的取組による相乗効果等(新たに創出される価値)",
        "en": "Synergies of the integrated initiative across the three aspects (new value created)",
    },
}

#: English labels of every unit the plan uses (Japanese answers keep the plan's own unit).
UNIT_LABELS_EN: Final[dict[str, str]] = {
    "円": "yen",
    "%": "%",
    "人": "people",
    "人/年": "people/year",
    "件": "cases",
    "者": "persons",
    "回": "times",
    "戸": "households",
    "地域": "areas",
    "年": "years",
    "千kWh/年": "thousand kWh/year",
    "千t-CO2": "thousand t-CO2",
}

DIRECTION_LABELS: Final[dict[str, dict[Language, str]]] = {
    "increase": {"ja": "増加が望ましい", "en": "Higher is better"},
    "decrease": {"ja": "減少が望ましい", "en": "Lower is better"},
}


def unit_label(unit: str, lang: Language) -> str:
    """The unit as a reader of ``lang`` writes it; an administrator's unknown unit is shown as is."""
    if lang == "ja":
        return unit
    return UNIT_LABELS_EN.get(unit, unit)


def status_label(status: str, lang: Language) -> str:
    return STATUS_LABELS.get(status, {}).get(lang, status)


def section_label(section: str, lang: Language) -> str:
    return SECTION_LABELS.get(section, {}).get(lang, section)


#: Observations, baselines and targets: fiscal years (年度) the registry accepts.
MIN_FISCAL_YEAR: Final = 1990
MAX_FISCAL_YEAR: Final = 2100

SLUG_PATTERN: Final = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
BREAKDOWN_KEY_PATTERN: Final = r"^[a-z0-9_]+$"
SDG_CODE_PATTERN: Final = r"^(?:[1-9]|1[0-7])\.(?:[1-9][0-9]?|[a-z])$"


def sql_in(values: tuple[str, ...]) -> str:
    """`'a', 'b'` for a CHECK constraint over a closed vocabulary."""
    return ", ".join(f"'{v}'" for v in values)
