"""The account and session tables live in ``shared/sessions.py`` (schema ``auth``), because every
service verifies access tokens; they are re-exported here for this domain (and model discovery)."""

from shared.sessions import Account, AuthMessage, AuthSession, SessionToken

__all__ = ["Account", "AuthMessage", "AuthSession", "SessionToken"]
