"""The scif-zmq command: info, demo, bench and its errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zmq

import scif_zmq
from scif_peer import finish, spawn

pytestmark = pytest.mark.usefixtures("scif_domain")


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scif_zmq", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_info_reports_the_scif_backend_and_libscif() -> None:
    result = cli("info", SCIF_EMU_NODES="3")
    assert result.returncode == 0, result.stderr
    # Each line is "name  value", the names padded to one width.
    fields = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in result.stdout.splitlines())
    assert fields["scif available"] == "yes"
    assert fields["backend"] == "scif_zmq.backend"
    assert fields["pyzmq"] == zmq.pyzmq_version()
    assert fields["libscif"].startswith(scif_zmq.get_library_dir())
    assert fields["this node"] == "0"
    assert fields["online nodes"] == "0 1 2"


def test_info_without_the_scif_backend() -> None:
    result = cli("info", PYZMQ_BACKEND="cython")
    assert result.returncode == 0, result.stderr
    assert "scif available  no" in result.stdout


def test_demo_between_two_nodes() -> None:
    result = cli("demo", "--port", "7123", "--count", "2")
    assert result.returncode == 0, result.stderr
    assert "node 0: got 'pong from node 1 (ping 1)'" in result.stdout


def test_demo_to_a_node_that_is_not_online() -> None:
    result = cli("demo", "--node", "5")
    assert result.returncode == 1
    assert "SCIF node 5 is not online" in result.stderr


def test_demo_on_a_port_in_use() -> None:
    with zmq.Context() as ctx, ctx.socket(zmq.PAIR) as sock:
        sock.bind("scif://*:7124")
        result = cli("demo", "--port", "7124")
    assert result.returncode == 1
    assert "SCIF port 7124 is in use" in result.stderr


def test_demo_through_a_remote_prefix() -> None:
    # The prefix's own environment shows that the peer ran through it.
    result = cli(
        "demo",
        "--remote",
        "env SCIF_EMU_NODE=2",
        "--remote-python",
        sys.executable,
        SCIF_EMU_NODES="3",
    )
    assert result.returncode == 0, result.stderr
    assert "node 0: got 'pong from node 2 (ping 2)'" in result.stdout


def test_demo_with_a_remote_side_that_cannot_start() -> None:
    start = time.monotonic()
    result = cli("demo", "--remote", "false")
    assert result.returncode == 1
    assert "no answer from the peer on node 1 (it exited with 1)" in result.stderr
    assert "Traceback" not in result.stderr
    # Found when the peer exits, not after the 30 s a silent peer gets.
    assert time.monotonic() - start < 25


def test_bench_through_a_remote_prefix() -> None:
    result = cli(
        "bench",
        "--remote",
        "env SCIF_EMU_NODE=1",
        "--remote-python",
        sys.executable,
        "--transports",
        "scif",
        "--sizes",
        "64K",
        "--repeats",
        "1",
    )
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| scif |")]
    assert len(rows) == 1 and float(rows[0].split("|")[3]) > 0


def test_bench_with_a_remote_side_measures_scif_only() -> None:
    result = cli("bench", "--remote", "ssh mic0", "--sizes", "64")
    assert result.returncode == 1
    assert "use --transports scif" in result.stderr


def test_bench_with_a_remote_side_that_cannot_start() -> None:
    result = cli("bench", "--remote", "false", "--transports", "scif", "--sizes", "64")
    assert result.returncode == 1
    assert "exited with 1" in result.stderr
    assert "Traceback" not in result.stderr


def test_bench_prints_a_table_with_ratios() -> None:
    result = cli("bench", "--sizes", "64", "--repeats", "1")
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    assert [row.split("|")[1].strip() for row in rows[1:]] == ["scif", "ipc", "tcp"]
    assert all(row.rstrip().endswith("x |") for row in rows[1:])


def test_bench_sizes_take_the_forms_of_ci_bench() -> None:
    result = cli("bench", "--sizes", "64,1K", "2KiB", "--transports", "ipc", "--repeats", "1")
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ipc")]
    assert [row.split("|")[2].strip() for row in rows] == ["64", "1024", "2048"]


def test_bench_refuses_a_size_it_cannot_read() -> None:
    result = cli("bench", "--sizes", "12Q")
    assert result.returncode == 2
    assert "not a message size: '12Q'" in result.stderr


def test_bench_plot_without_matplotlib_fails_before_any_work() -> None:
    # matplotlib made unimportable in that interpreter only.
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from scif_zmq.cli import main\n"
        "sys.exit(main(['bench', '--plot', 'out.png', '--sizes', '64']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert result.stderr == (
        "scif-zmq: error: --plot needs matplotlib: pip install 'scif-zmq[plot]'\n"
    )
    assert result.stdout == ""


def test_help_is_plain_text() -> None:
    for args in (["--help"], ["bench", "--help"]):
        result = cli(*args)
        assert result.returncode == 0, result.stderr
        assert "``" not in result.stdout


def test_clean_removes_unused_machines_and_keeps_used_ones(scif_domain: str) -> None:
    base = Path(f"/tmp/scif-emu-{os.geteuid()}")
    left, used = f"{scif_domain}-left"[-64:], f"{scif_domain}-used"[-64:]
    # A machine a finished process used, and one a running process is on.
    finish(spawn("import scif_zmq; scif_zmq.scif_nodes()", node=0, SCIF_EMU_DOMAIN=left))
    member = spawn(
        """
        import time
        s = zmq.Context().socket(zmq.PAIR)
        s.bind("scif://*:*")
        print("bound", flush=True)
        time.sleep(120)
        """,
        node=0,
        SCIF_EMU_DOMAIN=used,
    )
    try:
        assert member.stdout is not None and member.stdout.readline().strip() == "bound"
        assert (base / left).is_dir() and (base / used).is_dir()
        result = cli("clean", left, used)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == [f"{left}: removed", f"{used}: in use"]
        assert not (base / left).exists() and (base / used).is_dir()
    finally:
        member.kill()
        member.wait()
    assert cli("clean", used).stdout.splitlines() == [f"{used}: removed"]
    assert not (base / used).exists()
