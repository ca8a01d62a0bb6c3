"""Password hashes: argon2id made, argon2 / bcrypt / plain text verified, nothing ever raised."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import bcrypt
import pytest
from argon2.low_level import Type, hash_secret

from drift.auth.passwords import (
    PasswordScheme,
    hash_password,
    is_hashed,
    password_scheme,
    verify_password,
    verify_unknown,
)


def test_new_hashes_are_salted_argon2id() -> None:
    first, second = hash_password("s3cret"), hash_password("s3cret")
    assert first.startswith("$argon2id$v=19$")
    assert first != second
    assert verify_password(first, "s3cret")
    assert verify_password(second, "s3cret")
    assert not verify_password(first, "s3cret ")
    assert not verify_password(first, "")
    assert is_hashed(first)


def test_argon2i_hashes_are_read() -> None:
    stored = hash_secret(b"pw", b"0123456789abcdef", 2, 1024, 1, 32, Type.I).decode()
    assert stored.startswith("$argon2i$")
    assert verify_password(stored, "pw")
    assert not verify_password(stored, "pW")
    assert is_hashed(stored)


def test_argon2d_is_not_accepted_even_with_the_right_password() -> None:
    stored = hash_secret(b"pw", b"0123456789abcdef", 2, 1024, 1, 32, Type.D).decode()
    assert password_scheme(stored) is PasswordScheme.UNSUPPORTED
    assert not verify_password(stored, "pw")
    assert not is_hashed(stored)


@pytest.mark.parametrize("prefix", [b"2a", b"2b"])
def test_bcrypt_hashes_of_the_bcrypt_library(prefix: bytes) -> None:
    stored = bcrypt.hashpw(b"hunter2", bcrypt.gensalt(rounds=4, prefix=prefix)).decode()
    assert stored.startswith(f"${prefix.decode()}$")
    assert verify_password(stored, "hunter2")
    assert not verify_password(stored, "hunter3")
    assert is_hashed(stored)


def test_bcrypt_2y_as_htpasswd_writes_it() -> None:
    stored = bcrypt.hashpw(b"hunter2", bcrypt.gensalt(rounds=4)).decode()
    htpasswd = "$2y$" + stored.removeprefix("$2b$")
    assert verify_password(htpasswd, "hunter2")
    assert not verify_password(htpasswd, "hunter")


def test_bcrypt_reads_the_first_72_bytes_like_every_implementation() -> None:
    long = "x" * 72 + "tail"
    stored = bcrypt.hashpw(long.encode()[:72], bcrypt.gensalt(rounds=4)).decode()
    assert verify_password(stored, long)  # bcrypt>=5 would raise on the long input
    assert not verify_password(stored, "x" * 71)


def test_plain_text_is_compared_exactly() -> None:
    assert password_scheme("s3cret") is PasswordScheme.PLAIN
    assert not is_hashed("s3cret")
    assert verify_password("s3cret", "s3cret")
    assert verify_password("pässwörd", "pässwörd")
    assert not verify_password("s3cret", "s3cre")
    assert not verify_password("s3cret", "s3cret\n")
    assert not verify_password("s3cret", "S3CRET")


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "$argon2id$",
        "$argon2id$v=19$m=65536,t=3,p=4$bm90LWJhc2U2NA",
        "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$!!!",
        "$argon2i$v=19$m=0,t=0,p=0$c2FsdHNhbHQ$aGFzaA",
        "$2b$",
        "$2b$04$tooshort",
        "$2y$99$" + "a" * 53,
        "$2a$04$" + "!" * 53,
        "$6$salt$hash",
        "$apr1$salt$hash",
        "$pbkdf2-sha256$29000$salt$hash",
    ],
)
def test_malformed_or_foreign_hashes_match_nothing(stored: str) -> None:
    assert not verify_password(stored, "pw")
    assert not verify_password(stored, stored)  # never taken for plain text


def test_truncated_argon2_hash_matches_nothing() -> None:
    stored = hash_password("pw")
    assert not verify_password(stored[:-4], "pw")


def test_undecodable_passwords_do_not_raise() -> None:
    lone = "\udcff\ud800"
    for stored in (hash_password("pw"), bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode(), "pw"):
        assert not verify_password(stored, lone)
    assert verify_password(hash_password(lone), lone)
    verify_unknown(lone)


def _median_seconds(action: Callable[[], object], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def test_an_unknown_user_costs_what_a_known_one_does() -> None:
    stored = hash_password("right")
    verify_unknown("warm-up")  # makes the dummy hash once
    known = _median_seconds(lambda: verify_password(stored, "wrong"))
    unknown = _median_seconds(lambda: verify_unknown("wrong"))
    assert known > 0.005  # argon2 is slow by design: the comparison below means something
    assert 0.1 < unknown / known < 10, (known, unknown)
