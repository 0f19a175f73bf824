"""The contact lookups' HTTP client against real servers: the stand-in netsugen_booking (uvicorn)
and scripted raw TCP servers for what uvicorn never does (chunked and close-delimited bodies,
dropping an idle connection, never answering)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import orjson
import pytest

from services.notifier.dispatch.contacts import ContactError, ContactResolver
from services.notifier.dispatch.lookup_http import LookupClient, LookupHttpError, LookupTimeout
from shared.logging import request_id_var
from tests.notifier.conftest import SERVICE_TOKEN, FakeWorld, free_port

Handler = Callable[["RawServer", asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class RawServer:
    """A TCP server on 127.0.0.1 running ``handler`` for each connection; keeps the request heads."""

    handler: Handler
    port: int = 0
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0
    server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def read_request(self, reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        self.requests.append(head)
        return head


@pytest.fixture
async def raw_server() -> AsyncIterator[Callable[[Handler], Awaitable[RawServer]]]:
    servers: list[RawServer] = []

    async def start(handler: Handler) -> RawServer:
        raw = RawServer(handler)

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            raw.connections += 1
            try:
                await handler(raw, reader, writer)
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        raw.server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
        raw.port = raw.server.sockets[0].getsockname()[1]
        servers.append(raw)
        return raw

    yield start
    for raw in servers:
        assert raw.server is not None
        raw.server.close()


def json_response(body: object, *, extra: str = "") -> bytes:
    data = orjson.dumps(body)
    return (
        f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(data)}\r\n{extra}\r\n"
    ).encode() + data


async def keep_alive_json(raw: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        head = await raw.read_request(reader)
        path = head.split(b" ")[1].decode()
        writer.write(json_response({"path": path}))
        await writer.drain()


async def test_lookups_reuse_one_connection_and_send_the_token(world: FakeWorld) -> None:
    members = [world.add_member(name=f"会員 {i}") for i in range(5)]
    client = LookupClient(world.base_url, service_token=SERVICE_TOKEN, timeout_s=5)
    resolver = ContactResolver(client)
    try:
        for member_id in members:
            contact = await resolver.resolve(f"member:{member_id}")
            assert contact.email == world.email_of(member_id) and contact.language == "ja"
        # 404 and 410 come back as answers, on the same connection.
        world.gone.add(str(members[0]))
        with pytest.raises(ContactError) as gone:
            await resolver.resolve(f"member:{members[0]}")
        assert gone.value.permanent and gone.value.status_code == 410
    finally:
        await client.aclose()
    assert client.connections_opened == 1
    assert world.unauthorized == 0 and len(world.lookups) == 6


async def test_concurrent_lookups_open_at_most_size_connections(world: FakeWorld) -> None:
    members = [world.add_member() for _ in range(12)]
    client = LookupClient(world.base_url, service_token=SERVICE_TOKEN, timeout_s=5, size=3)
    resolver = ContactResolver(client)
    try:
        contacts = await asyncio.gather(*(resolver.resolve(f"member:{m}") for m in members))
    finally:
        await client.aclose()
    assert [c.email for c in contacts] == [world.email_of(m) for m in members]
    assert 1 <= client.connections_opened <= 3


async def test_request_carries_host_token_and_request_id(raw_server) -> None:
    raw = await raw_server(keep_alive_json)
    client = LookupClient(raw.url + "/api", service_token="tok-1", timeout_s=5)
    token = request_id_var.set("req-42")
    try:
        response = await client.get("/v1/members/abc/contact")
    finally:
        request_id_var.reset(token)
        await client.aclose()
    assert response.status_code == 200 and orjson.loads(response.content) == {
        "path": "/api/v1/members/abc/contact"
    }
    head = raw.requests[0].decode()
    assert head.startswith("GET /api/v1/members/abc/contact HTTP/1.1\r\n")
    lines = {
        line.split(": ", 1)[0].lower(): line.split(": ", 1)[1] for line in head.split("\r\n")[1:] if line
    }
    assert lines["host"] == f"127.0.0.1:{raw.port}"
    assert lines["authorization"] == "Bearer tok-1"
    assert lines["x-request-id"] == "req-42"


async def test_a_path_cannot_break_the_request_line(raw_server) -> None:
    raw = await raw_server(keep_alive_json)
    client = LookupClient(raw.url, timeout_s=5)
    try:
        response = await client.get("/v1/members/a b\r\nX-Injected: 1/contact")
    finally:
        await client.aclose()
    assert orjson.loads(response.content) == {"path": "/v1/members/a%20b%0D%0AX-Injected:%201/contact"}
    assert b"X-Injected" not in raw.requests[0].split(b"\r\n", 1)[1]


async def test_chunked_and_close_delimited_bodies(raw_server) -> None:
    async def chunked(raw: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await raw.read_request(reader)
        writer.write(
            b'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\n{"a":\r\n3\r\n 1}\r\n0\r\n\r\n'
        )
        await raw.read_request(reader)  # kept alive after a chunked body
        writer.write(b'HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n{"b": 2}')  # body ends with the connection
        await writer.drain()

    raw = await raw_server(chunked)
    client = LookupClient(raw.url, timeout_s=5)
    try:
        first = await client.get("/one")
        second = await client.get("/two")
        third = await client.get("/three")  # the server closed: a new connection
    finally:
        await client.aclose()
    assert orjson.loads(first.content) == {"a": 1}
    assert orjson.loads(second.content) == {"b": 2}
    assert orjson.loads(third.content) == {"a": 1}
    assert raw.connections == 2 and client.connections_opened == 2


async def test_idle_connection_closed_by_the_server_is_replaced(raw_server) -> None:
    async def one_per_connection(
        raw: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        head = await raw.read_request(reader)
        writer.write(json_response({"path": head.split(b" ")[1].decode()}))  # keep-alive promised …
        await writer.drain()
        await asyncio.sleep(0.05)  # … then an idle timeout closes it

    raw = await raw_server(one_per_connection)
    client = LookupClient(raw.url, timeout_s=5)
    try:
        assert orjson.loads((await client.get("/a")).content) == {"path": "/a"}
        await asyncio.sleep(0.2)
        assert orjson.loads((await client.get("/b")).content) == {
            "path": "/b"
        }  # sent again, fresh connection
    finally:
        await client.aclose()
    assert [r.split(b" ")[1] for r in raw.requests] == [b"/a", b"/b"]
    assert client.connections_opened == 2


async def test_reused_connection_dropped_before_answering_is_retried_once_on_a_new_one(raw_server) -> None:
    async def drops_second(
        raw: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        head = await raw.read_request(reader)
        writer.write(json_response({"path": head.split(b" ")[1].decode()}))
        await writer.drain()
        if raw.connections == 1:
            await raw.read_request(reader)  # the server gives up on this connection just as a request came

    raw = await raw_server(drops_second)
    client = LookupClient(raw.url, timeout_s=5)
    try:
        assert orjson.loads((await client.get("/a")).content) == {"path": "/a"}
        assert orjson.loads((await client.get("/b")).content) == {"path": "/b"}
    finally:
        await client.aclose()
    assert [r.split(b" ")[1] for r in raw.requests] == [b"/a", b"/b", b"/b"]
    assert client.connections_opened == 2


async def test_response_cut_off_is_an_error_not_a_retry(raw_server) -> None:
    async def cut(raw: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await raw.read_request(reader)
        writer.write(b'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"partial')
        await writer.drain()

    raw = await raw_server(cut)
    client = LookupClient(raw.url, timeout_s=5)
    try:
        with pytest.raises(LookupHttpError, match="connection lost"):
            await client.get("/x")
    finally:
        await client.aclose()
    assert len(raw.requests) == 1


async def test_no_answer_times_out_and_the_resolver_retries_later(raw_server) -> None:
    async def silent(raw: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await raw.read_request(reader)
        await reader.read()  # until the client gives up and closes

    raw = await raw_server(silent)
    client = LookupClient(raw.url, timeout_s=0.3)
    started = time.monotonic()
    try:
        with pytest.raises(ContactError) as exc:
            await ContactResolver(client).resolve("member:0b7e4c1a-2d3e-4f50-8a9b-0c1d2e3f4a5b")
        with pytest.raises(LookupTimeout):
            await client.get("/again")
    finally:
        await client.aclose()
    assert not exc.value.permanent and "timed out" in str(exc.value)
    assert time.monotonic() - started < 3


async def test_refused_connection_is_a_temporary_contact_error() -> None:
    client = LookupClient(f"http://127.0.0.1:{free_port()}", timeout_s=2)
    try:
        with pytest.raises(ContactError) as exc:
            await ContactResolver(client).resolve("member:0b7e4c1a-2d3e-4f50-8a9b-0c1d2e3f4a5b")
    finally:
        await client.aclose()
    assert not exc.value.permanent and "connect failed" in str(exc.value)


async def test_invalid_json_is_a_temporary_contact_error(raw_server) -> None:
    async def not_json(raw: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await raw.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n[1, 2")
        await writer.drain()
        await asyncio.sleep(0.1)

    raw = await raw_server(not_json)
    client = LookupClient(raw.url, timeout_s=2)
    try:
        with pytest.raises(ContactError) as exc:
            await ContactResolver(client).resolve("member:0b7e4c1a-2d3e-4f50-8a9b-0c1d2e3f4a5b")
    finally:
        await client.aclose()
    assert not exc.value.permanent and "invalid JSON" in str(exc.value)
