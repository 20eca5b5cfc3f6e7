"""Throughput and latency of scif:// against ipc:// and tcp:// between two nodes.

Each measurement runs two processes: the binding side on this node and the
connecting side on node 1 (``SCIF_EMU_NODE`` in the emulator), like libzmq's
perf tools ``local_thr``/``remote_thr`` and ``local_lat``/``remote_lat``. On
real hardware a command prefix (e.g. ``ssh mic0``) runs the connecting side
on a card instead.

With ``keep``, the receiver holds on to the messages it measures (the last
``keep`` of them, or all), as analysis code that collects its results does:
then every message needs memory of its own.
"""

from __future__ import annotations

import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import scif_zmq

TRANSPORTS = ("scif", "ipc", "tcp")


@dataclass(frozen=True)
class Result:
    transport: str
    size: int
    msgs_per_s: float
    latency_us: float

    @property
    def mb_per_s(self) -> float:
        return self.msgs_per_s * self.size / 1e6


@dataclass(frozen=True)
class Remote:
    """How the connecting side runs on another node: a command prefix."""

    prefix: str  # e.g. "ssh mic0"
    python: str = "python3"  # the interpreter there, with scif-zmq installed

    def command(self, *args: str) -> list[str]:
        return [*shlex.split(self.prefix), self.python, *args]


def endpoints(transport: str, port: int, ipc_dir: str, node: int = 0) -> tuple[str, str]:
    """(bind, connect) endpoints for one measurement; node: the binding side's."""
    if transport == "scif":
        return f"scif://*:{port}", f"scif://{node}:{port}"
    if transport == "ipc":
        path = f"ipc://{ipc_dir}/{port}"
        return path, path
    if transport == "tcp":
        return f"tcp://127.0.0.1:{port}", f"tcp://127.0.0.1:{port}"
    raise ValueError(f"unknown transport {transport!r}; choose from {', '.join(TRANSPORTS)}")


def _worker(role: str, endpoint: str, size: int, count: int, keep: int | None = 0) -> None:
    """One side of a measurement; the measuring side prints its number.
    The receiver of throughput runs keeps the last *keep* messages (None: all)."""
    import zmq

    ctx = zmq.Context()
    if role == "thr-recv":
        sock = ctx.socket(zmq.PULL)
        sock.bind(endpoint)
        kept: deque[zmq.Frame] = deque(maxlen=keep)
        kept.append(sock.recv(copy=False))
        start = time.perf_counter()
        for _ in range(count - 1):
            kept.append(sock.recv(copy=False))
        print((count - 1) / (time.perf_counter() - start))
        kept.clear()
    elif role == "thr-send":
        sock = ctx.socket(zmq.PUSH)
        sock.connect(endpoint)
        payload = b"\0" * size
        for _ in range(count):
            sock.send(payload, copy=size < 65536)
    elif role == "lat-echo":
        sock = ctx.socket(zmq.REP)
        sock.bind(endpoint)
        for _ in range(count + 1):
            sock.send(sock.recv(copy=False), copy=False)
    elif role == "lat-ping":
        sock = ctx.socket(zmq.REQ)
        sock.connect(endpoint)
        payload = b"\0" * size
        sock.send(payload)
        sock.recv(copy=False)
        start = time.perf_counter()
        for _ in range(count):
            sock.send(payload, copy=size < 65536)
            sock.recv(copy=False)
        print((time.perf_counter() - start) / count / 2 * 1e6)
    else:
        raise ValueError(f"unknown role {role!r}")
    sock.close(linger=-1)
    ctx.term()


def _pair(
    binder: str,
    connecter: str,
    bind: str,
    connect: str,
    size: int,
    count: int,
    remote: Remote | None = None,
    keep: int | None = 0,
) -> float:
    """Run both sides; return the number the measuring side printed."""
    args = ["-m", "scif_zmq.bench"]

    def spawn(cmd: list[str], node: int) -> subprocess.Popen[str]:
        env = {**os.environ, "SCIF_EMU_NODE": str(node)}
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)

    kept = "all" if keep is None else str(keep)
    local = [sys.executable, *args, binder, bind, str(size), str(count), kept]
    peer = [*args, connecter, connect, str(size), str(count), kept]
    procs = [
        spawn(local, 0),
        spawn(remote.command(*peer) if remote else [sys.executable, *peer], 1),
    ]
    # One side failing (a remote side that cannot start, say) would leave the
    # other waiting for it: it is stopped at once.
    deadline = time.monotonic() + 600
    while None in [p.poll() for p in procs]:
        failed = [p for p in procs if p.returncode not in (None, 0)]
        if failed or time.monotonic() > deadline:
            for proc in procs:
                proc.kill()
                proc.wait()
            culprit = failed[0] if failed else procs[0]
            raise RuntimeError(
                f"{' '.join(map(str, culprit.args))} "
                + (f"exited with {culprit.returncode}" if failed else "timed out")
            )
        time.sleep(0.05)
    outputs = [p.communicate()[0] for p in procs]
    for proc in procs:
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, proc.args))} exited with {proc.returncode}")
    return float(next(out for out in outputs if out.strip()))


# What a run that keeps every message may hold at its end.
KEEP_ALL_BYTES = 2 << 30


def default_count(size: int) -> int:
    """Enough messages for a stable number without taking long."""
    return max(200, min(100_000, 256 * 1024 * 1024 // max(size, 1)))


def run(
    sizes: Sequence[int],
    transports: Sequence[str] = TRANSPORTS,
    repeats: int = 3,
    progress: Callable[[str], None] | None = None,
    remote: Remote | None = None,
    keep: int | None = 0,
) -> list[Result]:
    """Median throughput and latency per (transport, size) over *repeats* runs;
    the throughput receiver keeps the last *keep* messages (None: all)."""
    if remote and set(transports) != {"scif"}:
        raise ValueError("with a remote side only scif:// can be measured")
    results = []
    port = 20000 + os.getpid() % 20000
    # A private emulated machine, so that concurrent runs never share ports.
    with (
        scif_zmq.private_domain("bench"),
        tempfile.TemporaryDirectory(prefix="scif-zmq-bench-") as ipc_dir,
    ):
        node = scif_zmq.scif_nodes()[0] if "scif" in transports else 0
        for size in sizes:
            count = default_count(size)
            if keep is None:  # all of them in memory at the end
                count = min(count, max(8, KEEP_ALL_BYTES // size))
            for transport in transports:
                thr, lat = [], []
                for _ in range(repeats):
                    port += 1
                    bind, connect = endpoints(transport, port, ipc_dir, node)
                    thr.append(
                        _pair("thr-recv", "thr-send", bind, connect, size, count, remote, keep)
                    )
                    port += 1
                    bind, connect = endpoints(transport, port, ipc_dir, node)
                    lat.append(
                        _pair(
                            "lat-echo",
                            "lat-ping",
                            bind,
                            connect,
                            size,
                            max(count // 10, 100),
                            remote,
                        )
                    )
                result = Result(transport, size, statistics.median(thr), statistics.median(lat))
                if progress:
                    progress(
                        f"{transport:>4} {size:>9} B: {result.msgs_per_s:12.0f} msg/s "
                        f"{result.latency_us:9.1f} us"
                    )
                results.append(result)
    return results


def table(results: Sequence[Result]) -> str:
    """Markdown table with ratios against ipc:// and tcp:// of the same size."""
    by_key = {(r.transport, r.size): r for r in results}
    lines = [
        "| transport | size (B) | msg/s | MB/s | latency (us) | thr vs ipc | thr vs tcp |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:

        def ratio(other: str, r: Result = r) -> str:
            base = by_key.get((other, r.size))
            return f"{r.msgs_per_s / base.msgs_per_s:.2f}x" if base else "-"

        lines.append(
            f"| {r.transport} | {r.size} | {r.msgs_per_s:.0f} | {r.mb_per_s:.1f} "
            f"| {r.latency_us:.1f} | {ratio('ipc')} | {ratio('tcp')} |"
        )
    return "\n".join(lines)


def plot(results: Sequence[Result], path: str) -> None:
    """Throughput (MB/s) per message size, one line per transport, as a PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise RuntimeError("--plot needs matplotlib: pip install matplotlib") from error
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for transport in dict.fromkeys(r.transport for r in results):
        points = [r for r in results if r.transport == transport]
        ax.plot([r.size for r in points], [r.mb_per_s for r in points], marker="o", label=transport)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("message size (bytes)")
    ax.set_ylabel("throughput (MB/s)")
    ax.set_title("PUSH/PULL throughput between two nodes")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    _keep = sys.argv[5] if len(sys.argv) > 5 else "0"
    _worker(
        sys.argv[1],
        sys.argv[2],
        int(sys.argv[3]),
        int(sys.argv[4]),
        None if _keep == "all" else int(_keep),
    )
