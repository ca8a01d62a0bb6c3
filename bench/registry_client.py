"""The OCI distribution operations the benchmark drives: blob pushes, manifests, tags."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Final

from bench.blobs import Blob
from bench.rawhttp import Connection, HttpError, Payload, Reply, with_query

__all__ = ["CHUNK_BYTES", "OCI_MANIFEST", "RegistryClient", "SeededImage"]

CHUNK_BYTES: Final = 8 << 20
OCI_MANIFEST: Final = "application/vnd.oci.image.manifest.v1+json"
_OCTETS: Final = {"Content-Type": "application/octet-stream"}


@dataclass(frozen=True, slots=True)
class SeededImage:
    repo: str
    tag: str
    manifest: bytes
    layer: Blob
    tags: tuple[str, ...]


def _expect(reply: Reply, status: int, what: str) -> Reply:
    if reply.status != status:
        raise HttpError(f"{what}: expected {status}, got {reply.status}: {reply.body[:300]!r}")
    return reply


class RegistryClient:
    def __init__(self, host: str, port: int, repo: str) -> None:
        self.conn = Connection(host, port)
        self.repo = repo

    def close(self) -> None:
        self.conn.close()

    def push_monolithic(self, blob: Blob) -> None:
        """POST a session, then PUT `?digest=` with the whole blob as the body."""
        location = self._open_session()
        self._commit(location, blob.digest, blob.range(0, blob.size))

    def push_chunked(self, blob: Blob, chunk: int = CHUNK_BYTES) -> None:
        """POST a session, PATCH `chunk`-byte ranges with `Content-Range`, then PUT `?digest=`."""
        location = self._open_session()
        for start in range(0, blob.size, chunk):
            end = min(start + chunk, blob.size)
            headers = {**_OCTETS, "Content-Range": f"{start}-{end - 1}"}
            reply = self.conn.request("PATCH", location, headers, blob.range(start, end))
            location = self.conn.target_of(_expect(reply, 202, "PATCH").header("Location"))
        self._commit(location, blob.digest, b"")

    def push_bytes(self, data: bytes) -> str:
        digest = f"sha256:{hashlib.sha256(data).hexdigest()}"
        self._commit(self._open_session(), digest, data)
        return digest

    def blob_size(self, digest: str) -> int:
        reply = self.conn.request("HEAD", f"/v2/{self.repo}/blobs/{digest}")
        return int(_expect(reply, 200, "blob HEAD").header("Content-Length"))

    def verify_blob(self, blob: Blob) -> None:
        """Pull the blob once, hashing it (outside any timed section)."""
        status, size, digest = self.conn.digest_of(f"/v2/{self.repo}/blobs/{blob.digest}")
        if (status, size, digest) != (200, blob.size, blob.digest):
            raise HttpError(f"blob GET gave {status}, {size} bytes, {digest}; want {blob.digest}")

    def seed_image(self, layer: Blob, tag_count: int) -> SeededImage:
        """An OCI image whose one layer is `layer`, tagged `latest` and `t0`..`t<tag_count-1>`."""
        config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": [layer.digest]},
            }
        ).encode()
        config_digest = self.push_bytes(config)
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": config_digest,
                    "size": len(config),
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": layer.digest,
                        "size": layer.size,
                    }
                ],
            },
            indent=2,
        ).encode()
        tags = ("latest", *(f"t{i}" for i in range(tag_count)))
        for tag in tags:
            reply = self.conn.request(
                "PUT", f"/v2/{self.repo}/manifests/{tag}", {"Content-Type": OCI_MANIFEST}, manifest
            )
            _expect(reply, 201, f"manifest PUT {tag}")
        self._check_seed(manifest, tags)
        return SeededImage(self.repo, "latest", manifest, layer, tags)

    def _check_seed(self, manifest: bytes, tags: tuple[str, ...]) -> None:
        reply = self.conn.request(
            "GET", f"/v2/{self.repo}/manifests/latest", {"Accept": OCI_MANIFEST}
        )
        if _expect(reply, 200, "manifest GET").body != manifest:
            raise HttpError("manifest GET did not return the pushed bytes")
        reply = self.conn.request("GET", f"/v2/{self.repo}/tags/list")
        listed = json.loads(_expect(reply, 200, "tags/list").body)
        if sorted(listed.get("tags") or []) != sorted(tags):
            raise HttpError(f"tags/list gave {listed!r}")

    def _open_session(self) -> str:
        reply = self.conn.request("POST", f"/v2/{self.repo}/blobs/uploads/")
        return self.conn.target_of(_expect(reply, 202, "upload POST").header("Location"))

    def _commit(self, location: str, digest: str, body: bytes | Payload) -> None:
        headers = {} if isinstance(body, bytes) and not body else _OCTETS
        reply = self.conn.request("PUT", with_query(location, digest=digest), headers, body)
        got = _expect(reply, 201, "upload PUT").header("Docker-Content-Digest")
        if got != digest:
            raise HttpError(f"upload PUT committed {got}, expected {digest}")
