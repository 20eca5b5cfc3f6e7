"""One compiled backend per supported pyzmq, and the one of the installed pyzmq in use."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import subprocess
import sys

import pytest
import zmq
import zmq.backend
from packaging.requirements import Requirement

import scif_zmq
import scif_zmq.backend

SUPPORTED = ["26.4.0", "27.3.0"]
# Every pyzmq 26 and 27 release on PyPI (checked on 2026-12-07).
RELEASES = [
    *("26.0.0", "26.0.1", "26.0.2", "26.0.3", "26.1.0", "26.1.1", "26.2.0", "26.2.1"),
    *("26.3.0", "26.4.0", "27.0.0", "27.0.1", "27.0.2", "27.1.0", "27.2.0", "27.3.0"),
]


def test_the_wheel_has_a_backend_for_each_supported_pyzmq() -> None:
    assert scif_zmq.backend.supported_versions() == SUPPORTED


def test_the_requirement_admits_exactly_the_pyzmq_releases_with_a_backend() -> None:
    (pyzmq,) = (
        requirement
        for line in importlib.metadata.requires("scif-zmq") or []
        if (requirement := Requirement(line)).name == "pyzmq"
    )
    assert [v for v in RELEASES if pyzmq.specifier.contains(v)] == SUPPORTED


def test_the_backend_of_the_installed_pyzmq_is_in_use() -> None:
    assert scif_zmq.backend_in_use() == scif_zmq.BACKEND
    compiled = "pyzmq_" + zmq.pyzmq_version().replace(".", "_")
    assert zmq.backend.Context.__module__ == f"scif_zmq.backend.{compiled}._zmq"
    assert zmq.has("scif")


def test_another_pyzmq_is_an_import_error_naming_the_supported_ones() -> None:
    # pyzmq 27.0.0 as the installed version: its backend is not in the wheel.
    code = """
import importlib.metadata as metadata
real = metadata.version
metadata.version = lambda name: "27.0.0" if name == "pyzmq" else real(name)
import zmq
"""
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYZMQ_BACKEND": scif_zmq.BACKEND},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert (
        "ImportError: scif_zmq.backend: pyzmq 27.0.0 is installed, but this scif-zmq has a "
        "backend for pyzmq 26.4.0 and 27.3.0 only" in result.stderr
    ), result.stderr


def test_the_draft_api_is_what_the_installed_pyzmq_says_it_is() -> None:
    # pyzmq 26 derives zmq.DRAFT_API from libzmq alone, which has it: its
    # backend is compiled with the draft API, so that it works. pyzmq 27
    # also asks how its backend was compiled (without), as its stock wheel.
    with zmq.Context() as ctx, ctx.socket(zmq.RADIO) as radio, ctx.socket(zmq.DISH) as dish:
        if zmq.pyzmq_version_info() >= (27,):
            assert not zmq.DRAFT_API
            with pytest.raises(RuntimeError, match="draft support"):
                dish.join("group")
            return
        assert zmq.DRAFT_API
        dish.rcvtimeo = 100
        port = dish.bind_to_random_port("tcp://127.0.0.1")
        dish.join("group")
        radio.connect(f"tcp://127.0.0.1:{port}")
        # RADIO drops messages until the connection and the join are through.
        for _ in range(50):
            radio.send(b"news", group="group")
            with contextlib.suppress(zmq.Again):
                frame = dish.recv(copy=False)
                break
        else:
            pytest.fail("DISH received nothing from RADIO in 50 tries")
        assert (frame.bytes, frame.group) == (b"news", "group")
