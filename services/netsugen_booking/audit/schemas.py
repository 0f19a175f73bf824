"""Audit trail responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.audit import AuditEntry
from shared.jst import to_jst


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 1041,
                    "at": "2026-12-03T10:15:02+09:00",
                    "actor_kind": "token",
                    "actor_id": "0b9f5c4e-7d1a-4d52-9a43-5b1f0f4a2c11",
                    "actor_name": "Front desk tablet 1",
                    "role": "staff",
                    "operation": "suspendMember",
                    "object_type": "netsugen.member",
                    "object_id": "5f0c6b3e-9a4d-4e0f-8b7a-6c5d4e3f2a1b",
                    "before": {"status": "active"},
                    "after": {"status": "suspended"},
                    "service": "netsugen_booking",
                    "request_id": "5f0c6b3e9a4d4e0f8b7a6c5d4e3f2a1b",
                    "client_address": "192.0.2.10",
                }
            ]
        }
    )

    id: int
    at: datetime = Field(description="When (JST).")
    actor_kind: str = Field(description="token | account | bootstrap | system | anonymous")
    actor_id: str | None = Field(description="The token's (or account's) id.")
    actor_name: str
    role: str | None
    operation: str = Field(description="The operationId (or the named operation, e.g. `login`).")
    object_type: str = Field(description="The table (`netsugen.member`) or the path's resource.")
    object_id: str | None
    before: dict[str, Any] | None = Field(
        description="Changed fields before (personal data masked as `***`)."
    )
    after: dict[str, Any] | None = Field(description="Changed fields after (personal data masked as `***`).")
    service: str | None
    request_id: str | None
    client_address: str | None

    @classmethod
    def of(cls, row: AuditEntry) -> AuditEntryOut:
        return cls(
            id=row.id,
            at=to_jst(row.at),
            actor_kind=row.actor_kind,
            actor_id=row.actor_id,
            actor_name=row.actor_name,
            role=row.role,
            operation=row.operation,
            object_type=row.object_type,
            object_id=row.object_id,
            before=row.before,
            after=row.after,
            service=row.service,
            request_id=row.request_id,
            client_address=row.client_address,
        )


class AuditList(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next (older) page; null at the end."
    )
