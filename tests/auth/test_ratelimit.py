"""Failed-login throttling with a controlled clock."""

from __future__ import annotations

from drift.auth.ratelimit import LoginLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_user_locked_after_limit_until_the_oldest_failure_leaves_the_window() -> None:
    clock = Clock()
    limiter = LoginLimiter(3, 60, clock)
    for _ in range(3):
        assert limiter.retry_after("alice", "10.0.0.1") is None
        limiter.failed("alice", "10.0.0.1")
        clock.now += 10
    assert limiter.retry_after("alice", "10.0.0.2") == 30  # first failure at 1000, window 60
    assert limiter.retry_after("bob", "10.0.0.1") is None  # the address allows 3x as many
    clock.now += 30
    assert limiter.retry_after("alice", "10.0.0.2") is None


def test_address_limit_spans_user_names() -> None:
    clock = Clock()
    limiter = LoginLimiter(2, 60, clock)
    for number in range(6):
        limiter.failed(f"user{number}", "10.0.0.9")
    assert limiter.retry_after("fresh", "10.0.0.9") is not None
    assert limiter.retry_after("fresh", "10.0.0.8") is None


def test_success_clears_the_user_but_not_the_address() -> None:
    clock = Clock()
    limiter = LoginLimiter(2, 60, clock)
    limiter.failed("alice", "a")
    limiter.failed("alice", "a")
    assert limiter.retry_after("alice", None) is not None
    limiter.succeeded("alice")
    assert limiter.retry_after("alice", None) is None


def test_retry_after_is_at_least_one_second() -> None:
    clock = Clock()
    limiter = LoginLimiter(1, 60, clock)
    limiter.failed("alice", None)
    clock.now += 59.9
    assert limiter.retry_after("alice", None) == 1
