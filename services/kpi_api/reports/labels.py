"""The report's words in Japanese and English: plan sections (titles from the plan), statuses, columns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from services.kpi_api.core.vocab import Language


@dataclass(frozen=True)
class ReportSection:
    """A section of the report: one or more of the registry's plan sections (2(2) holds ①②③)."""

    key: str
    parts: tuple[str, ...]
    title_ja: str
    title_en: str

    def title(self, lang: Language) -> str:
        return self.title_ja if lang == "ja" else self.title_en


#: The plan's sections that state KPIs, with the plan's own headings (群馬県SDGs未来都市計画).
REPORT_SECTIONS: Final = (
    ReportSection(
        "1.1(3)",
        ("1.1(3)",),
        "2030年のあるべき姿の実現に向けた優先的なゴール、ターゲット",
        "Priority goals and targets for realising the vision of 2030",
    ),
    ReportSection(
        "1.2(1)",
        ("1.2(1)",),
        "自治体SDGsの推進に資する取組",
        "Initiatives that advance the prefecture's SDGs",
    ),
    ReportSection(
        "2(2)",
        ("2(2)①", "2(2)②", "2(2)③"),
        "三側面の取組",
        "Initiatives in the three aspects (flagship project)",
    ),
    ReportSection(
        "2(3)-1",
        ("2(3)-1",),
        "統合的取組の事業",
        "The integrated initiative's projects",
    ),
    ReportSection(
        "2(3)-2",
        ("2(3)-2",),
        "三側面をつなぐ統合的取組による相乗効果等(新たに創出される価値)",
        "Synergies of the integrated initiative linking the three aspects (new value created)",
    ),
)
PART_NAMES: Final[dict[str, dict[Language, str]]] = {
    "2(2)①": {"ja": "① 経済面の取組", "en": "① Economy"},
    "2(2)②": {"ja": "② 社会面の取組", "en": "② Society"},
    "2(2)③": {"ja": "③ 環境面の取組", "en": "③ Environment"},
}

TOTAL: Final[dict[Language, str]] = {"ja": "全体", "en": "All indicators"}
STATUS_NAMES: Final[dict[str, dict[Language, str]]] = {
    "achieved": {"ja": "達成", "en": "Achieved"},
    "on_track": {"ja": "順調", "en": "On track"},
    "behind": {"ja": "遅れ", "en": "Behind"},
    "regressing": {"ja": "後退", "en": "Regressing"},
    "baseline_pending": {"ja": "基準値待ち", "en": "Baseline pending"},
    "no_data": {"ja": "データなし", "en": "No data"},
}
#: Cell fills per status (the status is always written as text too).
STATUS_FILLS: Final = {
    "achieved": "C6EFCE",
    "on_track": "DDEBF7",
    "behind": "FFEB9C",
    "regressing": "FFC7CE",
    "baseline_pending": "EDEDED",
    "no_data": "FFFFFF",
}
DIRECTION_NAMES: Final[dict[str, dict[Language, str]]] = {
    "increase": {"ja": "増加が望ましい", "en": "Higher is better"},
    "decrease": {"ja": "減少が望ましい", "en": "Lower is better"},
}

TEXT: Final[dict[str, dict[Language, str]]] = {
    "title": {
        "ja": "群馬県SDGs未来都市計画 KPI進捗報告",
        "en": "Gunma SDGs Future City Plan: KPI progress report",
    },
    "fiscal_year": {"ja": "年度", "en": "Fiscal year"},
    "as_of": {
        "ja": "{fy}年度までの実績値で評価(方式 {method})。",
        "en": "Graded with the values up to FY{fy} (method {method}).",
    },
    "summary": {"ja": "概要", "en": "Summary"},
    "section": {"ja": "計画の節", "en": "Plan section"},
    "part": {"ja": "区分", "en": "Part"},
    "indicator": {"ja": "指標", "en": "Indicator"},
    "indicator_id": {"ja": "指標ID", "en": "Indicator id"},
    "breakdown": {"ja": "内訳", "en": "Breakdown"},
    "unit": {"ja": "単位", "en": "Unit"},
    "direction": {"ja": "方向", "en": "Direction"},
    "owner": {"ja": "所管", "en": "Owner"},
    "baseline_year": {"ja": "基準年度", "en": "Baseline FY"},
    "baseline": {"ja": "基準値", "en": "Baseline"},
    "latest_year": {"ja": "最新年度", "en": "Latest FY"},
    "latest": {"ja": "最新値", "en": "Latest value"},
    "target_year": {"ja": "目標年度", "en": "Target FY"},
    "target": {"ja": "目標値", "en": "Target"},
    "achievement_rate": {"ja": "達成率", "en": "Achievement rate"},
    "expected_rate": {"ja": "期待進捗率", "en": "Expected rate"},
    "status": {"ja": "評価", "en": "Status"},
    "indicator_status": {"ja": "指標全体の評価", "en": "Indicator status"},
    "comment": {"ja": "コメント", "en": "Comment"},
    "condition": {"ja": "条件", "en": "Condition"},
    "note": {"ja": "備考", "en": "Note"},
    "generated_at": {"ja": "作成日時", "en": "Generated at"},
    "aspect": {"ja": "側面", "en": "Aspect"},
    "goal": {"ja": "SDGsゴール", "en": "SDG goal"},
    "indicators": {"ja": "指標数", "en": "Indicators"},
    "total": {"ja": "全体", "en": "All indicators"},
    "by_aspect": {"ja": "側面別の評価", "en": "Status by aspect"},
    "by_goal": {"ja": "SDGsゴール別の評価", "en": "Status by SDG goal"},
    "by_section": {"ja": "計画の節別の評価", "en": "Status by plan section"},
    "implied": {"ja": "(累計: 2020年度=0)", "en": "(cumulative: FY2020 = 0)"},
    "increase_from": {"ja": "{year}年度より増加", "en": "Above FY{year}"},
    "gte": {"ja": "以上", "en": "or more"},
    "lte": {"ja": "以下", "en": "or less"},
    "rules": {
        "ja": "達成率 = (最新値 − 基準値) ÷ (目標値 − 基準値)。期待進捗率 = 基準年度から最新年度までの経過年数 ÷ 目標年度までの年数。"
        "評価: 達成(目標を満たす)/順調(達成率 ≥ 期待進捗率の95%)/遅れ(達成率 ≥ 0)/後退(達成率 < 0)/基準値待ち/データなし。"
        "指標全体の評価は目標・内訳ごとの評価のうち最も悪いもの。",
        "en": "Achievement rate = (latest − baseline) ÷ (target − baseline). Expected rate = years elapsed from the "
        "baseline to the latest value ÷ years to the target. Status: achieved (target met) / on track (rate ≥ 95% of "
        "expected) / behind (rate ≥ 0) / regressing (rate < 0) / baseline pending / no data. An indicator's status "
        "is the worst of its targets and breakdowns.",
    },
    "language_switch": {"ja": "English", "en": "日本語"},
    "download_xlsx": {"ja": "Excel(XLSX)", "en": "Excel (XLSX)"},
    "none": {"ja": "該当する指標はありません。", "en": "No indicator cites this section."},
}


def t(key: str, lang: Language) -> str:
    return TEXT[key][lang]
