"""``DRIFT_WORKERS=2``: one chunked upload whose requests are served by different worker
processes (each connection's owner is looked up in ``/proc``) still commits the right blob."""

from __future__ import annotations

import pytest

from tests.faults.conftest import DriftOnDisk
from tests.support.oci import digest_of, random_bytes
from tests.support.rawhttp import HttpClient, with_query
from tests.support.registry import OCTETS, ClientPool, RegistryApi
from tests.support.servers import RunningRegistry
from tests.support.sockets import connection_owner

pytestmark = pytest.mark.faults

MIB = 1024 * 1024


def clients_on_distinct_workers(
    registry: RunningRegistry, pool: ClientPool, wanted: int
) -> list[tuple[int, HttpClient]]:
    """Open connections until ``wanted`` of them are held by different processes."""
    port = int(registry.host_port.rsplit(":", 1)[1])
    found: dict[int, HttpClient] = {}
    for _ in range(200):
        http = pool.client()
        reply = http.get("/v2/")  # once answered, the connection has surely been accepted
        assert reply.status == 200, str(reply)
        owner = connection_owner(registry.pids(), port, http.local_port)
        assert owner is not None, "no server process holds the connection"
        if owner in found:
            http.close()
            continue
        found[owner] = http
        if len(found) == wanted:
            return list(found.items())
    raise AssertionError(f"200 connections all landed on {sorted(found)} (pids {registry.pids()})")


def test_chunks_on_different_workers(drift_on_disk: DriftOnDisk) -> None:
    registry = drift_on_disk.start(workers=2)
    pool = drift_on_disk.pool(registry)
    assert len(registry.pids()) >= 2, f"DRIFT_WORKERS=2 started {registry.pids()}"
    workers = clients_on_distinct_workers(registry, pool, 2)
    ports = [http.local_port for _, http in workers]

    repo = "workers/chunked"
    data = random_bytes(10 * MIB + 5, "workers")
    digest = digest_of(data)
    _, first = workers[0]
    location = RegistryApi(first).start_upload(repo)
    offset, turn = 0, 1
    chunk = 2 * MIB
    while offset < len(data):
        _, http = workers[turn % 2]
        piece = data[offset : offset + chunk]
        reply = http.patch(
            location,
            body=piece,
            headers={**OCTETS, "Content-Range": f"{offset}-{offset + len(piece) - 1}"},
        )
        assert reply.status == 202, str(reply)
        offset += len(piece)
        assert reply.header("Range") == f"0-{offset - 1}", str(reply)
        location = reply.header("Location") or location
        status = workers[(turn + 1) % 2][1].get(location)
        assert status.status == 204, str(status)
        assert status.header("Range") == f"0-{offset - 1}", str(status)
        turn += 1

    reply = workers[turn % 2][1].put(with_query(location, digest=digest))
    assert reply.status == 201, str(reply)
    assert reply.header("Docker-Content-Digest") == digest, str(reply)
    # Every request above really went out on the connection owned by its worker.
    assert [http.local_port for _, http in workers] == ports, "a connection was reopened"
    for _, http in workers:
        got = http.get(f"/v2/{repo}/blobs/{digest}")
        assert got.status == 200, str(got)
        assert got.body == data
