"""CSV import: validated completely first, every error with its line, nothing written on error, idempotent."""

from __future__ import annotations

from typing import Any

from tests.conftest import bearer
from tests.kpi_api.conftest import assert_problem, outbox_events, post_observation, scalar

GOOD = (
    "indicator_id,fiscal_year,value,breakdown,source,note\n"
    "ghg-emissions,2021,13600,,環境白書,速報値\n"
    "ghg-emissions,2022,13000,,環境白書,\n"
    "healthy-life-expectancy,2022,73.3,male,,\n"
    "healthy-life-expectancy,2022,76.4,female,,\n"
    "per-capita-wage,2021,4480000,,,\n"
)


async def upload(client: Any, headers: dict[str, str], content: str | bytes, **extra: str) -> Any:
    data = content.encode() if isinstance(content, str) else content
    return await client.post(
        "/v1/imports/observations", content=data, headers={**headers, "content-type": "text/csv", **extra}
    )


async def counts(engine: Any) -> tuple[int, int, int]:
    return (
        int(await scalar(engine, "SELECT count(*) FROM kpi.observation")),
        int(await scalar(engine, "SELECT count(*) FROM kpi.observation_revision")),
        int(await scalar(engine, "SELECT count(*) FROM kpi.outbox")),
    )


class TestImport:
    async def test_valid_file_is_imported(self, kpi_client, service_headers, engine) -> None:
        r = await upload(kpi_client, service_headers, GOOD)
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["rows"], body["created"], body["corrected"], body["unchanged"]) == (5, 5, 0, 0)
        assert sorted((c["indicator_id"], c["status"]) for c in body["status_changes"]) == [
            ("ghg-emissions", "on_track"),
            ("healthy-life-expectancy", "achieved"),
            ("per-capita-wage", "on_track"),
        ]
        history = (await kpi_client.get("/v1/kpis/ghg-emissions/observations")).json()["items"]
        assert [
            (i["fiscal_year"], i["value"], i["revisions"][0]["source"], i["revisions"][0]["note"])
            for i in history
        ] == [
            (2021, 13600, "環境白書", "速報値"),
            (2022, 13000, "環境白書", None),
        ]
        events = await outbox_events(engine)
        assert sum(1 for t, _ in events if t == "kpi.observation_recorded") == 5
        assert sum(1 for t, _ in events if t == "kpi.status_changed") == 3

    async def test_reimporting_the_same_file_changes_nothing(
        self, kpi_client, service_headers, engine
    ) -> None:
        assert (await upload(kpi_client, service_headers, GOOD)).status_code == 200
        before = await counts(engine)
        etag = (await kpi_client.get("/v1/kpis")).headers["etag"]
        r = await upload(kpi_client, service_headers, GOOD)
        assert r.status_code == 200
        assert (
            r.json()["created"],
            r.json()["corrected"],
            r.json()["unchanged"],
            r.json()["status_changes"],
        ) == (
            0,
            0,
            5,
            [],
        )
        assert await counts(engine) == before
        assert (await kpi_client.get("/v1/kpis", headers={"if-none-match": etag})).status_code == 304

    async def test_corrections_need_the_correction_column(self, kpi_client, service_headers, engine) -> None:
        await upload(kpi_client, service_headers, GOOD)
        changed = "indicator_id,fiscal_year,value,source,note\nghg-emissions,2022,16000,環境白書,確報値\n"
        body = assert_problem(await upload(kpi_client, service_headers, changed), 422, "csv-invalid")
        assert [(e["line"], e["column"], e["code"]) for e in body["errors"]] == [(2, "value", "conflict")]
        corrected = "indicator_id,fiscal_year,value,source,note,correction\nghg-emissions,2022,16000,環境白書,確報値,true\n"
        r = await upload(kpi_client, service_headers, corrected)
        assert r.status_code == 200 and (r.json()["corrected"], r.json()["created"]) == (1, 0)
        assert r.json()["status_changes"] == [
            {"indicator_id": "ghg-emissions", "previous_status": "on_track", "status": "regressing"}
        ]
        [first] = (
            await kpi_client.get("/v1/kpis/ghg-emissions/observations", params={"fiscal_year": 2022})
        ).json()["items"]
        assert [(rv["revision"], rv["value"], rv["correction"]) for rv in first["revisions"]] == [
            (1, 13000, False),
            (2, 16000, True),
        ]

    async def test_columns_in_any_order_blank_lines_bom_and_multipart(
        self, kpi_client, admin_headers
    ) -> None:
        text = "\ufeffValue, Fiscal_Year ,INDICATOR_ID\n\n15000,2019,ghg-emissions\n\n"
        r = await upload(kpi_client, admin_headers, text)
        assert r.status_code == 200 and r.json()["created"] == 1, r.text
        r = await kpi_client.post(
            "/v1/imports/observations",
            files={
                "file": ("kpi.csv", b"indicator_id,fiscal_year,value\nghg-emissions,2020,14800\n", "text/csv")
            },
            headers=admin_headers,
        )
        assert r.status_code == 200 and r.json()["created"] == 1, r.text

    async def test_shift_jis_file(self, kpi_client, service_headers) -> None:
        text = "indicator_id,fiscal_year,value,source\nghg-emissions,2021,13600,群馬県環境白書\n"
        r = await upload(kpi_client, service_headers, text.encode("cp932"))
        assert r.status_code == 200, r.text
        item = (await kpi_client.get("/v1/kpis/ghg-emissions/observations")).json()["items"][0]
        assert item["revisions"][0]["source"] == "群馬県環境白書"

    async def test_quoted_fields_with_commas_and_newlines(self, kpi_client, service_headers) -> None:
        text = (
            'indicator_id,fiscal_year,value,note\nghg-emissions,2021,13600,"速報値, 要確認\n(環境森林部)"\n'
        )
        r = await upload(kpi_client, service_headers, text)
        assert r.status_code == 200, r.text
        item = (await kpi_client.get("/v1/kpis/ghg-emissions/observations")).json()["items"][0]
        assert item["revisions"][0]["note"] == "速報値, 要確認\n(環境森林部)"


class TestInvalidFiles:
    async def test_every_error_is_reported_with_its_line_and_nothing_is_written(
        self, kpi_client, service_headers, engine
    ) -> None:
        await post_observation(kpi_client, service_headers, "in-migrants", 2021, 1000)
        before = await counts(engine)
        text = (
            "indicator_id,fiscal_year,value,breakdown,correction\n"  # 1
            "ghg-emissions,2021,13600,,\n"  # 2 fine
            "no-such-kpi,2021,1,,\n"  # 3 unknown indicator
            "ghg-emissions,1989,1,,\n"  # 4 fiscal year out of range
            "ghg-emissions,2023,abc,,\n"  # 5 not numeric
            "ghg-emissions,2024,NaN,,\n"  # 6 not finite
            "ghg-emissions,2025,Infinity,,\n"  # 7 not finite
            "healthy-life-expectancy,2022,72,,\n"  # 8 breakdown required
            "healthy-life-expectancy,2022,72,other,\n"  # 9 unknown breakdown
            "ghg-emissions,2026,1,male,\n"  # 10 no breakdowns
            "ghg-emissions,2021,13700,,\n"  # 11 same key as line 2
            "in-migrants,2021,1100,,\n"  # 12 different from what is recorded
            "ghg-emissions,2027,1,,maybe\n"  # 13 bad correction flag
            "ghg-emissions,2028,\n"  # 14 wrong number of fields
            'ghg-emissions,2029,"1,200",,\n'  # 15 thousands separator
            ",2030,1,,\n"  # 16 no indicator
            "ghg-emissions,2031,0.1234567,,\n"  # 17 too many decimals
        )
        body = assert_problem(
            await upload(kpi_client, service_headers, text, **{"accept-language": "en"}), 422, "csv-invalid"
        )
        assert [(e["line"], e["column"], e["code"]) for e in body["errors"]] == [
            (3, "indicator_id", "unknown_indicator"),
            (4, "fiscal_year", "fiscal_year"),
            (5, "value", "not_numeric"),
            (6, "value", "not_finite"),
            (7, "value", "not_finite"),
            (8, "breakdown", "breakdown_required"),
            (9, "breakdown", "unknown_breakdown"),
            (10, "breakdown", "no_breakdowns"),
            (11, None, "duplicate_row"),
            (12, "value", "conflict"),
            (13, "correction", "correction"),
            (14, None, "column_count"),
            (15, "value", "not_numeric"),
            (16, "indicator_id", "required"),
            (17, "value", "too_precise"),
        ]
        assert body["error_count"] == 15
        messages = {e["line"]: e["message"] for e in body["errors"]}
        assert messages[3] == "No indicator with id 'no-such-kpi'."
        assert messages[11] == "The same indicator, breakdown and fiscal year is already on line 2."
        assert await counts(engine) == before

    async def test_messages_in_japanese_by_default(self, kpi_client, service_headers) -> None:
        body = assert_problem(
            await upload(
                kpi_client, service_headers, "indicator_id,fiscal_year,value\nghg-emissions,2021,abc\n"
            ),
            422,
        )
        assert body["errors"][0]["message"].startswith("'abc' は数値ではありません")
        assert "何も取り込んでいません" in body["detail"]

    async def test_header_problems(self, kpi_client, service_headers) -> None:
        cases = {
            "fiscal_year,value\nghg-emissions,2021\n": [(1, "indicator_id", "missing_column")],
            "indicator_id,fiscal_year,value,colour\n": [(1, "colour", "unknown_column")],
            "indicator_id,fiscal_year,value,value\n": [(1, "value", "duplicate_column")],
            "": [(None, None, "empty")],
            "\n\n": [(None, None, "empty")],
            "indicator_id,fiscal_year,value\n": [(None, None, "no_rows")],
        }
        for text, expected in cases.items():
            body = assert_problem(await upload(kpi_client, service_headers, text), 422, "csv-invalid")
            assert [(e["line"], e["column"], e["code"]) for e in body["errors"]] == expected, text

    async def test_binary_garbage_and_malformed_quotes(self, kpi_client, service_headers) -> None:
        body = assert_problem(
            await upload(kpi_client, service_headers, b"\xff\xfe\x00\x81\xff"), 422, "csv-invalid"
        )
        assert body["errors"][0]["code"] == "encoding"
        body = assert_problem(
            await upload(
                kpi_client, service_headers, 'indicator_id,fiscal_year,value\n"ghg-emissions"x,2021,1\n'
            ),
            422,
        )
        assert body["errors"][0]["code"] == "malformed"

    async def test_wrong_content_type_is_422(self, kpi_client, service_headers) -> None:
        r = await kpi_client.post("/v1/imports/observations", json={"rows": []}, headers=service_headers)
        assert_problem(r, 422, "csv-missing")


class TestRoles:
    async def test_401_and_403(self, kpi_client, make_token, engine) -> None:
        r = await kpi_client.post(
            "/v1/imports/observations", content=GOOD.encode(), headers={"content-type": "text/csv"}
        )
        assert_problem(r, 401, "unauthorized")
        for role in ("staff", "member"):
            headers = bearer(await make_token(role, subject="m-1" if role == "member" else None))
            assert_problem(await upload(kpi_client, headers, GOOD), 403, "forbidden")
        assert await counts(engine) == (0, 0, 0)


class TestCli:
    def test_gunma_kpi_import_and_refresh(self, clean_db, stack, tmp_path) -> None:
        from typer.testing import CliRunner

        from services.kpi_api.cli import app

        good = tmp_path / "good.csv"
        good.write_text("indicator_id,fiscal_year,value\nghg-emissions,2021,13600\n", encoding="utf-8")
        bad = tmp_path / "bad.csv"
        bad.write_text("indicator_id,fiscal_year,value\nghg-emissions,2021,abc\n", encoding="utf-8")
        runner = CliRunner()
        result = runner.invoke(app, ["import", str(good)])
        assert result.exit_code == 0, result.output
        assert "created=1" in result.output
        result = runner.invoke(app, ["import", str(bad)])
        assert result.exit_code == 1 and "line 2" in result.output and "not a number" in result.output
        result = runner.invoke(app, ["refresh-progress"])
        assert result.exit_code == 0 and "0 status change(s)" in result.output, result.output
