"""Benchmark scif:// against ipc://, tcp:// and inproc:// with libzmq's perf tools.

PUSH/PULL throughput (local_thr/remote_thr) and REQ/REP latency
(local_lat/remote_lat) for each message size. For scif:// the local side runs
as emulated SCIF node 0 (bind scif://PORT) and the remote side as node 1
(connect scif://0:PORT), in an emulated machine (SCIF_EMU_DOMAIN) of its own
for every run; ipc:// and tcp://127.0.0.1 run the same two processes;
inproc:// runs inproc_thr/inproc_lat in one process. --baseline adds the
scif:// of another build (an earlier commit), measured the same way.

Beside them, three references, throughput only:
- link (ci/link_thr.c): the SCIF link itself, libscif's own RMA between two
  nodes, one scif_vwriteto per message into a window rotating over the size
  of the scif:// pool, with no transport around it. As remote_thr's, each
  message is a fresh malloc, never written, up to 1000 of them queued, so
  that most of its pages are new: what the transport's copy also meets.
  scif:// is compared with it as MPI stacks compare osu_bw with ib_write_bw;
- link (reused source): the same with messages reused within the size of the
  pool, as a program writing its messages before it sends them has them;
- memcpy (ci/memcpy_thr.c): one memcpy per byte from a fresh malloc (never
  written: the kernel's zero page, always in cache) into a region the size of
  the pool, which fits in the caches of most machines.

Every point is measured --repeat times, the repetitions interleaved (round
robin over sizes and transports, so that a burst of load from elsewhere hits
all transports alike), and reported as its median with min and max. One more
pair of scif:// throughput runs per size, untimed, counts the SCIF calls each
side makes (libscif's SCIF_EMU_STATS): the difference between a run of N and
one of 2N messages, divided by N, is what a message costs in steady state.

Writes OUT/bench.csv, OUT/bench.md (the tables, also printed on stdout),
OUT/bench.png and OUT/machine.md; progress goes to stderr. The goals of
issue #26 are printed as information: numbers are reported, never asserted.
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
import shutil
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
# References, measured for throughput only, at every size.
MEMCPY = "memcpy"
LINK = "link"
LINK_REUSED = "link (reused source)"
REFERENCES = (LINK, LINK_REUSED, MEMCPY)
BASELINE = "scif@"  # + the baseline's label
POOL_SIZE = 8 << 20  # ZMQ_SCIF_RMA_WINDOW's default: the references' destinations
RMA_THRESHOLD = 8192  # ZMQ_SCIF_RMA_THRESHOLD's default: from it on, scif:// uses RMA
SNDHWM = 1000  # remote_thr's messages queue up to ZMQ_SNDHWM ...
LINK_QUEUE_BYTES = 1 << 30  # ... here within 1 GiB
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


def scif_env(libscif: Path) -> dict[str, str]:
    """The environment of a run over the libscif in *libscif*, two nodes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCIF_EMU_")}
    libpath = [str(libscif), os.environ.get("LD_LIBRARY_PATH", "")]
    env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in libpath if p)
    env["SCIF_EMU_NODES"] = "2"
    return env


@dataclass
class Build:
    """Where a transport's perf tools and libscif are."""

    perf: Path
    env: dict[str, str]


class Runner:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.perf: Path = args.perf
        self.memcpy: Path = args.memcpy
        self.link: Path = args.link
        self.workdir = workdir
        self.timeout: float = args.timeout
        self.seq = 0
        self.scif_port = 2000  # every run has a domain of its own; still never reused
        self.tcp_ports: set[int] = set()
        self.wait_listen: dict[str, bool] = {}
        self.named_domains: list[str] = []
        self.env = scif_env(args.libscif)
        self.env_run = self.env
        self.builds = {"scif": Build(self.perf, self.env)}
        if args.baseline:
            self.builds[baseline_name(args)] = Build(
                args.baseline / "libzmq" / "bin", scif_env(args.baseline / "libscif")
            )

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

    def endpoints(self, transport: str) -> tuple[str, str, tuple[str, ...]]:
        """(bind, connect, the names that show up as listening) for a fresh run."""
        if transport in self.builds:
            self.scif_port += 1
            port = self.scif_port
            domain = self.env_run["SCIF_EMU_DOMAIN"]
            # A socket file in the domain's directory; early libscif used
            # abstract names instead.
            return (
                f"scif://{port}",
                f"scif://0:{port}",
                (f"{domain}/0/{port}", f"@scif-emu/{domain}/0/{port}"),
            )
        if transport == "ipc":
            path = self.workdir / f"{self.seq}.ipc"
            return f"ipc://{path}", f"ipc://{path}", (str(path),)
        port = self.free_tcp_port()
        return f"tcp://127.0.0.1:{port}", f"tcp://127.0.0.1:{port}", (f"{port:04X}",)

    @staticmethod
    def is_listening(transport: str, names: tuple[str, ...]) -> bool | None:
        """Whether the local side listens on one of *names*; None when this cannot be told."""
        try:
            if transport == "tcp":
                for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
                    cols = line.split()
                    if cols[1].endswith(":" + names[0]) and cols[3] == TCP_LISTEN:
                        return True
                return False
            for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
                cols = line.split(None, 7)
                if len(cols) == 8 and cols[7] in names and int(cols[3], 16) & SO_ACCEPTCON:
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
        self,
        transport: str,
        names: tuple[str, ...],
        local: Proc,
        procs: list[Proc],
        deadline: float,
    ) -> None:
        """Returns once the local side listens, so that the remote side connects
        at once: no reconnect interval (100 ms) in remote_lat's measured time."""
        if not self.wait_listen.setdefault(transport, True):
            return
        give_up = min(deadline, time.monotonic() + 10)
        while time.monotonic() < give_up:
            self.check(procs, deadline)
            if local.popen.poll() is not None:
                return  # exited without failing: nothing to wait for
            listening = self.is_listening(transport, names)
            if listening is None:
                break
            if listening:
                return
            time.sleep(0.002)
        self.check(procs, deadline)
        log(f"cannot tell when {transport}:// listens ({names[0]}); not waiting for it any more")
        self.wait_listen[transport] = False

    def new_domain(self, env: dict[str, str], named: bool = False) -> dict[str, str]:
        """*env* in a private emulated machine of its own: a directory in the
        work directory, or (*named*, as early libscif took only names) a name."""
        self.seq += 1
        domain = self.workdir / f"domain-{self.seq}"
        if named:
            domain = Path(f"scif-bench-{os.getpid()}-{self.seq}")
            self.named_domains.append(domain.name)
        self.env_run = {**env, "SCIF_EMU_DOMAIN": str(domain)}
        return self.env_run

    def measure(self, transport: str, size: int, kind: str, count: int) -> float:
        """One run: the tool's throughput in msg/s or latency in us."""
        if transport == MEMCPY:
            return self.measure_memcpy(size, count)
        if transport in (LINK, LINK_REUSED):
            return self.measure_link(size, count, transport == LINK_REUSED)
        build = self.builds.get(transport, self.builds["scif"])
        env = self.new_domain(build.env, named=transport != "scif" and transport in self.builds)
        return self.run_pair(transport, build.perf, env, size, kind, count)

    def run_pair(
        self, transport: str, perf: Path, env: dict[str, str], size: int, kind: str, count: int
    ) -> float:
        deadline = time.monotonic() + self.timeout
        procs: list[Proc] = []
        try:
            if transport == "inproc":
                tool = str(perf / f"inproc_{kind}")
                procs.append(self.start("inproc", [tool, str(size), str(count)], env))
                self.wait_for(procs[0], procs, deadline)
                result = procs[0]
            else:
                bind, connect, names = self.endpoints(transport)
                local_argv = [str(perf / f"local_{kind}"), bind, str(size), str(count)]
                remote_argv = [str(perf / f"remote_{kind}"), connect, str(size), str(count)]
                local = self.start("local", local_argv, {**env, "SCIF_EMU_NODE": "0"})
                procs.append(local)
                self.await_listening(transport, names, local, procs, deadline)
                remote = self.start("remote", remote_argv, {**env, "SCIF_EMU_NODE": "1"})
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
        return self.run_reference(MEMCPY, argv, self.env, size)

    def measure_link(self, size: int, count: int, reused: bool) -> float:
        """link_thr's msg/s: fresh sources queued as remote_thr's, or reused
        within the pool's size."""
        queue = max(1, POOL_SIZE // size) if reused else link_queue(size, count)
        argv = [str(self.link), str(size), str(count), str(POOL_SIZE), str(queue)]
        return self.run_reference(LINK, argv, self.new_domain(self.env), size)

    def run_reference(self, name: str, argv: list[str], env: dict[str, str], size: int) -> float:
        procs = [self.start(name, argv, env)]
        try:
            self.wait_for(procs[0], procs, time.monotonic() + self.timeout)
            found = THR_RE.search(procs[0].out.read_text(errors="replace"))
            if not found:
                raise RunFailed(self.describe(f"no result in {name}'s output", procs))
            return float(found.group(1)) * 1e6 / 8 / size
        finally:
            self.finish(procs)

    def count_calls(self, size: int, count: int) -> dict[str, dict[str, float]]:
        """SCIF calls per message of each side ("sender", "receiver") of a
        scif:// throughput run in steady state: a run of *count* messages and
        one of twice as many, counted by SCIF_EMU_STATS, their difference
        divided by *count*, so that what a connection costs once drops out."""
        totals = []
        for n in (count, 2 * count):
            stats = self.workdir / f"stats-{self.seq + 1}"
            env = {**self.new_domain(self.env), "SCIF_EMU_STATS": str(stats)}
            self.run_pair("scif", self.perf, env, size, "thr", n)
            totals.append(read_stats(stats))
        per_message: dict[str, dict[str, float]] = {}
        for side in ("sender", "receiver"):
            calls = set(totals[0].get(side, {})) | set(totals[1].get(side, {}))
            per_message[side] = {
                c: (totals[1].get(side, {}).get(c, 0) - totals[0].get(side, {}).get(c, 0)) / count
                for c in calls
            }
        return per_message

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

    def remove_named_domains(self) -> None:
        """The directories of named domains (/tmp/scif-emu-<euid>/<name>)."""
        base = Path(f"/tmp/scif-emu-{os.geteuid()}")
        for name in self.named_domains:
            shutil.rmtree(base / name, ignore_errors=True)


# libscif's SCIF_EMU_STATS lines: "scif-emu-stats pid=P node=N call=NAME count=C ..."
STATS_RE = re.compile(r"^scif-emu-stats pid=\d+ node=(\d+) call=(\w+) count=(\d+)", re.M)
# The sides of a perf tool run: local_thr (node 0) receives, remote_thr (node 1) sends.
SIDES = {"0": "receiver", "1": "sender"}


def read_stats(path: Path) -> dict[str, dict[str, int]]:
    """Calls per side, from a SCIF_EMU_STATS file (empty if none was written)."""
    calls: dict[str, dict[str, int]] = {}
    text = path.read_text() if path.exists() else ""
    for node, call, count in STATS_RE.findall(text):
        side = calls.setdefault(SIDES.get(node, node), {})
        side[call] = side.get(call, 0) + int(count)
    return calls


def link_queue(size: int, count: int) -> int:
    """How many of link_thr's messages are queued at once: as many as
    remote_thr queues (ZMQ_SNDHWM), within LINK_QUEUE_BYTES."""
    return max(1, min(count, SNDHWM, LINK_QUEUE_BYTES // size))


def baseline_name(args: argparse.Namespace) -> str:
    return BASELINE + args.baseline_label


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


def measured(args: argparse.Namespace) -> list[str]:
    """The transports measured with the perf tools, the baseline's last."""
    return [*args.transports, *([baseline_name(args)] if args.baseline else [])]


def row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def table(points: dict[tuple[str, int, str], Point], args: argparse.Namespace) -> str:
    bases = [b for b in ("ipc", "tcp") if b in args.transports]
    head = ["transport", "size", "msg/s", "MB/s", "latency (us)"]
    head += [f"msg/s vs {b}" for b in bases] + [f"latency vs {b}" for b in bases]
    head += ["MB/s vs link", "MB/s vs memcpy"]
    lines = [row(head), "|---|---:|" + "---:|" * (len(head) - 2)]
    for size in args.sizes:
        link = value(points, LINK, size, "MB_per_s")
        limit = value(points, MEMCPY, size, "MB_per_s")
        for t in measured(args):
            thr = value(points, t, size, "msg_per_s")
            lat = value(points, t, size, "latency_us")
            mb = value(points, t, size, "MB_per_s")
            cells = [t, human(size), fmt(thr), fmt(mb), fmt(lat)]
            for metric, cur in (("msg_per_s", thr), ("latency_us", lat)):
                for b in bases:
                    cells.append("-" if t == b else ratio(cur, value(points, b, size, metric)))
            # The link is SCIF's RMA; inproc:// passes pointers, with no copy
            # to compare with.
            cells.append(ratio(mb, link) if t.startswith("scif") and link else "-")
            cells.append("-" if t == "inproc" else ratio(mb, limit))
            lines.append(row(cells))
        for ref in references(size):
            mb = value(points, ref, size, "MB_per_s")
            cells = [ref, human(size), fmt(value(points, ref, size, "msg_per_s")), fmt(mb)]
            cells += ["-"] * (len(head) - 6)
            cells += [ratio(mb, link) if ref != MEMCPY else "-", "-"]
            lines.append(row(cells))
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
        " link (from 8 KiB, where scif:// uses RMA): libscif's own RMA between the two nodes, "
        "one scif_vwriteto per message "
        f"into a window rotating over {human(POOL_SIZE)} (ci/link_thr.c), each message a "
        "fresh malloc never written and queued as remote_thr's are (up to 1000, within "
        "1 GiB), so that most of its pages are new, as remote_thr's are; MB/s vs link is "
        "a scif:// row's bandwidth divided by it. link (reused source): the same with "
        f"messages reused within {human(POOL_SIZE)}, as a program writing its messages "
        "before it sends them has them. memcpy: one memcpy per byte (ci/memcpy_thr.c) "
        "from a fresh malloc never written (the kernel's zero page, always in cache) "
        f"into a region of {human(POOL_SIZE)}, from cache wherever the machine's caches "
        "hold that much; MB/s vs memcpy is the row's bandwidth divided by it."
    )
    return "\n".join(lines) + "\n\n" + note + "\n"


# Steady-state SCIF calls per message, by side, as count_calls gives them.
Calls = dict[int, dict[str, dict[str, float]]]
RMA_CALLS = ("vwriteto", "vreadfrom", "writeto", "readfrom")


def calls_table(calls: Calls) -> str:
    head = ["size", "side", "register", "unregister", "RMA", "fence wait", "send", "recv"]
    lines = [row(head), "|---:|---|" + "---:|" * (len(head) - 2)]
    for size, sides in sorted(calls.items()):
        for side in ("sender", "receiver"):
            c = sides.get(side, {})
            rma = sum(c.get(k, 0.0) for k in RMA_CALLS)
            counts = [c.get("register", 0.0), c.get("unregister", 0.0), rma]
            counts += [c.get("fence_wait", 0.0), c.get("send", 0.0), c.get("recv", 0.0)]
            lines.append(row([human(size), side, *(f"{x:.3f}" for x in counts)]))
    note = (
        "SCIF calls per scif:// message in steady state, each side (libscif's "
        "SCIF_EMU_STATS, untimed runs): the calls of a local_thr/remote_thr run of 2N "
        "messages less those of one of N, divided by N, so that what a connection costs "
        "once (registering its pool) drops out. RMA: scif_vwriteto, scif_vreadfrom, "
        "scif_writeto and scif_readfrom; send, recv: the connection's byte stream."
    )
    return "\n".join(lines) + "\n\n" + note + "\n"


def goals(
    points: dict[tuple[str, int, str], Point], args: argparse.Namespace, calls: Calls
) -> list[str]:
    def verdict(text: str, r: float | None, want: float, higher: bool, needs: str) -> str:
        if r is None:
            return f"goal: {text}: not measured (needs {needs})"
        met = r >= want if higher else r <= want
        return f"goal: {text}: {'met' if met else 'not met'} (measured {r:.2f}x)"

    def of(t: str, base: str, size: int, metric: str, want: float, higher: bool) -> str:
        cur, ref = value(points, t, size, metric), value(points, base, size, metric)
        what = {"MB_per_s": "throughput", "msg_per_s": "msg/s", "latency_us": "latency"}
        sign = ">=" if higher else "<="
        text = f"{human(size)} {t}:// {what[metric]} {sign} {want:.1f}x {base}"
        r = cur / ref if cur is not None and ref else None
        return verdict(text, r, want, higher, f"{t} and {base} at {human(size)}")

    large = [s for s in (64 << 10, 1 << 20, 16 << 20, 64 << 20)]
    lines = [of("scif", LINK, s, "MB_per_s", 0.8, True) for s in large]
    lines += [of("scif", "ipc", s, "MB_per_s", 2.0, True) for s in large]
    if args.baseline:
        lines += [of("scif", baseline_name(args), s, "msg_per_s", 1.0, True) for s in args.sizes]
    lines += [
        of("scif", "ipc", 64, "msg_per_s", 1.0, True),
        of("scif", "ipc", 64, "latency_us", 1.0, False),
    ]
    for size in large:
        sides = calls.get(size)
        if not sides:
            lines.append(f"goal: {human(size)} SCIF calls per message: not counted")
            continue
        register = max(
            sides[side].get("register", 0.0) + sides[side].get("unregister", 0.0) for side in sides
        )
        rma = max(sum(sides[side].get(k, 0.0) for k in RMA_CALLS) for side in sides)
        met = register < 0.01 and rma <= 1.01
        lines.append(
            f"goal: {human(size)} no registration and <= 1 RMA per message in steady state: "
            f"{'met' if met else 'not met'} (measured {register:.3f} register/unregister, "
            f"{rma:.2f} RMA per message)"
        )
    return lines


def write_csv(
    points: dict[tuple[str, int, str], Point], args: argparse.Namespace, path: Path
) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["transport", "size", "metric", "median", "min", "max", "runs", "count"])
        for size in args.sizes:
            for t in [*measured(args), *REFERENCES]:
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
    for t in measured(args):
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
    # The link and a memcpy, on the scale of the transports that copy.
    for ref, style in ((LINK, "-."), (MEMCPY, ":")):
        limit = [(s, value(points, ref, s, "MB_per_s")) for s in args.sizes]
        limit_xs = [s for s, v in limit if v is not None]
        limit_ys = [v for _s, v in limit if v is not None]
        if limit_xs:
            thr_ax.plot(limit_xs, limit_ys, linestyle=style, color="black", label=ref)
            on_scale[thr_ax] += limit_ys
    for ax, values in on_scale.items():
        if values:
            ax.set_ylim(min(values) / 2, max(values) * 2)
    for t in measured(args):
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


def counted_sizes(args: argparse.Namespace) -> list[int]:
    """The sizes whose scif:// messages go by RMA, whose SCIF calls are counted."""
    return [s for s in args.sizes if s >= RMA_THRESHOLD]


def references(size: int) -> tuple[str, ...]:
    """The references measured at *size*: the link only where scif:// uses it."""
    return REFERENCES if size >= RMA_THRESHOLD else (MEMCPY,)


def schedule(args: argparse.Namespace) -> Iterator[tuple[int, int, str, str]]:
    for rep in range(args.repeat):
        for size in args.sizes:
            for ref in references(size):
                yield rep, size, ref, "thr"
            for t in measured(args):
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
    ap.add_argument("--link", type=Path, required=True, help="link_thr, built from ci/link_thr.c")
    ap.add_argument(
        "--baseline",
        type=Path,
        metavar="DIR",
        help="the build tree (libzmq/bin, libscif) of another scif:// to measure beside",
    )
    ap.add_argument(
        "--baseline-label", default="baseline", metavar="NAME", help="its name in the tables"
    )
    ap.add_argument(
        "--no-counts", action="store_true", help="skip counting the SCIF calls per message"
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
    for tool in (args.memcpy, args.link):
        if not os.access(tool, os.X_OK):
            ap.error(f"{tool} is not an executable (ci/bench builds it)")
    if args.baseline and not os.access(args.baseline / "libzmq" / "bin" / "local_thr", os.X_OK):
        ap.error(f"{args.baseline} has no libzmq/bin/local_thr: not a build tree (ci/build)")
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
        for t in measured(args)
        for k in KINDS
    }
    for s in args.sizes:
        points[(MEMCPY, s, "thr")] = Point(MEMCPY, s, "thr", memcpy_count(s))
        for ref in references(s)[:-1]:
            points[(ref, s, "thr")] = Point(ref, s, "thr", counts(s, args.quick)["thr"])
    total = len(points) * args.repeat
    counted = [] if args.no_counts or "scif" not in args.transports else counted_sizes(args)
    log(
        f"{len(args.sizes)} sizes x ({len(measured(args))} transports x 2 tools + "
        f"references) x {args.repeat} runs = {total} runs"
        f"{' (quick)' if args.quick else ''}, and {2 * len(counted)} counting SCIF calls"
    )
    done = 0
    calls: Calls = {}
    try:
        with tempfile.TemporaryDirectory(prefix="scif-bench-") as workdir:
            runner = Runner(args, Path(workdir))
            for size in counted:
                try:
                    calls[size] = runner.count_calls(size, counts(size, args.quick)["thr"] // 2)
                except RunFailed as exc:
                    log(f"counting SCIF calls at {human(size)}: FAILED\n{exc}")
                    continue
                log(f"SCIF calls counted at {human(size)}")
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
            runner.remove_named_domains()
    except Interrupted as exc:
        log(f"interrupted ({exc}); nothing written")
        return 130
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)

    failed = [p for p in points.values() if p.error is not None]
    status = 1 if failed or len(calls) < len(counted) else 0
    maxrss_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    info = {
        "date": date,
        "load_start": load_start,
        "load_end": "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg()),
        "maxrss": f"{maxrss_kib / 1024:.0f} MiB",
        "wall": f"{time.monotonic() - start:.0f} s for {done} runs",
    }
    md = table(points, args)
    if calls:
        md += "\n" + calls_table(calls)
    summary = goals(points, args, calls)
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
