"""Benchmark scif:// against ipc://, tcp:// and inproc:// with libzmq's perf tools.

PUSH/PULL throughput (local_thr/remote_thr) and REQ/REP latency
(local_lat/remote_lat) per message size; for scif:// the local side runs as
emulated node 0 and the remote side as node 1. Every point is measured
--repeat times and reported as its median (with min and max). Writes
bench.csv, bench.md, bench.png and machine.md into --out and prints the
markdown table. Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

TRANSPORTS = ("scif", "ipc", "tcp", "inproc")
SIZES = (64, 1024, 65536, 1 << 20, 16 << 20)
THROUGHPUT = re.compile(r"mean throughput: ([0-9.]+) \[msg/s\]")
LATENCY = re.compile(r"average latency: ([0-9.]+) \[us\]")


@dataclass
class Point:
    transport: str
    size: int
    metric: str  # "msg/s" or "us"
    runs: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.runs)


class BenchError(Exception):
    """A perf tool failed; the message carries its output."""


class Runner:
    def __init__(self, perf: Path, libscif: Path, workdir: Path, quick: bool) -> None:
        self.perf = perf
        self.workdir = workdir
        self.quick = quick
        self.port = 7100
        self.env = {
            **os.environ,
            "LD_LIBRARY_PATH": os.pathsep.join(
                filter(None, [str(libscif), os.environ.get("LD_LIBRARY_PATH")])
            ),
            "SCIF_EMU_NODES": "2",
        }

    def counts(self, size: int) -> tuple[int, int]:
        """Messages for a throughput run and round trips for a latency run."""
        budget = (64 << 20) if self.quick else (512 << 20)
        thr = max(16, min(200_000 if not self.quick else 50_000, budget // size))
        # 16 MiB messages: the receiver may queue all of them; keep that bounded.
        thr = min(thr, 16) if size >= 16 << 20 else thr
        return thr, max(8, min(thr // 10, 10_000 if not self.quick else 2_000))

    def endpoints(self, transport: str) -> tuple[str, str]:
        self.port += 1
        if transport == "scif":
            return f"scif://{self.port}", f"scif://0:{self.port}"
        if transport == "ipc":
            path = self.workdir / f"bench-{self.port}"
            return f"ipc://{path}", f"ipc://{path}"
        return f"tcp://127.0.0.1:{self.port}", f"tcp://127.0.0.1:{self.port}"

    def run_pair(self, kind: str, transport: str, size: int, count: int) -> str:
        bind, connect = self.endpoints(transport)
        env = {**self.env, "SCIF_EMU_DOMAIN": f"bench-{os.getpid()}-{self.port}"}
        local = subprocess.Popen(
            [str(self.perf / f"local_{kind}"), bind, str(size), str(count)],
            env={**env, "SCIF_EMU_NODE": "0"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            remote = subprocess.run(
                [str(self.perf / f"remote_{kind}"), connect, str(size), str(count)],
                env={**env, "SCIF_EMU_NODE": "1"},
                capture_output=True,
                text=True,
                timeout=300,
            )
            out, _ = local.communicate(timeout=300)
        except subprocess.TimeoutExpired as exc:
            local.kill()
            raise BenchError(f"{kind} over {transport}, {size} B: timed out") from exc
        if remote.returncode or local.returncode:
            raise BenchError(
                f"{kind} over {transport}, {size} B failed:\n{out}{remote.stdout}{remote.stderr}"
            )
        return out + remote.stdout

    def measure(self, kind: str, transport: str, size: int) -> float:
        thr_count, lat_count = self.counts(size)
        count = thr_count if kind == "thr" else lat_count
        if transport == "inproc":
            tool = self.perf / f"inproc_{kind}"
            done = subprocess.run(
                [str(tool), str(size), str(count)],
                env=self.env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            if done.returncode:
                raise BenchError(f"{tool.name} {size} B failed:\n{done.stdout}{done.stderr}")
            out = done.stdout
        else:
            out = self.run_pair(kind, transport, size, count)
        found = (THROUGHPUT if kind == "thr" else LATENCY).search(out)
        if not found:
            raise BenchError(f"no result in the output of {kind} over {transport}:\n{out}")
        return float(found.group(1))


def table(
    points: dict[tuple[str, int, str], Point], sizes: list[int], transports: list[str]
) -> str:
    def ratio(t: str, size: int, metric: str, base: str) -> str:
        a, b = points.get((t, size, metric)), points.get((base, size, metric))
        return f"{a.median / b.median:.2f}x" if a and b else "n/a"

    lines = [
        "| transport | size | msg/s (median) | MB/s | latency µs (median) "
        "| msg/s vs ipc | msg/s vs tcp | latency vs ipc |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in sizes:
        for t in transports:
            thr = points[(t, size, "msg/s")]
            lat = points[(t, size, "us")]
            lines.append(
                f"| {t} | {human(size)} | {thr.median:,.0f} | {thr.median * size / 1e6:,.0f} "
                f"| {lat.median:.1f} | {ratio(t, size, 'msg/s', 'ipc')} "
                f"| {ratio(t, size, 'msg/s', 'tcp')} | {ratio(t, size, 'us', 'ipc')} |"
            )
    return "\n".join(lines) + "\n"


def human(size: int) -> str:
    for unit, shift in (("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift} {unit}"
    return f"{size} B"


def goals(points: dict[tuple[str, int, str], Point]) -> list[str]:
    def check(name: str, key: tuple[int, str], want: float, higher: bool) -> str:
        scif, ipc = points.get(("scif", *key)), points.get(("ipc", *key))
        if not scif or not ipc:
            return f"goal {name}: not measured"
        value = scif.median / ipc.median
        met = value >= want if higher else value <= want
        return f"goal {name}: {'met' if met else 'not met'} ({value:.2f}x)"

    return [
        check("1 MiB scif:// throughput >= 2.0x ipc://", (1 << 20, "msg/s"), 2.0, True),
        check("64 B scif:// msg/s >= 1.0x ipc://", (64, "msg/s"), 1.0, True),
        check("64 B scif:// latency <= 1.0x ipc://", (64, "us"), 1.0, False),
    ]


def plot(
    points: dict[tuple[str, int, str], Point], sizes: list[int], transports: list[str], out: Path
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (thr_ax, lat_ax) = plt.subplots(1, 2, figsize=(11, 4.2))
    for t in transports:
        thr = [points[(t, s, "msg/s")] for s in sizes]
        lat = [points[(t, s, "us")] for s in sizes]
        thr_ax.plot(
            sizes,
            [p.median * s / 1e6 for p, s in zip(thr, sizes, strict=True)],
            marker="o",
            label=t,
        )
        lat_ax.plot(sizes, [p.median for p in lat], marker="o", label=t)
    thr_ax.set(
        xscale="log",
        yscale="log",
        xlabel="message size (bytes)",
        ylabel="throughput (MB/s, median)",
        title="PUSH/PULL throughput",
    )
    lat_ax.set(
        xscale="log",
        yscale="log",
        xlabel="message size (bytes)",
        ylabel="latency (µs, median)",
        title="REQ/REP latency (one way)",
    )
    for ax in (thr_ax, lat_ax):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def machine(args: argparse.Namespace, series: str) -> str:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return "\n".join(
        [
            "| | |",
            "|---|---|",
            f"| date | {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC |",
            f"| CPU | {cpu}, {os.cpu_count()} logical cores |",
            f"| memory | {mem_kib / (1 << 20):.1f} GiB |",
            f"| kernel | {platform.release()} |",
            f"| libzmq | v4.3.4 with patches/scif ({series}) |",
            "",
            "Method: libzmq's perf tools — `local_thr`/`remote_thr` (PUSH/PULL, "
            "throughput at the receiver) and `local_lat`/`remote_lat` (REQ/REP, "
            "half the round trip) — with the local side as emulated SCIF node 0 "
            "and the remote side as node 1 in separate processes; `inproc_thr` and "
            "`inproc_lat` run both sides in one process. Default socket options "
            "(for scif://, messages from 8 KiB on move by RMA into an 8 MiB pool). "
            f"Each point is the median of {args.repeat} runs"
            f"{' (quick mode: fewer messages per run)' if args.quick else ''}; "
            "`bench.csv` has min and max. Everything shares one machine, so "
            "scif:// here measures libscif's emulation (RMA by process_vm_writev), "
            "not a PCIe link.",
            "",
        ]
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--perf", type=Path, required=True, help="directory of the perf tools")
    ap.add_argument("--libscif", type=Path, required=True, help="directory of libscif.so.0")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--series", default="", help="describes the series, for machine.md")
    ap.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    ap.add_argument("--transports", nargs="+", choices=TRANSPORTS, default=list(TRANSPORTS))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="2 runs, fewer messages")
    args = ap.parse_args()
    if args.quick:
        args.repeat = min(args.repeat, 2)

    args.out.mkdir(parents=True, exist_ok=True)
    points: dict[tuple[str, int, str], Point] = {}
    with tempfile.TemporaryDirectory() as workdir:
        runner = Runner(args.perf, args.libscif, Path(workdir), args.quick)
        total = len(args.sizes) * len(args.transports) * 2
        done = 0
        for size in args.sizes:
            for t in args.transports:
                for kind, metric in (("thr", "msg/s"), ("lat", "us")):
                    done += 1
                    print(f"[bench] {done}/{total} {t} {human(size)} {kind}", file=sys.stderr)
                    try:
                        runs = [runner.measure(kind, t, size) for _ in range(args.repeat)]
                    except BenchError as exc:
                        print(f"[bench] error: {exc}", file=sys.stderr)
                        return 1
                    points[(t, size, metric)] = Point(t, size, metric, runs)

    with open(args.out / "bench.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["transport", "size", "metric", "median", "min", "max", "runs"])
        for p in points.values():
            w.writerow(
                [
                    p.transport,
                    p.size,
                    p.metric,
                    f"{p.median:.3f}",
                    f"{min(p.runs):.3f}",
                    f"{max(p.runs):.3f}",
                    len(p.runs),
                ]
            )
    md = table(points, args.sizes, args.transports)
    summary = goals(points)
    (args.out / "bench.md").write_text(md + "\n" + "\n".join(f"- {g}" for g in summary) + "\n")
    (args.out / "machine.md").write_text(machine(args, args.series))
    plot(points, args.sizes, args.transports, args.out / "bench.png")
    print(md)
    for g in summary:
        print(g)
    print(f"[bench] wrote {args.out}/bench.csv, bench.md, bench.png, machine.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
