"""The layering of DESIGN.md: core, services and storage never import a transport."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "drift"
TRANSPORT_MODULES = ("aiohttp", "aioquic", "drift.transports", "drift.quic", "drift.server")
NEUTRAL_PACKAGES = ("oci", "core", "registry", "api", "storage")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("package", NEUTRAL_PACKAGES)
def test_transport_neutral_packages_import_no_transport(package: str) -> None:
    offenders = {
        f"{path.relative_to(SRC)}: {name}"
        for path in (SRC / package).rglob("*.py")
        for name in _imports(path)
        if name.startswith(TRANSPORT_MODULES)
    }
    assert not offenders


def test_storage_does_not_import_services() -> None:
    offenders = {
        f"{path.relative_to(SRC)}: {name}"
        for path in (SRC / "storage").rglob("*.py")
        for name in _imports(path)
        if name.startswith(("drift.registry", "drift.api", "drift.core"))
    }
    assert not offenders
