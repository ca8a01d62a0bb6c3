"""Choosing the manifest of an image index for the host: machine names to OCI platforms, and
containerd's matching rules (exact variant first, older ARM variants, entries without variant)."""

from __future__ import annotations

from typing import Any

import pytest

from drift.bolt.errors import PullError
from drift.bolt.platforms import Platform, host_platform, select_manifest


@pytest.mark.parametrize(
    ("machine", "expected"),
    [
        ("x86_64", Platform("linux", "amd64")),
        ("AMD64", Platform("linux", "amd64")),
        ("aarch64", Platform("linux", "arm64", "v8")),
        ("arm64", Platform("linux", "arm64", "v8")),
        ("armv7l", Platform("linux", "arm", "v7")),
        ("armv6l", Platform("linux", "arm", "v6")),
        ("i686", Platform("linux", "386")),
        ("ppc64le", Platform("linux", "ppc64le")),
        ("s390x", Platform("linux", "s390x")),
        ("riscv64", Platform("linux", "riscv64")),
        ("mips64el", Platform("linux", "mips64le")),
    ],
)
def test_machine_names_map_to_oci_platforms(machine: str, expected: Platform) -> None:
    assert host_platform(machine) == expected


def test_this_host_is_a_linux_platform() -> None:
    assert host_platform().os == "linux"
    assert host_platform().architecture


def entry(name: str, architecture: str, variant: str | None = None, os: str = "linux") -> Any:
    platform = {"os": os, "architecture": architecture}
    if variant is not None:
        platform["variant"] = variant
    return {"mediaType": "m", "digest": name, "size": 1, "platform": platform}


def chosen(host: Platform, *entries: Any) -> str:
    return str(select_manifest(list(entries), host)["digest"])


AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64", "v8")
ARMV7 = Platform("linux", "arm", "v7")


def test_the_host_architecture_wins_whatever_the_order() -> None:
    entries = [entry("arm64", "arm64", "v8"), entry("s390x", "s390x"), entry("amd64", "amd64")]
    assert chosen(AMD64, *entries) == "amd64"
    assert chosen(ARM64, *entries) == "arm64"


def test_other_operating_systems_and_attestations_never_match() -> None:
    windows = entry("windows", "amd64", os="windows")
    attestation = entry("attestation", "unknown", os="unknown")
    assert chosen(AMD64, windows, attestation, entry("linux", "amd64")) == "linux"


def test_default_variants_are_equivalent_to_none() -> None:
    assert chosen(ARM64, entry("plain", "arm64")) == "plain"
    assert chosen(Platform("linux", "arm64"), entry("v8", "arm64", "v8")) == "v8"
    assert chosen(AMD64, entry("v1", "amd64", "v1")) == "v1"


def test_an_amd64_host_without_a_level_skips_higher_levels() -> None:
    entries = [entry("v3", "amd64", "v3"), entry("base", "amd64")]
    assert chosen(AMD64, *entries) == "base"


def test_arm_prefers_its_own_variant_then_the_newest_older_one() -> None:
    v5, v6, v7 = entry("v5", "arm", "v5"), entry("v6", "arm", "v6"), entry("v7", "arm", "v7")
    assert chosen(ARMV7, v5, v6, v7) == "v7"
    assert chosen(ARMV7, v5, v6) == "v6"
    assert chosen(Platform("linux", "arm", "v6"), v7, v5) == "v5"


def test_an_entry_without_variant_comes_after_matching_variants() -> None:
    assert chosen(ARMV7, entry("any", "arm"), entry("v6", "arm", "v6")) == "v6"
    assert chosen(ARMV7, entry("any", "arm"), entry("v8", "arm", "v8")) == "any"


def test_the_first_of_equal_entries_is_chosen() -> None:
    assert chosen(AMD64, entry("first", "amd64"), entry("second", "amd64")) == "first"


def test_no_match_names_the_host_and_what_the_index_has() -> None:
    with pytest.raises(PullError) as raised:
        chosen(AMD64, entry("a", "arm64", "v8"), entry("b", "s390x"), {"digest": "no platform"})
    message = str(raised.value)
    assert "no manifest for this platform (linux/amd64)" in message
    assert "linux/arm64/v8, linux/s390x" in message
