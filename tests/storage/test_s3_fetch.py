"""Blob bytes read through the S3 driver's own GET client (``fetch``) against a real S3 server
(SeaweedFS), through a relay that counts connections and can cut them: connections are kept
alive and reused, one closed while idle is replaced, a body cut midway is resumed, and an S3
error answer is reported with its code as botocore would."""

from __future__ import annotations

from contextlib import aclosing
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from drift.storage.driver import PathNotFoundError, StorageError
from drift.storage.s3 import S3Driver
from tests.support.nginx import start_nginx
from tests.support.s3nodes import (
    MIB,
    Node,
    payload,
    read_all,
)
from tests.support.seaweedfs import SeaweedFS
from tests.support.servers import free_port
from tests.support.tls import make_pki
from tests.support.wiretap import Wiretap

BLOB = "/docker/registry/v2/blobs/sha256/fe/fetch/data"


def _gets(link: Wiretap) -> int:
    return sum(request.method == "GET" for request in link.requests())


async def test_reads_reuse_one_connection(seaweedfs: SeaweedFS, nodes: Node) -> None:
    data = payload(3 * MIB)
    await nodes().put_content(BLOB, data)
    with Wiretap(seaweedfs.ports["s3"]) as link:
        reader = nodes(endpoint=f"http://{link.host_port}")
        for _ in range(3):
            assert await read_all(reader, BLOB) == data
        assert await read_all(reader, BLOB, 1000, 2000) == data[1000:3000]
        assert (_gets(link), link.accepted) == (4, 1)


async def test_a_connection_closed_while_idle_is_replaced(
    seaweedfs: SeaweedFS, nodes: Node
) -> None:
    data = payload(MIB)
    await nodes().put_content(BLOB, data)
    with Wiretap(seaweedfs.ports["s3"]) as link:
        reader = nodes(endpoint=f"http://{link.host_port}")
        assert await read_all(reader, BLOB) == data
        link.cut()  # S3 dropped the idle keep-alive connection
        assert await read_all(reader, BLOB) == data
        assert link.accepted == 2


async def test_a_body_cut_midway_is_resumed_where_it_stopped(
    seaweedfs: SeaweedFS, nodes: Node
) -> None:
    data = payload(24 * MIB)
    await nodes().put_content(BLOB, data)
    with Wiretap(seaweedfs.ports["s3"]) as link:
        reader = nodes(endpoint=f"http://{link.host_port}")
        received = bytearray()
        async with aclosing(reader.read_stream(BLOB, chunk_size=MIB)) as chunks:
            async for chunk in chunks:
                if not received:
                    link.cut()
                received += chunk
        assert received == data
        assert _gets(link) == 2  # the first GET, then one from where it stopped


async def test_reads_over_https_verify_the_certificate(
    seaweedfs: SeaweedFS, nodes: Node, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 behind TLS (nginx): the CA of ``AWS_CA_BUNDLE`` is trusted, as botocore trusts it,
    and without it the certificate is refused."""
    data = payload(3 * MIB)
    await nodes().put_content(BLOB, data)
    pki = make_pki(tmp_path / "pki")
    with start_nginx(tmp_path / "nginx", free_port(), seaweedfs.ports["s3"], pki) as nginx:
        endpoint = f"https://127.0.0.1:{nginx.port}"
        monkeypatch.setenv("AWS_CA_BUNDLE", str(pki.ca_cert))
        assert await read_all(nodes(endpoint=endpoint), BLOB) == data
        monkeypatch.delenv("AWS_CA_BUNDLE")
        with pytest.raises(StorageError, match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
            await read_all(nodes(endpoint=endpoint), BLOB)


async def test_a_missing_object_is_not_found(nodes: Node) -> None:
    with pytest.raises(PathNotFoundError):
        await read_all(nodes(), BLOB)


async def test_an_error_answer_keeps_its_s3_code(seaweedfs: SeaweedFS, nodes: Node) -> None:
    await nodes().put_content(BLOB, b"blob")
    prefix = nodes().test_prefix  # type: ignore[attr-defined]
    wrong = S3Driver(seaweedfs.settings(prefix, secret_key="not-the-secret"))
    try:
        with pytest.raises(StorageError) as refused:
            await read_all(wrong, BLOB)
    finally:
        await wrong.close()
    cause = refused.value.__cause__
    assert isinstance(cause, ClientError)
    assert cause.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert cause.response["Error"]["Code"] in str(refused.value)
    assert cause.response["Error"]["Code"] in {"SignatureDoesNotMatch", "AccessDenied"}


async def test_reads_go_to_the_endpoint_drift_reaches_not_the_public_one(
    seaweedfs: SeaweedFS, nodes: Node
) -> None:
    data = payload(MIB)
    await nodes().put_content(BLOB, data)
    prefix = nodes().test_prefix  # type: ignore[attr-defined]
    public = "http://127.0.0.1:9"  # what clients would be sent to; Drift cannot reach it
    driver = S3Driver(seaweedfs.settings(prefix, redirect=True, public_endpoint=public))
    try:
        url = await driver.redirect_url(BLOB)
        assert url is not None
        assert url.startswith(public)
        assert await read_all(driver, BLOB) == data
    finally:
        await driver.close()
