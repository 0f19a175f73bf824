"""The audit trail: who changed what, when, from where; one append-only table (``auth.audit_entry``).

How entries are written, always in the transaction of the change:

- **ORM writes** (members, plans, prices, invoices, payments, credit notes, calendar, webhooks, KPI
  definitions …): ``shared/permissions.require`` opens an audit context on the request's session
  (``session.info``); an ``after_flush`` listener snapshots every inserted, updated and deleted
  row (before and after, personal data masked) and the dependency writes them when the endpoint
  returns, before the session commits.
- **Core / driver writes** (check-in, invoice runs, observations, token revocation): when a write
  request changed no ORM row, the dependency writes one entry for the operation itself (the
  request body, masked, as ``after``); code that knows more calls ``record_audit(session, ...)``
  (observations record each value's before and after; tokens record creation and revocation).
- **Sign-in** (the sign-in code): ``await record_audit(session, operation="login", ...)``, with an
  ``actor`` when there is no principal yet.

The table refuses ``UPDATE`` and ``DELETE`` by trigger; only ``auth.purge_audit(cutoff)`` (the
retention job, ``AUDIT_RETENTION_YEARS``) deletes, entries older than the cutoff.
"""

from __future__ import annotations

import dataclasses
import decimal
import enum
import getpass
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from typing import Any

from fastapi import Request
from sqlalchemy import BigInteger, DateTime, Index, String, Table, event, func, insert, inspect, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Session, mapped_column

from shared.auth import AuthBase, Principal
from shared.jst import to_jst
from shared.logging import request_id_var

#: Fields holding personal data, secrets or free text (a reason may name a person): their values never
#: reach the audit trail, only that they changed. A key is masked when it contains one of these parts
#: (``name``, ``guest_email``, ``card_token_hash``, ``status_reason`` …); plan and room names are
#: masked too, harmlessly.
PERSONAL_PARTS = (
    "name",
    "kana",
    "email",
    "phone",
    "tel",
    "address",
    "postal",
    "birth",
    "card",
    "token",
    "secret",
    "password",
    "totp",
    "note",
    "topic",
    "reason",
    "comment",
    "recipient",
    "representative",
    "contact",
)
MASK = "***"


#: Tables whose rows are bookkeeping, not decisions (counters, outboxes, caches, the trail itself).
NOT_AUDITED = frozenset(
    {
        "auth.audit_entry",
        "auth.api_token",  # audited explicitly by shared.auth (create, register, revoke)
        "netsugen.invoice_counter",
        "netsugen.daily_cap_reached",
        "netsugen.invoice_line",
        "netsugen.outbox",
        "kpi.outbox",
        "notifier.outbox",
        "netsugen.idempotency_key",
    }
)

_CONTEXT = "audit_context"
_PENDING = "audit_pending"
_EXPLICIT = "audit_explicit"


def is_personal(field: str) -> bool:
    key = field.lower()
    return any(part in key for part in PERSONAL_PARTS)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return to_jst(value).isoformat()  # JST like every time the API returns
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def mask(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``values`` as JSON, with every personal-data field (at any depth) replaced by ``***``."""
    if values is None:
        return None
    out: dict[str, Any] = {}
    for key, value in values.items():
        if is_personal(str(key)) and value is not None:
            out[str(key)] = MASK
        elif isinstance(value, Mapping):
            out[str(key)] = mask(value)
        elif isinstance(value, list):
            out[str(key)] = [mask(v) if isinstance(v, Mapping) else _plain(v) for v in value]
        else:
            out[str(key)] = _plain(value)
    return out


class AuditEntry(AuthBase):
    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_kind: Mapped[str] = mapped_column(String(16))  # token | account | bootstrap | system | anonymous
    actor_id: Mapped[str | None] = mapped_column(String(100))
    actor_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(16))
    operation: Mapped[str] = mapped_column(String(100))
    object_type: Mapped[str] = mapped_column(String(100))
    object_id: Mapped[str | None] = mapped_column(String(200))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    service: Mapped[str | None] = mapped_column(String(32))
    request_id: Mapped[str | None] = mapped_column(String(64))
    client_address: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_entry_at", "at"),
        Index("ix_audit_entry_object", "object_type", "object_id"),
        Index("ix_audit_entry_actor", "actor_id"),
        {"comment": "Append-only audit trail (UPDATE/DELETE refused by trigger; purge via auth.purge_audit)"},
    )


AUDIT_TABLE: Table = AuditEntry.__table__  # type: ignore[assignment]


@dataclasses.dataclass(frozen=True)
class Actor:
    kind: str
    id: str | None
    name: str
    role: str | None

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        kind = "bootstrap" if principal.token_id is None else "token"
        return cls(kind=kind, id=principal.token_id, name=principal.name, role=principal.role)

    @classmethod
    def system(cls, name: str | None = None) -> Actor:
        """The CLI or a scheduled job (the operating-system user for the CLI)."""
        if name is None:
            try:
                name = f"cli:{getpass.getuser()}"
            except (KeyError, OSError):
                name = "cli"
        return cls(kind="system", id=None, name=name[:200], role=None)


@dataclasses.dataclass(frozen=True)
class AuditContext:
    actor: Actor
    service: str | None
    operation: str
    request_id: str | None
    client_address: str | None


def operation_of(request: Request) -> str:
    """The route's operationId (its endpoint name in camelCase; see shared/app.py)."""
    from shared.app import operation_id_of  # shared.app is the app factory; imported late

    route = request.scope.get("route")
    explicit = getattr(route, "operation_id", None)
    if explicit:
        return str(explicit)
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    name = getattr(route, "name", None)
    if not path or not name:
        return f"{request.method} {request.url.path}"
    return operation_id_of(request.method, str(path), str(name))


def context_of(request: Request, principal: Principal) -> AuditContext:
    return AuditContext(
        actor=Actor.of(principal),
        service=getattr(request.app.state, "service", None),
        operation=operation_of(request),
        request_id=request_id_var.get() or getattr(request.state, "request_id", None),
        client_address=request.client.host if request.client else None,
    )


def begin(session: AsyncSession, context: AuditContext) -> None:
    session.info[_CONTEXT] = context
    session.info[_PENDING] = []


def current(session: AsyncSession | Session) -> AuditContext | None:
    ctx = session.info.get(_CONTEXT)
    return ctx if isinstance(ctx, AuditContext) else None


# ---- ORM changes ---------------------------------------------------------------------------------
def _snapshot(obj: Any, *, before: bool) -> dict[str, Any]:
    """The row's column values before or after this flush, from memory only (no lazy loads)."""
    state = inspect(obj)
    values: dict[str, Any] = {}
    for attr in state.mapper.column_attrs:
        key = attr.key
        if before:
            deleted = state.attrs[key].history.deleted
            if deleted:
                values[key] = deleted[0]
                continue
        if key in state.dict:
            values[key] = state.dict[key]
    return values


def _key(obj: Any) -> str | None:
    """The row's primary key from memory (the identity key is assigned only after the flush)."""
    state = inspect(obj)
    values = []
    for column in state.mapper.primary_key:
        value = state.dict.get(state.mapper.get_property_by_column(column).key)
        if value is None:
            return None
        values.append(str(value))
    return ",".join(values)


def _changed(obj: Any) -> bool:
    state = inspect(obj)
    return any(state.attrs[a.key].history.has_changes() for a in state.mapper.column_attrs)


@event.listens_for(Session, "after_flush")
def _collect(session: Session, flush_context: Any) -> None:
    """Snapshot the rows this flush wrote (history is still available in ``after_flush``)."""
    pending = session.info.get(_PENDING)
    if pending is None:
        return
    for action, objects in (("create", session.new), ("update", session.dirty), ("delete", session.deleted)):
        for obj in objects:
            table = getattr(obj, "__table__", None)
            fullname = getattr(table, "fullname", None)
            if fullname is None or fullname in NOT_AUDITED:
                continue
            if action == "update" and not _changed(obj):
                continue
            before = None if action == "create" else _snapshot(obj, before=True)
            after = None if action == "delete" else _snapshot(obj, before=False)
            if action == "update" and before is not None and after is not None:
                keep = {k for k in after if before.get(k) != after.get(k)}
                keep |= {"status"} & after.keys()
                before = {k: v for k, v in before.items() if k in keep}
                after = {k: v for k, v in after.items() if k in keep}
            pending.append((action, fullname, _key(obj), mask(before), mask(after)))


def _row(ctx: AuditContext | None, actor: Actor | None, **values: Any) -> dict[str, Any]:
    who = actor or (ctx.actor if ctx else Actor.system())
    return {
        "actor_kind": who.kind,
        "actor_id": who.id,
        "actor_name": who.name[:200],
        "role": who.role,
        "service": ctx.service if ctx else None,
        "request_id": (ctx.request_id if ctx else None) or request_id_var.get(),
        "client_address": ctx.client_address if ctx else None,
        **values,
    }


async def record_audit(
    session: AsyncSession,
    *,
    operation: str,
    object_type: str,
    object_id: object | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    actor: Actor | None = None,
    request: Request | None = None,
) -> None:
    """Append one entry in ``session``'s transaction (personal data in before/after masked).

    Without ``actor``: the request's principal (set by ``require``), else the system (CLI, jobs).
    With ``request`` (sign-in, where no principal exists yet) the request id and client address are
    taken from it."""
    await record_audit_many(
        session,
        operation=operation,
        changes=[(object_type, object_id, before, after)],
        actor=actor,
        request=request,
    )


Change = tuple[str, object | None, Mapping[str, Any] | None, Mapping[str, Any] | None]


async def record_audit_many(
    session: AsyncSession,
    *,
    operation: str | None = None,
    changes: Sequence[Change],
    actor: Actor | None = None,
    request: Request | None = None,
) -> None:
    """Several entries of one operation in one statement: ``(object_type, object_id, before, after)``.
    Without ``operation``: the request's (its operationId)."""
    if not changes:
        return
    ctx = current(session)
    operation = operation or (ctx.operation if ctx else "unknown")
    if request is not None and ctx is None:
        ctx = AuditContext(
            actor=actor or Actor(kind="anonymous", id=None, name="anonymous", role=None),
            service=getattr(request.app.state, "service", None),
            operation=operation,
            request_id=request_id_var.get() or getattr(request.state, "request_id", None),
            client_address=request.client.host if request.client else None,
        )
    rows = [
        _row(
            ctx,
            actor,
            operation=operation,
            object_type=object_type,
            object_id=None if object_id is None else str(object_id)[:200],
            before=mask(before),
            after=mask(after),
        )
        for object_type, object_id, before, after in changes
    ]
    await session.execute(insert(AUDIT_TABLE), rows)
    if _PENDING in session.info:
        session.info[_EXPLICIT] = True


def _object_of(request: Request) -> tuple[str, str | None]:
    """The object a request without ORM changes acted on: the path's resource and its last id."""
    parts = [p for p in request.url.path.split("/") if p and p != "v1"]
    params = {str(v) for v in request.path_params.values()}
    object_type = next((p for p in reversed(parts) if p not in params), "request")
    first = parts[0] if parts else "request"
    ids = [str(v) for v in request.path_params.values()]
    return (first if ids else object_type), (ids[0] if ids else None)


async def finish(session: AsyncSession, request: Request) -> None:
    """Write the request's entries (its ORM changes, or the operation itself) before the commit."""
    ctx = current(session)
    if ctx is None:
        return
    await session.flush()
    pending: list[tuple[str, str, str | None, Any, Any]] = session.info.pop(_PENDING, [])
    explicit = session.info.pop(_EXPLICIT, False)
    session.info.pop(_CONTEXT, None)
    rows = [
        _row(ctx, None, operation=ctx.operation, object_type=table, object_id=key, before=before, after=after)
        for action, table, key, before, after in pending
    ]
    if not rows and not explicit:
        object_type, object_id = _object_of(request)
        rows = [
            _row(
                ctx,
                None,
                operation=ctx.operation,
                object_type=object_type,
                object_id=object_id,
                before=None,
                after=await _body(request),
            )
        ]
    if rows:
        await session.execute(insert(AUDIT_TABLE), rows)


async def _body(request: Request) -> dict[str, Any] | None:
    content_type = request.headers.get("content-type", "")
    if "json" not in content_type:
        size = len(await request.body())
        return {"body_bytes": size} if size else None
    try:
        data = await request.json()
    except ValueError:
        return None
    return mask(data) if isinstance(data, Mapping) else {"body": _plain(data)}


# ---- retention -------------------------------------------------------------------------------------
def retention_cutoff(now: datetime, years: int) -> datetime:
    """``now`` minus ``years`` calendar years (29 February falls back to the 28th)."""
    try:
        return now.replace(year=now.year - years)
    except ValueError:
        return now.replace(year=now.year - years, day=28)


async def purge(session: AsyncSession, *, now: datetime, years: int) -> int:
    """Delete the entries older than the retention period (the only deletion the table allows)."""
    purged = await session.scalar(
        text("SELECT auth.purge_audit(:cutoff)"), {"cutoff": retention_cutoff(now, years)}
    )
    return int(purged or 0)
