"""Shared fixtures for the scif-zmq test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture
def scif_domain(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> str:
    """A private emulated SCIF machine (node 0 = this process, 2 nodes online)."""
    import os

    domain = f"pytest-{os.getpid()}-{request.node.name}"[:64].replace("/", "_")
    monkeypatch.setenv("SCIF_EMU_DOMAIN", domain)
    monkeypatch.setenv("SCIF_EMU_NODE", "0")
    monkeypatch.setenv("SCIF_EMU_NODES", "2")
    return domain
