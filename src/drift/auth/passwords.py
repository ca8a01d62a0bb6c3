"""Password hashes: argon2id for every new hash; argon2, bcrypt and (warned about) plain text read.

New hashes use argon2-cffi's defaults, the RFC 9106 "second recommended" profile (argon2id,
t=3, m=64 MiB, p=4: about 0.15 s of one core here). Stored values are told apart by prefix:
``$argon2id$`` and ``$argon2i$`` are argon2 (PHC string format), ``$2a$ $2b$ $2y$`` bcrypt (as
htpasswd writes them), any other modular-crypt value (``$6$``, ``$apr1$``, ``$argon2d$``...) is an
unsupported hash that matches no password, and anything else is a plain-text password compared in
constant time. A stored value that does not parse matches no password: verifying never raises.

Every function here is CPU-bound for a noticeable time: the server calls them through
``run_blocking``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from enum import Enum
from typing import Final

import bcrypt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = [
    "PasswordScheme",
    "hash_password",
    "is_hashed",
    "password_scheme",
    "verify_password",
    "verify_unknown",
]

_BCRYPT_MAX_BYTES: Final = 72
_BCRYPT_PREFIXES: Final = ("$2a$", "$2b$", "$2y$")
_ARGON2_PREFIXES: Final = ("$argon2id$", "$argon2i$")
_MODULAR_CRYPT: Final = re.compile(r"\$[a-z0-9-]{1,32}\$")

_hasher: Final = PasswordHasher()
_dummy_hash: str | None = None


class PasswordScheme(Enum):
    ARGON2 = "argon2"
    BCRYPT = "bcrypt"
    PLAIN = "plain"
    UNSUPPORTED = "unsupported"  # a modular-crypt hash of another kind: matches nothing


def password_scheme(stored: str) -> PasswordScheme:
    if stored.startswith(_ARGON2_PREFIXES):
        return PasswordScheme.ARGON2
    if stored.startswith(_BCRYPT_PREFIXES):
        return PasswordScheme.BCRYPT
    if _MODULAR_CRYPT.match(stored):
        return PasswordScheme.UNSUPPORTED
    return PasswordScheme.PLAIN


def is_hashed(stored: str) -> bool:
    """Whether ``stored`` is a hash this build verifies (not plain text, not an unknown hash)."""
    return password_scheme(stored) in (PasswordScheme.ARGON2, PasswordScheme.BCRYPT)


def hash_password(plain: str) -> str:
    """A new argon2id hash of ``plain`` in PHC string format (salted: two calls differ)."""
    return _hasher.hash(_utf8(plain))


def verify_password(stored: str, plain: str) -> bool:
    """Whether ``plain`` is the password ``stored`` holds; False for an empty or malformed value."""
    if not stored:
        return False
    scheme = password_scheme(stored)
    if scheme is PasswordScheme.ARGON2:
        return _verify_argon2(stored, plain)
    if scheme is PasswordScheme.BCRYPT:
        return _verify_bcrypt(stored, plain)
    if scheme is PasswordScheme.PLAIN:  # digests of equal length: the time tells no length
        expected = hashlib.sha256(_utf8(stored)).digest()
        return hmac.compare_digest(expected, hashlib.sha256(_utf8(plain)).digest())
    return False


def verify_unknown(plain: str) -> None:
    """Spend what verifying a password of a known user costs, for a user that does not exist.

    Compares against a dummy argon2id hash made with the same parameters as every new hash, so
    that the time of a refusal does not tell whether the user name exists.
    """
    global _dummy_hash  # noqa: PLW0603 - made once per process, on first use
    dummy = _dummy_hash
    if dummy is None:  # threads racing here each make one: harmless, and no lock to fork
        dummy = _dummy_hash = _hasher.hash("drift: no such user")
    _verify_argon2(dummy, plain)


def _utf8(text: str) -> bytes:
    """UTF-8, and lone surrogates (undecodable header bytes) as themselves rather than an error."""
    return text.encode("utf-8", "surrogatepass")


def _verify_argon2(stored: str, plain: str) -> bool:
    try:
        return _hasher.verify(stored, _utf8(plain))
    except (VerificationError, InvalidHashError, ValueError):
        return False


def _verify_bcrypt(stored: str, plain: str) -> bool:
    # bcrypt reads only the first 72 bytes of a password; hashes made by htpasswd and the C
    # library were made from that prefix, while bcrypt>=5 raises on longer input instead.
    secret = _utf8(plain)[:_BCRYPT_MAX_BYTES]
    try:
        return bcrypt.checkpw(secret, _utf8(stored))
    except ValueError:
        return False
