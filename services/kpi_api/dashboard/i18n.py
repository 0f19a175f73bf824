"""Words of the public progress site in Japanese (default) and English."""

from __future__ import annotations

from typing import Final

from services.kpi_api.core.vocab import Language

#: Official SDG colours (UN communications materials; DOMAIN.md 見える化).
SDG_COLOURS: Final[dict[int, str]] = {
    1: "#E5243B",
    2: "#DDA63A",
    3: "#4C9F38",
    4: "#C5192D",
    5: "#FF3A21",
    6: "#26BDE2",
    7: "#FCC30B",
    8: "#A21942",
    9: "#FD6925",
    10: "#DD1367",
    11: "#FD9D24",
    12: "#BF8B2E",
    13: "#3F7E44",
    14: "#0A97D9",
    15: "#56C02B",
    16: "#00689D",
    17: "#19486A",
}

#: A shape beside each status label, so status never rests on colour alone.
STATUS_SYMBOLS: Final[dict[str, str]] = {
    "achieved": "◎",
    "on_track": "○",
    "behind": "△",
    "regressing": "▼",
    "baseline_pending": "…",
    "no_data": "－",
}


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two ``#rrggbb`` colours."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_on(background: str) -> str:
    """White or near-black text on an SDG colour, whichever has the higher contrast."""
    return "#ffffff" if contrast("#ffffff", background) >= contrast("#111111", background) else "#111111"


TEXT: Final[dict[str, dict[Language, str]]] = {
    "site": {"ja": "群馬県SDGs未来都市計画 KPI進捗", "en": "Gunma SDGs Future City Plan: KPI progress"},
    "skip": {"ja": "本文へ移動", "en": "Skip to main content"},
    "other_language": {"ja": "English", "en": "日本語"},
    "home": {"ja": "ホーム", "en": "Home"},
    "intro": {
        "ja": "群馬県SDGs未来都市計画の重要業績評価指標(KPI)の進捗を、基準値から目標値への直線(期待値)と比べて示します。",
        "en": "Progress of the key performance indicators (KPIs) of Gunma Prefecture's SDGs Future City Plan, "
        "measured against the straight line from each baseline to its target.",
    },
    "overall": {"ja": "全体の状況", "en": "Overall status"},
    "indicators": {"ja": "指標", "en": "indicators"},
    "indicator_count": {"ja": "指標数", "en": "Indicators"},
    "aspects": {"ja": "三側面(経済・社会・環境)", "en": "The three aspects (economy, society, environment)"},
    "goals": {"ja": "SDGsの17のゴール", "en": "The 17 Sustainable Development Goals"},
    "goals_note": {
        "ja": "計画の指標が関係するゴールごとの指標数と状況(1つの指標が複数のゴールに関係する場合があります)。",
        "en": "Indicators linked to each goal and their status (one indicator can serve several goals).",
    },
    "goal": {"ja": "ゴール", "en": "Goal"},
    "sections": {"ja": "計画の節", "en": "Plan sections"},
    "section": {"ja": "節", "en": "Section"},
    "all_indicators": {"ja": "すべての指標", "en": "All indicators"},
    "name": {"ja": "指標名", "en": "Indicator"},
    "status": {"ja": "状況", "en": "Status"},
    "latest": {"ja": "最新値", "en": "Latest value"},
    "aspect": {"ja": "側面", "en": "Aspect"},
    "no_indicators": {"ja": "指標はありません", "en": "No indicators"},
    "unit": {"ja": "単位", "en": "Unit"},
    "direction": {"ja": "望ましい方向", "en": "Desired direction"},
    "owner": {"ja": "所管", "en": "Responsible department"},
    "owner_unknown": {"ja": "計画に記載なし", "en": "Not stated in the plan"},
    "cumulative": {"ja": "累計", "en": "Cumulative"},
    "cumulative_yes": {
        "ja": "累計(計画開始からの合計)",
        "en": "Cumulative (running total since the plan started)",
    },
    "cumulative_no": {"ja": "各年度の値", "en": "Value of each fiscal year"},
    "basis_count": {
        "ja": "実績は年度ごとの件数で報告され、累計はその合計です。",
        "en": "Values are reported as each fiscal year's own count; the running total is their sum.",
    },
    "sdg_targets": {"ja": "関連するSDGsターゲット", "en": "SDG targets served"},
    "plan_sections": {"ja": "計画での位置づけ", "en": "Where the plan states it"},
    "status_rule_breakdowns": {
        "ja": "指標全体の状況は、内訳のうち最も悪い状況です(判定できない内訳があれば「順調」「達成」にはなりません)。",
        "en": "The indicator's overall status is the worst of its breakdowns' "
        "(never on track or achieved while one breakdown cannot be assessed).",
    },
    "status_rule_targets": {
        "ja": "指標全体の状況は、目標年度ごとの状況のうち最も悪いものです。",
        "en": "The indicator's overall status is the worst over its dated targets.",
    },
    "chart": {"ja": "推移", "en": "Trend"},
    "data_table": {"ja": "データ表", "en": "Data table"},
    "targets": {"ja": "目標と進捗", "en": "Targets and progress"},
    "fiscal_year": {"ja": "年度", "en": "Fiscal year"},
    "fy": {"ja": "{year}年度", "en": "FY{year}"},
    "observed": {"ja": "実績値", "en": "Observed"},
    "reported": {"ja": "報告された年度の件数", "en": "Reported for the year"},
    "expected_value": {"ja": "期待値(直線)", "en": "Expected (straight line)"},
    "baseline": {"ja": "基準値", "en": "Baseline"},
    "baseline_implied": {"ja": "基準値(累計の起点 0)", "en": "Baseline (cumulative count starts at 0)"},
    "target": {"ja": "目標", "en": "Target"},
    "target_mark": {"ja": "目標値", "en": "Target"},
    "target_value": {"ja": "目標値", "en": "Target value"},
    "expected": {"ja": "期待される推移(基準値→目標値の直線)", "en": "Expected path (baseline → target)"},
    "projection": {"ja": "見込み(UNSD方式)", "en": "Projection (UNSD method)"},
    "projection_value": {"ja": "見込み値", "en": "Projected value"},
    "achievement_rate": {"ja": "達成率", "en": "Achievement rate"},
    "expected_rate": {"ja": "期待される進捗", "en": "Expected progress"},
    "explanation": {"ja": "判定の理由", "en": "Why"},
    "no_projection_too_few": {
        "ja": "見込み値なし: 2年度以上の実績値が必要です。",
        "en": "No projection: it needs observations in at least two fiscal years.",
    },
    "no_projection_base": {
        "ja": "見込み値なし: 値が0以下のため成長率を計算できません。",
        "en": "No projection: a growth rate needs a base above zero.",
    },
    "fit_linear": {"ja": "累計の年平均増加数を直線で延長", "en": "linear trend of the running total"},
    "fit_cagr": {"ja": "年平均成長率(CAGR)を延長", "en": "compound annual growth continued"},
    "source_notes": {"ja": "出典と注記", "en": "Source and notes"},
    "source": {"ja": "出典", "en": "Source"},
    "no_source": {"ja": "記載なし", "en": "Not stated"},
    "notes": {"ja": "注記", "en": "Notes"},
    "downloads": {"ja": "ダウンロード", "en": "Downloads"},
    "csv": {"ja": "CSV(Open SDG形式)", "en": "CSV (Open SDG format)"},
    "xlsx": {"ja": "Excel(XLSX)", "en": "Excel (XLSX)"},
    "json": {"ja": "JSON", "en": "JSON"},
    "no_data_chart": {"ja": "実績値はまだありません", "en": "No observations yet"},
    "total": {"ja": "合計", "en": "Total"},
    "breakdowns": {"ja": "内訳", "en": "Breakdowns"},
    "breakdown_status": {"ja": "内訳ごとの状況", "en": "Status of each breakdown"},
    "chart_desc": {
        "ja": "実績値 {observed}。基準値 {baseline}。目標 {targets}。",
        "en": "Observed {observed}. Baseline {baseline}. Targets {targets}.",
    },
    "none": {"ja": "なし", "en": "none"},
    "legend": {"ja": "凡例", "en": "Legend"},
    "footer": {
        "ja": "判定方法: 達成率=(実績値−基準値)/(目標値−基準値)、期待される進捗=経過年数/全体年数。"
        "期待の95%以上で「順調」。データは公開API(/v1/kpis)からも取得できます。",
        "en": "Method: achievement rate = (actual − baseline) / (target − baseline); expected progress = elapsed / "
        "total years; on track at 95% of expected or more. The same data is available from the public API (/v1/kpis).",
    },
    "method_link": {"ja": "APIドキュメント", "en": "API documentation"},
    "lang_name": {"ja": "日本語", "en": "English"},
}


def t(key: str, lang: Language, **values: object) -> str:
    text = TEXT[key][lang]
    return text.format(**values) if values else text
