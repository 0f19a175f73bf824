"""Security finding 5 (SSRF through webhook endpoints) and 6 (unusable webhook URLs: 422, not 500).

The attack: an administrator's token (or a stolen one) registers a webhook URL pointing inside the
network (loopback, the cloud metadata address, private ranges, in decimal/hex/octal or IPv6 form),
then reads the delivery ledger (staff) to learn what answered. Now: refused at registration (422),
refused again by the worker after resolving the name (DNS can change after registration), and the
ledger shows a generic error class only.

The refusal tests run with the shipped default (``WEBHOOK_ALLOW_PRIVATE_DESTINATIONS`` off):
``strict_notifier_client`` for the API, ``make_settings(webhook_allow_private_destinations=False)``
for the worker. The receivers of these tests listen on 127.0.0.1, like an internal service would.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from services.notifier.webhooks.destinations import DestinationRefused, PinnedResolver, ResolutionFailed
from shared.events import KpiStatusChanged, make_event
from tests.notifier.conftest import attempts_of, enqueue_event, free_port, ledger, scalar

KPI_EVENT = ["kpi.status_changed"]
EN = {"accept-language": "en"}

INTERNAL_URLS = [
    "http://127.0.0.1:8003/v1/webhook-endpoints",
    "http://localhost:6379/",
    "http://0.0.0.0/",
    "http://0/",
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://2130706433/",  # 127.0.0.1 in decimal
    "http://0x7f000001/",  # … in hex
    "http://0177.0.0.1/",  # … in octal
    "http://127.1/",
    "http://[::1]:8003/",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped IPv6
    "http://[::ffff:169.254.169.254]/",
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
    "http://10.0.0.5/",
    "http://172.16.3.4/",
    "http://192.168.1.1/admin",
    "http://100.100.100.200/latest/meta-data/",  # shared address space (Alibaba metadata)
    "http://[fd00:ec2::254]/",  # IPv6 ULA (AWS metadata)
    "http://[fe80::1]/",
    "http://224.0.0.1/",
    "http://[ff02::1]/",
    "http://240.0.0.1/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "https://kubernetes.default.svc.cluster.local/",
]


def problem(r: Any, status: int, slug: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["type"] == f"urn:gunma-sdgs:problem:{slug}", body
    return body


class TestRegistration:
    @pytest.mark.parametrize("url", INTERNAL_URLS)
    async def test_internal_destination_is_refused(self, strict_notifier_client, admin_headers, url) -> None:
        r = await strict_notifier_client.post(
            "/v1/webhook-endpoints",
            headers={**admin_headers, **EN},
            json={"url": url, "event_types": KPI_EVENT},
        )
        body = problem(r, 422, "webhook-destination-refused")
        assert body["detail"].startswith("Webhook destinations must be public")
        r = await strict_notifier_client.post(
            "/v1/webhook-endpoints", headers=admin_headers, json={"url": url}
        )
        assert problem(r, 422, "webhook-destination-refused")["detail"].startswith(
            "Webhookの送信先は公開アドレスに限ります"
        )
        listed = await strict_notifier_client.get("/v1/webhook-endpoints", headers=admin_headers)
        assert listed.json()["items"] == []

    async def test_a_name_resolving_to_loopback_is_refused(
        self, strict_notifier_client, admin_headers
    ) -> None:
        # "localhost" is resolved by the system resolver (/etc/hosts): the refusal names the address.
        r = await strict_notifier_client.post(
            "/v1/webhook-endpoints", headers={**admin_headers, **EN}, json={"url": "http://localhost:8003/"}
        )
        body = problem(r, 422, "webhook-destination-refused")
        assert "localhost resolves to" in body["detail"] and "loopback" in body["detail"]

    async def test_credentials_in_the_url_are_refused(self, strict_notifier_client, admin_headers) -> None:
        r = await strict_notifier_client.post(
            "/v1/webhook-endpoints",
            headers={**admin_headers, **EN},
            json={"url": "https://user:pw@8.8.8.8/hook"},
        )
        body = problem(r, 422, "unusable-webhook-url")
        assert "credentials" in body["detail"]

    async def test_public_destination_is_accepted_and_patch_is_checked_too(
        self, strict_notifier_client, admin_headers
    ) -> None:
        r = await strict_notifier_client.post(
            "/v1/webhook-endpoints",
            headers=admin_headers,
            json={"url": "https://8.8.8.8/hook", "event_types": KPI_EVENT},
        )
        assert r.status_code == 201, r.text
        endpoint_id = r.json()["id"]
        for url in ("http://169.254.169.254/", "http://[::1]/", "http://0x7f000001:5432/"):
            r = await strict_notifier_client.patch(
                f"/v1/webhook-endpoints/{endpoint_id}", headers=admin_headers, json={"url": url}
            )
            problem(r, 422, "webhook-destination-refused")
        got = await strict_notifier_client.get(f"/v1/webhook-endpoints/{endpoint_id}", headers=admin_headers)
        assert got.json()["url"] == "https://8.8.8.8/hook"

    async def test_the_setting_allows_private_destinations(self, notifier_client, admin_headers) -> None:
        # The notifier tests' API opts in (WEBHOOK_ALLOW_PRIVATE_DESTINATIONS=true): a local receiver is fine.
        r = await notifier_client.post(
            "/v1/webhook-endpoints", headers=admin_headers, json={"url": "http://127.0.0.1:9/hook"}
        )
        assert r.status_code == 201, r.text


class TestUnusableUrls:
    """Finding 6: every URL the server cannot use is a 422 problem on POST and PATCH, never a 500."""

    @pytest.mark.parametrize(
        "url",
        [
            "https://" + "a" * 64 + ".example.jp/hook",  # a label longer than 63
            "https://" + ".".join(["abcdefghij"] * 24) + ".jp/hook",  # a host longer than 253
            "https://a..b.example.jp/hook",  # an empty label
            "https://xn--zz.example/hook",  # punycode that does not decode (IDNA)
            "https://example.jp:0/hook",  # port 0
            "https://example.jp:65536/hook",  # port out of range
            "https://example.jp:99999999999/hook",
            "ftp://example.jp/hook",
        ],
    )
    @pytest.mark.parametrize("method", ["POST", "PATCH"])
    async def test_unusable_url_is_422(self, strict_notifier_client, admin_headers, url, method) -> None:
        path = "/v1/webhook-endpoints"
        if method == "PATCH":
            created = await strict_notifier_client.post(
                path, headers=admin_headers, json={"url": "https://8.8.8.8/"}
            )
            assert created.status_code == 201, created.text
            path += "/" + created.json()["id"]
        r = await strict_notifier_client.request(method, path, headers=admin_headers, json={"url": url})
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"] in (
            "urn:gunma-sdgs:problem:unusable-webhook-url",
            "urn:gunma-sdgs:problem:validation-error",
        )


async def register_local(client, headers, url: str) -> dict[str, Any]:
    """Registered through the opted-in API: stands for an endpoint registered before the fix, or
    a name whose DNS answer changed after registration."""
    r = await client.post(
        "/v1/webhook-endpoints", headers=headers, json={"url": url, "event_types": KPI_EVENT}
    )
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


def kpi_event() -> Any:
    return make_event(KpiStatusChanged(indicator_id="x", previous_status="a", status="b"))


class TestConnectTime:
    async def test_worker_refuses_an_internal_address_registered_earlier(
        self, notifier_client, admin_headers, world, run_worker, arq_pool, engine, make_settings
    ) -> None:
        await register_local(notifier_client, admin_headers, world.hook_url("internal"))
        await enqueue_event(arq_pool, kpi_event())
        await run_worker(make_settings(webhook_allow_private_destinations=False))
        assert "internal" not in world.calls  # nothing reached the internal service
        [row] = await ledger(engine)
        assert (row.status, row.attempts) == ("failed_permanent", 1)
        assert row.reason.startswith("destination_refused:")
        [attempt] = await attempts_of(engine, row.id)
        assert attempt.status_code is None and attempt.error.startswith("destination_refused:")

    async def test_worker_refuses_a_name_that_now_resolves_to_loopback(
        self, notifier_client, admin_headers, world, run_worker, arq_pool, engine, make_settings
    ) -> None:
        """DNS rebinding: the name was public at registration, its DNS now answers 127.0.0.1."""
        port = world.base_url.rsplit(":", 1)[1]
        await register_local(
            notifier_client, admin_headers, f"http://hooks.attacker.example:{port}/hooks/rebind"
        )
        lookups: list[str] = []

        async def attacker_dns(host: str, port_: int) -> list[str]:
            lookups.append(host)
            return ["127.0.0.1"]

        settings = make_settings(webhook_allow_private_destinations=False)
        await enqueue_event(arq_pool, kpi_event())
        await run_worker(settings, ctx={"settings": settings, "webhook_resolver": attacker_dns})
        assert lookups == ["hooks.attacker.example"]
        assert "rebind" not in world.calls
        [row] = await ledger(engine)
        assert row.status == "failed_permanent" and row.reason.startswith("destination_refused:")

    async def test_connection_goes_to_the_resolved_address_with_the_registered_host(
        self, notifier_client, admin_headers, world, run_worker, arq_pool, engine, make_settings
    ) -> None:
        """Pinning: the worker connects to the address it resolved and checked, and the request
        still names the registered host (Host header; TLS SNI and certificate checks use it too)."""
        port = world.base_url.rsplit(":", 1)[1]
        await register_local(notifier_client, admin_headers, f"http://hooks.example.test:{port}/hooks/pinned")
        calls: list[str] = []

        async def dns(host: str, port_: int) -> list[str]:
            calls.append(host)
            return ["127.0.0.1"]

        settings = make_settings()  # opted in: the pinned address is a local receiver
        for _ in range(3):
            await enqueue_event(arq_pool, kpi_event())
        await run_worker(settings, ctx={"settings": settings, "webhook_resolver": dns})
        assert [c.headers["host"] for c in world.calls["pinned"]] == [f"hooks.example.test:{port}"] * 3
        assert calls == ["hooks.example.test"]  # resolved once: cached (WEBHOOK_DNS_CACHE_S) on the hot path
        assert {r.status for r in await ledger(engine)} == {"delivered"}


class TestPinnedResolver:
    async def test_cache_expiry_checks_the_new_answer(self) -> None:
        answers = [["93.184.215.14"], ["10.1.2.3"]]
        seen: list[str] = []

        async def dns(host: str, port: int) -> list[str]:
            seen.append(host)
            return answers[min(len(seen), len(answers)) - 1]

        resolver = PinnedResolver(allow_private=False, ttl_s=0.2, resolver=dns)
        assert await resolver.addresses("hooks.example.jp", 443) == ["93.184.215.14"]
        assert await resolver.addresses("hooks.example.jp", 443) == ["93.184.215.14"]  # cached
        assert seen == ["hooks.example.jp"]
        await asyncio.sleep(0.25)
        with pytest.raises(DestinationRefused, match="10.1.2.3"):
            await resolver.addresses("hooks.example.jp", 443)
        with pytest.raises(DestinationRefused):  # a refused answer is not cached as good
            await resolver.addresses("hooks.example.jp", 443)

    async def test_any_forbidden_address_refuses_the_name(self) -> None:
        async def dns(host: str, port: int) -> list[str]:
            return ["93.184.215.14", "::ffff:169.254.169.254"]

        with pytest.raises(DestinationRefused, match="169.254.169.254"):
            await PinnedResolver(allow_private=False, ttl_s=30, resolver=dns).addresses(
                "mixed.example.jp", 80
            )

    async def test_no_answer_is_a_resolution_failure(self) -> None:
        async def dns(host: str, port: int) -> list[str]:
            return []

        with pytest.raises(ResolutionFailed):
            await PinnedResolver(allow_private=False, ttl_s=30, resolver=dns).addresses(
                "empty.example.jp", 80
            )


class TestLedgerShowsClassesOnly:
    """Staff read the ledger: they see an error class, not what the remote answered or where it is."""

    async def delivery_as_staff(self, client, staff_headers, engine) -> dict[str, Any]:
        [row] = await ledger(engine)
        r = await client.get(f"/v1/deliveries/{row.id}", headers=staff_headers)
        assert r.status_code == 200, r.text
        detail: dict[str, Any] = r.json()
        return detail

    async def test_connection_refused(
        self, notifier_client, admin_headers, staff_headers, run_worker, arq_pool, engine, make_settings
    ) -> None:
        closed = free_port()  # nothing listens there
        await register_local(notifier_client, admin_headers, f"http://127.0.0.1:{closed}/hook")
        await enqueue_event(arq_pool, kpi_event())
        await run_worker(make_settings(max_attempts=1))
        detail = await self.delivery_as_staff(notifier_client, staff_headers, engine)
        assert [a["error"] for a in detail["attempts"]] == ["connection_refused"]
        assert detail["last_error"] == "connection_refused"
        assert str(closed) not in str(detail) and "127.0.0.1" not in str(detail)

    async def test_remote_details_are_not_shown(
        self,
        notifier_client,
        admin_headers,
        staff_headers,
        world,
        run_worker,
        arq_pool,
        engine,
        make_settings,
    ) -> None:
        await register_local(notifier_client, admin_headers, world.hook_url("fails"))
        world.hook_replies["fails"] = [503]
        await enqueue_event(arq_pool, kpi_event())
        await run_worker(make_settings(max_attempts=1))
        detail = await self.delivery_as_staff(notifier_client, staff_headers, engine)
        assert detail["status"] == "dead"
        assert [(a["error"], a["status_code"]) for a in detail["attempts"]] == [("http_5xx", 503)]
        assert detail["reason"] == "gave up after 1 attempts: http_5xx"

    async def test_refused_destination(
        self,
        notifier_client,
        admin_headers,
        staff_headers,
        world,
        run_worker,
        arq_pool,
        engine,
        make_settings,
    ) -> None:
        await register_local(notifier_client, admin_headers, world.hook_url("internal"))
        await enqueue_event(arq_pool, kpi_event())
        await run_worker(make_settings(webhook_allow_private_destinations=False))
        detail = await self.delivery_as_staff(notifier_client, staff_headers, engine)
        assert detail["attempts"][0]["error"].startswith("destination_refused:")
        assert "127.0.0.1" not in str(detail) and world.base_url.rsplit(":", 1)[1] not in str(detail)
        assert (
            await scalar(
                engine, "SELECT count(*) FROM notifier.delivery_attempt WHERE status_code IS NOT NULL"
            )
            == 0
        )


def _tls_files(tmp_path: Any, name: str) -> tuple[Any, Any, Any]:
    """A throwaway CA and a server certificate for ``name`` signed by it (PEM files)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return ca_file, cert_file, key_file


async def test_tls_to_the_pinned_address_verifies_the_registered_name(tmp_path) -> None:
    """The connection goes to the resolved address, while TLS sends the registered name as SNI and
    verifies the certificate against it: a certificate for another name fails (`tls_error`)."""
    import ssl
    import threading

    import httpx
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from services.notifier.dispatch.engine import error_class
    from services.notifier.webhooks.destinations import GuardedTransport

    ca_file, cert_file, key_file = _tls_files(tmp_path, "hooks.example.test")
    hosts: list[str] = []

    async def hook(request: Request) -> Response:
        hosts.append(request.headers["host"])
        return Response(status_code=204)

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=[Route("/h", hook, methods=["POST"])]),
            host="127.0.0.1",
            port=port,
            ssl_certfile=str(cert_file),
            ssl_keyfile=str(key_file),
            log_level="warning",
            lifespan="off",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            await asyncio.sleep(0.02)
        resolved: list[str] = []

        async def dns(host: str, port_: int) -> list[str]:
            resolved.append(host)
            return ["127.0.0.1"]

        trust = ssl.create_default_context(cafile=str(ca_file))
        transport = GuardedTransport(PinnedResolver(allow_private=True, ttl_s=30, resolver=dns), verify=trust)
        async with httpx.AsyncClient(transport=transport) as client:
            r = await client.post(f"https://hooks.example.test:{port}/h", content=b"{}")
            assert r.status_code == 204
            with pytest.raises(httpx.ConnectError) as failed:
                await client.post(f"https://other.example.test:{port}/h", content=b"{}")
        assert error_class(failed.value) == "tls_error"
        assert hosts == [f"hooks.example.test:{port}"]
        assert resolved == ["hooks.example.test", "other.example.test"]
    finally:
        server.should_exit = True
        thread.join(timeout=5)
