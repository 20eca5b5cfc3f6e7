"""Every mistake a user can make with the variables and options gets one clear line.

Each bad value below must end the command within the timeout, with exit
status 2, no traceback, and a last line that names the variable or option
and what it accepts. The API says the same: ``import zmq`` raises an
ImportError naming the variable.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.usefixtures("scif_domain")

# A bad value is refused before any work; a minute is generous even on a
# loaded machine, and a hang (the old connect to a malformed machine) fails.
TIMEOUT = 60


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def assert_one_clear_line(result: subprocess.CompletedProcess[str], *named: str) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    for text in named:
        assert text in last, last


BAD_ENVIRONMENT = [
    ({"SCIF_EMU_NODE": "7"}, "SCIF_EMU_NODE=7", "from 0 to 1"),
    ({"SCIF_EMU_NODE": "abc"}, "SCIF_EMU_NODE=abc", "node id"),
    ({"SCIF_EMU_NODES": "0"}, "SCIF_EMU_NODES=0", "from 1 to 256"),
    ({"SCIF_EMU_NODES": "300"}, "SCIF_EMU_NODES=300", "from 1 to 256"),
    ({"SCIF_EMU_DOMAIN": "a/b"}, "SCIF_EMU_DOMAIN=a/b", "without '/'"),
    ({"SCIF_EMU_DOMAIN": ".."}, "SCIF_EMU_DOMAIN=..", "not . or .."),
    ({"SCIF_EMU_DOMAIN": "d" * 65}, "SCIF_EMU_DOMAIN=ddd", "1 to 64 characters"),
    ({"SCIF_ZMQ_LIBSCIF": "/nonexistent"}, "SCIF_ZMQ_LIBSCIF=/nonexistent", "no such file"),
    ({"SCIF_ZMQ_LIBSCIF": "mpss"}, "SCIF_ZMQ_LIBSCIF='mpss'", "auto, bundled, system"),
]


@pytest.mark.parametrize(("env", "variable", "accepted"), BAD_ENVIRONMENT)
def test_info_names_a_bad_variable(env: dict[str, str], variable: str, accepted: str) -> None:
    assert_one_clear_line(run(["-m", "scif_zmq", "info"], env), variable, accepted)


@pytest.mark.parametrize(("env", "variable", "accepted"), BAD_ENVIRONMENT)
def test_import_names_a_bad_variable(env: dict[str, str], variable: str, accepted: str) -> None:
    result = run(["-c", "import zmq"], env)
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: scif_zmq.backend: "), result.stderr
    assert variable in last and accepted in last


BAD_OPTIONS = [
    (["bench", "--repeats", "0"], "--repeats", "at least 1"),
    (["bench", "--repeats", "many"], "--repeats", "at least 1"),
    (["bench", "--plot", "/no/such/dir/x.png"], "--plot", "no directory /no/such/dir"),
    (["bench", "--transports", "scif,udp"], "--transports", "unknown transport 'udp'"),
    (["bench", "--sizes", "1G"], "--sizes", "message size"),
    (["bench", "--keep", "-1"], "--keep", "a number of messages or 'all'"),
    (["bench", "--remote", "no-such-command"], "--remote", "no program 'no-such-command'"),
    (["demo", "--port", "99999"], "--port", "from 1 to 65535"),
    (["demo", "--port", "-1"], "--port", "from 1 to 65535"),
    (["demo", "--port", "0"], "--port", "from 1 to 65535"),
    (["demo", "--count", "0"], "--count", "at least 1"),
    (["demo", "--node", "256"], "--node", "from 0 to 255"),
    (["demo", "--remote", "no-such-command"], "--remote", "no program 'no-such-command'"),
    (["demo", "--remote", ""], "--remote", "empty command prefix"),
]


@pytest.mark.parametrize(("args", "option", "accepted"), BAD_OPTIONS)
def test_a_bad_option_is_one_line(args: list[str], option: str, accepted: str) -> None:
    assert_one_clear_line(run(["-m", "scif_zmq", *args], {}), option, accepted)


def test_version() -> None:
    result = run(["-m", "scif_zmq", "--version"], {})
    assert result.returncode == 0
    assert result.stdout.startswith("scif-zmq ") and result.stdout.split()[1][0].isdigit()


def test_transports_take_commas_as_sizes_do() -> None:
    result = run(
        ["-m", "scif_zmq", "bench", "--transports", "scif,ipc", "--sizes", "64", "--repeats", "1"],
        {},
    )
    assert result.returncode == 0, result.stderr
    rows = [line.split("|")[1].strip() for line in result.stdout.splitlines() if "| 64 |" in line]
    assert rows == ["scif", "ipc"]
