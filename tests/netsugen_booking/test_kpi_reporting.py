"""KPI reporting: a closed event's attendance reaches the KPI registry over real HTTP, retried until
it is accepted. The registry is a real HTTP server: first a stand-in that is down and then up, then
the real kpi_api app served by uvicorn."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from datetime import timedelta
from typing import Any, Literal

import pytest
import uvicorn
from arq import Retry
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr
from sqlalchemy import select

from services.netsugen_booking.bookings.config import KpiMapping
from services.netsugen_booking.kpi_reporting.models import KpiReport
from services.netsugen_booking.kpi_reporting.service import SOURCE, backoff_seconds, send_due
from services.netsugen_booking.kpi_reporting.tasks import send_kpi_report
from services.netsugen_booking.settings import NetsugenSettings
from shared.jst import utcnow
from tests.conftest import bearer, settings_overrides
from tests.netsugen_booking.conftest import jst
from tests.netsugen_booking.factories import assert_problem, create_member
from tests.netsugen_booking.test_programs import create_event, register_guest

SERVICE_SECRET = "stand-in-service-token"
CREATOR_LAB = "creator-laboratory-participants"
STARTUP = "startup-supported-entrepreneurs"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerThread:
    """A real uvicorn server in a thread (its own event loop)."""

    def __init__(self, app: FastAPI, port: int, *, lifespan: Literal["on", "off"] = "off") -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan=lifespan)
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        assert not self.thread.is_alive(), "server did not stop"


def stand_in_registry(received: list[dict[str, Any]]) -> FastAPI:
    """The KPI registry's observation contract: 409 for a second different value of a fiscal year
    unless ``correction`` is true; the same value again is 200 ``unchanged``."""
    app = FastAPI()
    current: dict[tuple[str, int], dict[str, Any]] = {}

    @app.post("/v1/kpis/{indicator_id}/observations")
    async def record(indicator_id: str, request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {SERVICE_SECRET}":
            return JSONResponse({"status": 401}, status_code=401)
        if indicator_id not in (CREATOR_LAB, STARTUP):
            return JSONResponse({"status": 404}, status_code=404)
        body = await request.json()
        received.append({"indicator_id": indicator_id, **body})
        key = (indicator_id, body["fiscal_year"])
        before = current.get(key)
        if before is None:
            current[key] = body
            return JSONResponse({"outcome": "created"}, status_code=201)
        if before["value"] == body["value"] and before["note"] == body["note"]:
            return JSONResponse({"outcome": "unchanged"}, status_code=200)
        if not body.get("correction"):
            return JSONResponse({"status": 409, "type": "urn:gunma-sdgs:problem:conflict"}, status_code=409)
        current[key] = body
        return JSONResponse({"outcome": "corrected"}, status_code=200)

    return app


@pytest.fixture
def registry_port() -> int:
    return free_port()


@pytest.fixture
def kpi_settings(stack, registry_port) -> NetsugenSettings:
    return NetsugenSettings(
        **settings_overrides(stack),
        kpi_api_url=f"http://127.0.0.1:{registry_port}",
        service_token=SecretStr(SERVICE_SECRET),
        http_timeout_s=5,
    )


async def closed_event(
    client, staff_headers, clock, *, category: str, day: int, attendees: int, members: tuple[str, ...] = ()
) -> dict[str, Any]:
    """An event on 2026-12-{day} 18:00-20:00 with ``attendees`` checked-in guests (plus ``members``), closed."""
    clock.set(jst(2026, 12, 1, 9))
    event = await create_event(
        client,
        staff_headers,
        category=category,
        resource_id=None,
        start=f"2026-12-{day:02d}T18:00:00+09:00",
        end=f"2026-12-{day:02d}T20:00:00+09:00",
        registration_closes_at=None,
    )
    regs = [(await register_guest(client, event["id"], 100 * day + n)).json() for n in range(attendees)]
    for member_id in members:
        r = await client.post(
            f"/v1/programs/{event['id']}/registrations", json={"member_id": member_id}, headers=staff_headers
        )
        regs.append(r.json())
    extra = (await register_guest(client, event["id"], 100 * day + 99)).json()  # registered, never came
    clock.set(jst(2026, 12, day, 18, 5))
    for reg in regs:
        assert (
            await client.post(f"/v1/event-registrations/{reg['id']}/check-in", headers=staff_headers)
        ).status_code == 200
    clock.set(jst(2026, 12, day, 20, 10))
    closed = await client.post(f"/v1/programs/{event['id']}/close", headers=staff_headers)
    assert closed.status_code == 200, closed.text
    assert closed.json()["attendance_count"] == attendees + len(members)
    assert extra["status"] == "confirmed"
    return dict(closed.json())


async def report_of(sessionmaker, program_id: str) -> KpiReport:
    async with sessionmaker() as session:
        report = await session.scalar(select(KpiReport).where(KpiReport.program_id == uuid.UUID(program_id)))
        assert isinstance(report, KpiReport)
        return report


class TestDeliveryWithStandIn:
    async def test_down_then_up_then_correction(
        self, netsugen_client, staff_headers, clock, sessionmaker, kpi_settings, registry_port, redis_client
    ) -> None:
        received: list[dict[str, Any]] = []
        event = await closed_event(
            netsugen_client, staff_headers, clock, category="creator_lab", day=10, attendees=3
        )
        report = await report_of(sessionmaker, event["id"])
        assert (report.status, report.indicator_id, report.fiscal_year, report.attendance) == (
            "pending",
            CREATOR_LAB,
            2026,
            3,
        )
        # The close asked the scheduler to send it at once (after the commit).
        assert await redis_client.exists(f"arq:job:kpi-report:{report.id}") == 1

        # The registry is down: the immediate job fails, asks arq to retry, and the row keeps the error.
        ctx = {"sessionmaker": sessionmaker, "settings": kpi_settings, "job_try": 1}
        with pytest.raises(Retry):
            await send_kpi_report(ctx, str(report.id))
        report = await report_of(sessionmaker, event["id"])
        assert report.status == "pending" and report.attempts == 1
        assert "ConnectError" in (report.last_error or "")
        first_retry = report.next_attempt_at
        assert timedelta(seconds=25) < first_retry - utcnow() <= timedelta(seconds=31)
        # Before the backoff elapses the sweep leaves it alone.
        assert await send_due(sessionmaker, kpi_settings, now=utcnow()) == []

        with ServerThread(stand_in_registry(received), registry_port):
            results = await send_due(sessionmaker, kpi_settings, now=first_retry)
            assert [(r.indicator_id, r.fiscal_year, r.sent, r.value, r.correction) for r in results] == [
                (CREATOR_LAB, 2026, True, 3, False)
            ]
            assert received == [
                {
                    "indicator_id": CREATOR_LAB,
                    "fiscal_year": 2026,
                    "value": 3,
                    "source": SOURCE,
                    "note": "FY2026 running total of 1 closed NETSUGEN event(s).",
                }
            ]
            report = await report_of(sessionmaker, event["id"])
            assert (report.status, report.sent_value, report.sent_as_correction, report.attempts) == (
                "sent",
                3,
                False,
                2,
            )
            assert report.last_error is None

            # A second creator-lab event of the same fiscal year: the running total goes as a correction.
            second = await closed_event(
                netsugen_client, staff_headers, clock, category="creator_lab", day=11, attendees=2
            )
            report2 = await report_of(sessionmaker, second["id"])
            await send_kpi_report(ctx, str(report2.id))
            assert [(x["value"], x.get("correction", False)) for x in received] == [
                (3, False),
                (5, False),
                (5, True),
            ]
            report2 = await report_of(sessionmaker, second["id"])
            assert (report2.status, report2.sent_value, report2.sent_as_correction) == ("sent", 5, True)
            # Nothing pending: the sweep sends nothing.
            assert await send_due(sessionmaker, kpi_settings, now=utcnow() + timedelta(hours=2)) == []
            assert len(received) == 3

    async def test_rejection_is_kept_and_retried(
        self, netsugen_client, staff_headers, clock, sessionmaker, kpi_settings, registry_port
    ) -> None:
        """A registry that refuses (here: an unknown indicator id) never loses the report."""
        received: list[dict[str, Any]] = []
        settings = kpi_settings.model_copy(
            update={"kpi_report_mapping": {"creator_lab": KpiMapping(indicator_id="no-such-kpi")}}
        )
        clock.set(jst(2026, 12, 1, 9))
        event = await create_event(netsugen_client, staff_headers, category="creator_lab", resource_id=None)
        # Close through the service with this mapping (the app's mapping is the default one).
        from services.netsugen_booking.programs import service as programs

        async with sessionmaker() as session:
            program = await programs.get_program(
                session, uuid.UUID(event["id"]), for_update=True, internal=True
            )
            await programs.close_program(
                session,
                program,
                now=jst(2026, 12, 10, 21),
                closed_by="test",
                mapping=settings.kpi_report_mapping,
            )
            await session.commit()
        with ServerThread(stand_in_registry(received), registry_port):
            results = await send_due(sessionmaker, settings, now=jst(2026, 12, 10, 21))
            assert [(r.sent, (r.error or "")[:16]) for r in results] == [(False, "KpiRejected: 404")]
            report = await report_of(sessionmaker, event["id"])
            assert report.status == "pending" and report.attempts == 1
            assert report.next_attempt_at == jst(2026, 12, 10, 21, 0, 30)
            results = await send_due(sessionmaker, settings, now=jst(2026, 12, 10, 21, 0, 30))
            report = await report_of(sessionmaker, event["id"])
            assert report.attempts == 2 and report.next_attempt_at == jst(2026, 12, 10, 21, 1, 30)

    async def test_startup_programme_counts_each_entrepreneur_once(
        self, netsugen_client, staff_headers, clock, sessionmaker, kpi_settings, registry_port
    ) -> None:
        received: list[dict[str, Any]] = []
        clock.set(jst(2026, 12, 1, 9))
        founder = await create_member(netsugen_client, staff_headers)
        await closed_event(
            netsugen_client,
            staff_headers,
            clock,
            category="startup_program",
            day=10,
            attendees=1,
            members=(founder["id"],),
        )
        await closed_event(
            netsugen_client,
            staff_headers,
            clock,
            category="startup_program",
            day=17,
            attendees=1,
            members=(founder["id"],),
        )
        with ServerThread(stand_in_registry(received), registry_port):
            results = await send_due(sessionmaker, kpi_settings, now=jst(2026, 12, 18))
        # Two guests and one founder who came twice: 3 entrepreneurs (4 attendances), one call for both events.
        assert [(r.indicator_id, r.value, r.reports) for r in results] == [(STARTUP, 3, 2)]
        assert [x["value"] for x in received] == [3]

    async def test_staff_see_reports(self, netsugen_client, staff_headers, clock, make_token) -> None:
        event = await closed_event(
            netsugen_client, staff_headers, clock, category="creator_lab", day=10, attendees=1
        )
        r = await netsugen_client.get("/v1/kpi-reports", params={"status": "pending"}, headers=staff_headers)
        assert [(x["program_id"], x["indicator_id"], x["attendance"]) for x in r.json()["items"]] == [
            (event["id"], CREATOR_LAB, 1)
        ]
        member = await create_member(netsugen_client, staff_headers)
        mh = bearer(await make_token("member", subject=member["id"]))
        assert_problem(await netsugen_client.get("/v1/kpi-reports", headers=mh), 403, "forbidden")

    def test_backoff_doubles_up_to_the_cap(self) -> None:
        assert [backoff_seconds(n, cap_s=3600) for n in (1, 2, 3, 4, 8, 20)] == [30, 60, 120, 240, 3600, 3600]


class TestDeliveryToTheRealRegistry:
    async def test_observation_and_correction_reach_kpi_api(
        self, netsugen_client, kpi_client, kpi_app, staff_headers, make_token, clock, sessionmaker, stack
    ) -> None:
        from services.kpi_api.main import create_app
        from services.kpi_api.settings import KpiSettings

        port = free_port()
        token = await make_token("service", name="netsugen_booking")
        settings = NetsugenSettings(
            **settings_overrides(stack),
            kpi_api_url=f"http://127.0.0.1:{port}",
            service_token=SecretStr(token),
        )
        real = create_app(KpiSettings(**settings_overrides(stack)))
        with ServerThread(real, port, lifespan="on"):
            await closed_event(
                netsugen_client, staff_headers, clock, category="creator_lab", day=10, attendees=2
            )
            first = await send_due(sessionmaker, settings, now=jst(2026, 12, 31))
            await closed_event(
                netsugen_client, staff_headers, clock, category="creator_lab", day=11, attendees=3
            )
            second = await send_due(sessionmaker, settings, now=jst(2026, 12, 31))
        assert [(r.sent, r.value, r.correction) for r in first + second] == [
            (True, 2, False),
            (True, 5, True),
        ]
        r = await kpi_client.get(f"/v1/kpis/{CREATOR_LAB}/observations")
        assert r.status_code == 200, r.text
        fy = [o for o in r.json()["items"] if o["fiscal_year"] == 2026]
        assert len(fy) == 1 and fy[0]["value"] == 5 and fy[0]["revision"] == 2
        assert [(rev["value"], rev["correction"], rev["recorded_by_role"]) for rev in fy[0]["revisions"]] == [
            (2, False, "service"),
            (5, True, "service"),
        ]
