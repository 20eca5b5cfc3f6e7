"""Shared fixtures for the scif-zmq test suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture
def scif_domain(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[str]:
    """A private emulated SCIF machine (node 0 = this process, 2 nodes online)."""
    import os
    import shutil

    domain = f"pytest-{os.getpid()}-{request.node.name}"[:64].replace("/", "_")
    monkeypatch.setenv("SCIF_EMU_DOMAIN", domain)
    monkeypatch.setenv("SCIF_EMU_NODE", "0")
    monkeypatch.setenv("SCIF_EMU_NODES", "2")
    yield domain
    # libscif keeps a domain's sockets and locks in this private directory.
    shutil.rmtree(f"/tmp/scif-emu-{os.geteuid()}/{domain}", ignore_errors=True)
