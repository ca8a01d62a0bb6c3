"""Why a credential was refused (never said to the client in more detail than "invalid")."""

from __future__ import annotations

__all__ = ["InvalidCredentialsError"]


class InvalidCredentialsError(Exception):
    """The presented password, token or ID token does not authenticate anyone.

    The message is for the server log and the audit trail (it never contains the credential);
    clients only ever learn that the credentials were invalid.
    """
