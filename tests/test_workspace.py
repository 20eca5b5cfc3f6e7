"""The ci/ tooling: offline source fetch and the patch-series edit cycle."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TARBALL = "zeromq3_4.3.4.orig.tar.gz"


def run(
    cmd: list[str], env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, env={**os.environ, **env}, cwd=cwd, capture_output=True, text=True)


@pytest.fixture(scope="module")
def verified_tarball() -> Path:
    """The tarball the main build fetched (ci/test runs the build first)."""
    tarball = ROOT / "build" / "dl" / TARBALL
    if not tarball.is_file():
        result = run([str(ROOT / "ci" / "fetch-libzmq")], {"SCIF_ZMQ_NO_SUBMODULE": "1"})
        assert result.returncode == 0, result.stderr
    assert tarball.is_file()
    return tarball


@pytest.fixture
def build_dir(tmp_path: Path, verified_tarball: Path) -> Path:
    """A private build directory holding only a copy of the downloaded tarball."""
    (tmp_path / "dl").mkdir()
    shutil.copy(verified_tarball, tmp_path / "dl" / TARBALL)
    return tmp_path


def env_for(build_dir: Path, patches: Path | None = None) -> dict[str, str]:
    env = {"SCIF_ZMQ_BUILD_DIR": str(build_dir), "SCIF_ZMQ_NO_SUBMODULE": "1"}
    if patches is not None:
        env["SCIF_ZMQ_PATCHES_DIR"] = str(patches)
    return env


def unnumbered(patch: bytes) -> bytes:
    """A patch without its position in the series."""
    return re.sub(rb"^Subject: \[PATCH \d+/\d+\]", b"Subject: [PATCH]", patch, flags=re.M)


def git(checkout: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def test_fetch_unpacks_verified_source_and_reuses_it(build_dir: Path) -> None:
    first = run([str(ROOT / "ci" / "fetch-libzmq")], env_for(build_dir))
    assert first.returncode == 0, first.stderr
    source = Path(first.stdout.strip())
    assert source == build_dir / "libzmq-4.3.4"
    assert (source / "src" / "zmtp_engine.cpp").is_file()
    assert "SHA-256 verified" in first.stderr

    second = run([str(ROOT / "ci" / "fetch-libzmq")], env_for(build_dir))
    assert second.returncode == 0
    assert "reusing verified source" in second.stderr


def test_fetch_refuses_a_corrupted_tarball(build_dir: Path) -> None:
    tarball = build_dir / "dl" / TARBALL
    data = bytearray(tarball.read_bytes())
    data[len(data) // 2] ^= 0x01
    tarball.write_bytes(bytes(data))

    result = run([str(ROOT / "ci" / "fetch-libzmq")], env_for(build_dir))

    assert result.returncode != 0
    assert "SHA-256 mismatch" in result.stderr
    assert f"rm '{tarball}'" in result.stderr
    # Nothing unpacked, not even partly.
    assert sorted(p.name for p in build_dir.iterdir()) == ["dl"]


def test_series_round_trip(build_dir: Path, tmp_path: Path) -> None:
    patches = tmp_path / "patches"
    shutil.copytree(ROOT / "patches" / "scif", patches)
    env = env_for(build_dir, patches)
    checkout = build_dir / "libzmq-scif"

    applied = run([str(ROOT / "ci" / "series"), "apply"], env)
    assert applied.returncode == 0, applied.stderr
    count = len(list(patches.glob("*.patch")))
    log = git(checkout, "log", "--format=%s", "v4.3.4-base-fixes..HEAD").splitlines()
    assert len(log) == count
    # The build fixes for v4.3.4 lie under the series, outside it.
    fixes = git(checkout, "log", "--format=%s", "v4.3.4..v4.3.4-base-fixes").splitlines()
    assert len(fixes) == len(list((ROOT / "patches" / "v4.3.4").glob("*.patch"))) > 0

    # Editing as commits and exporting reproduces a series that differs only by
    # the new patch (and the "[PATCH n/m]" counts, which now say m + 1).
    before = {p.name: unnumbered(p.read_bytes()) for p in patches.glob("*.patch")}
    (checkout / "NOTES").write_text("note\n")
    git(checkout, "add", "NOTES")
    git(checkout, "commit", "-q", "-m", "Problem: no notes\n\nSolution: add them")

    drift = run([str(ROOT / "ci" / "series"), "drift"], env)
    assert drift.returncode != 0 and "differ" in drift.stderr
    refused = run([str(ROOT / "ci" / "series"), "apply"], env)
    assert refused.returncode != 0 and "export" in refused.stderr
    assert (checkout / "NOTES").is_file()

    exported = run([str(ROOT / "ci" / "series"), "export"], env)
    assert exported.returncode == 0, exported.stderr
    after = {p.name: unnumbered(p.read_bytes()) for p in patches.glob("*.patch")}
    new = set(after) - set(before)
    assert len(new) == 1 and next(iter(new)).endswith("Problem-no-notes.patch")
    assert {k: after[k] for k in before} == before

    again = run([str(ROOT / "ci" / "series"), "apply"], env)
    assert again.returncode == 0 and "reusing" in again.stderr


def test_apply_refuses_uncommitted_changes(build_dir: Path, tmp_path: Path) -> None:
    patches = tmp_path / "patches"
    shutil.copytree(ROOT / "patches" / "scif", patches)
    env = env_for(build_dir, patches)
    assert run([str(ROOT / "ci" / "series"), "apply"], env).returncode == 0
    readme = build_dir / "libzmq-scif" / "README.md"
    readme.write_text("edited\n")

    refused = run([str(ROOT / "ci" / "series"), "apply"], env)

    assert refused.returncode != 0 and "uncommitted" in refused.stderr
    assert readme.read_text() == "edited\n"


def test_check_names_the_patch_that_does_not_apply(build_dir: Path, tmp_path: Path) -> None:
    patches = tmp_path / "patches"
    patches.mkdir()
    (patches / "0001-Problem-broken.patch").write_text(
        "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n"
        "From: t <t@t>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n"
        "Subject: [PATCH] Problem: broken\n\n---\n"
        "diff --git a/README.md b/README.md\n--- a/README.md\n+++ b/README.md\n"
        "@@ -1,1 +1,1 @@\n-no such line in the readme\n+replacement\n"
    )
    result = run([str(ROOT / "ci" / "series"), "check"], env_for(build_dir, patches))
    assert result.returncode != 0
    assert "FAIL 1/1 0001-Problem-broken.patch does not apply" in result.stderr
