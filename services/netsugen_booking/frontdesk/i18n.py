"""The console's words, in Japanese and English: one catalog for the page and its JavaScript.

The template renders the page in one language; the same catalog is embedded in the page as JSON so
the language switch re-labels everything without a reload. API errors are mapped by their problem
``type`` slug (the API's stable contract) to a message written for the person at the desk; an
unknown slug falls back to the problem's own ``detail`` or ``title``.
"""

from __future__ import annotations

from typing import Literal

Language = Literal["ja", "en"]
LANGUAGES: tuple[Language, ...] = ("ja", "en")

# Static labels. `{name}`-style placeholders are filled by the JavaScript.
MESSAGES: dict[str, dict[Language, str]] = {
    "page.title": {"ja": "NETSUGEN 受付コンソール", "en": "NETSUGEN front desk"},
    "skip": {"ja": "メインの内容へ移動", "en": "Skip to main content"},
    "lang.switch": {"ja": "English", "en": "日本語"},
    "lang.switch.label": {"ja": "Switch to English", "en": "日本語に切り替える"},
    "signout": {"ja": "サインアウト", "en": "Sign out"},
    "signin.title": {"ja": "スタッフ サインイン", "en": "Staff sign-in"},
    "signin.email": {"ja": "メールアドレス", "en": "Email"},
    "signin.password": {"ja": "パスワード", "en": "Password"},
    "signin.totp": {
        "ja": "確認コード(6桁・設定している場合)",
        "en": "Code (6 digits, if you use two-factor)",
    },
    "signin.help": {
        "ja": "操作がない状態が続くと自動的にサインアウトします。共用の端末では使い終わったらサインアウトしてください。",
        "en": "You are signed out automatically after a while without activity. Sign out when you leave a shared device.",
    },
    "signin.submit": {"ja": "サインイン", "en": "Sign in"},
    "signin.checking": {"ja": "確認しています…", "en": "Checking…"},
    "signin.empty": {
        "ja": "メールアドレスとパスワードを入力してください。",
        "en": "Enter your email and password.",
    },
    "signout.idle": {
        "ja": "操作がなかったため、サインアウトしました。",
        "en": "You were signed out after a period without activity.",
    },
    "signin.done": {"ja": "サインインしました。", "en": "Signed in."},
    "signout.done": {"ja": "サインアウトしました。", "en": "Signed out."},
    "signin.not_staff": {
        "ja": "このアカウントには受付(スタッフ)の権限がありません。",
        "en": "This account does not have the front-desk (staff) role.",
    },
    "checkin.title": {"ja": "チェックイン", "en": "Check-in"},
    "scan.label": {"ja": "会員カードをスキャン", "en": "Scan a member card"},
    "scan.placeholder": {"ja": "スキャン待ち", "en": "Ready to scan"},
    "scan.help": {
        "ja": "会員番号(例: M000123)を入力して Enter でもチェックインできます。",
        "en": "Or type a member number (e.g. M000123) and press Enter.",
    },
    "scan.submit": {"ja": "チェックイン", "en": "Check in"},
    "search.label": {"ja": "会員番号・氏名で検索", "en": "Search by member number or name"},
    "search.submit": {"ja": "検索", "en": "Search"},
    "search.none": {"ja": "該当する会員はいません。", "en": "No member matches."},
    "search.results": {"ja": "検索結果 {count} 件", "en": "{count} result(s)"},
    "search.more": {
        "ja": "さらに一致する会員がいます。条件を絞ってください。",
        "en": "More members match; narrow the search.",
    },
    "search.users": {"ja": "{name} の利用者を選んでください", "en": "Choose a user of {name}"},
    "search.no_users": {"ja": "有効な利用者が登録されていません。", "en": "No active users are registered."},
    "member.checkin": {"ja": "チェックイン", "en": "Check in"},
    "member.checkin.label": {"ja": "{name} をチェックイン", "en": "Check in {name}"},
    "member.inside": {"ja": "在館中", "en": "In the space"},
    "kind.individual": {"ja": "個人", "en": "Individual"},
    "kind.corporate": {"ja": "法人", "en": "Corporate"},
    "status.active": {"ja": "有効", "en": "Active"},
    "status.suspended": {"ja": "利用停止中", "en": "Suspended"},
    "status.left": {"ja": "退会済み", "en": "Left"},
    "plan.dropin": {"ja": "ドロップイン", "en": "Drop-in"},
    "plan.individual_monthly": {"ja": "個人月額", "en": "Individual monthly"},
    "plan.corporate_monthly": {"ja": "法人月額", "en": "Corporate monthly"},
    "plan.none": {"ja": "プランなし", "en": "No plan"},
    "checkin.done": {
        "ja": "{name} さんがチェックインしました({time})。",
        "en": "{name} checked in at {time}.",
    },
    "inside.title": {"ja": "在館中の会員", "en": "Now in the space"},
    "inside.count": {"ja": "在館 {count} 人 / 定員 {capacity} 人", "en": "{count} in / capacity {capacity}"},
    "inside.empty": {"ja": "現在、在館中の会員はいません。", "en": "Nobody is in the space."},
    "inside.refresh": {"ja": "更新", "en": "Refresh"},
    "inside.updated": {"ja": "{time} 時点", "en": "As of {time}"},
    "col.name": {"ja": "氏名", "en": "Name"},
    "col.checkin": {"ja": "入館", "en": "In"},
    "col.stay": {"ja": "滞在時間", "en": "Stayed"},
    "col.charge": {"ja": "現在の料金", "en": "Charge so far"},
    "col.action": {"ja": "操作", "en": "Action"},
    "charge.plan": {"ja": "月額プラン(無料)", "en": "Monthly plan (free)"},
    "charge.loading": {"ja": "計算中…", "en": "Calculating…"},
    "charge.unavailable": {"ja": "取得できません", "en": "Unavailable"},
    "charge.cap": {"ja": "上限適用", "en": "daily cap"},
    "checkout": {"ja": "チェックアウト", "en": "Check out"},
    "checkout.label": {"ja": "{name} をチェックアウト", "en": "Check out {name}"},
    "checkout.title": {"ja": "チェックアウトしました", "en": "Checked out"},
    "checkout.done": {"ja": "{name} さんがチェックアウトしました。", "en": "{name} checked out."},
    "checkout.member": {"ja": "会員", "en": "Member"},
    "checkout.times": {"ja": "今回の滞在", "en": "This visit"},
    "checkout.today_minutes": {"ja": "本日の課金対象時間", "en": "Billable minutes today"},
    "checkout.blocks": {"ja": "課金単位", "en": "Blocks"},
    "checkout.blocks_value": {"ja": "{blocks} 単位 × {price}", "en": "{blocks} × {price}"},
    "checkout.uncapped": {"ja": "上限適用前", "en": "Before the cap"},
    "checkout.cap": {"ja": "1日の上限", "en": "Daily cap"},
    "checkout.cap_yes": {"ja": "適用(1日 {cap} まで)", "en": "Applied (at most {cap} a day)"},
    "checkout.cap_no": {"ja": "適用なし", "en": "Not applied"},
    "checkout.charge": {"ja": "本日のお支払い", "en": "Today's charge"},
    "checkout.covered": {
        "ja": "月額プランの対象日のため、料金はかかりません。",
        "en": "Covered by a monthly plan: no charge.",
    },
    "checkout.minutes_value": {"ja": "{minutes} 分", "en": "{minutes} min"},
    "checkout.explain": {
        "ja": "ドロップイン料金: その日の開館時間内の滞在を合計し、開始した {block} 分ごとに {price}、1日 {cap} まで。",
        "en": "Drop-in: the day's minutes within opening hours, {price} per started {block} minutes, at most {cap} a day.",
    },
    "checkout.explain.generic": {
        "ja": "ドロップイン料金: その日の開館時間内の滞在を合計し、開始した単位ごとに課金され、1日の上限があります。",
        "en": "Drop-in: the day's minutes within opening hours are charged per started block, up to a daily cap.",
    },
    "checkout.quote_failed": {
        "ja": "料金を計算できませんでした。",
        "en": "The charge could not be calculated.",
    },
    "close": {"ja": "閉じる", "en": "Close"},
    "today.title": {"ja": "本日", "en": "Today"},
    "today.hours": {"ja": "開館時間", "en": "Opening hours"},
    "today.open": {"ja": "{opens}〜{closes}", "en": "{opens}–{closes}"},
    "today.closed": {"ja": "休館日", "en": "Closed"},
    "today.open_now": {"ja": "開館中", "en": "Open now"},
    "today.closed_now": {"ja": "現在は閉館時間です", "en": "Closed now"},
    "today.bookings": {"ja": "本日の会議室予約", "en": "Room bookings today"},
    "today.no_bookings": {"ja": "本日の予約はありません。", "en": "No bookings today."},
    "today.events": {"ja": "本日のイベント", "en": "Events today"},
    "today.no_events": {"ja": "本日のイベントはありません。", "en": "No events today."},
    "today.unavailable": {"ja": "取得できませんでした。", "en": "Could not be loaded."},
    "today.seats_left": {"ja": "残り {seats} 席", "en": "{seats} seats left"},
    "capacity.near": {
        "ja": "まもなく満員です(在館 {count} 人 / 定員 {capacity} 人)。",
        "en": "Nearly full ({count} in, capacity {capacity}).",
    },
    "capacity.full": {
        "ja": "満員です。退館があるまでチェックインできません。",
        "en": "The space is full: no check-in until someone leaves.",
    },
    "error.prefix": {"ja": "エラー", "en": "Error"},
    "error.dismiss": {"ja": "メッセージを閉じる", "en": "Dismiss message"},
    "error.generic": {"ja": "処理できませんでした。", "en": "That did not work."},
    "error.network": {
        "ja": "サーバーに接続できません。ネットワークを確認してください。",
        "en": "Cannot reach the server. Check the network.",
    },
    "error.empty_scan": {
        "ja": "カードが読み取れませんでした。もう一度スキャンしてください。",
        "en": "Nothing was scanned. Scan the card again.",
    },
    "error.session_expired": {
        "ja": "セッションが終了しました。もう一度サインインしてください。",
        "en": "The session has ended. Please sign in again.",
    },
    "yen": {"ja": "{amount}円", "en": "¥{amount}"},
    "duration": {"ja": "{h}時間{m}分", "en": "{h} h {m} min"},
    "duration.min": {"ja": "{m}分", "en": "{m} min"},
}

# API problem `type` slugs → what the desk should read. Keep in step with the services'
# exceptions.py files (a test checks that every front-desk slug has both languages).
ERRORS: dict[str, dict[Language, str]] = {
    # visits
    "space-closed": {
        "ja": "現在は閉館時間のため、チェックインできません。",
        "en": "NETSUGEN is closed now, so nobody can check in.",
    },
    "space-full": {
        "ja": "満員のため、チェックインできません。退館があるまでお待ちください。",
        "en": "NETSUGEN is at capacity: no check-in until someone leaves.",
    },
    "visit-already-open": {
        "ja": "この会員はすでにチェックイン済みです(在館中)。",
        "en": "This member is already checked in.",
    },
    "visit-not-found": {"ja": "この入館記録は見つかりません。", "en": "This visit no longer exists."},
    "visit-overlap": {
        "ja": "同じ会員の別の滞在と時間が重なっています。",
        "en": "The times overlap another visit of the same person.",
    },
    "not-your-visit": {"ja": "他の会員の入館記録です。", "en": "This visit belongs to another member."},
    "times-not-in-order": {
        "ja": "退館時刻が入館時刻より前です。",
        "en": "The check-out time is before the check-in time.",
    },
    "time-in-future": {"ja": "未来の時刻は指定できません。", "en": "Times cannot be in the future."},
    "outside-opening-hours": {"ja": "開館時間外の時刻です。", "en": "The time is outside the opening hours."},
    "manual-entry-member-suspended": {
        "ja": "この会員は利用停止中です。記録する場合は理由を入力して確認してください。",
        "en": "This member is suspended. To record it anyway, confirm with a reason.",
    },
    "manual-entry-member-left": {
        "ja": "この会員はその日には退会済みです。記録する場合は理由を入力して確認してください。",
        "en": "This member had left by that day. To record it anyway, confirm with a reason.",
    },
    "manual-entry-before-registration": {
        "ja": "会員登録日より前の日付です。記録する場合は理由を入力して確認してください。",
        "en": "The day is before the member registered. To record it anyway, confirm with a reason.",
    },
    "no-open-visit": {"ja": "この会員は入館していません。", "en": "This member is not checked in."},
    # members
    "member-not-found": {"ja": "該当する会員が見つかりません。", "en": "No such member."},
    "unknown-card": {
        "ja": "このカードは登録されていません。再発行済みの古いカードの可能性があります。",
        "en": "This card is not recognised. It may be an old card that was replaced.",
    },
    "member-suspended": {
        "ja": "この会員は利用停止中のため、チェックインできません。",
        "en": "This membership is suspended, so the member cannot check in.",
    },
    "member-left": {"ja": "この会員は退会済みです。", "en": "This member has left."},
    "member-gone": {"ja": "この会員は退会済みです。", "en": "This member has left."},
    "member-user-required": {
        "ja": "法人会員です。利用者を選んでチェックインしてください。",
        "en": "This is a corporate member: choose which user is checking in.",
    },
    "member-user-not-found": {
        "ja": "この法人会員にその利用者は登録されていません。",
        "en": "That user is not registered for this corporate member.",
    },
    "member-user-inactive": {
        "ja": "この利用者は無効化されています。",
        "en": "This user of the corporate member is deactivated.",
    },
    "not-corporate": {
        "ja": "利用者の指定は法人会員のみです。",
        "en": "Only corporate members have named users.",
    },
    "member-has-open-visit": {"ja": "この会員は在館中です。", "en": "The member is checked in."},
    "member-not-suspended": {
        "ja": "この会員は利用停止中ではありません。",
        "en": "The member is not suspended.",
    },
    "plan-not-allowed": {
        "ja": "この種類の会員はそのプランを利用できません。",
        "en": "This kind of member cannot have that plan.",
    },
    "plan-change-in-past": {
        "ja": "プラン変更を過去の日付にはできません。",
        "en": "A plan change cannot take effect in the past.",
    },
    "plan-unchanged": {
        "ja": "その日付からすでに同じプランです。",
        "en": "The member already has this plan on that date.",
    },
    "user-limit-reached": {
        "ja": "プランの利用者数の上限に達しています。",
        "en": "The plan covers no more users.",
    },
    # billing (quote)
    "invalid-visit-times": {"ja": "滞在時刻が正しくありません。", "en": "The visit times are invalid."},
    "unknown-plan": {"ja": "不明な料金プランです。", "en": "Unknown plan."},
    "no-tariff": {"ja": "この日に有効な料金がありません。", "en": "No price is in effect for that day."},
    # platform
    "idempotency-key-reuse": {
        "ja": "同じ操作が別の内容で送信されました。もう一度お試しください。",
        "en": "The same request was sent with different content. Please try again.",
    },
    "idempotency-key-invalid": {"ja": "リクエストが正しくありません。", "en": "The request is invalid."},
    "idempotency-in-progress": {
        "ja": "同じ操作を処理中です。少し待ってからもう一度お試しください。",
        "en": "The same request is still being processed. Try again in a moment.",
    },
    "unauthorized": {
        "ja": "セッションが無効です。もう一度サインインしてください。",
        "en": "The session is no longer valid. Please sign in again.",
    },
    # sign-in (accounts/exceptions.py)
    "invalid-credentials": {
        "ja": "メールアドレス、パスワードまたはコードが正しくないか、失敗が続いたため一時的にロックされています。",
        "en": "The email, password or code is wrong, or the account is locked for a while after repeated failures.",
    },
    "totp-required": {
        "ja": "認証アプリの6桁の確認コードを入力してください。",
        "en": "Enter the 6-digit code from your authenticator app.",
    },
    "totp-enrolment-required": {
        "ja": "管理者は二要素認証の登録が必要です。管理者用の手順で登録してください。",
        "en": "Administrators must enrol in two-factor authentication first.",
    },
    "invalid-refresh-token": {
        "ja": "セッションが終了しました。もう一度サインインしてください。",
        "en": "The session has ended. Please sign in again.",
    },
    "forbidden": {"ja": "この操作を行う権限がありません。", "en": "You are not allowed to do this."},
    "rate-limited": {
        "ja": "操作が多すぎます。しばらく待ってからもう一度お試しください。",
        "en": "Too many attempts. Wait a moment and try again.",
    },
    "validation-error": {"ja": "入力内容が正しくありません。", "en": "The input is not valid."},
    "not-found": {"ja": "見つかりません。", "en": "Not found."},
    "service-unavailable": {
        "ja": "サーバーが一時的に利用できません。少し待ってからもう一度お試しください。",
        "en": "The server is temporarily unavailable. Try again in a moment.",
    },
    "internal-error": {
        "ja": "サーバーでエラーが発生しました。管理者に連絡してください。",
        "en": "The server had an error. Please tell the administrator.",
    },
}


def text(key: str, language: Language) -> str:
    return MESSAGES[key][language]


def catalog() -> dict[str, dict[str, dict[Language, str]]]:
    """Everything the page's JavaScript needs, embedded in the page as JSON."""
    return {"messages": MESSAGES, "errors": ERRORS}
