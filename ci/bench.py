"""Benchmark scif:// against ipc://, tcp:// and inproc:// with libzmq's perf tools.

PUSH/PULL throughput (local_thr/remote_thr) and REQ/REP latency
(local_lat/remote_lat) for each message size. For scif:// the local side runs
as emulated SCIF node 0 (bind scif://PORT) and the remote side as node 1
(connect scif://0:PORT), in an emulated machine (SCIF_EMU_DOMAIN) of its own
for every run; ipc:// and tcp://127.0.0.1 run the same two processes;
inproc:// runs inproc_thr/inproc_lat in one process. Beside them, memcpy_thr
(ci/memcpy_thr.c) measures one memcpy per byte the way a one-copy transport
must copy (a fresh malloc per message, destinations rotating over a region
the size of the scif:// pool): the limit of any transport that copies, which
the table shows each transport's bandwidth against. Every point is measured
--repeat times, the repetitions interleaved (round robin over sizes and
transports, so that a burst of load from elsewhere hits all transports alike),
and reported as its median with min and max.

Writes OUT/bench.csv, OUT/bench.md (the table, also printed on stdout),
OUT/bench.png and OUT/machine.md; progress goes to stderr. The goals of
issue #5 are printed as information: numbers are reported, never asserted.
The exit status is 1 when a run failed (its output is shown) or an output
could not be written.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import importlib.util
import itertools
import math
import os
import platform
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, ModuleType

TRANSPORTS = ("scif", "ipc", "tcp", "inproc")
SIZES = (64, 1 << 10, 64 << 10, 1 << 20, 16 << 20, 64 << 20)
# The one-copy reference: measured for throughput only, at every size.
MEMCPY = "memcpy"
POOL_SIZE = 8 << 20  # ZMQ_SCIF_RMA_WINDOW's default: memcpy_thr's destinations
KINDS = ("thr", "lat")

# Messages per throughput run and round trips per latency run, chosen so that
# one measurement takes about 0.3-2 s on a 2-core machine and large messages
# run well past the first fill of the 8 MiB pool (sizes in between
# are interpolated on a log-log scale). local_thr/remote_thr (and inproc_thr)
# keep the default HWM, 1000 messages on each side, so at worst
# min(count, 2 * HWM) messages are queued at once: that many messages stay
# within MEMORY_BUDGET bytes.
THR_COUNTS = {64: 1_000_000, 1 << 10: 300_000, 64 << 10: 40_000, 1 << 20: 3_000, 16 << 20: 192}
LAT_COUNTS = {64: 10_000, 1 << 10: 10_000, 64 << 10: 5_000, 1 << 20: 1_000, 16 << 20: 50}
MEMORY_BUDGET = 4 << 30
QUEUED_AT_MOST = 2 * 1000  # ZMQ_SNDHWM + ZMQ_RCVHWM, their defaults
MAX_SIZE = 64 << 20  # MIN_THR_COUNT messages of it fit in MEMORY_BUDGET
QUICK_DIVISOR = 3  # --quick: a third of the messages ...
QUICK_REPEAT = 3  # ... and 3 runs instead of 5
MIN_THR_COUNT, MIN_LAT_COUNT = 16, 10

THR_RE = re.compile(r"mean throughput: ([0-9.]+) \[Mb/s\]")
LAT_RE = re.compile(r"average latency: ([0-9.]+) \[us\]")
METRICS = (("thr", "msg_per_s"), ("thr", "MB_per_s"), ("lat", "latency_us"))

SO_ACCEPTCON = 0x10000  # /proc/net/unix flag of a listening socket
TCP_LISTEN = "0A"  # /proc/net/tcp state of a listening socket


def log(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


def human(size: int) -> str:
    for unit, shift in (("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift} {unit}"
    return f"{size} B"


def runs(n: int) -> str:
    return f"{n} run" if n == 1 else f"{n} runs"


def load_sizes_module() -> ModuleType:
    """scif_zmq.sizes from the source tree, without the package (not installed here)."""
    path = Path(__file__).resolve().parent.parent / "python" / "scif_zmq" / "sizes.py"
    spec = importlib.util.spec_from_file_location("scif_zmq_sizes", path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SIZE_TEXT = load_sizes_module()


def parse_size(text: str) -> int:
    """64, 1024, 1K, 1KiB, 64k, 1M, 16MiB -> bytes."""
    return SIZE_TEXT.parse_size(text, MAX_SIZE)


def interpolate(table: dict[int, int], size: int) -> float:
    """The table's count for *size*, log-log interpolated between its sizes."""
    points = sorted(table.items())
    if size <= points[0][0]:
        return points[0][1]
    if size >= points[-1][0]:
        # Beyond the largest size: the same number of bytes per run.
        return points[-1][1] * points[-1][0] / size
    for (s0, c0), (s1, c1) in itertools.pairwise(points):
        if s0 <= size <= s1:
            f = math.log(size / s0) / math.log(s1 / s0)
            return math.exp(math.log(c0) + f * math.log(c1 / c0))
    raise AssertionError("unreachable")


def counts(size: int, quick: bool) -> dict[str, int]:
    div = QUICK_DIVISOR if quick else 1
    thr = interpolate(THR_COUNTS, size) / div
    if min(thr, QUEUED_AT_MOST) * size > MEMORY_BUDGET:
        thr = MEMORY_BUDGET / size
    lat = interpolate(LAT_COUNTS, size) / div
    return {"thr": max(MIN_THR_COUNT, round(thr)), "lat": max(MIN_LAT_COUNT, round(lat))}


def memcpy_count(size: int) -> int:
    """Copies per memcpy_thr run: about 2 GiB, at least MIN_THR_COUNT."""
    return max(MIN_THR_COUNT, (2 << 30) // size)


class RunFailed(Exception):
    """A perf tool failed, timed out or printed no result; the message says how."""


class Interrupted(Exception):
    """SIGINT or SIGTERM: stop, clean up, write nothing."""


def on_signal(signum: int, _frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


@dataclass
class Proc:
    """A perf tool started with its stdout and stderr in files."""

    name: str
    argv: list[str]
    popen: subprocess.Popen[bytes]
    out: Path
    err: Path
    stopped_by_us: bool = False

    def signal(self, signum: signal.Signals) -> None:
        """Sends *signum* to the tool's process group (the tool and anything it
        started), unless the tool was reaped: its id may then belong to another."""
        if self.popen.poll() is not None:
            return
        try:
            os.killpg(self.popen.pid, signum)
        except ProcessLookupError:
            pass

    def report(self) -> str:
        rc = self.popen.returncode
        status = "still running (killed)" if rc is None else f"exit status {rc}"
        if rc is not None and rc < 0:
            status = f"killed by {signal.Signals(-rc).name}"
        text = [f"  $ {' '.join(self.argv)}   [{self.name}: {status}]"]
        for label, path in (("stdout", self.out), ("stderr", self.err)):
            body = path.read_text(errors="replace").strip() if path.exists() else ""
            if body:
                tail = body.splitlines()[-20:]
                text += [f"    {label}: {line}" for line in tail]
        return "\n".join(text)


@dataclass
class Point:
    transport: str
    size: int
    kind: str
    count: int
    runs: list[float] = field(default_factory=list)
    error: str | None = None

    def median(self) -> float | None:
        return statistics.median(self.runs) if self.runs and self.error is None else None


class Runner:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.perf: Path = args.perf
        self.memcpy: Path = args.memcpy
        self.workdir = workdir
        self.timeout: float = args.timeout
        self.seq = 0
        self.scif_port = 2000  # every run has a domain of its own; still never reused
        self.tcp_ports: set[int] = set()
        self.wait_listen = {"scif": True, "ipc": True, "tcp": True}
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCIF_EMU_")}
        libpath = [str(args.libscif), os.environ.get("LD_LIBRARY_PATH", "")]
        env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in libpath if p)
        env["SCIF_EMU_NODES"] = "2"
        self.env = env
        self.env_run = env

    # --- endpoints ------------------------------------------------------------

    def free_tcp_port(self) -> int:
        import socket

        for _ in range(100):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", 0))
                port = int(s.getsockname()[1])
            if port not in self.tcp_ports:
                self.tcp_ports.add(port)
                return port
        raise RunFailed("no free TCP port on 127.0.0.1")

    def endpoints(self, transport: str) -> tuple[str, str, str]:
        """(bind, connect, what shows up as listening) for a fresh run."""
        if transport == "scif":
            self.scif_port += 1
            port = self.scif_port
            domain = self.env_run["SCIF_EMU_DOMAIN"]
            return f"scif://{port}", f"scif://0:{port}", f"{domain}/0/{port}"
        if transport == "ipc":
            path = self.workdir / f"{self.seq}.ipc"
            return f"ipc://{path}", f"ipc://{path}", str(path)
        port = self.free_tcp_port()
        return f"tcp://127.0.0.1:{port}", f"tcp://127.0.0.1:{port}", f"{port:04X}"

    @staticmethod
    def is_listening(transport: str, name: str) -> bool | None:
        """Whether the local side listens on *name*; None when this cannot be told."""
        try:
            if transport == "tcp":
                for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
                    cols = line.split()
                    if cols[1].endswith(":" + name) and cols[3] == TCP_LISTEN:
                        return True
                return False
            for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
                cols = line.split(None, 7)
                if len(cols) == 8 and cols[7] == name and int(cols[3], 16) & SO_ACCEPTCON:
                    return True
            return False
        except (OSError, ValueError, IndexError):
            return None

    # --- processes ----------------------------------------------------------------

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> Proc:
        out = self.workdir / f"{self.seq}.{name}.out"
        err = self.workdir / f"{self.seq}.{name}.err"
        with open(out, "wb") as fo, open(err, "wb") as fe:
            # A session of its own: killing its process group leaves nothing behind.
            popen = subprocess.Popen(
                argv,
                env=env,
                stdout=fo,
                stderr=fe,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return Proc(name, argv, popen, out, err)

    @staticmethod
    def finish(procs: list[Proc]) -> None:
        """Kills and reaps what is left; SIGINT/SIGTERM wait until that is done."""
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            for p in procs:
                p.signal(signal.SIGKILL)
                p.popen.wait()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)

    def await_listening(
        self, transport: str, name: str, local: Proc, procs: list[Proc], deadline: float
    ) -> None:
        """Returns once the local side listens, so that the remote side connects
        at once: no reconnect interval (100 ms) in remote_lat's measured time."""
        if not self.wait_listen[transport]:
            return
        give_up = min(deadline, time.monotonic() + 10)
        while time.monotonic() < give_up:
            self.check(procs, deadline)
            if local.popen.poll() is not None:
                return  # exited without failing: nothing to wait for
            listening = self.is_listening(transport, name)
            if listening is None:
                break
            if listening:
                return
            time.sleep(0.002)
        self.check(procs, deadline)
        log(f"cannot tell when {transport}:// listens ({name}); not waiting for it any more")
        self.wait_listen[transport] = False

    def measure(self, transport: str, size: int, kind: str, count: int) -> float:
        """One run: the tool's throughput in msg/s or latency in us."""
        if transport == MEMCPY:
            return self.measure_memcpy(size, count)
        self.seq += 1
        # A private emulated machine per run, inside the work directory.
        domain = self.workdir / f"domain-{self.seq}"
        self.env_run = {**self.env, "SCIF_EMU_DOMAIN": str(domain)}
        deadline = time.monotonic() + self.timeout
        procs: list[Proc] = []
        try:
            if transport == "inproc":
                tool = str(self.perf / f"inproc_{kind}")
                procs.append(self.start("inproc", [tool, str(size), str(count)], self.env_run))
                self.wait_for(procs[0], procs, deadline)
                result = procs[0]
            else:
                bind, connect, name = self.endpoints(transport)
                local_argv = [str(self.perf / f"local_{kind}"), bind, str(size), str(count)]
                remote_argv = [str(self.perf / f"remote_{kind}"), connect, str(size), str(count)]
                local = self.start("local", local_argv, {**self.env_run, "SCIF_EMU_NODE": "0"})
                procs.append(local)
                self.await_listening(transport, name, local, procs, deadline)
                remote = self.start("remote", remote_argv, {**self.env_run, "SCIF_EMU_NODE": "1"})
                procs.append(remote)
                self.wait_for(remote, procs, deadline)
                if kind == "lat" and local.popen.poll() is None:
                    # remote_lat has its answer; local_lat only sleeps 1 s before
                    # it exits (perf/local_lat.cpp): not worth waiting for.
                    local.stopped_by_us = True
                    local.signal(signal.SIGTERM)
                self.wait_for(local, procs, deadline)
                # local_thr prints the throughput, remote_lat the latency.
                result = local if kind == "thr" else remote
            found = (THR_RE if kind == "thr" else LAT_RE).search(
                result.out.read_text(errors="replace")
            )
            if not found:
                raise RunFailed(self.describe(f"no result in {result.name}'s output", procs))
            value = float(found.group(1))
            if kind == "lat":
                return value
            # The tools time count - 1 messages (the clock starts at the first
            # one) but divide count by that time: take the extra one out.
            return value * 1e6 / 8 / size * (count - 1) / count
        finally:
            self.finish(procs)

    def measure_memcpy(self, size: int, count: int) -> float:
        """memcpy_thr's msg/s (it times every one of its *count* copies)."""
        self.seq += 1
        argv = [str(self.memcpy), str(size), str(count), str(POOL_SIZE)]
        procs = [self.start(MEMCPY, argv, self.env)]
        try:
            self.wait_for(procs[0], procs, time.monotonic() + self.timeout)
            found = THR_RE.search(procs[0].out.read_text(errors="replace"))
            if not found:
                raise RunFailed(self.describe("no result in memcpy_thr's output", procs))
            return float(found.group(1)) * 1e6 / 8 / size
        finally:
            self.finish(procs)

    def check(self, procs: list[Proc], deadline: float) -> None:
        """Fails the run as soon as one of its processes failed, or at the deadline."""
        for p in procs:
            rc = p.popen.poll()
            if rc and not (p.stopped_by_us and rc == -signal.SIGTERM):
                raise RunFailed(self.describe(f"{p.name} side failed", procs))
        if time.monotonic() > deadline:
            self.finish(procs)
            raise RunFailed(self.describe(f"timed out after {self.timeout:g} s", procs))

    def wait_for(self, proc: Proc, procs: list[Proc], deadline: float) -> None:
        while True:
            self.check(procs, deadline)
            if proc.popen.poll() is not None:
                self.check(procs, deadline)
                return
            time.sleep(0.01)

    def describe(self, what: str, procs: list[Proc]) -> str:
        domain = self.env_run.get("SCIF_EMU_DOMAIN", "")
        return "\n".join([f"{what} (SCIF_EMU_DOMAIN={domain})", *(p.report() for p in procs)])


# --- results -----------------------------------------------------------------------


def value(
    points: dict[tuple[str, int, str], Point], t: str, size: int, metric: str
) -> float | None:
    p = points.get((t, size, "lat" if metric == "latency_us" else "thr"))
    m = p.median() if p else None
    if m is None:
        return None
    return m * size / 1e6 if metric == "MB_per_s" else m


def fmt(x: float | None) -> str:
    if x is None:
        return "failed"
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def ratio(a: float | None, b: float | None) -> str:
    if a is None or not b:
        return "n/a"
    r = a / b
    if r >= 100:
        return f"{r:,.0f}x"
    return f"{r:.2f}x" if r >= 0.1 else f"{r:.2g}x"


def table(points: dict[tuple[str, int, str], Point], args: argparse.Namespace) -> str:
    bases = [b for b in ("ipc", "tcp") if b in args.transports]
    head = ["transport", "size", "msg/s", "MB/s", "latency (us)"]
    head += [f"msg/s vs {b}" for b in bases] + [f"latency vs {b}" for b in bases]
    head.append("MB/s vs memcpy")
    lines = [
        "| " + " | ".join(head) + " |",
        "|---|---:|" + "---:|" * (len(head) - 2),
    ]
    for size in args.sizes:
        limit = value(points, MEMCPY, size, "MB_per_s")
        for t in args.transports:
            thr = value(points, t, size, "msg_per_s")
            lat = value(points, t, size, "latency_us")
            mb = value(points, t, size, "MB_per_s")
            row = [t, human(size), fmt(thr), fmt(mb), fmt(lat)]
            for metric, cur in (("msg_per_s", thr), ("latency_us", lat)):
                for b in bases:
                    row.append("-" if t == b else ratio(cur, value(points, b, size, metric)))
            # inproc:// passes pointers: no copy to compare with.
            row.append("-" if t == "inproc" else ratio(mb, limit))
            lines.append("| " + " | ".join(row) + " |")
        memcpy_row = [MEMCPY, human(size), fmt(value(points, MEMCPY, size, "msg_per_s"))]
        memcpy_row += [fmt(limit)] + ["-"] * (len(head) - 4)
        lines.append("| " + " | ".join(memcpy_row) + " |")
    ratios = " (or ".join(f"{b}'s" for b in bases) + (")" if len(bases) > 1 else "")
    note = (
        f"Medians of {runs(args.repeat)} (min and max in bench.csv). MB = 10^6 bytes; "
        "latency is one way (half a REQ/REP round trip)."
    )
    if bases:
        note += (
            f" Ratios: the row's median divided by {ratios} at the same size "
            "(throughput: higher is better; latency: lower is better)."
        )
    note += (
        " memcpy: one copy per byte as a one-copy transport must make it (ci/memcpy_thr.c: "
        f"a fresh malloc per message, destinations rotating over {human(POOL_SIZE)}), "
        "the most any transport that copies can move; MB/s vs memcpy is the row's "
        "bandwidth divided by it."
    )
    return "\n".join(lines) + "\n\n" + note + "\n"


def goals(points: dict[tuple[str, int, str], Point]) -> list[str]:
    def check(text: str, size: int, metric: str, want: float, higher: bool) -> str:
        scif, ipc = value(points, "scif", size, metric), value(points, "ipc", size, metric)
        if scif is None or ipc is None or not ipc:
            return f"goal: {text}: not measured (needs scif and ipc at {human(size)})"
        r = scif / ipc
        met = r >= want if higher else r <= want
        return f"goal: {text}: {'met' if met else 'not met'} (measured {r:.2f}x)"

    def of_memcpy(size: int) -> str:
        text = f"{human(size)} scif:// bandwidth >= 0.8x memcpy"
        scif = value(points, "scif", size, "MB_per_s")
        limit = value(points, MEMCPY, size, "MB_per_s")
        if scif is None or not limit:
            return f"goal: {text}: not measured (needs scif and memcpy at {human(size)})"
        r = scif / limit
        return f"goal: {text}: {'met' if r >= 0.8 else 'not met'} (measured {r:.2f}x)"

    large = (64 << 10, 1 << 20, 16 << 20, 64 << 20)
    return (
        [
            check(f"{human(s)} scif:// throughput >= 2.0x ipc://", s, "MB_per_s", 2.0, True)
            for s in large
        ]
        + [of_memcpy(s) for s in large]
        + [
            check("64 B scif:// msg/s >= 1.0x ipc://", 64, "msg_per_s", 1.0, True),
            check("64 B scif:// latency <= 1.0x ipc://", 64, "latency_us", 1.0, False),
        ]
    )


def write_csv(
    points: dict[tuple[str, int, str], Point], args: argparse.Namespace, path: Path
) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["transport", "size", "metric", "median", "min", "max", "runs", "count"])
        for size in args.sizes:
            for t in [*args.transports, MEMCPY]:
                for kind, metric in METRICS:
                    p = points.get((t, size, kind))
                    if p is None or p.median() is None:
                        continue
                    scale = size / 1e6 if metric == "MB_per_s" else 1.0
                    vals = [x * scale for x in p.runs]
                    w.writerow(
                        [
                            t,
                            size,
                            metric,
                            f"{statistics.median(vals):.6g}",
                            f"{min(vals):.6g}",
                            f"{max(vals):.6g}",
                            len(vals),
                            p.count,
                        ]
                    )


def plot(points: dict[tuple[str, int, str], Point], args: argparse.Namespace, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullLocator

    # inproc:// passes pointers: drawn as a dashed reference that does not set
    # the scale, so that scif, ipc and tcp stay readable.
    fig, (thr_ax, lat_ax, ratio_ax) = plt.subplots(1, 3, figsize=(16, 4.4))
    on_scale: dict[object, list[float]] = {thr_ax: [], lat_ax: []}
    for t in args.transports:
        reference = t == "inproc"
        for ax, kind, scale in ((thr_ax, "thr", True), (lat_ax, "lat", False)):
            xs, ys, lo, hi = [], [], [], []
            for size in args.sizes:
                p = points.get((t, size, kind))
                m = p.median() if p else None
                if p is None or m is None:
                    continue
                k = size / 1e6 if scale else 1.0
                xs.append(size)
                ys.append(m * k)
                lo.append((m - min(p.runs)) * k)
                hi.append((max(p.runs) - m) * k)
            if not xs:
                continue
            if reference:
                ax.plot(xs, ys, linestyle="--", color="gray", label=f"{t}:// (reference)")
            else:
                ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=3, label=f"{t}://")
                on_scale[ax] += ys
    # The one-copy limit, on the scale of the transports that copy.
    limit = [(s, value(points, MEMCPY, s, "MB_per_s")) for s in args.sizes]
    limit_xs = [s for s, v in limit if v is not None]
    limit_ys = [v for _s, v in limit if v is not None]
    if limit_xs:
        thr_ax.plot(limit_xs, limit_ys, linestyle=":", color="black", label="memcpy (limit)")
        on_scale[thr_ax] += limit_ys
    for ax, values in on_scale.items():
        if values:
            ax.set_ylim(min(values) / 2, max(values) * 2)
    for t in args.transports:
        if t in ("ipc", "inproc"):
            continue
        xs, ys = [], []
        for size in args.sizes:
            mine, ipc = points.get((t, size, "thr")), points.get(("ipc", size, "thr"))
            m, base = (mine.median() if mine else None), (ipc.median() if ipc else None)
            if m and base:
                xs.append(size)
                ys.append(m / base)
        if xs:
            ratio_ax.plot(xs, ys, marker="o", label=f"{t}://")
    ratio_ax.axhline(1.0, color="gray", linewidth=1)
    thr_ax.set(ylabel="throughput (MB/s)", title="PUSH/PULL throughput (local_thr/remote_thr)")
    lat_ax.set(ylabel="latency (µs, one way)", title="REQ/REP latency (local_lat/remote_lat)")
    ratio_ax.set(ylabel="throughput / ipc:// throughput", title="throughput relative to ipc://")
    for ax in (thr_ax, lat_ax, ratio_ax):
        ax.set(xscale="log", xlabel="message size")
        ax.set_xticks(args.sizes, [human(s) for s in args.sizes])
        ax.xaxis.set_minor_locator(NullLocator())
        if ax is not ratio_ax:
            ax.set(yscale="log")
            ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _pos: f"{y:,.10g}"))
            ax.yaxis.set_minor_formatter(FuncFormatter(lambda _y, _pos: ""))
        ax.grid(True, which="both", alpha=0.3)
        if ax.has_data():
            ax.legend()
    ratio_ax.set_ylim(bottom=0)
    ratio_ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _pos: f"{y:g}x"))
    fig.suptitle(f"medians of {runs(args.repeat)}, bars: min to max", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def git(checkout: Path, *argv: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(checkout), *argv], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def cpu_description() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
    models = re.findall(r"^model name\s*:\s*(.+)$", cpuinfo, flags=re.M)
    cores = set()
    for block in cpuinfo.split("\n\n"):
        package = re.search(r"^physical id\s*:\s*(\d+)", block, flags=re.M)
        core = re.search(r"^core id\s*:\s*(\d+)", block, flags=re.M)
        if package and core:
            cores.add((package.group(1), core.group(1)))
    text = f"{models[0] if models else platform.processor() or 'unknown'}; "
    text += f"{os.cpu_count()} logical CPUs"
    if cores:
        text += f", {len(cores)} physical cores"
    return text + f", {len(os.sched_getaffinity(0))} usable by the benchmark"


def memory_description() -> str:
    found = re.search(r"^MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text(), flags=re.M)
    return f"{int(found.group(1)) / (1 << 20):.1f} GiB" if found else "unknown"


def build_description(args: argparse.Namespace) -> str:
    build_type = "unknown build type"
    cache = args.cmake_dir / "CMakeCache.txt" if args.cmake_dir else None
    if cache and cache.is_file():
        text = cache.read_text(errors="replace")
        found = re.search(r"^CMAKE_BUILD_TYPE:\w+=(.+)$", text, flags=re.M)
        build_type = found.group(1) if found else build_type
    lib = args.perf.parent / "lib" / "libzmq.so.5"
    if lib.exists():
        built = datetime.datetime.fromtimestamp(lib.stat().st_mtime, datetime.timezone.utc)
        return f"{build_type}, {lib} built {built:%Y-%m-%d %H:%M} UTC"
    return build_type


def series_description(args: argparse.Namespace) -> str:
    patches = sorted(args.patches.glob("*.patch")) if args.patches else []
    text = f"v4.3.4 + patches/scif ({len(patches)} patches)"
    if args.checkout:
        described = git(args.checkout, "describe", "--tags", "--always", "--dirty")
        head = git(args.checkout, "log", "-1", "--format=%H %s")
        if head:
            text += f"; checkout {described} = `{head[:12]}` {head[41:]}"
        if described.endswith("-dirty"):
            text += " (the checkout has uncommitted changes)"
    return text


def machine(args: argparse.Namespace, info: dict[str, str]) -> str:
    rows = [
        ("date", info["date"]),
        ("CPU", cpu_description()),
        ("memory", memory_description()),
        ("kernel", f"{platform.system()} {platform.release()} ({platform.machine()})"),
        ("load average", f"{info['load_start']} at the start, {info['load_end']} at the end"),
        ("libzmq", series_description(args)),
        ("build", build_description(args)),
        ("libscif", f"{args.libscif}/libscif.so.0 (user-space emulation, LD_LIBRARY_PATH)"),
        ("peak memory", f"{info['maxrss']} (largest resident set of one perf tool process)"),
        ("wall time", info["wall"]),
    ]
    table = ["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)]
    per_size = ", ".join(
        "{}: {thr:,} messages / {lat:,} round trips".format(human(s), **counts(s, args.quick))
        for s in args.sizes
    )
    method = (
        "Method: libzmq's own perf tools from this build. Throughput: `local_thr` "
        "(PULL, binds, measures at the receiver) and `remote_thr` (PUSH, connects); "
        "latency: `local_lat` (REP, binds) and `remote_lat` (REQ, connects, reports "
        "half the mean round trip). `scif://`: the local side is emulated SCIF node 0 "
        "(`scif://PORT`), the remote side node 1 (`scif://0:PORT`), two processes in "
        "an emulated machine of their own (`SCIF_EMU_DOMAIN` unique per run); "
        "`ipc://` (a socket in a temporary directory) and `tcp://127.0.0.1` run the "
        "same two processes; `inproc://` runs `inproc_thr`/`inproc_lat`, both sides "
        "in one process (it passes messages by pointer: no copy, so its large-size "
        "throughput is not a copy rate, and those runs are short). Default socket "
        "options (HWM 1000; for `scif://`, messages from 8 KiB on go by RMA into the "
        "receiver's 8 MiB pool). The remote side "
        "starts once the local one listens. The throughput tools time count - 1 "
        "messages (the clock starts at the first) but divide count by that time; "
        "the table takes the extra message out. "
        f"Messages per run{' (--quick)' if args.quick else ''}: {per_size}. "
        f"Each point is the median of {runs(args.repeat)}, the runs of all points "
        "interleaved; `bench.csv` has min and max. Everything runs on one machine, "
        "so `scif://` measures the transport over libscif's emulation (RMA by "
        "process_vm_writev), not a PCIe link; on a machine shared with other work "
        "the numbers are noisy."
    )
    return "\n".join(table) + "\n\n" + method + "\n"


def schedule(args: argparse.Namespace) -> Iterator[tuple[int, int, str, str]]:
    for rep in range(args.repeat):
        for size in args.sizes:
            yield rep, size, MEMCPY, "thr"
            for t in args.transports:
                for kind in KINDS:
                    yield rep, size, t, kind


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="ci/bench",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "--sizes",
        type=parse_size,
        nargs="+",
        default=list(SIZES),
        metavar="SIZE",
        help="message sizes in bytes, K/M suffixes allowed (default: 64 1K 64K 1M 16M 64M)",
    )
    ap.add_argument(
        "--transports",
        nargs="+",
        choices=TRANSPORTS,
        default=list(TRANSPORTS),
        metavar="T",
        help="among scif ipc tcp inproc (default: all)",
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=None,
        metavar="N",
        help=f"runs per point (default 5; {QUICK_REPEAT} with --quick)",
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_REPEAT} runs and 1/{QUICK_DIVISOR} of the messages per run (CI)",
    )
    ap.add_argument(
        "--out", type=Path, required=True, help="output directory (ci/bench: build/bench)"
    )
    ap.add_argument(
        "--timeout", type=float, default=60.0, metavar="S", help="limit per run (default 60 s)"
    )
    ap.add_argument("--perf", type=Path, required=True, help="directory of libzmq's perf tools")
    ap.add_argument("--libscif", type=Path, required=True, help="directory of libscif.so.0")
    ap.add_argument(
        "--memcpy", type=Path, required=True, help="memcpy_thr, built from ci/memcpy_thr.c"
    )
    ap.add_argument("--cmake-dir", type=Path, help="the build tree, for machine.md")
    ap.add_argument("--checkout", type=Path, help="libzmq checkout, for machine.md")
    ap.add_argument("--patches", type=Path, help="the series' directory, for machine.md")
    args = ap.parse_args(argv)
    if args.repeat is None:
        args.repeat = QUICK_REPEAT if args.quick else 5
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    if args.timeout <= 0:
        ap.error("--timeout must be positive")
    args.sizes = list(dict.fromkeys(args.sizes))
    args.transports = list(dict.fromkeys(args.transports))
    tools = [f"{side}_{k}" for k in KINDS for side in ("local", "remote", "inproc")]
    missing = [t for t in tools if not os.access(args.perf / t, os.X_OK)]
    if missing:
        ap.error(f"missing in {args.perf}: {' '.join(missing)} (build first: ci/build)")
    if not os.access(args.memcpy, os.X_OK):
        ap.error(f"{args.memcpy} is not an executable (ci/bench builds it)")
    return args


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    start = time.monotonic()
    load_start = "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    date = f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC"
    points = {
        (t, s, k): Point(t, s, k, counts(s, args.quick)[k])
        for s in args.sizes
        for t in args.transports
        for k in KINDS
    }
    for s in args.sizes:
        points[(MEMCPY, s, "thr")] = Point(MEMCPY, s, "thr", memcpy_count(s))
    total = len(points) * args.repeat
    log(
        f"{len(args.sizes)} sizes x ({len(args.transports)} transports x 2 tools + memcpy) x "
        f"{args.repeat} runs = {total} runs{' (quick)' if args.quick else ''}"
    )
    done = 0
    try:
        with tempfile.TemporaryDirectory(prefix="scif-bench-") as workdir:
            runner = Runner(args, Path(workdir))
            for n, (rep, size, t, kind) in enumerate(schedule(args), 1):
                p = points[(t, size, kind)]
                what = f"{n}/{total} run {rep + 1}: {t} {human(size)} {kind} x{p.count:,}"
                if p.error is not None:
                    continue
                done += 1
                t0 = time.monotonic()
                try:
                    v = runner.measure(t, size, kind, p.count)
                except RunFailed as exc:
                    p.error = str(exc)
                    log(f"{what}: FAILED, skipping its other runs\n{exc}")
                    continue
                p.runs.append(v)
                shown = f"{v * size / 1e6:,.1f} MB/s" if kind == "thr" else f"{v:,.2f} us"
                log(f"{what}: {shown} ({time.monotonic() - t0:.2f} s)")
    except Interrupted as exc:
        log(f"interrupted ({exc}); nothing written")
        return 130
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)

    failed = [p for p in points.values() if p.error is not None]
    status = 1 if failed else 0
    maxrss_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    info = {
        "date": date,
        "load_start": load_start,
        "load_end": "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg()),
        "maxrss": f"{maxrss_kib / 1024:.0f} MiB",
        "wall": f"{time.monotonic() - start:.0f} s for {done} runs",
    }
    md = table(points, args)
    summary = goals(points)
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(points, args, args.out / "bench.csv")
    (args.out / "bench.md").write_text(
        md
        + "\n"
        + "".join(f"- {g}\n" for g in summary)
        + "".join(f"- failed: {p.transport} {human(p.size)} {p.kind}\n" for p in failed)
    )
    (args.out / "machine.md").write_text(machine(args, info))
    try:
        plot(points, args, args.out / "bench.png")
    except Exception as exc:  # any problem with the plot is reported, not fatal
        log(f"error: cannot draw {args.out / 'bench.png'}: {exc!r}")
        status = 1

    print(md)
    for g in summary:
        print(g)
    for p in failed:
        log(f"failed: {p.transport} {human(p.size)} {p.kind}:\n{p.error}")
    log(f"wrote {args.out}/bench.csv, bench.md, bench.png, machine.md ({info['wall']})")
    if failed:
        log(f"{len(failed)} point(s) failed: exit status 1")
    return status


if __name__ == "__main__":
    sys.exit(main())
