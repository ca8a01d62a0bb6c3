"""skopeo and podman against Drift with auth on, over HTTPS that they verify against a test CA.

Each test runs against Drift in ``basic`` mode and in ``token`` mode (where the clients follow
the Bearer challenge to ``/auth/token`` themselves). Credentials live in a private auth file
(``--authfile`` in the test's temp directory) or on the command line, never in the machine's own
credential stores; podman keeps its storage (vfs) under the temp directory as well.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

from tests.support.auth import auth_env, driftctl
from tests.support.checks import assert_copy_identical
from tests.support.images import Image, build_image
from tests.support.layouts import read_oci_layout, write_oci_layout
from tests.support.servers import RunningRegistry, start_drift
from tests.support.skopeo import Skopeo, SkopeoError
from tests.support.tls import LoopbackPki, make_pki

pytestmark = pytest.mark.clients

PASSWORDS: Final = {"alice": "alice-Cli-3f9a", "bob": "bob-Cli-c4d1"}
POLICIES: Final[list[dict[str, object]]] = [
    {"subjects": ["user:bob"], "repositories": ["ghost/*"], "actions": ["push"]}
]
LAYERS: Final = (8 * 1024, 32 * 1024, 64 * 1024)
PODMAN_TIMEOUT: Final = 120
REFUSED: Final = ("denied", "unauthorized", "forbidden", "authentication required")


@dataclass
class Site:
    mode: str
    server: RunningRegistry
    pki: LoopbackPki
    secret: Image  # alice's image in secret/vault, out of bob's reach

    @property
    def host(self) -> str:
        return self.server.host_port


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LoopbackPki:
    return make_pki(tmp_path_factory.mktemp("auth-pki"))


@pytest.fixture(scope="module", params=["basic", "token"])
def site(
    request: pytest.FixtureRequest,
    pki: LoopbackPki,
    skopeo: Skopeo,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Site]:
    mode: str = request.param
    env = auth_env(
        mode,
        PASSWORDS,
        admins="user:alice",
        policies=POLICIES,
        DRIFT_AUTH_ANONYMOUS_PULL="public/*",
        DRIFT_AUTH_LOGIN_FAILURES="1000",
    )
    work = tmp_path_factory.mktemp(f"auth-clients-{mode}")
    with start_drift(work / "data", env=env, tls=pki) as server:
        secret = build_image(random.Random(mode), layer_sizes=(4096,))
        write_oci_layout(work / "secret", {"v1": secret.manifest}, secret.blobs)
        site = Site(mode, server, pki, secret)
        for repo in ("secret/vault", "public/hello"):
            push(skopeo, site, work / "secret", repo, "--dest-creds", f"alice:{PASSWORDS['alice']}")
        yield site
        assert server.process.poll() is None, f"server died:\n{server.log_tail()}"


def copy(skopeo: Skopeo, site: Site, source: str, destination: str, *credentials: str) -> None:
    """``skopeo copy`` keeping digests, trusting the test CA on the side that is the registry."""
    side = "dest" if destination.startswith("docker://") else "src"
    ca = (f"--{side}-cert-dir", str(site.pki.ca_dir))
    skopeo.run("copy", "--preserve-digests", *ca, *credentials, source, destination)


def push(skopeo: Skopeo, site: Site, layout: Path, repo: str, *credentials: str) -> None:
    copy(skopeo, site, f"oci:{layout}:v1", f"docker://{site.host}/{repo}:v1", *credentials)


def inspect_raw(skopeo: Skopeo, site: Site, repo: str, *credentials: str) -> bytes:
    command = ("inspect", "--raw", "--cert-dir", str(site.pki.ca_dir), *credentials)
    return skopeo.run(*command, f"docker://{site.host}/{repo}:v1").stdout


def assert_refused(error: AssertionError) -> None:
    """A client's failure says it was refused access (not, say, a TLS or network error)."""
    text = str(error)
    assert any(word in text.lower() for word in REFUSED), text


def local_image(rng: random.Random, path: Path) -> Image:
    image = build_image(rng, layer_sizes=LAYERS)
    write_oci_layout(path, {"v1": image.manifest}, image.blobs)
    return image


def test_skopeo_login_then_push_and_pull(
    site: Site, skopeo: Skopeo, rng: random.Random, tmp_path: Path
) -> None:
    image = local_image(rng, tmp_path / "src")
    authfile = str(tmp_path / "auth.json")
    skopeo.run(
        "login",
        "--authfile",
        authfile,
        "--cert-dir",
        str(site.pki.ca_dir),
        "--username",
        "bob",
        "--password",
        PASSWORDS["bob"],
        site.host,
    )
    assert site.host in json.loads(Path(authfile).read_text())["auths"]

    push(skopeo, site, tmp_path / "src", "ghost/app", "--dest-authfile", authfile)
    assert inspect_raw(skopeo, site, "ghost/app", "--authfile", authfile) == image.manifest.data
    pulled = tmp_path / "out"
    copy(
        skopeo,
        site,
        f"docker://{site.host}/ghost/app:v1",
        f"oci:{pulled}:v1",
        "--src-authfile",
        authfile,
    )
    assert_copy_identical(
        read_oci_layout(pulled), "v1", image.manifest, (image.config, *image.layers)
    )

    with pytest.raises(SkopeoError) as refused:
        inspect_raw(skopeo, site, "secret/vault", "--authfile", authfile)
    assert_refused(refused.value)
    skopeo.run("logout", "--authfile", authfile, site.host)
    with pytest.raises(SkopeoError) as anonymous:
        inspect_raw(skopeo, site, "ghost/app", "--authfile", authfile)
    assert_refused(anonymous.value)


def test_skopeo_wrong_password_and_no_permission(site: Site, skopeo: Skopeo) -> None:
    bob = ("--creds", f"bob:{PASSWORDS['bob']}")
    with pytest.raises(SkopeoError) as denied:
        inspect_raw(skopeo, site, "secret/vault", *bob)
    assert_refused(denied.value)
    with pytest.raises(SkopeoError) as wrong:
        inspect_raw(skopeo, site, "public/hello", "--creds", "bob:not-his-password")
    assert_refused(wrong.value)
    assert inspect_raw(skopeo, site, "secret/vault", "--creds", f"alice:{PASSWORDS['alice']}") == (
        site.secret.manifest.data
    )


def test_skopeo_anonymous_pull_of_a_public_repository(site: Site, skopeo: Skopeo) -> None:
    assert inspect_raw(skopeo, site, "public/hello", "--no-creds") == site.secret.manifest.data
    with pytest.raises(SkopeoError) as refused:
        inspect_raw(skopeo, site, "secret/vault", "--no-creds")
    assert_refused(refused.value)


def test_skopeo_with_a_robot_token_as_password(
    site: Site, skopeo: Skopeo, rng: random.Random, tmp_path: Path
) -> None:
    robot = driftctl(
        site.server.root, "tokens", "create", "--scope", "repository:ghost/robot:push"
    ).strip()
    credentials = ("--dest-creds", f"ci:{robot}")
    image = local_image(rng, tmp_path / "src")
    push(skopeo, site, tmp_path / "src", "ghost/robot", *credentials)
    assert inspect_raw(skopeo, site, "ghost/robot", "--creds", f"ci:{robot}") == image.manifest.data
    with pytest.raises(SkopeoError) as elsewhere:
        push(skopeo, site, tmp_path / "src", "ghost/elsewhere", *credentials)
    assert_refused(elsewhere.value)
    with pytest.raises(SkopeoError) as reading:
        inspect_raw(skopeo, site, "secret/vault", "--creds", f"ci:{robot}")
    assert_refused(reading.value)


class PodmanError(AssertionError):
    pass


@dataclass(frozen=True)
class Podman:
    """podman with its storage, run directory and registry configuration in temp directories
    (``runroot`` apart: podman refuses one longer than 50 characters)."""

    binary: str
    base: Path
    runroot: Path

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        (self.base / "tmp").mkdir(parents=True, exist_ok=True)
        (self.base / "registries.conf").write_text("")
        env = {
            **os.environ,
            "TMPDIR": str(self.base / "tmp"),
            "CONTAINERS_REGISTRIES_CONF": str(self.base / "registries.conf"),
            "REGISTRY_AUTH_FILE": str(self.base / "auth.json"),
        }
        storage = (
            "--root",
            str(self.base / "root"),
            "--runroot",
            str(self.runroot),
            "--storage-driver",
            "vfs",
            "--events-backend",
            "none",
        )
        command = [self.binary, *storage, *args]
        result = subprocess.run(
            command,
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=PODMAN_TIMEOUT,
            check=False,
        )
        if result.returncode != 0:
            raise PodmanError(
                f"{' '.join(command)} exited with {result.returncode}:\n{result.stderr}"
            )
        return result


@pytest.fixture
def podman(tmp_path: Path) -> Iterator[Podman]:
    binary = shutil.which("podman")
    if binary is None:
        pytest.skip("podman is not installed (scripts/install-test-deps installs it)")
    runroot = Path(tempfile.mkdtemp(prefix="drift-podman-"))
    try:
        yield Podman(binary, tmp_path / "podman", runroot)
    finally:
        shutil.rmtree(runroot, ignore_errors=True)


def test_podman_login_push_and_pull(
    site: Site, podman: Podman, rng: random.Random, tmp_path: Path
) -> None:
    local_image(rng, tmp_path / "src")
    tls = ("--tls-verify=true", "--cert-dir", str(site.pki.ca_dir))
    podman.run(
        "login", *tls, "--username", "bob", "--password-stdin", site.host,
        stdin=PASSWORDS["bob"] + "\n",
    )  # fmt: skip
    image_id = podman.run("pull", "-q", f"oci:{tmp_path / 'src'}:v1").stdout.strip()
    remote = f"{site.host}/ghost/podman:v1"
    digest_file = tmp_path / "digest"
    podman.run("push", *tls, "--digestfile", str(digest_file), image_id, f"docker://{remote}")
    podman.run("rmi", "--all", "--force")

    podman.run("pull", "-q", *tls, remote)
    listed = podman.run("images", "--digests", "--format", "{{.Digest}} {{.ID}}").stdout.split()
    assert listed[0] == digest_file.read_text().strip()
    assert image_id.startswith(listed[1])

    with pytest.raises(PodmanError) as denied:
        podman.run("pull", "-q", *tls, f"{site.host}/secret/vault:v1")
    assert_refused(denied.value)
    podman.run("logout", site.host)
    with pytest.raises(PodmanError) as anonymous:
        podman.run("pull", "-q", *tls, remote)
    assert_refused(anonymous.value)
