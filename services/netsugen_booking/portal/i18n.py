"""The member portal's words in Japanese and English (one table; every key has both)."""

from __future__ import annotations

from typing import Literal

Language = Literal["ja", "en"]

TEXT: dict[str, tuple[str, str]] = {
    "site": ("NETSUGEN 会員ポータル", "NETSUGEN member portal"),
    "skip": ("本文へ移動", "Skip to content"),
    "lang.other": ("English", "日本語"),
    "lang.other.label": ("Switch to English", "日本語に切り替え"),
    "nav.label": ("メインメニュー", "Main menu"),
    "nav.home": ("ホーム", "Home"),
    "nav.visits": ("利用履歴", "Visits"),
    "nav.invoices": ("請求書", "Invoices"),
    "nav.rooms": ("会議室", "Rooms"),
    "nav.events": ("イベント", "Events"),
    "nav.consultations": ("相談", "Consultations"),
    "nav.settings": ("設定", "Settings"),
    "signout": ("サインアウト", "Sign out"),
    "signin.title": ("サインイン", "Sign in"),
    "signin.intro": (
        "登録メールアドレスにサインイン用のリンクとコードをお送りします。",
        "We email a sign-in link and code to your registered address.",
    ),
    "signin.email": ("メールアドレス", "Email address"),
    "signin.send": ("リンクを送る", "Send the link"),
    "signin.sent": (
        "登録されているアドレスであれば、サインイン用のメールを送りました。リンクを開くか、コードを入力してください。",
        "If the address is registered, a sign-in email is on its way. Open its link or type its code.",
    ),
    "signin.code.title": ("コードでサインイン", "Sign in with the code"),
    "signin.code": ("6桁のコード", "6-digit code"),
    "signin.submit": ("サインイン", "Sign in"),
    "signin.link.title": ("メールのリンクでサインイン", "Signing in with the emailed link"),
    "signin.link.help": (
        "メールのリンクからサインインします。自動で進まない場合はボタンを押してください。",
        "You opened the link from the email. If nothing happens, press the button.",
    ),
    "signin.invalid": (
        "リンクまたはコードが無効か、期限切れです。もう一度リンクを送ってください。",
        "The link or code is invalid, expired or already used. Ask for a new link.",
    ),
    "signin.expired": (
        "サインインが切れました。もう一度サインインしてください。",
        "Your session ended. Please sign in again.",
    ),
    "home.title": ("ホーム", "Home"),
    "home.welcome": ("ようこそ、{name} さん", "Welcome, {name}"),
    "home.next_bookings": ("今後の会議室予約", "Your next room bookings"),
    "home.next_registrations": ("申込中のイベント", "Your event registrations"),
    "home.latest_invoice": ("最新の請求書", "Latest invoice"),
    "none": ("ありません。", "None."),
    "visits.title": ("利用履歴と日ごとの料金", "Visits and each day's charge"),
    "visits.month": ("月", "Month"),
    "visits.show": ("表示", "Show"),
    "visits.date": ("日付", "Date"),
    "visits.times": ("入館・退館", "In / out"),
    "visits.minutes": ("課金対象（分）", "Billable minutes"),
    "visits.blocks": ("ブロック", "Blocks"),
    "visits.uncapped": ("上限適用前", "Before the cap"),
    "visits.charge": ("料金", "Charge"),
    "visits.cap": ("1日の上限を適用", "daily cap applied"),
    "visits.plan": ("月額プランの対象", "covered by your monthly plan"),
    "visits.open": ("在館中", "in now"),
    "visits.total": ("合計（税込）", "Total (tax included)"),
    "visits.explain": (
        "料金は開館時間内の滞在分数から猶予分を引き、開始したブロックごとに計算し、1日の上限を超えません。",
        "The charge counts the minutes within opening hours after the grace minutes, per started block, "
        "and never exceeds the daily cap.",
    ),
    "invoices.title": ("請求書と返還インボイス", "Invoices and credit notes"),
    "invoices.number": ("番号", "Number"),
    "invoices.kind": ("種類", "Kind"),
    "invoices.kind.invoice": ("請求書", "Invoice"),
    "invoices.kind.credit_note": ("返還インボイス", "Credit note"),
    "invoices.period": ("対象月", "Month"),
    "invoices.total": ("金額（税込）", "Amount (tax incl.)"),
    "invoices.due": ("支払期日", "Due date"),
    "invoices.balance": ("未払残高", "Outstanding"),
    "invoices.status": ("状態", "Status"),
    "invoices.document": ("書類を開く", "Open the document"),
    "invoices.receipts.title": ("領収書", "Receipts"),
    "invoices.receipts": (
        "領収書は経理部門の対応後、この欄に表示されます。",
        "Receipts will be listed here once accounting issues them.",
    ),
    "rooms.title": ("会議室の空き状況と予約", "Room availability and booking"),
    "rooms.date": ("日付", "Date"),
    "rooms.closed": ("休館日です。", "Closed on this day."),
    "rooms.hours": ("開館 {opens}–{closes}", "Open {opens}–{closes}"),
    "rooms.free": ("空き", "Free"),
    "rooms.price": ("1時間 {price}", "{price} per hour"),
    "rooms.start": ("開始", "Start"),
    "rooms.end": ("終了", "End"),
    "rooms.book": ("予約する", "Book"),
    "rooms.booked": ("予約しました。", "Booked."),
    "rooms.mine": ("あなたの予約", "Your bookings"),
    "rooms.cancel": ("取り消す", "Cancel"),
    "rooms.cancelled": ("予約を取り消しました。", "Booking cancelled."),
    "rooms.deadline": ("取消期限", "Cancel by"),
    "rooms.status.confirmed": ("確定", "confirmed"),
    "rooms.status.cancelled": ("取消済み", "cancelled"),
    "events.title": ("イベント", "Events"),
    "events.place": ("会場", "Place"),
    "events.seats": ("残り {n} 席", "{n} seats left"),
    "events.full": ("満席（キャンセル待ちで申込可）", "Full (you can join the waitlist)"),
    "events.register": ("申し込む", "Register"),
    "events.cancel": ("申込を取り消す", "Cancel my registration"),
    "events.registered": ("申込済み", "Registered"),
    "events.waitlisted": ("キャンセル待ち {n} 番目", "Waitlist position {n}"),
    "events.closed": ("受付期間外です", "Registration is not open"),
    "events.done": ("申し込みました。", "Registered."),
    "events.cancelled": ("申込を取り消しました。", "Registration cancelled."),
    "consult.title": ("コーディネーター相談", "Consultations with a coordinator"),
    "consult.slots": ("予約できる枠", "Open slots"),
    "consult.topic": ("相談内容", "Topic"),
    "consult.book": ("予約する", "Book"),
    "consult.mine": ("あなたの相談予約", "Your consultations"),
    "consult.cancel": ("取り消す", "Cancel"),
    "consult.done": ("相談を予約しました。", "Consultation booked."),
    "consult.cancelled": ("相談を取り消しました。", "Consultation cancelled."),
    "settings.title": ("設定", "Settings"),
    "settings.language": ("メールの言語", "Language of your emails"),
    "settings.save": ("保存", "Save"),
    "settings.saved": ("保存しました。", "Saved."),
    "settings.email": ("通知先メールアドレス", "Notification email"),
    "settings.email.help": (
        "新しいアドレスに確認メールを送ります。確認するまでは変わりません。",
        "We send a confirmation to the new address; nothing changes until you confirm.",
    ),
    "settings.email.sent": ("確認メールを送りました。", "A confirmation email has been sent."),
    "settings.feed": ("カレンダー購読", "Calendar subscription"),
    "settings.feed.help": (
        "予約・申込・相談をカレンダーアプリに表示する URL を発行します。再発行すると以前の URL は使えなくなります。",
        "Make a URL that shows your bookings, registrations and consultations in a calendar app. "
        "Making a new one stops the old one.",
    ),
    "settings.feed.make": ("購読 URL を発行", "Make a subscription URL"),
    "settings.feed.url": ("購読 URL", "Subscription URL"),
    "error.title": ("エラー", "Error"),
    "error.cross_site": (
        "他のサイトからの送信は受け付けません。",
        "A form sent from another site is refused.",
    ),
    "error.forbidden": ("このページを表示する権限がありません。", "You may not see this page."),
    "yen": ("{n}円", "¥{n}"),
}


def text(key: str, language: Language, **values: object) -> str:
    ja, en = TEXT[key]
    template = ja if language == "ja" else en
    return template.format(**values) if values else template


def yen(amount: int, language: Language) -> str:
    return text("yen", language, n=f"{amount:,}")
