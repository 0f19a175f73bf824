"""Request and response bodies of sign-in, sessions and staff accounts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

StaffRole = Literal["admin", "staff", "coordinator", "kpi_editor", "accountant", "auditor"]
_FORBID = ConfigDict(extra="forbid")


class LoginRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"email": "desk@netsugen.example.jp", "password": "correct horse battery"}]
        },
    )
    email: EmailStr = Field(max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    totp: str | None = Field(default=None, min_length=6, max_length=6, pattern=r"^[0-9]{6}$")


class TokenPairOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "gsa_3q2…",
                    "refresh_token": "gsr_Yk1…",
                    "expires_in": 900,
                    "token_type": "Bearer",
                    "session_id": "0b8c1c1e-6d9e-4bbf-9f43-0f7a0e1d2c3b",
                }
            ]
        }
    )
    access_token: str
    refresh_token: str
    expires_in: int = Field(description="Seconds until the access token expires.")
    token_type: Literal["Bearer"] = "Bearer"
    session_id: uuid.UUID


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"refresh_token": "gsr_Yk1…"}]})
    refresh_token: str = Field(min_length=1, max_length=200)


class LogoutRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"refresh_token": "gsr_Yk1…"}, {}]}
    )
    refresh_token: str | None = Field(default=None, min_length=1, max_length=200)


class EmailLinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"email": "taro@example.jp"}]})
    email: EmailStr = Field(max_length=320)


class EmailLinkVerify(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"token": "gml_k2…"}, {"email": "taro@example.jp", "code": "042917"}]
        },
    )
    token: str | None = Field(default=None, min_length=1, max_length=200)
    email: EmailStr | None = Field(default=None, max_length=320)
    code: str | None = Field(default=None, min_length=6, max_length=6, pattern=r"^[0-9]{6}$")

    @model_validator(mode="after")
    def _one_way(self) -> EmailLinkVerify:
        if (self.token is None) == (self.email is None or self.code is None):
            raise ValueError("give either `token`, or `email` and `code`")
        return self


class Accepted(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "accepted"}]})
    status: Literal["accepted"] = "accepted"


class SessionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0b8c1c1e-6d9e-4bbf-9f43-0f7a0e1d2c3b",
                    "method": "password",
                    "user_agent": "Mozilla/5.0",
                    "created_at": "2026-12-03T09:00:00+09:00",
                    "last_used_at": "2026-12-03T09:15:00+09:00",
                    "expires_at": "2027-01-02T09:00:00+09:00",
                    "current": True,
                }
            ]
        }
    )
    id: uuid.UUID
    method: str
    user_agent: str | None
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    current: bool


class SessionList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": "0b8c1c1e-6d9e-4bbf-9f43-0f7a0e1d2c3b",
                            "method": "password",
                            "user_agent": "Mozilla/5.0",
                            "created_at": "2026-12-03T09:00:00+09:00",
                            "last_used_at": "2026-12-03T09:15:00+09:00",
                            "expires_at": "2027-01-02T09:00:00+09:00",
                            "current": True,
                        }
                    ],
                    "next_cursor": None,
                }
            ]
        }
    )
    items: list[SessionOut]
    next_cursor: str | None = None


class MeOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "account_id": "6f1e…",
                    "kind": "staff",
                    "email": "desk@netsugen.example.jp",
                    "name": "受付 一郎",
                    "role": "staff",
                    "member_id": None,
                    "member_user_id": None,
                    "totp_enabled": False,
                    "session_id": "0b8c…",
                }
            ]
        }
    )
    account_id: uuid.UUID
    kind: Literal["staff", "member"]
    email: str | None
    name: str | None
    role: str
    member_id: uuid.UUID | None
    member_user_id: uuid.UUID | None
    totp_enabled: bool
    session_id: uuid.UUID


class MeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"language": "en"}]})
    language: Literal["ja", "en"]


class EmailChangeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"email": "new@example.jp"}]})
    email: EmailStr = Field(max_length=320)


class TokenOnly(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"token": "gml_k2…"}]})
    token: str = Field(min_length=1, max_length=200)


class PasswordResetConfirm(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"token": "gml_k2…", "password": "a long new passphrase"}]},
    )
    token: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1024)


class TotpEnrolRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"email": "admin@netsugen.example.jp", "password": "…"}]},
    )
    email: EmailStr = Field(max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class TotpEnrolOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"secret": "JBSWY3DPEHPK3PXP", "otpauth_uri": "otpauth://totp/NETSUGEN:admin%40…?secret=…"}
            ]
        }
    )
    secret: str
    otpauth_uri: str


class StaffAccountCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "email": "desk@netsugen.example.jp",
                    "name": "受付 一郎",
                    "role": "staff",
                    "password": "correct horse battery staple",
                }
            ]
        },
    )
    email: EmailStr = Field(max_length=320)
    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
    role: StaffRole
    password: str = Field(min_length=1, max_length=1024)
    subject: str | None = Field(
        default=None, max_length=100, description="Scope of a narrow role (e.g. a department)."
    )


class StaffAccountUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"role": "accountant"}]})
    role: StaffRole | None = None
    name: str | None = Field(default=None, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
    subject: str | None = Field(default=None, max_length=100)


class StaffAccountOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "6f1e9a70-4f0e-4d43-9c55-2f4f0e1d2c3b",
                    "email": "desk@netsugen.example.jp",
                    "name": "受付 一郎",
                    "role": "staff",
                    "subject": None,
                    "active": True,
                    "totp_enabled": False,
                    "locked_until": None,
                    "created_at": "2026-12-03T09:00:00+09:00",
                    "last_sign_in_at": None,
                }
            ]
        },
    )
    id: uuid.UUID
    email: str
    name: str
    role: str
    subject: str | None
    active: bool
    totp_enabled: bool
    locked_until: datetime | None
    created_at: datetime
    last_sign_in_at: datetime | None


class StaffAccountList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": "6f1e9a70-4f0e-4d43-9c55-2f4f0e1d2c3b",
                            "email": "desk@netsugen.example.jp",
                            "name": "受付 一郎",
                            "role": "staff",
                            "subject": None,
                            "active": True,
                            "totp_enabled": False,
                            "locked_until": None,
                            "created_at": "2026-12-03T09:00:00+09:00",
                            "last_sign_in_at": None,
                        }
                    ],
                    "next_cursor": None,
                }
            ]
        }
    )
    items: list[StaffAccountOut]
    next_cursor: str | None


class MessageContact(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "member_id": "0b7e4c1a-2d3e-4f50-8a9b-0c1d2e3f4a5b",
                    "name": None,
                    "email": "taro@example.jp",
                    "language": "ja",
                    "status": "active",
                    "secret": {
                        "link_url": "https://portal.example.jp/signin#token=gml_…",
                        "code": "042917",
                        "minutes": "15",
                    },
                }
            ]
        }
    )
    member_id: str | None
    name: str | None
    email: str
    language: Literal["ja", "en"]
    status: str
    secret: dict[str, str]
