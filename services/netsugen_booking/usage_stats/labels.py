"""What a person reads on the usage statistics (page, workbook, names in the JSON), in Japanese and English."""

from __future__ import annotations

from typing import Final, Literal

Language = Literal["ja", "en"]

REVENUE_KIND_NAMES: Final[dict[str, dict[Language, str]]] = {
    "dropin": {"ja": "ドロップイン利用", "en": "Drop-in use"},
    "monthly": {"ja": "月額会費", "en": "Monthly fees"},
    "bookings": {"ja": "会議室等の予約", "en": "Room bookings"},
    "adjustments": {"ja": "調整(明細なしの返還)", "en": "Adjustments (credits without a line)"},
}
NO_PLAN: Final[dict[Language, str]] = {"ja": "プランなし", "en": "No plan"}
WEEKDAY_NAMES: Final[dict[Language, tuple[str, ...]]] = {
    "ja": ("月", "火", "水", "木", "金", "土", "日"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}

TEXT: Final[dict[str, dict[Language, str]]] = {
    "title": {"ja": "NETSUGEN 利用統計", "en": "NETSUGEN usage statistics"},
    "period": {"ja": "期間", "en": "Period"},
    "month": {"ja": "月", "en": "Month"},
    "fiscal_year": {"ja": "年度", "en": "Fiscal year"},
    "show": {"ja": "表示", "en": "Show"},
    "download_xlsx": {"ja": "Excel(XLSX)をダウンロード", "en": "Download Excel (XLSX)"},
    "download_json": {"ja": "JSON", "en": "JSON"},
    "summary": {"ja": "概要", "en": "Summary"},
    "visits": {"ja": "利用回数", "en": "Visits"},
    "unique_visitors": {"ja": "利用者数(実人数)", "en": "Unique visitors"},
    "unique_members": {"ja": "利用会員数", "en": "Members who visited"},
    "visitor_hours": {"ja": "延べ滞在時間(時間)", "en": "Visitor hours"},
    "visits_by_plan": {"ja": "プラン別利用回数", "en": "Visits by plan"},
    "visits_by_month": {"ja": "月別利用", "en": "Visits by month"},
    "members": {"ja": "会員", "en": "Members"},
    "members_at_month_end": {"ja": "月末時点のプラン別会員数", "en": "Members by plan at month end"},
    "as_of": {"ja": "基準日", "en": "As of"},
    "total": {"ja": "合計", "en": "Total"},
    "new_members": {"ja": "新規会員", "en": "New members"},
    "leaving_members": {"ja": "退会", "en": "Leaving members"},
    "occupancy": {
        "ja": "曜日・時間帯別の混雑(平均在館人数)",
        "en": "Occupancy by weekday and hour (average present)",
    },
    "occupancy_note": {
        "ja": "各マスの数字は、その曜日のその時間帯に在館していた平均人数です(延べ滞在分 ÷ 60 ÷ 期間中のその曜日の日数)。色が濃いほど混雑しています。",
        "en": "Each cell shows the average number of people present in that hour on that weekday "
        "(person-minutes ÷ 60 ÷ that weekday's days in the period). Darker means busier.",
    },
    "weekday": {"ja": "曜日", "en": "Weekday"},
    "hour": {"ja": "時", "en": "Hour"},
    "person_minutes": {"ja": "延べ滞在(分)", "en": "Person-minutes"},
    "average_present": {"ja": "平均在館人数", "en": "Average present"},
    "rooms": {"ja": "会議室等の稼働率", "en": "Room utilisation"},
    "resource": {"ja": "施設", "en": "Resource"},
    "bookings": {"ja": "予約件数", "en": "Bookings"},
    "booked_hours": {"ja": "予約時間", "en": "Booked hours"},
    "event_hours": {"ja": "うちイベント", "en": "Of which events"},
    "open_hours": {"ja": "開館時間", "en": "Open hours"},
    "utilisation": {"ja": "稼働率", "en": "Utilisation"},
    "events": {"ja": "イベント(交流事業)", "en": "Events"},
    "category": {"ja": "区分", "en": "Category"},
    "held": {"ja": "開催数", "en": "Held"},
    "attendance": {"ja": "参加者数", "en": "Attendance"},
    "registrations": {"ja": "申込数", "en": "Registrations"},
    "consultations": {"ja": "コーディネーター相談", "en": "Consultations"},
    "consultations_held": {"ja": "実施", "en": "Held"},
    "no_show": {"ja": "無断欠席", "en": "No-show"},
    "cancelled": {"ja": "キャンセル", "en": "Cancelled"},
    "booked": {"ja": "予約中", "en": "Booked"},
    "revenue": {
        "ja": "売上(発行済み請求書 − 返還インボイス、税込)",
        "en": "Revenue (issued invoices less credit notes, tax incl.)",
    },
    "revenue_by_kind": {"ja": "種類別売上", "en": "Revenue by kind"},
    "revenue_by_plan": {"ja": "プラン別売上", "en": "Revenue by plan"},
    "revenue_by_month": {"ja": "月別売上", "en": "Revenue by month"},
    "kind": {"ja": "種類", "en": "Kind"},
    "plan": {"ja": "プラン", "en": "Plan"},
    "invoiced_yen": {"ja": "請求額(円)", "en": "Invoiced (yen)"},
    "credited_yen": {"ja": "返還額(円)", "en": "Credited (yen)"},
    "net_yen": {"ja": "純売上(円)", "en": "Net (yen)"},
    "invoices": {"ja": "請求書数", "en": "Invoices"},
    "credit_notes": {"ja": "返還インボイス数", "en": "Credit notes"},
    "generated_at": {"ja": "集計日時", "en": "Generated at"},
    "chart_table_note": {
        "ja": "グラフと同じ数値を表にも示しています。",
        "en": "The table gives the same figures as the chart.",
    },
    "none": {"ja": "該当なし", "en": "None"},
    "language_switch": {"ja": "English", "en": "日本語"},
    "definitions": {"ja": "定義", "en": "Definitions"},
}


def t(key: str, lang: Language) -> str:
    return TEXT[key][lang]
