"""Logins in the audit trail: once per credential and minute, never one line per request."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.auth import basic_headers, driftctl
from tests.support.http_client import http_request
from tests.support.servers import start_drift


def test_each_credential_is_audited_once_while_requests_repeat(tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    robot = driftctl(root, "tokens", "create", "--name", "ci", "--scope", "repository:ci/app:pull")
    robot = robot.strip()
    env = {"DRIFT_AUTH": "basic", "DRIFT_USERS": "alice:wonderland"}
    with start_drift(root, env=env) as registry:
        for _ in range(5):
            alice = http_request(
                f"{registry.url}/v2/", headers=basic_headers("alice", "wonderland")
            )
            assert alice.status == 200
            ci = http_request(
                f"{registry.url}/v2/ci/app/tags/list", headers=basic_headers("x", robot)
            )
            assert ci.status == 404  # authorized; the repository does not exist
        bad = http_request(f"{registry.url}/v2/", headers=basic_headers("alice", "guess"))
        assert bad.status == 401
    audit = [json.loads(line) for line in (root / ".drift" / "audit.jsonl").open()]
    logins = [(line["kind"], line["actor"]) for line in audit if line["kind"].startswith("login")]
    assert sorted(logins) == [
        ("login.failure", "alice"),
        ("login.success", "alice"),
        ("login.success", "robot:ci"),
    ]
    assert all(robot not in json.dumps(line) for line in audit)
