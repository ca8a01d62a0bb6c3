"""Registry API operations and assertions shared by the API, bad-input and fault tests.

Set-up helpers (``push_blob``, ``push_image``...) use the most widely supported form of each
operation (POST then PUT for blobs) and assert success, so that a failure in set-up is reported
as such; the tests of an operation itself build their requests by hand.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from tests.support.oci import (
    OCI_CONFIG,
    OCI_LAYER,
    OCI_MANIFEST,
    descriptor,
    digest_of,
    image_manifest,
    random_bytes,
)
from tests.support.rawhttp import HttpClient, Reply, with_query

__all__ = [
    "ERROR_CODE",
    "OCTETS",
    "ClientFactory",
    "ClientPool",
    "PushedImage",
    "RegistryApi",
    "assert_error",
    "next_link",
    "unique_repo",
    "upload_offset_from",
]

ClientFactory = Callable[[], HttpClient]
OCTETS: Final = {"Content-Type": "application/octet-stream"}
ERROR_CODE: Final = re.compile(r"[A-Z_]+")
_LINK_NEXT: Final = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?')
_UPLOAD_RANGE: Final = re.compile(r"0-([0-9]+)")


class ClientPool:
    """Opens connections to one server and remembers every 5xx reply any of them received."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.server_errors: list[Reply] = []
        self._clients: list[HttpClient] = []

    def client(self) -> HttpClient:
        http = HttpClient(self.base_url, on_reply=self._record)
        self._clients.append(http)
        return http

    def _record(self, reply: Reply) -> None:
        if reply.status >= 500:
            self.server_errors.append(reply)

    def close(self) -> None:
        for http in self._clients:
            http.close()
        self._clients.clear()

    def assert_no_server_errors(self) -> None:
        assert not self.server_errors, "server errors:\n" + "\n".join(map(str, self.server_errors))


def unique_repo(prefix: str = "t") -> str:
    return f"{prefix}/{uuid.uuid4().hex[:12]}"


def assert_error(reply: Reply, status: int, *codes: str) -> None:
    """``reply`` is the spec's error envelope with ``status`` and only codes among ``codes``."""
    assert reply.status == status, f"expected {status}, got:\n{reply}"
    if reply.method == "HEAD":
        assert reply.body == b"", f"HEAD response with a body:\n{reply}"
        return
    content_type = reply.header("Content-Type") or ""
    assert content_type.split(";")[0].strip() == "application/json", str(reply)
    document = reply.json()
    errors = document.get("errors") if isinstance(document, dict) else None
    assert isinstance(errors, list), f"no error envelope:\n{reply}"
    assert errors, f"empty error envelope:\n{reply}"
    for error in errors:
        assert isinstance(error, dict), str(reply)
        assert isinstance(error.get("code"), str), str(reply)
        assert ERROR_CODE.fullmatch(error["code"]), str(reply)
        assert isinstance(error.get("message"), str), str(reply)
    if codes:
        assert set(reply.error_codes) <= set(codes), f"expected codes {codes}:\n{reply}"


def next_link(reply: Reply) -> str | None:
    """Target of an RFC 5988 ``Link: <...>; rel="next"`` header, if any."""
    values = reply.header_all("Link")
    for value in values:
        match = _LINK_NEXT.search(value)
        if match:
            return match.group(1)
    assert not values, f"Link header without rel=next:\n{reply}"
    return None


def upload_offset_from(reply: Reply) -> int:
    """Bytes held by an upload session according to ``Range: 0-<end>``.

    distribution reports an empty session as ``0-0`` too; callers that need to tell 0 from 1
    byte must not rely on this.
    """
    value = reply.header("Range")
    assert value is not None, f"no Range header:\n{reply}"
    match = _UPLOAD_RANGE.fullmatch(value.strip())
    assert match, f"malformed upload Range {value!r}:\n{reply}"
    end = int(match.group(1))
    return 0 if end == 0 else end + 1


@dataclass(frozen=True)
class PushedImage:
    repo: str
    reference: str
    media_type: str
    manifest: bytes
    digest: str
    blobs: dict[str, bytes] = field(default_factory=dict)


class RegistryApi:
    """The registry endpoints over one ``HttpClient``."""

    def __init__(self, client: HttpClient) -> None:
        self.http = client

    @staticmethod
    def blob_path(repo: str, digest: str) -> str:
        return f"/v2/{repo}/blobs/{digest}"

    @staticmethod
    def manifest_path(repo: str, reference: str) -> str:
        return f"/v2/{repo}/manifests/{reference}"

    @staticmethod
    def uploads_path(repo: str) -> str:
        return f"/v2/{repo}/blobs/uploads/"

    def start_upload(self, repo: str) -> str:
        reply = self.http.post(self.uploads_path(repo))
        assert reply.status == 202, str(reply)
        location = reply.header("Location")
        assert location, str(reply)
        return location

    def push_blob(self, repo: str, data: bytes, algorithm: str = "sha256") -> str:
        digest = digest_of(data, algorithm)
        location = self.start_upload(repo)
        reply = self.http.put(with_query(location, digest=digest), body=data, headers=OCTETS)
        assert reply.status == 201, str(reply)
        return digest

    def put_manifest(self, repo: str, reference: str, body: bytes, media_type: str) -> Reply:
        return self.http.put(
            self.manifest_path(repo, reference), body=body, headers={"Content-Type": media_type}
        )

    def push_manifest(self, repo: str, reference: str, body: bytes, media_type: str) -> Reply:
        reply = self.put_manifest(repo, reference, body, media_type)
        assert reply.status == 201, str(reply)
        return reply

    def push_image(
        self,
        repo: str,
        reference: str,
        *,
        algorithm: str = "sha256",
        layers: int = 2,
        layer_size: int = 4096,
        seed: str | None = None,
    ) -> PushedImage:
        """An OCI image with a config and ``layers`` random layers, tagged ``reference``."""
        seed = seed or f"{repo}:{reference}"
        config = b'{"architecture":"amd64","os":"linux","seed":"%s"}' % seed.encode()
        blobs = {digest_of(config, algorithm): config}
        layer_descriptors = []
        for index in range(layers):
            data = random_bytes(layer_size, f"{seed}/{index}")
            blobs[digest_of(data, algorithm)] = data
            layer_descriptors.append(descriptor(OCI_LAYER, data, algorithm=algorithm))
        for data in blobs.values():
            self.push_blob(repo, data, algorithm)
        manifest = image_manifest(
            descriptor(OCI_CONFIG, config, algorithm=algorithm), layer_descriptors
        )
        self.push_manifest(repo, reference, manifest, OCI_MANIFEST)
        return PushedImage(
            repo=repo,
            reference=reference,
            media_type=OCI_MANIFEST,
            manifest=manifest,
            digest=digest_of(manifest),
            blobs=blobs,
        )

    def assert_pullable(self, image: PushedImage) -> None:
        """Manifest by reference and digest, and every blob, come back byte for byte."""
        for reference in (image.reference, image.digest):
            reply = self.http.get(
                self.manifest_path(image.repo, reference), headers={"Accept": image.media_type}
            )
            assert reply.status == 200, str(reply)
            assert reply.body == image.manifest, str(reply)
        for digest, data in image.blobs.items():
            reply = self.http.get(self.blob_path(image.repo, digest))
            assert reply.status == 200, str(reply)
            assert reply.body == data, f"blob {digest} differs"

    def upload_status(self, location: str) -> Reply:
        return self.http.get(location)
