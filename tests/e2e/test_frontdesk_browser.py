"""The front-desk console in a real headless Chromium against the real netsugen_booking process.

- The browser is Debian's ``chromium`` (/usr/bin/chromium), driven by playwright-python through
  ``executable_path``; no test tool downloads a browser. `.ci/run` installs the package when missing.
- The service runs as its own uvicorn process on a free port, against the test stack's PostgreSQL
  and Redis. Its clock is the real clock shifted by an offset the test writes to a file
  (tests/e2e/frontdesk_server.py): the service believes it is Wednesday 2026-10-07 14:00 JST, a
  regular weekday open 10:00–21:00, and the test moves time forward to check visitors out after
  30 minutes and after 4 hours without waiting.
- The staff member signs in with email and password (a staff account created through the API): the
  refresh token goes into an HttpOnly cookie the page cannot read, the access token stays in memory
  (nothing in sessionStorage or localStorage), a reload resumes the session from the cookie.
- The page runs under its strict Content-Security-Policy (no 'unsafe-inline'); every CSP violation
  the browser reports (the ``securitypolicyviolation`` event and console messages) fails the test.
- Screenshots of each step are saved under test-artifacts/frontdesk/ (git-ignored).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.jst import JST
from tests.conftest import StackInfo
from tests.e2e.frontdesk_server import CLOCK_FILE_ENV, write_offset

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        "Debian's chromium is not installed (/usr/bin/chromium missing): `apt-get install chromium` "
        "(.ci/run does it)",
        allow_module_level=True,
    )

from playwright.sync_api import Page, ViewportSize, expect, sync_playwright  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "frontdesk"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DAY = date(2026, 10, 7)  # a Wednesday, not a holiday: open 10:00–21:00
START = datetime(2026, 10, 7, 14, 0, tzinfo=JST)
ADMIN_TOKEN = "e2e-bootstrap-admin-token-for-the-frontdesk-test"
STAFF_EMAIL = "desk@netsugen.example.jp"
STAFF_PASSWORD = "akagi haruna myogi"
REFRESH_COOKIE = "netsugen_frontdesk_refresh"
# Records every CSP violation the page sees (an init script is not subject to the page's CSP).
CSP_PROBE = (
    "window.__csp = [];"
    "document.addEventListener('securitypolicyviolation', function (e) {"
    "  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI); });"
)
TABLET: ViewportSize = {"width": 1024, "height": 768}
PHONE: ViewportSize = {"width": 390, "height": 844}


@dataclass
class Server:
    base_url: str
    clock_file: Path
    log_path: Path

    def set_now(self, target: datetime) -> None:
        write_offset(self.clock_file, target)

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(stack: StackInfo, clean_db: None, tmp_path: Path) -> Iterator[Server]:
    """The real service as a process; the test database is truncated afterwards (clean_db)."""
    port = free_port()
    clock_file = tmp_path / "clock-offset"
    write_offset(clock_file, START)
    log_path = tmp_path / "netsugen.log"
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "DATABASE_URL": stack.database_url,
        "REDIS_URL": stack.redis_url,
        "BOOTSTRAP_ADMIN_TOKEN": ADMIN_TOKEN,
        "OUTBOX_RELAY_ENABLED": "false",
        "NETSUGEN_CAPACITY": "1",  # one visitor fills the space: the warning shows
        "LOG_JSON": "true",
        CLOCK_FILE_ENV: str(clock_file),
    }
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "tests.e2e.frontdesk_server:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", clock_file, log_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{server.base_url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"netsugen_booking did not start:\n{server.log_tail()}")
            time.sleep(0.3)
        yield server
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def staff_account(client: httpx.Client) -> str:
    """A staff account created by an administrator; returns an access token of its own API sign-in."""
    call(
        client,
        "POST",
        "/v1/staff-accounts",
        ADMIN_TOKEN,
        201,
        json={
            "email": STAFF_EMAIL,
            "name": "受付 一郎",
            "role": "staff",
            "password": STAFF_PASSWORD,
        },
    )
    r = client.post("/v1/auth/login", json={"email": STAFF_EMAIL, "password": STAFF_PASSWORD})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def csp_reports(page: Page, console: list[str]) -> list[str]:
    return [*page.evaluate("window.__csp || []"), *(m for m in console if "Content Security Policy" in m)]


def call(client: httpx.Client, method: str, path: str, token: str, status: int, **kwargs: Any) -> Any:
    r = client.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
    assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text}"
    return r.json() if r.content else None


def shot(page: Page, name: str, *, full_page: bool = False) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def active_id(page: Page) -> str:
    return str(page.evaluate("document.activeElement ? document.activeElement.id : ''"))


def open_visit_check_in(client: httpx.Client, token: str, member_id: str) -> datetime:
    visits = call(client, "GET", "/v1/visits", token, 200, params={"member_id": member_id, "open": "true"})
    assert len(visits["items"]) == 1
    return datetime.fromisoformat(visits["items"][0]["check_in_at"])


def test_front_desk_day_in_a_real_browser(server: Server, stack: StackInfo) -> None:
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        staff = staff_account(client)
        # ---- the day's data, through the API ----------------------------------------------
        today = call(client, "GET", "/v1/calendar", staff, 200, params={"from": str(DAY), "to": str(DAY)})
        assert today["days"][0] | {"reason": None} == {
            "date": "2026-10-07",
            "open": True,
            "opens_at": "10:00",
            "closes_at": "21:00",
            "reason": None,
            "kind": "weekday",
        }
        member = call(
            client,
            "POST",
            "/v1/members",
            staff,
            201,
            json={
                "kind": "individual",
                "name": "上州 太郎",
                "email": "taro@example.jp",
                "language": "ja",
                "plan": "dropin",
            },
        )
        card, number = member["card_token"], member["member_number"]
        corporate = call(
            client,
            "POST",
            "/v1/members",
            staff,
            201,
            json={
                "kind": "corporate",
                "name": "株式会社ぐんまラボ",
                "email": "office@gunma-lab.example.jp",
                "language": "ja",
                "plan": "corporate_monthly",
            },
        )
        call(client, "POST", f"/v1/members/{corporate['id']}/users", staff, 201, json={"name": "前橋 花子"})
        rooms = [
            r
            for r in call(client, "GET", "/v1/resources", staff, 200)["items"]
            if r["kind"] == "meeting_room"
        ]
        room = rooms[0]
        call(
            client,
            "POST",
            "/v1/bookings",
            staff,
            201,
            json={
                "resource_id": room["id"],
                "member_id": member["id"],
                "start": "2026-10-07T16:00:00+09:00",
                "end": "2026-10-07T17:00:00+09:00",
            },
        )
        call(
            client,
            "POST",
            "/v1/programs",
            staff,
            201,
            json={
                "title_ja": "SDGs 勉強会",
                "title_en": "SDGs study session",
                "category": "seminar",
                "start": "2026-10-07T18:00:00+09:00",
                "end": "2026-10-07T20:00:00+09:00",
                "capacity": 30,
            },
        )

        for old in ARTIFACTS.glob("*.png"):
            old.unlink()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
            context = browser.new_context(viewport=TABLET, locale="ja-JP", timezone_id="Asia/Tokyo")
            context.add_init_script(CSP_PROBE)
            page = context.new_page()
            page_errors: list[str] = []
            console: list[str] = []
            page.on("pageerror", lambda exc: page_errors.append(str(exc)))
            page.on("console", lambda msg: console.append(msg.text))
            try:
                # ---- 1. sign in ------------------------------------------------------------
                response = page.goto(f"{server.base_url}/frontdesk")
                assert (
                    response is not None
                    and "unsafe-inline" not in response.headers["content-security-policy"]
                )
                expect(page.locator("#signin")).to_be_visible()
                expect(page.get_by_label("メールアドレス")).to_be_focused()
                shot(page, "01-sign-in")
                page.get_by_label("メールアドレス").fill(STAFF_EMAIL)
                page.get_by_label("パスワード").fill("wrong password, surely")
                page.keyboard.press("Enter")
                expect(page.locator("#error-msg")).to_have_attribute("data-problem", "invalid-credentials")
                expect(page.locator("#console")).to_be_hidden()
                page.get_by_label("パスワード").fill(STAFF_PASSWORD)
                page.keyboard.press("Enter")
                expect(page.locator("#console")).to_be_visible()
                expect(page.locator("#status-msg")).to_have_text("サインインしました。")
                expect(page.get_by_label("パスワード")).to_have_value("")
                # Nothing of the session in storage the page's scripts could leak; the cookie is HttpOnly.
                stored = page.evaluate(
                    "JSON.stringify(sessionStorage) + JSON.stringify(localStorage) + document.cookie"
                )
                assert "gsa_" not in stored and "gsr_" not in stored and REFRESH_COOKIE not in stored
                (cookie,) = [c for c in context.cookies() if c["name"] == REFRESH_COOKIE]
                assert (
                    cookie["httpOnly"]
                    and cookie["sameSite"] == "Strict"
                    and cookie["path"] == "/frontdesk/session"
                )
                assert cookie["value"].startswith("gsr_")
                expect(page.locator("#scan-input")).to_be_focused()
                expect(page.locator("#today-hours")).to_have_text("10:00〜21:00")
                expect(page.locator("#today-bookings")).to_contain_text("16:00–17:00")
                expect(page.locator("#today-bookings")).to_contain_text(room["name_ja"])
                expect(page.locator("#today-events")).to_contain_text("SDGs 勉強会")
                expect(page.locator("#inside-empty")).to_be_visible()
                page.reload()  # the refresh cookie resumes the session: no second sign-in
                expect(page.locator("#console")).to_be_visible()
                rotated = [c for c in context.cookies() if c["name"] == REFRESH_COOKIE][0]["value"]
                assert rotated != cookie["value"]  # the refresh token rotated
                expect(page.locator("#scan-input")).to_be_focused()
                expect(page.locator("#today-hours")).to_have_text("10:00〜21:00")
                shot(page, "02-signed-in")

                # ---- 2. check in by scanning the card (the scanner types the token + Enter) --
                server.set_now(START)  # the set-up took a while on a busy machine: 14:00 again
                page.keyboard.type(card)
                page.keyboard.press("Enter")
                row = page.locator(f'#inside-body tr[data-member-number="{number}"]')
                expect(row).to_contain_text("上州 太郎")
                expect(row.locator("td").nth(1)).to_have_text("14:00")
                expect(page.locator("#status-msg")).to_have_text(
                    "上州 太郎 さんがチェックインしました(14:00)。"
                )
                expect(page.locator("#occupancy-text")).to_have_text("在館 1 人 / 定員 1 人")
                expect(page.locator("#capacity-warning")).to_have_text(
                    "満員です。退館があるまでチェックインできません。"
                )
                expect(row.locator("td.charge")).to_have_text("0円")
                expect(page.locator("#scan-input")).to_be_focused()
                expect(page.locator("#scan-input")).to_have_value("")
                shot(page, "03-checked-in")
                page.set_viewport_size(PHONE)
                shot(page, "03-checked-in-phone", full_page=True)
                page.set_viewport_size(TABLET)
                search = page.get_by_label("会員番号・氏名で検索")
                search.fill(card)  # the same card again, scanned while the search field had focus
                search.press("Enter")
                expect(page.locator("#error-msg")).to_have_attribute("data-problem", "visit-already-open")
                expect(page.locator("#error-msg strong")).to_have_text(
                    "エラー: この会員はすでにチェックイン済みです(在館中)。"
                )
                expect(page.locator("#inside-body tr")).to_have_count(1)
                expect(search).to_have_value("")
                expect(page.locator("#scan-input")).to_be_focused()

                # ---- 3. thirty minutes later: the charge so far ---------------------------------
                checked_in = open_visit_check_in(client, staff, member["id"])
                server.set_now(checked_in + timedelta(minutes=30, seconds=5))
                page.get_by_role("button", name="更新").click()
                expect(row.locator("td.stay")).to_have_text("30分")
                expect(row.locator("td.charge")).to_have_text("250円")
                shot(page, "04-charge-so-far")

                # ---- 4. check out: the day's charge, explained ----------------------------------
                page.get_by_role("button", name="上州 太郎 をチェックアウト").click()
                dialog = page.locator("#checkout-dialog")
                expect(dialog).to_be_visible()
                expect(dialog).to_have_attribute("data-charge", "250")
                summary = dialog.locator("#checkout-summary")
                expect(summary).to_contain_text("本日の課金対象時間30 分")
                expect(summary).to_contain_text("課金単位1 単位 × 250円")
                expect(summary).to_contain_text("1日の上限適用なし")
                expect(summary).to_contain_text("本日のお支払い250円")
                expect(page.locator("#checkout-close")).to_be_focused()
                shot(page, "05-checked-out")
                page.keyboard.press("Escape")
                expect(dialog).to_be_hidden()
                expect(page.locator("#scan-input")).to_be_focused()
                expect(page.locator("#inside-empty")).to_be_visible()
                visits = call(client, "GET", "/v1/visits", staff, 200, params={"member_id": member["id"]})
                assert [v["minutes"] for v in visits["items"]] == [30]

                # ---- 5. back again, found by name; over three hours the daily cap applies -------
                search.fill("上州")
                search.press("Enter")
                result = page.locator(f'#search-results li[data-member-number="{number}"]')
                expect(result).to_contain_text(f"{number} · 個人 · ドロップイン")
                shot(page, "06-search")
                expect(page.get_by_role("button", name="上州 太郎 をチェックイン")).to_be_focused()
                page.keyboard.press("Enter")  # one action, from the keyboard
                expect(row).to_be_visible()
                expect(page.locator("#scan-input")).to_be_focused()
                second = open_visit_check_in(client, staff, member["id"])
                server.set_now(second + timedelta(hours=4, seconds=5))
                page.get_by_role("button", name="更新").click()
                expect(row.locator("td.charge")).to_have_text("1,000円上限適用")
                shot(page, "07-daily-cap")
                page.get_by_role("button", name="上州 太郎 をチェックアウト").click()
                expect(dialog).to_have_attribute("data-charge", "1000")
                expect(summary).to_contain_text("本日の課金対象時間270 分")
                expect(summary).to_contain_text("課金単位5 単位 × 250円")
                expect(summary).to_contain_text("上限適用前1,250円")
                expect(summary).to_contain_text("1日の上限適用(1日 1,000円 まで)")
                expect(summary).to_contain_text("本日のお支払い1,000円")
                shot(page, "08-checked-out-capped")
                page.keyboard.press("Enter")  # the focused Close button
                expect(dialog).to_be_hidden()
                expect(page.locator("#scan-input")).to_be_focused()

                # ---- 6. a corporate member: its named users are the choices ----------------------
                page.keyboard.type(corporate["member_number"])  # a member number typed into the scan field
                page.keyboard.press("Enter")
                expect(page.locator("#error-msg")).to_have_attribute("data-problem", "member-user-required")
                expect(page.locator("#error-msg strong")).to_have_text(
                    "エラー: 法人会員です。利用者を選んでチェックインしてください。"
                )
                choice = page.get_by_role("button", name="前橋 花子(株式会社ぐんまラボ) をチェックイン")
                expect(choice).to_be_focused()
                expect(page.locator("#search-results")).to_contain_text(
                    "株式会社ぐんまラボ の利用者を選んでください"
                )
                shot(page, "09-corporate-users")
                page.keyboard.press("Enter")
                corp_number = corporate["member_number"]
                corp_row = page.locator(f'#inside-body tr[data-member-number="{corp_number}"]')
                expect(corp_row).to_contain_text("前橋 花子")
                expect(corp_row.locator("td.charge")).to_have_text("月額プラン(無料)")
                expect(page.locator("#error-box")).to_be_hidden()
                page.get_by_role("button", name="前橋 花子 をチェックアウト").click()
                expect(dialog).to_have_attribute("data-charge", "0")
                expect(summary).to_contain_text("月額プランの対象日のため、料金はかかりません。")
                page.keyboard.press("Escape")
                expect(page.locator("#scan-input")).to_be_focused()

                # ---- 7. the space closes: a scan shows the closed-hours message --------------
                call(
                    client,
                    "POST",
                    "/v1/calendar/closures",
                    ADMIN_TOKEN,
                    201,
                    json={
                        "start_date": str(DAY),
                        "reason_ja": "臨時休館(設備点検)",
                        "reason_en": "Closed for maintenance",
                    },
                )
                page.locator("#refresh").focus()  # focus elsewhere: the scan still reaches the scan field
                page.keyboard.type(card)
                page.keyboard.press("Enter")
                error = page.locator("#error-msg")
                expect(error).to_have_attribute("data-problem", "space-closed")
                expect(error.locator("strong")).to_have_text(
                    "エラー: 現在は閉館時間のため、チェックインできません。"
                )
                expect(page.locator("#today-hours")).to_have_text("休館日")
                expect(page.locator("#today-reason")).to_have_text("臨時休館(設備点検)")
                expect(page.locator("#open-now")).to_have_text("現在は閉館時間です")
                shot(page, "10-closed-error")
                page.set_viewport_size(PHONE)
                shot(page, "10-closed-error-phone", full_page=True)
                page.set_viewport_size(TABLET)

                # ---- 8. the same in English ---------------------------------------------------
                page.get_by_role("button", name="Switch to English").click()
                expect(error.locator("strong")).to_have_text(
                    "Error: NETSUGEN is closed now, so nobody can check in."
                )
                expect(error.locator(".msg-detail")).to_have_count(0)  # the API's detail was in Japanese
                expect(page.locator("#today-reason")).to_have_text("Closed for maintenance")
                expect(page.get_by_role("heading", name="Now in the space")).to_be_visible()
                shot(page, "11-closed-error-en")
                page.get_by_role("button", name="日本語に切り替える").click()

                # ---- 9. sign out: the session is revoked and the cookie gone -----------------
                page.get_by_role("button", name="サインアウト").click()
                expect(page.locator("#signin")).to_be_visible()
                expect(page.locator("#console")).to_be_hidden()
                expect(page.locator("#status-msg")).to_have_text("サインアウトしました。")
                expect(page.get_by_label("メールアドレス")).to_be_focused()
                page.wait_for_function("true")
                deadline = time.monotonic() + 5
                while [
                    c for c in context.cookies() if c["name"] == REFRESH_COOKIE
                ] and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert [c for c in context.cookies() if c["name"] == REFRESH_COOKIE] == []
                r = client.post(
                    "/frontdesk/session/refresh", headers={"Cookie": f"{REFRESH_COOKIE}={rotated}"}
                )
                assert r.status_code == 401  # the session is over on the server too
                page.reload()
                expect(page.locator("#signin")).to_be_visible()  # nothing to resume
                shot(page, "12-signed-out")
                assert page_errors == []
                assert csp_reports(page, console) == []
            except Exception:
                shot(page, "failure", full_page=True)
                raise
            finally:
                context.close()
                browser.close()
    assert "Traceback" not in server.log_tail()


def test_silent_renewal_and_sign_out_after_inactivity(server: Server) -> None:
    """The page's clock is Playwright's: 14½ minutes pass in a moment, then 15 more without activity."""
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        staff_account(client)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport=TABLET, locale="ja-JP", timezone_id="Asia/Tokyo")
        context.add_init_script(CSP_PROBE)
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda msg: console.append(msg.text))
        renewals: list[int] = []
        page.on(
            "response",
            lambda resp: (
                renewals.append(resp.status) if resp.url.endswith("/frontdesk/session/refresh") else None
            ),
        )
        try:
            page.clock.install()
            page.goto(f"{server.base_url}/frontdesk")
            expect(page.get_by_label("メールアドレス")).to_be_focused()
            assert renewals == [401]  # the page tried to resume: no cookie yet
            page.get_by_label("メールアドレス").fill(STAFF_EMAIL)
            page.get_by_label("パスワード").fill(STAFF_PASSWORD)
            page.keyboard.press("Enter")
            expect(page.locator("#console")).to_be_visible()
            first = [c for c in context.cookies() if c["name"] == REFRESH_COOKIE][0]["value"]
            # Let the first loads finish: a request in flight while time jumps would hit its timeout.
            expect(page.locator("#today-hours")).to_have_text("10:00〜21:00")
            expect(page.locator("#inside-empty")).to_be_visible()
            page.wait_for_timeout(500)
            # The access token lives 15 minutes: the page renews it a minute before, silently.
            page.clock.fast_forward("14:30")  # due timers fire once; no request is in flight
            deadline = time.monotonic() + 10
            while 200 not in renewals and time.monotonic() < deadline:
                page.wait_for_timeout(50)
            assert renewals.count(200) == 1, renewals
            assert [c for c in context.cookies() if c["name"] == REFRESH_COOKIE][0]["value"] != first
            page.get_by_role("button", name="更新").click()  # activity; the API answers with the new token
            expect(page.locator("#occupancy-text")).to_have_text("在館 0 人 / 定員 1 人")
            expect(page.locator("#error-box")).to_be_hidden()
            expect(page.locator("#console")).to_be_visible()
            # 15 minutes without a key press or a tap: signed out.
            page.clock.fast_forward("15:10")
            expect(page.locator("#signin")).to_be_visible()
            expect(page.locator("#console")).to_be_hidden()
            expect(page.locator("#status-msg")).to_have_text("操作がなかったため、サインアウトしました。")
            shot(page, "13-idle-signed-out")
            assert csp_reports(page, console) == []
        except Exception:
            shot(page, "failure-idle", full_page=True)
            raise
        finally:
            context.close()
            browser.close()
