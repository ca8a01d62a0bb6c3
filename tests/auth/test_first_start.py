"""The first start of a private-by-default registry: the generated admin, printed once."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

from tests.support.auth import basic_headers
from tests.support.http_client import http_request
from tests.support.servers import start_drift

PRIVATE = {"DRIFT_AUTH": "basic", "DRIFT_LOG": "info"}


def test_admin_created_once_printed_once_and_only_its_hash_kept(tmp_path: Path) -> None:
    root = tmp_path / "data"
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    with start_drift(root, env=PRIVATE, log_path=first_log) as registry:
        assert http_request(f"{registry.url}/v2/").status == 401
        output = first_log.read_text()
        found = re.search(r"shown only now\.\n\s+(\S+)\n", output)
        assert found is not None, output
        password = found.group(1)
        assert (
            http_request(f"{registry.url}/v2/", headers=basic_headers("admin", password)).status
            == 200
        )
        wrong = http_request(f"{registry.url}/v2/", headers=basic_headers("admin", password + "x"))
        assert wrong.status == 401
        assert (
            http_request(
                f"{registry.url}/v2/_catalog", headers=basic_headers("admin", password)
            ).status
            == 200
        )
    log_lines = first_log.read_text().splitlines()
    json_lines = [line for line in log_lines if line.startswith("{")]
    assert json_lines, "the server logs JSON lines at info"
    assert all(password not in line for line in json_lines)
    assert sum(password in line for line in log_lines) == 1  # the banner, on stdout
    with sqlite3.connect(root / ".drift" / "drift.db") as db:
        (stored,) = db.execute("SELECT password_hash FROM users WHERE name = 'admin'").fetchone()
    assert stored.startswith("$argon2id$")
    assert password not in (root / ".drift" / "drift.db").read_bytes().decode("latin-1")
    audit = (root / ".drift" / "audit.jsonl").read_text()
    assert password not in audit
    with start_drift(root, env=PRIVATE, log_path=second_log) as registry:
        assert (
            http_request(f"{registry.url}/v2/", headers=basic_headers("admin", password)).status
            == 200
        )
    assert "shown only now" not in second_log.read_text()


def test_no_admin_when_users_are_configured(tmp_path: Path) -> None:
    log = tmp_path / "drift.log"
    env = {**PRIVATE, "DRIFT_USERS": "alice:wonderland"}
    with start_drift(tmp_path / "data", env=env, log_path=log) as registry:
        assert (
            http_request(f"{registry.url}/v2/", headers=basic_headers("alice", "wonderland")).status
            == 200
        )
    text = log.read_text()
    assert "shown only now" not in text
    warnings = [json.loads(line) for line in text.splitlines() if "plain-text" in line]
    assert warnings, "plain-text config passwords are warned about"
    assert "wonderland" not in text


def test_rbac_changes_are_audited_once_per_change(tmp_path: Path) -> None:
    root = tmp_path / "data"
    rules = '[{"subjects":["user:alice"],"repositories":["a/*"],"actions":["pull"]}]'
    env = {**PRIVATE, "DRIFT_USERS": "alice:wonderland"}
    for policies in ("[]", rules, rules):
        with start_drift(root, env={**env, "DRIFT_RBAC_POLICIES": policies}):
            pass
    audit = [json.loads(line) for line in (root / ".drift" / "audit.jsonl").open()]
    changes = [line for line in audit if line["kind"] == "permission.change"]
    assert len(changes) == 2  # set at the first start, changed at the second, same at the third
    assert '"a/*"' in changes[1]["detail"]
