"""Usage statistics against a November 2026 built visit by visit (issue 19).

November 2026: the 1st is a Sunday; 3 (文化の日) and 23 (勤労感謝の日) are holidays. Open hours:
19 weekdays × 11 h + (9 weekend days + 2 holidays) × 8 h = 297 h. Five Mondays (2, 9, 16, 23, 30).
"""

from __future__ import annotations

import io
import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncSession

from services.netsugen_booking.bookings.models import Booking
from services.netsugen_booking.consultations.models import Consultation, ConsultationSlot, Coordinator
from services.netsugen_booking.members.models import Member
from services.netsugen_booking.programs.models import Program, ProgramRegistration
from services.netsugen_booking.resources.seed import resource_id
from services.netsugen_booking.usage_stats.rules import parse_period, revenue_kind, weekday_counts
from shared.auth import Role
from tests.conftest import bearer
from tests.netsugen_booking.conftest import Clock
from tests.netsugen_booking.factories import assert_problem
from tests.netsugen_booking.test_billing_factories import jst, make_member, make_user, visit

ROOM_A = resource_id("meeting-room-a")
EVENT_SPACE = resource_id("event-space")
MONDAY, WEDNESDAY, SATURDAY = 0, 2, 5  # row index in the heat map (ISO weekday − 1)


def registered(member: Member, when: datetime) -> None:
    member.created_at = when


async def build_november(db: AsyncSession) -> dict[str, Any]:
    """Five members, ten visits (eight in November), bookings, two events and three consultations."""
    alice = await make_member(db, plan="dropin", name="上州 花子")
    bob = await make_member(db, plan="individual_monthly", name="赤城 次郎")
    corp = await make_member(db, plan="corporate_monthly", kind="corporate", name="榛名商事")
    u1, u2 = await make_user(db, corp, name="社員 一"), await make_user(db, corp, name="社員 二")
    dan = await make_member(db, plan="dropin", plan_end=datetime(2026, 11, 20).date(), name="妙義 三郎")
    eve = await make_member(db, plan="dropin", name="浅間 四子")
    registered(alice, jst(2026, 11, 2, 9))  # the only new member of November
    for m in (bob, corp, dan, eve):
        registered(m, jst(2026, 6, 1, 12))
    dan.status, dan.left_at = "left", jst(2026, 11, 20, 12)

    # Monday 2 November
    await visit(db, alice, jst(2026, 11, 2, 10), 90)  # h10: 60, h11: 30 → 500円
    await visit(db, bob, jst(2026, 11, 2, 10, 30), 90, plan="individual_monthly")  # h10: 30, h11: 60
    await visit(db, corp, jst(2026, 11, 2, 11), 20, user=u1, plan="corporate_monthly")  # h11: 20
    await visit(db, corp, jst(2026, 11, 2, 11), 60, user=u2, plan="corporate_monthly")  # h11: 60
    # Wednesday 4, Saturday 7, Monday 9 and Monday 16 November
    await visit(db, alice, jst(2026, 11, 4, 14, 30), 45)  # h14: 30, h15: 15 → 250円
    await visit(db, bob, jst(2026, 11, 7, 13), 60, plan="individual_monthly")  # Saturday h13: 60
    await visit(db, alice, jst(2026, 11, 9, 10), 300)  # h10–h14: 60 each → 1,250円 capped at 1,000円
    await visit(db, dan, jst(2026, 11, 16, 18), 60)  # h18: 60 → 250円
    # October: not November's
    await visit(db, eve, jst(2026, 10, 30, 10), 60)
    await visit(db, eve, jst(2026, 10, 31, 17), 60)

    # Bookings: one confirmed and one cancelled member booking of room A, and the event's hold.
    db.add(
        Booking(
            resource_id=ROOM_A,
            member_id=alice.id,
            start_at=jst(2026, 11, 4, 10),
            end_at=jst(2026, 11, 4, 12),
            price_yen=2000,
            created_by="test",
        )
    )
    db.add(
        Booking(
            resource_id=ROOM_A,
            member_id=bob.id,
            start_at=jst(2026, 11, 5, 10),
            end_at=jst(2026, 11, 5, 11),
            status="cancelled",
            cancelled_at=jst(2026, 11, 1, 10),
            created_by="test",
        )
    )
    seminar = Program(
        title_ja="脱炭素セミナー",
        title_en="Decarbonisation seminar",
        category="seminar",
        resource_id=EVENT_SPACE,
        start_at=jst(2026, 11, 12, 18),
        end_at=jst(2026, 11, 12, 20),
        capacity=50,
        registration_opens_at=jst(2026, 10, 1),
        registration_closes_at=jst(2026, 11, 12, 18),
        status="closed",
        attendance_count=3,
        closed_at=jst(2026, 11, 12, 20, 30),
        created_by="test",
    )
    workshop = Program(
        title_ja="DXワークショップ",
        title_en="DX workshop",
        category="workshop",
        start_at=jst(2026, 11, 25, 14),
        end_at=jst(2026, 11, 25, 16),
        capacity=10,
        registration_opens_at=jst(2026, 10, 1),
        registration_closes_at=jst(2026, 11, 25, 14),
        created_by="test",
    )
    future = Program(
        title_ja="12月のピッチ",
        title_en="December pitch",
        category="pitch",
        start_at=jst(2026, 12, 10, 18),
        end_at=jst(2026, 12, 10, 20),
        capacity=10,
        registration_opens_at=jst(2026, 10, 1),
        registration_closes_at=jst(2026, 12, 10, 18),
        created_by="test",
    )
    db.add_all([seminar, workshop, future])
    await db.flush()
    db.add(
        Booking(
            resource_id=EVENT_SPACE, program_id=seminar.id, start_at=seminar.start_at, end_at=seminar.end_at
        )
    )
    regs = [ProgramRegistration(program_id=seminar.id, member_id=alice.id, status="confirmed")]
    regs += [
        ProgramRegistration(
            program_id=seminar.id,
            guest_name=f"ゲスト{n}",
            guest_email=f"g{n}@example.jp",
            guest_email_normalized=f"g{n}@example.jp",  # a guest's duplicate key (issue 14, finding 7)
            guest_language="ja",
            status="confirmed",
        )
        for n in range(3)
    ]
    regs.append(
        ProgramRegistration(
            program_id=seminar.id, member_id=bob.id, status="cancelled", cancelled_at=jst(2026, 11, 10, 9)
        )
    )
    regs.append(
        ProgramRegistration(
            program_id=workshop.id,
            member_id=alice.id,
            status="confirmed",
            checked_in_at=jst(2026, 11, 25, 14),
        )
    )
    regs.append(ProgramRegistration(program_id=workshop.id, member_id=bob.id, status="confirmed"))
    db.add_all(regs)

    coordinator = Coordinator(name="税理士 相談")
    db.add(coordinator)
    await db.flush()
    slots = [
        ConsultationSlot(
            coordinator_id=coordinator.id,
            start_at=jst(2026, 11, d, 14),
            end_at=jst(2026, 11, d, 15) if d <= 30 else jst(2026, 12, 1, 15),
        )
        for d in (10, 11, 12, 30)
    ]
    db.add_all(slots)
    await db.flush()
    db.add_all(
        [
            Consultation(
                slot_id=slots[0].id,
                member_id=alice.id,
                topic="資金調達",
                status="completed",
                outcome="resolved",
                recorded_at=jst(2026, 11, 10, 15),
                recorded_by="test",
            ),
            Consultation(
                slot_id=slots[1].id,
                member_id=bob.id,
                topic="販路",
                status="no_show",
                outcome="no_show",
                recorded_at=jst(2026, 11, 11, 15),
                recorded_by="test",
            ),
            Consultation(
                slot_id=slots[2].id,
                member_id=bob.id,
                topic="税務",
                status="cancelled",
                cancelled_at=jst(2026, 11, 11, 9),
            ),
            Consultation(slot_id=slots[3].id, member_id=alice.id, topic="補助金", status="confirmed"),
        ]
    )
    await db.commit()
    return {"alice": alice, "bob": bob, "corp": corp, "dan": dan, "eve": eve}


async def bill(
    client: httpx.AsyncClient, headers: dict[str, str], clock: Clock, members: dict[str, Any]
) -> None:
    """October and November runs, then a full credit of Dan's invoice and a free-text credit of 1,000円 to Bob."""
    clock.set(jst(2026, 12, 1, 0, 30))
    for period in ("2026-10", "2026-11"):
        r = await client.post("/v1/invoice-runs", json={"period": period}, headers=headers)
        assert r.status_code == 201, r.text
    for who, body in (
        ("dan", {"reason": "退会に伴う取消", "full": True}),
        (
            "bob",
            {
                "reason": "設備不具合の返金",
                "lines": [{"description": "11月 会費の一部返還", "amount_yen": 1000}],
            },
        ),
    ):
        invoices = (
            await client.get("/v1/invoices", params={"member_id": str(members[who].id)}, headers=headers)
        ).json()
        [november] = [i for i in invoices["items"] if i["period_start"] == "2026-11-01"]
        r = await client.post(f"/v1/invoices/{november['id']}/credit-notes", json=body, headers=headers)
        assert r.status_code == 201, r.text


@pytest.fixture
async def november(
    db: AsyncSession, netsugen_client: httpx.AsyncClient, admin_headers: dict[str, str], clock: Clock
) -> dict[str, Any]:
    members = await build_november(db)
    await bill(netsugen_client, admin_headers, clock, members)
    clock.set(jst(2026, 12, 2, 10))
    return members


async def stats(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    r = await client.get("/v1/usage-stats", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


class TestNovemberVisitByVisit:
    async def test_visits_members_and_heat_map(
        self, netsugen_client: httpx.AsyncClient, staff_headers: dict[str, str], november: dict[str, Any]
    ) -> None:
        s = await stats(netsugen_client, staff_headers, month="2026-11")
        assert s["period"] == {
            "kind": "month",
            "key": "2026-11",
            "start": "2026-11-01",
            "end": "2026-11-30",
            "fiscal_year": 2026,
        }
        assert s["generated_at"] == "2026-12-02T10:00:00+09:00"
        v = s["visits"]
        # Alice 3, Bob 2, two named users of the company 1 each, Dan 1; Eve's visits are October's.
        assert (v["visits"], v["unique_visitors"], v["unique_members"]) == (8, 5, 4)
        assert v["visitor_hours"] == round(725 / 60, 2)  # 90+90+20+60+45+60+300+60 minutes
        assert {p["plan_code"]: p["count"] for p in v["by_plan"]} == {
            "dropin": 4,
            "individual_monthly": 2,
            "corporate_monthly": 2,
        }
        assert v["by_month"] == [{"month": "2026-11", "visits": 8, "unique_visitors": 5}]

        [month] = s["members"]["by_month"]
        assert month["as_of"] == "2026-11-30"
        # Dan's plan ended on the 20th; Eve (drop-in) is still a member without a November visit.
        assert {p["plan_code"]: p["count"] for p in month["by_plan"]} == {
            "dropin": 2,
            "individual_monthly": 1,
            "corporate_monthly": 1,
        }
        assert (month["total"], month["new_members"], month["leaving_members"]) == (4, 1, 1)
        assert (s["members"]["new_members"], s["members"]["leaving_members"]) == (1, 1)

        occ = s["occupancy"]
        assert occ["weekdays"] == [1, 2, 3, 4, 5, 6, 7] and occ["hours"] == list(range(24))
        assert occ["days_per_weekday"] == [5, 4, 4, 4, 4, 4, 5]
        expected = [[0] * 24 for _ in range(7)]
        expected[MONDAY][10] = 60 + 30 + 60  # Alice and Bob on the 2nd, Alice on the 9th
        expected[MONDAY][11] = 30 + 60 + 20 + 60 + 60
        expected[MONDAY][12] = expected[MONDAY][13] = expected[MONDAY][14] = 60
        expected[MONDAY][18] = 60  # Dan on the 16th
        expected[WEDNESDAY][14], expected[WEDNESDAY][15] = 30, 15
        expected[SATURDAY][13] = 60
        assert occ["person_minutes"] == expected
        assert sum(map(sum, occ["person_minutes"])) == 725
        assert occ["average_present"][MONDAY][11] == round(230 / 60 / 5, 2)  # 0.77
        assert occ["average_present"][SATURDAY][13] == 0.25  # 60 min over four Saturdays

    async def test_rooms_events_consultations_and_revenue(
        self, netsugen_client: httpx.AsyncClient, staff_headers: dict[str, str], november: dict[str, Any]
    ) -> None:
        s = await stats(netsugen_client, staff_headers, month="2026-11")
        rooms = {r["slug"]: r for r in s["rooms"]}
        assert {
            k: rooms["meeting-room-a"][k]
            for k in ("bookings", "booked_hours", "event_hours", "open_hours", "utilisation")
        } == {
            "bookings": 1,
            "booked_hours": 2.0,
            "event_hours": 0.0,
            "open_hours": 297.0,
            "utilisation": round(2 / 297, 4),
        }
        assert (rooms["event-space"]["bookings"], rooms["event-space"]["event_hours"]) == (0, 2.0)
        assert rooms["meeting-room-b"]["utilisation"] == 0.0

        # The seminar (closed, 3 reported) and the workshop (1 checked in) are held; December's is not.
        e = s["events"]
        assert (e["held"], e["attendance"], e["registrations"]) == (2, 4, 6)
        by_category = {c["category"]: (c["held"], c["attendance"]) for c in e["by_category"]}
        assert (by_category["seminar"], by_category["workshop"], by_category["pitch"]) == (
            (1, 3),
            (1, 1),
            (0, 0),
        )
        assert s["consultations"] == {"held": 1, "no_show": 1, "cancelled": 1, "booked": 1}

        r = s["revenue"]
        # Alice 500 + 250 + 1,000; Bob 10,000; the company 25,000; Dan 250. Eve had no November visit.
        assert (r["invoiced_yen"], r["credited_yen"], r["net_yen"]) == (37_000, -1_250, 35_750)
        assert (r["invoices"], r["credit_notes"]) == (4, 2)
        kinds = {k["kind"]: (k["invoiced_yen"], k["credited_yen"], k["net_yen"]) for k in r["by_kind"]}
        assert kinds == {
            "dropin": (2_000, -250, 1_750),
            "monthly": (35_000, 0, 35_000),
            "bookings": (0, 0, 0),
            "adjustments": (0, -1_000, -1_000),  # a free-text credit names no plan
        }
        plans = {p["plan_code"]: p["net_yen"] for p in r["by_plan"]}
        assert plans == {
            "corporate_monthly": 25_000,
            "dropin": 1_750,
            "individual_monthly": 10_000,
            None: -1_000,
        }
        assert r["by_month"] == [
            {"month": "2026-11", "invoiced_yen": 37_000, "credited_yen": -1_250, "net_yen": 35_750}
        ]

    async def test_fiscal_year_adds_october(
        self, netsugen_client: httpx.AsyncClient, staff_headers: dict[str, str], november: dict[str, Any]
    ) -> None:
        s = await stats(netsugen_client, staff_headers, fiscal_year=2026)
        assert (s["period"]["start"], s["period"]["end"], s["period"]["key"]) == (
            "2026-04-01",
            "2027-03-31",
            "FY2026",
        )
        assert (s["visits"]["visits"], s["visits"]["unique_visitors"]) == (10, 6)
        by_month = {m["month"]: m["visits"] for m in s["visits"]["by_month"]}
        assert len(by_month) == 12 and (by_month["2026-10"], by_month["2026-11"], by_month["2027-03"]) == (
            2,
            8,
            0,
        )
        # Month ends up to today (2 December): April … November, and December as of today.
        assert [m["month"] for m in s["members"]["by_month"]][-1] == "2026-12"
        assert s["members"]["by_month"][-1]["as_of"] == "2026-12-02"
        # October: Eve 250 + 250, Bob 10,000 and the company 25,000.
        assert {m["month"]: m["net_yen"] for m in s["revenue"]["by_month"]}["2026-10"] == 35_500
        assert s["revenue"]["net_yen"] == 35_500 + 35_750
        # 365 days from Wednesday 2026-04-01: 52 weeks and one more Wednesday.
        assert s["occupancy"]["days_per_weekday"] == [52, 52, 53, 52, 52, 52, 52]

    async def test_english_names(
        self, netsugen_client: httpx.AsyncClient, staff_headers: dict[str, str], november: dict[str, Any]
    ) -> None:
        s = await stats(netsugen_client, {**staff_headers, "Accept-Language": "en"}, month="2026-11")
        assert {k["kind"]: k["name"] for k in s["revenue"]["by_kind"]}["monthly"] == "Monthly fees"
        assert {p["plan_code"]: p["name"] for p in s["visits"]["by_plan"]}[
            "dropin"
        ] == "Drop-in (pay per hour)"


class TestClipping:
    async def test_open_visit_counts_up_to_now_and_visits_are_clipped_to_the_period(
        self,
        db: AsyncSession,
        netsugen_client: httpx.AsyncClient,
        staff_headers: dict[str, str],
        clock: Clock,
    ) -> None:
        member = await make_member(db, plan="dropin")
        # Saturday 31 October 23:30 → Sunday 1 November 00:30: October's visit, 30 minutes of November.
        await visit(db, member, jst(2026, 10, 31, 23, 30), 60)
        # Monday 30 November from 20:00, still open at 21:30.
        row = await visit(db, member, jst(2026, 11, 30, 20), 1)
        row.check_out_at = None
        await db.commit()
        clock.set(jst(2026, 11, 30, 21, 30))
        s = await stats(netsugen_client, staff_headers, month="2026-11")
        assert (s["visits"]["visits"], s["visits"]["visitor_hours"]) == (1, 1.5)
        minutes = s["occupancy"]["person_minutes"]
        assert (minutes[6][0], minutes[0][20], minutes[0][21]) == (30, 60, 30)  # Sunday 0:00, Monday 20, 21
        assert sum(map(sum, minutes)) == 120
        october = await stats(netsugen_client, staff_headers, month="2026-10")
        assert (october["visits"]["visits"], october["occupancy"]["person_minutes"][5][23]) == (1, 30)


class TestWorkbook:
    async def test_sheets_hold_the_api_figures(
        self, netsugen_client: httpx.AsyncClient, staff_headers: dict[str, str], november: dict[str, Any]
    ) -> None:
        s = await stats(netsugen_client, staff_headers, month="2026-11")
        r = await netsugen_client.get(
            "/v1/usage-stats.xlsx", params={"month": "2026-11"}, headers=staff_headers
        )
        assert r.status_code == 200, r.text
        assert (
            r.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
        assert 'filename="netsugen-usage-2026-11.xlsx"' in r.headers["content-disposition"]
        wb = load_workbook(io.BytesIO(r.content))
        assert wb.sheetnames == [
            "概要",
            "利用回数",
            "会員",
            "曜日・時間帯別の混雑",
            "会議室等の稼働率",
            "イベント(交流事業)",
            "コーディネーター相談",
            "種類別売上",
            "プラン別売上",
            "月別売上",
        ]
        summary = {row[0]: row[1] for row in wb["概要"].iter_rows(min_row=2, values_only=True)}
        assert (summary["利用回数"], summary["利用者数(実人数)"], summary["純売上(円)"]) == (8, 5, 35_750)
        formats = {row[0].value: row[1].number_format for row in wb["概要"].iter_rows(min_row=2)}
        assert (formats["純売上(円)"], formats["延べ滞在時間(時間)"], formats["利用回数"]) == (
            '#,##0"円"',
            "#,##0.00",
            "#,##0",
        )
        heat = wb["曜日・時間帯別の混雑"]
        assert heat.freeze_panes == "A2"
        assert [c.value for c in heat[2]][1:] == s["occupancy"]["average_present"][0]  # Monday
        kinds = {row[0]: row[1:] for row in wb["種類別売上"].iter_rows(min_row=2, values_only=True)}
        assert kinds["ドロップイン利用"] == (2_000, -250, 1_750)
        assert kinds["合計"] == (37_000, -1_250, 35_750)
        assert wb["種類別売上"]["B2"].number_format == '#,##0"円"'
        rooms = {row[0]: row for row in wb["会議室等の稼働率"].iter_rows(min_row=2, values_only=True)}
        assert rooms["会議室A"][1:] == (1, 2.0, 0.0, 297.0, round(2 / 297, 4))
        assert wb["会議室等の稼働率"].page_setup.orientation == "landscape"

    async def test_english_workbook(
        self, netsugen_client: httpx.AsyncClient, staff_headers: dict[str, str], november: dict[str, Any]
    ) -> None:
        r = await netsugen_client.get(
            "/v1/usage-stats.xlsx",
            params={"fiscal_year": 2026},
            headers={**staff_headers, "Accept-Language": "en"},
        )
        wb = load_workbook(io.BytesIO(r.content))
        assert wb.sheetnames[0] == "Summary"
        months = {row[0]: row[1] for row in wb["Visits"].iter_rows(min_row=2, max_row=13, values_only=True)}
        assert (months["2026-10"], months["2026-11"]) == (2, 8)


class TestPage:
    async def test_page_renders_heat_map_and_tables_without_script(
        self, netsugen_client: httpx.AsyncClient, staff_headers: dict[str, str], november: dict[str, Any]
    ) -> None:
        r = await netsugen_client.get("/usage-stats", params={"month": "2026-11"}, headers=staff_headers)
        assert r.status_code == 200, r.text
        html = r.text
        csp = r.headers["content-security-policy"]
        assert csp.startswith("default-src 'none'; style-src 'sha256-") and "unsafe" not in csp
        assert "<script" not in html and 'style="' not in html
        assert '<html lang="ja">' in html and "NETSUGEN 利用統計: 2026-11" in html
        assert 'class="chart heatmap"' in html and ">0.77<" in html  # Monday 11:00
        assert "35,750円" in html and "会議室A" in html
        en = await netsugen_client.get(
            "/usage-stats", params={"month": "2026-11", "lang": "en"}, headers=staff_headers
        )
        assert '<html lang="en">' in en.text and "Occupancy by weekday and hour" in en.text

    async def test_fiscal_year_page_has_months(
        self, netsugen_client: httpx.AsyncClient, staff_headers: dict[str, str], november: dict[str, Any]
    ) -> None:
        r = await netsugen_client.get("/usage-stats", params={"fiscal_year": 2026}, headers=staff_headers)
        assert r.status_code == 200, r.text
        assert "NETSUGEN 利用統計: FY2026" in r.text and "月別売上" in r.text
        assert '<th scope="row">2026-10</th><td class="num">35,500円</td>' in r.text

    async def test_page_defaults_to_the_current_month(
        self, netsugen_client: httpx.AsyncClient, staff_headers: dict[str, str], clock: Clock
    ) -> None:
        clock.set(jst(2026, 12, 2, 10))
        r = await netsugen_client.get("/usage-stats", headers=staff_headers)
        assert r.status_code == 200 and "2026-12" in r.text


class TestAccess:
    @pytest.mark.parametrize("role", ["admin", "staff", "accountant", "auditor"])
    async def test_readers(
        self, netsugen_client: httpx.AsyncClient, make_token: Any, role: Role, clock: Clock
    ) -> None:
        headers = bearer(await make_token(role))
        for path in ("/v1/usage-stats", "/v1/usage-stats.xlsx", "/usage-stats"):
            r = await netsugen_client.get(path, params={"month": "2026-11"}, headers=headers)
            assert r.status_code == 200, (path, r.text)

    @pytest.mark.parametrize("role", ["member", "service", "coordinator", "kpi_editor"])
    async def test_other_roles_are_403(
        self, netsugen_client: httpx.AsyncClient, make_token: Any, role: Role
    ) -> None:
        headers = bearer(await make_token(role, subject=str(uuid.uuid4()) if role == "member" else None))
        for path in ("/v1/usage-stats", "/v1/usage-stats.xlsx", "/usage-stats"):
            assert_problem(
                await netsugen_client.get(path, params={"month": "2026-11"}, headers=headers),
                403,
                "forbidden",
            )

    async def test_anonymous_is_401(self, netsugen_client: httpx.AsyncClient) -> None:
        r = await netsugen_client.get("/v1/usage-stats", params={"month": "2026-11"})
        assert r.status_code == 401


class TestBadParameters:
    @pytest.mark.parametrize(
        "params",
        [
            {},
            {"month": "2026-11", "fiscal_year": 2026},
            {"month": "2026-13"},
            {"month": "2026/11"},
            {"month": "11-2026"},
            {"month": "2020-11"},  # before NETSUGEN opened
            {"month": "2099-04"},  # past the holiday calendar
            {"fiscal_year": 2019},
            {"fiscal_year": 2099},
        ],
    )
    async def test_invalid_period_is_422(
        self, netsugen_client: httpx.AsyncClient, staff_headers: dict[str, str], params: dict[str, Any]
    ) -> None:
        for path in ("/v1/usage-stats", "/v1/usage-stats.xlsx"):
            body = assert_problem(
                await netsugen_client.get(path, params=params, headers=staff_headers), 422, "invalid-period"
            )
            assert body["detail"]

    @pytest.mark.parametrize("params", [{"fiscal_year": "abc"}, {"month": "2026-11-01"}])
    async def test_malformed_is_422(
        self, netsugen_client: httpx.AsyncClient, staff_headers: dict[str, str], params: dict[str, Any]
    ) -> None:
        r = await netsugen_client.get("/v1/usage-stats", params=params, headers=staff_headers)
        assert r.status_code == 422


class TestRules:
    def test_fiscal_year_2020_starts_at_the_opening_month(self) -> None:
        period = parse_period(month=None, fiscal_year=2020)
        assert (period.start.isoformat(), period.end.isoformat(), len(period.months)) == (
            "2020-12-01",
            "2021-03-31",
            4,
        )

    def test_weekday_counts(self) -> None:
        assert weekday_counts(jst(2026, 11, 1).date(), jst(2026, 11, 30).date()) == {
            1: 5,
            2: 4,
            3: 4,
            4: 4,
            5: 4,
            6: 4,
            7: 5,
        }

    @pytest.mark.parametrize(
        ("line_kind", "plan_kind", "expected"),
        [
            ("dropin_day", "dropin", "dropin"),
            ("subscription", "monthly", "monthly"),
            ("booking", None, "bookings"),
            ("credit", "monthly", "monthly"),
            ("credit", "dropin", "dropin"),
            ("credit", None, "adjustments"),
        ],
    )
    def test_revenue_kind(self, line_kind: str, plan_kind: str | None, expected: str) -> None:
        assert revenue_kind(line_kind, plan_kind) == expected
