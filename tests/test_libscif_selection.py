"""Which libscif.so.0 the wheel's libzmq gets: SCIF_ZMQ_LIBSCIF and the driver."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scif_zmq import libscif


@pytest.fixture
def machine(tmp_path: Path) -> dict[str, str]:
    """A stand-in machine: no SCIF device yet, an empty system library directory."""
    (tmp_path / "system").mkdir()
    return {
        "SCIF_ZMQ_SCIF_DEVICE": str(tmp_path / "dev" / "scif"),
        "SCIF_ZMQ_SYSTEM_LIBDIRS": str(tmp_path / "system"),
    }


def add_driver(env: dict[str, str]) -> None:
    device = Path(env["SCIF_ZMQ_SCIF_DEVICE"])
    device.parent.mkdir(exist_ok=True)
    device.touch()


def add_system_library(env: dict[str, str]) -> Path:
    """A system libscif.so.0: a copy of the bundled one, so that it works."""
    copy = Path(env["SCIF_ZMQ_SYSTEM_LIBDIRS"]) / libscif.SONAME
    shutil.copy(libscif.bundled_library(), copy)
    return copy


def test_auto_without_a_driver_is_the_bundled_library(machine: dict[str, str]) -> None:
    add_system_library(machine)
    choice = libscif.choose(machine)
    assert (choice.kind, choice.path) == ("bundled", libscif.bundled_library())
    assert "is missing" in choice.reason


def test_auto_with_a_driver_but_no_system_library_is_an_error(machine: dict[str, str]) -> None:
    # Never the emulator silently: it cannot reach the cards the driver serves.
    add_driver(machine)
    with pytest.raises(libscif.SelectionError, match="exists \\(a SCIF driver\\), but no"):
        libscif.choose(machine)
    choice = libscif.choose({**machine, "SCIF_ZMQ_LIBSCIF": "bundled"})
    assert choice.kind == "bundled"


def test_import_with_a_driver_but_no_system_library_names_the_way_out(
    machine: dict[str, str],
) -> None:
    add_driver(machine)
    result = run_python("import zmq", machine)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: scif_zmq.backend: ")
    assert machine["SCIF_ZMQ_SCIF_DEVICE"] in last and "SCIF_ZMQ_LIBSCIF=bundled" in last


def test_auto_with_the_driver_is_the_system_library(machine: dict[str, str]) -> None:
    add_driver(machine)
    system = add_system_library(machine)
    choice = libscif.choose(machine)
    assert (choice.kind, choice.path) == ("system", system)
    assert machine["SCIF_ZMQ_SCIF_DEVICE"] in choice.reason


def test_ld_library_path_is_searched_first(machine: dict[str, str], tmp_path: Path) -> None:
    add_driver(machine)
    add_system_library(machine)
    (tmp_path / "mpss").mkdir()
    mpss = tmp_path / "mpss" / libscif.SONAME
    shutil.copy(libscif.bundled_library(), mpss)
    choice = libscif.choose({**machine, "LD_LIBRARY_PATH": f"/nonexistent:{mpss.parent}"})
    assert choice.path == mpss


def test_the_bundled_library_is_never_taken_for_the_system_one(machine: dict[str, str]) -> None:
    add_driver(machine)
    lib_dir = str(libscif.bundled_library().parent)
    with pytest.raises(libscif.SelectionError, match=r"but no libscif\.so\.0 was found"):
        libscif.choose({**machine, "LD_LIBRARY_PATH": lib_dir})


def test_explicit_choices(machine: dict[str, str]) -> None:
    assert libscif.choose({**machine, "SCIF_ZMQ_LIBSCIF": "bundled"}).kind == "bundled"
    with pytest.raises(libscif.SelectionError, match="SCIF_ZMQ_LIBSCIF=system, but no"):
        libscif.choose({**machine, "SCIF_ZMQ_LIBSCIF": "system"})
    system = add_system_library(machine)
    # Without the driver too: the user said so.
    assert libscif.choose({**machine, "SCIF_ZMQ_LIBSCIF": "system"}).path == system
    named = libscif.choose({**machine, "SCIF_ZMQ_LIBSCIF": str(system)})
    assert (named.kind, named.path) == ("path", system)
    with pytest.raises(libscif.SelectionError, match="no such file"):
        libscif.choose({**machine, "SCIF_ZMQ_LIBSCIF": "/nonexistent/libscif.so.0"})
    with pytest.raises(libscif.SelectionError, match="expected auto, bundled, system or a path"):
        libscif.choose({**machine, "SCIF_ZMQ_LIBSCIF": "mpss"})


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


# A large message across the connection (RMA), then every libscif mapped.
EXCHANGE = """
import zmq
ctx = zmq.Context()
server, client = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
server.bind("scif://*:*")
client.connect(server.getsockopt_string(zmq.LAST_ENDPOINT))
client.send(b"x" * 100000)
assert server.recv() == b"x" * 100000
with open("/proc/self/maps") as maps:
    paths = {line.split(maxsplit=5)[-1].strip() for line in maps}
print(sorted(path for path in paths if "/libscif" in path))
"""


@pytest.mark.usefixtures("scif_domain")
def test_libzmq_runs_on_the_chosen_system_library(machine: dict[str, str]) -> None:
    add_driver(machine)
    system = add_system_library(machine)
    result = run_python(EXCHANGE, machine)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr([str(system)])

    info = subprocess.run(
        [sys.executable, "-m", "scif_zmq", "info"],
        env={**os.environ, **machine},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert info.returncode == 0, info.stderr
    fields = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in info.stdout.splitlines())
    assert fields["libscif"] == str(system)
    assert fields["libscif chosen"].startswith("system: SCIF driver found")


@pytest.mark.usefixtures("scif_domain")
def test_without_a_driver_the_bundled_library_is_loaded(machine: dict[str, str]) -> None:
    add_system_library(machine)
    result = run_python(EXCHANGE, machine)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr([str(libscif.bundled_library())])


def test_a_missing_system_library_stops_the_import(machine: dict[str, str]) -> None:
    result = run_python("import zmq", {**machine, "SCIF_ZMQ_LIBSCIF": "system"})
    assert result.returncode != 0
    assert "SCIF_ZMQ_LIBSCIF=system, but no libscif.so.0" in result.stderr
