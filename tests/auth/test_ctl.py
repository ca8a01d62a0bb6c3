"""``driftctl users`` and ``driftctl tokens`` run as the operator runs them: real processes."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import subprocess
import sys
import termios
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from drift.auth.errors import InvalidCredentialsError
from drift.auth.passwords import verify_password
from drift.auth.robots import RobotVerifier, looks_like_robot_token
from drift.auth.store import AdminStore

DRIFTCTL = Path(sys.executable).with_name("driftctl")


@dataclass(frozen=True, slots=True)
class Run:
    status: int
    out: str
    err: str


class Ctl:
    def __init__(self, root: Path, env: dict[str, str] | None = None) -> None:
        self.root = root
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("DRIFT_")},
            "DRIFT_FS_ROOT": str(root),
            **(env or {}),
        }
        self.env.pop("RUST_LOG", None)

    def __call__(self, *args: str, stdin: str = "") -> Run:
        result = subprocess.run(
            [str(DRIFTCTL), *args],
            input=stdin,
            env=self.env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return Run(result.returncode, result.stdout, result.stderr)

    @property
    def database(self) -> Path:
        return self.root / ".drift" / "drift.db"

    def audit(self) -> list[dict[str, object]]:
        path = self.root / ".drift" / "audit.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()]

    def private_bytes(self) -> bytes:
        """Every file driftctl wrote: the database (and WAL) and the audit trail."""
        return b"".join(path.read_bytes() for path in (self.root / ".drift").iterdir())


@pytest.fixture
def ctl(tmp_path: Path) -> Ctl:
    root = tmp_path / "data"
    root.mkdir()
    return Ctl(root)


def test_users_add_list_passwd_rm(ctl: Ctl) -> None:
    added = ctl("users", "add", "bob", "--admin", stdin="first-password\n")
    assert (added.status, added.out) == (0, "user bob added (admin)\n"), added.err
    assert ctl("users", "add", "alice@example.com", stdin="alice-pw\n").status == 0

    with AdminStore(ctl.database) as store:
        bob = store.get_user("bob")
        assert bob is not None
        assert bob.admin
        assert verify_password(bob.password_hash, "first-password")
        first_hash = bob.password_hash

    listed = ctl("users", "list")
    assert listed.status == 0
    lines = listed.out.splitlines()
    assert lines[0].split() == ["NAME", "ADMIN", "CREATED", "SOURCE"]
    assert [line.split()[:2] for line in lines[1:]] == [["alice@example.com", "no"], ["bob", "yes"]]
    assert first_hash not in listed.out
    assert "$argon2" not in listed.out + listed.err

    changed = ctl("users", "passwd", "bob", stdin="second-password\n")
    assert (changed.status, changed.out) == (0, "password of user bob changed\n")
    with AdminStore(ctl.database) as store:
        bob = store.get_user("bob")
        assert bob is not None
        assert verify_password(bob.password_hash, "second-password")
        assert not verify_password(bob.password_hash, "first-password")

    removed = ctl("users", "rm", "bob")
    assert (removed.status, removed.out) == (0, "user bob removed\n")
    assert [line.split()[0] for line in ctl("users", "list").out.splitlines()[1:]] == [
        "alice@example.com"
    ]

    trail = ctl.audit()
    assert [(line["kind"], line["detail"]) for line in trail] == [
        ("permission.change", "user bob added (admin)"),
        ("permission.change", "user alice@example.com added"),
        ("permission.change", "password of user bob changed"),
        ("permission.change", "user bob removed"),
    ]
    for line in trail:
        assert str(line["actor"]).startswith("driftctl:")
        assert line["result"] == "success"
    audit_text = (ctl.root / ".drift" / "audit.jsonl").read_text()
    for secret in ("first-password", "second-password", "alice-pw", "$argon2"):
        assert secret not in audit_text


def test_users_refusals(ctl: Ctl) -> None:
    for name in ("bad name", "x" * 65, "a:b", ""):
        refused = ctl("users", "add", name, stdin="pw\n")
        assert refused.status == 1
        assert refused.err.count("\n") == 1
        assert "invalid user name" in refused.err
    assert ctl("users", "add", "bob", stdin="pw\n").status == 0
    exists = ctl("users", "add", "bob", stdin="pw\n")
    assert (exists.status, exists.err) == (
        1,
        "driftctl: user 'bob' exists (change its password with 'users passwd')\n",
    )
    empty = ctl("users", "add", "carol", stdin="\n")
    assert (empty.status, empty.err) == (1, "driftctl: the password is empty\n")
    assert ctl("users", "passwd", "nobody", stdin="pw\n").status == 1
    assert ctl("users", "rm", "nobody").err == "driftctl: no user 'nobody'\n"
    assert len(ctl.audit()) == 1  # only the one change that was made


def test_users_prompt_twice_on_a_terminal(ctl: Ctl) -> None:
    def interact(name: str, typed: list[str]) -> tuple[int, str]:
        leader, follower = os.openpty()

        def controlling_terminal() -> None:
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        process = subprocess.Popen(
            [str(DRIFTCTL), "users", "add", name],
            stdin=follower,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=ctl.env,
            cwd=ctl.root,
            preexec_fn=controlling_terminal,  # noqa: PLW1509 - sets the pty up, nothing else
        )
        os.close(follower)
        shown = b""
        try:
            for prompts, answer in enumerate(typed, start=1):
                # getpass flushes what was typed ahead: answer each prompt once it is shown
                while shown.count(b": ") < prompts:
                    shown += os.read(leader, 1024)
                os.write(leader, answer.encode() + b"\n")
            _, err = process.communicate(timeout=60)
        finally:
            process.kill()
            process.wait()
            os.close(leader)
        assert b"tty-pass" not in shown  # no echo
        return process.returncode, err.decode()

    assert interact("tty", ["tty-pass", "tty-pass"]) == (0, "")
    with AdminStore(ctl.database) as store:
        user = store.get_user("tty")
        assert user is not None
        assert verify_password(user.password_hash, "tty-pass")
    assert interact("typo", ["tty-pass", "tty-pasz"]) == (1, "driftctl: the two passwords differ\n")


def test_tokens_create_list_revoke(ctl: Ctl) -> None:
    created = ctl(
        "tokens", "create", "--scope", "repository:ci/app:push", "--name", "ci", "--expires", "30d"
    )
    assert created.status == 0, created.err
    token = created.out.removesuffix("\n")
    assert created.out == token + "\n"  # $(driftctl tokens create ...) is the token
    assert looks_like_robot_token(token)
    assert token not in created.err
    assert "shown only this once" in created.err
    never = ctl("tokens", "create", "--scope", "repository:x:pull", "--expires", "never")
    assert never.status == 0
    other = never.out.strip()

    with AdminStore(ctl.database) as store:
        identity = asyncio.run(RobotVerifier(store).verify(token))
        assert identity.subject == "robot:ci"
        record = store.get_robot_by_name("ci")
        assert record is not None
        assert record.scopes == ("repository:ci/app:pull,push",)
        assert record.expires_at is not None
        assert abs(record.expires_at - time.time() - 30 * 86400) < 120
        assert record.created_by.startswith("driftctl:")

    listed = ctl("tokens", "list")
    assert listed.status == 0
    rows = [line.split() for line in listed.out.splitlines()]
    assert rows[0] == ["ID", "NAME", "STATE", "CREATED", "EXPIRES", "REVOKED", "SCOPES"]
    assert rows[1][:3] == [record.id, "ci", "active"]
    assert rows[1][-1] == "repository:ci/app:pull,push"
    assert rows[2][4] == "never"

    revoked = ctl("tokens", "revoke", "ci")
    assert (revoked.status, revoked.out) == (0, f"revoked robot token ci (id {record.id})\n")
    again = ctl("tokens", "revoke", record.id)
    assert again.status == 0
    assert "already revoked" in again.err
    by_token = ctl("tokens", "revoke", other)  # a leaked token revokes itself, never echoed
    assert by_token.status == 0
    assert other not in by_token.out + by_token.err
    assert ctl("tokens", "revoke", "nothing").status == 1
    listed = ctl("tokens", "list")
    assert [row[2] for row in (line.split() for line in listed.out.splitlines()[1:])] == [
        "revoked",
        "revoked",
    ]
    with AdminStore(ctl.database) as store, pytest.raises(InvalidCredentialsError, match="revoked"):
        asyncio.run(RobotVerifier(store).verify(token))

    trail = ctl.audit()
    assert [line["kind"] for line in trail] == [
        "token.create",
        "token.create",
        "token.revoke",
        "token.revoke",
    ]
    assert "robot token ci" in str(trail[0]["detail"])
    assert "repository:ci/app:pull,push" in str(trail[0]["detail"])
    stored = ctl.private_bytes()
    for secret in (token, other):
        assert secret.encode() not in stored
        assert secret[len("drift_") + 17 :].encode() not in stored  # nor the secret part
        assert secret not in listed.out + listed.err


def test_tokens_usage_errors_are_one_line_exit_2(ctl: Ctl) -> None:
    for args in (
        ["--scope", "bogus"],
        ["--scope", "repository:a:fly"],
        ["--scope", "repository:a:pull", "--expires", "soon"],
        ["--scope", "repository:a:pull", "--expires", "0d"],
        ["--scope", "repository:a:pull", "--name", "a b"],
    ):
        refused = ctl("tokens", "create", *args)
        assert refused.status == 2, args
        assert refused.out == ""
        assert refused.err.startswith("driftctl: --")
        assert refused.err.count("\n") == 1, refused.err
    assert ctl("tokens", "create", "--scope", "repository:a:pull", "--name", "ci").status == 0
    taken = ctl("tokens", "create", "--scope", "repository:a:pull", "--name", "ci")
    assert (taken.status, taken.out) == (1, "")
    assert taken.err == "driftctl: a robot token named 'ci' exists\n"


def test_no_audit_line_when_audit_is_off(tmp_path: Path) -> None:
    ctl = Ctl(tmp_path, {"DRIFT_AUDIT_ENABLED": "false"})
    assert ctl("users", "add", "bob", stdin="pw\n").status == 0
    assert not (tmp_path / ".drift" / "audit.jsonl").exists()


def test_a_database_this_build_cannot_use(tmp_path: Path) -> None:
    ctl = Ctl(tmp_path, {"DRIFT_DATABASE_URL": "postgresql://db.example/drift"})
    refused = ctl("users", "list")
    assert refused.status == 2
    assert refused.out == ""
    assert "not available yet in this build" in refused.err
    assert refused.err.count("\n") == 1


def test_a_change_the_audit_log_cannot_record_is_made_and_warned_about(ctl: Ctl) -> None:
    (ctl.root / ".drift" / "audit.jsonl").mkdir(parents=True)
    added = ctl("users", "add", "bob", stdin="pw\n")
    assert (added.status, added.out) == (0, "user bob added\n")
    assert "warning: the change is made, but the audit log" in added.err
    with AdminStore(ctl.database) as store:
        assert store.get_user("bob") is not None
