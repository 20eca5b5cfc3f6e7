"""The ``scif-zmq`` command: information, benchmark, demo and paths."""

from __future__ import annotations

import argparse
import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import scif_zmq

from . import bench, libscif, sizes

if TYPE_CHECKING:
    import zmq


class CliError(Exception):
    """A problem the user can act on; printed without a traceback."""


def require_scif() -> None:
    import zmq

    if not zmq.has("scif"):
        raise CliError(
            f"scif:// is not available: pyzmq uses backend {scif_zmq.backend_in_use()} "
            f"with libzmq {zmq.zmq_version()} at {scif_zmq.loaded_library('libzmq')}; "
            f"unset PYZMQ_BACKEND or set it to {scif_zmq.BACKEND}"
        )


def cmd_info(_: argparse.Namespace) -> None:
    import zmq

    scif = zmq.has("scif")
    rows = [
        ("scif-zmq", scif_zmq.__version__),
        ("pyzmq", zmq.pyzmq_version()),
        ("libzmq", f"{zmq.zmq_version()} ({scif_zmq.loaded_library('libzmq')})"),
        ("backend", scif_zmq.backend_in_use()),
        ("scif available", "yes" if scif else "no"),
        ("libscif", scif_zmq.loaded_library("libscif.so") or "not loaded"),
    ]
    choice = libscif.loaded_choice()
    if choice is not None:
        rows.append(("libscif chosen", f"{choice.kind}: {choice.reason}"))
    if scif:
        node, online = scif_zmq.scif_nodes()
        rows += [("this node", str(node)), ("online nodes", " ".join(map(str, online)))]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def cmd_clean(args: argparse.Namespace) -> None:
    names = args.domains or libscif.emulator_domains()
    for name, outcome in libscif.remove_domains(names).items():
        print(f"{name}: {outcome}")
    if not names:
        print("no emulated machines")


def cmd_paths(args: argparse.Namespace) -> None:
    paths = {
        "cmakedir": scif_zmq.get_cmake_dir,
        "includedir": scif_zmq.get_include,
        "libdir": scif_zmq.get_library_dir,
        "pkgconfigdir": scif_zmq.get_pkgconfig_dir,
    }
    print(paths[args.what]())


MAX_SIZE = 64 << 20


def message_sizes(text: str) -> list[int]:
    """One size, or several joined by commas (see :mod:`scif_zmq.sizes`)."""
    return [sizes.parse_size(part, MAX_SIZE) for part in text.split(",")]


def transports(text: str) -> list[str]:
    """One transport, or several joined by commas."""
    names = [part.strip() for part in text.split(",")]
    unknown = [name for name in names if name not in bench.TRANSPORTS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown transport {unknown[0]!r} (choose from {', '.join(bench.TRANSPORTS)})"
        )
    return names


def integer_in(low: int, high: int | None, what: str) -> Callable[[str], int]:
    """An argparse type: an integer from low to high (no limit if None)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            limit = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise argparse.ArgumentTypeError(f"{text!r}: expected {what} {limit}")
        return value

    return parse


def kept_messages(text: str) -> int | None:
    """--keep: a number of messages, or all of them (None)."""
    if text == "all":
        return None
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number of messages or 'all'")
    return int(text)


def command_prefix(text: str) -> str:
    """--remote: a command prefix whose program exists here."""
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r}: {error}") from None
    if not words:
        raise argparse.ArgumentTypeError("empty command prefix (e.g. 'ssh mic0')")
    if shutil.which(words[0]) is None:
        raise argparse.ArgumentTypeError(f"{text!r}: no program {words[0]!r} on PATH")
    return text


def plot_file(text: str) -> str:
    """--plot: a file that can be written once the run is over."""
    directory = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(directory):
        raise argparse.ArgumentTypeError(f"{text!r}: no directory {directory}")
    if not os.access(directory, os.W_OK):
        raise argparse.ArgumentTypeError(f"{text!r}: directory {directory} is not writable")
    return text


def cmd_bench(args: argparse.Namespace) -> None:
    # Before any work: a missing optional dependency is one line, not a traceback.
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        raise CliError("--plot needs matplotlib: pip install 'scif-zmq[plot]'")
    remote = remote_side(args)
    args.transports = list(dict.fromkeys(name for group in args.transports for name in group))
    if remote and args.transports != ["scif"]:
        raise CliError("--remote runs the other side on another node: use --transports scif")
    if "scif" in args.transports:
        require_scif()
    try:
        results = bench.run(
            [size for group in args.sizes for size in group],
            args.transports,
            repeats=args.repeats,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
            remote=remote,
            keep=args.keep,
        )
    except RuntimeError as error:  # a side that failed, named with its command
        raise CliError(str(error)) from None
    print(bench.table(results))
    if args.keep != 0:
        kept = "every message" if args.keep is None else f"the last {args.keep} messages"
        print(f"\nThroughput with the receiver keeping {kept} it received.")
    if args.plot:
        bench.plot(results, args.plot)
        print(f"plot written to {args.plot}", file=sys.stderr)


def remote_side(args: argparse.Namespace) -> bench.Remote | None:
    return bench.Remote(args.remote, args.remote_python) if args.remote else None


def check_node_online(node: int) -> None:
    _, online = scif_zmq.scif_nodes()
    if node not in online:
        raise CliError(f"SCIF node {node} is not online (online nodes: {online})")


def cmd_demo(args: argparse.Namespace) -> None:
    """PAIR ping-pong between this process (node 0) and a child on node 1."""
    # A private emulated machine (set before libscif's first use reads it).
    with scif_zmq.private_domain("demo"):
        run_demo(args)


def run_demo(args: argparse.Namespace) -> None:
    import zmq

    require_scif()
    check_node_online(args.node)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PAIR)
    try:
        sock.bind(f"scif://*:{args.port}")
    except zmq.ZMQError as error:
        if error.errno == zmq.EADDRINUSE:
            raise CliError(f"SCIF port {args.port} is in use; choose another with --port") from None
        raise
    endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
    node, _ = scif_zmq.scif_nodes()
    print(f"node {node}: bound {endpoint}", flush=True)
    peer_args = ["-m", "scif_zmq.cli", "_demo-peer", f"scif://{node}:{args.port}"]
    remote = remote_side(args)
    peer = subprocess.Popen(
        remote.command(*peer_args) if remote else [sys.executable, *peer_args],
        env={**os.environ, "SCIF_EMU_NODE": str(args.node)},
    )
    for i in range(args.count):
        wait_for_peer(sock, zmq.POLLOUT, peer, args.node)
        sock.send_string(f"ping {i}")
        wait_for_peer(sock, zmq.POLLIN, peer, args.node)
        print(f"node {node}: got {sock.recv_string()!r}", flush=True)
    sock.send_string("bye")
    peer.wait(timeout=30)
    sock.close()
    ctx.term()


def wait_for_peer(sock: zmq.Socket, event: int, peer: subprocess.Popen[bytes], node: int) -> None:
    """Waits until sock can send or receive; a peer that exits or stays silent is an error."""
    deadline = time.monotonic() + 30
    while not sock.poll(100, event):
        if peer.poll() is not None or time.monotonic() > deadline:
            peer.kill()
            status = peer.wait()
            raise CliError(
                f"no answer from the peer on node {node} (it "
                + (f"exited with {status})" if status != -9 else "stayed silent for 30 s)")
            )


def demo_peer(endpoint: str) -> None:
    import zmq

    node, _ = scif_zmq.scif_nodes()
    with zmq.Context() as ctx, ctx.socket(zmq.PAIR) as sock:
        sock.connect(endpoint)
        print(f"node {node}: connected to {endpoint}")
        while (text := sock.recv_string()) != "bye":
            sock.send_string(f"pong from node {node} ({text})")


def add_remote_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--remote",
        type=command_prefix,
        metavar="PREFIX",
        help="run the other side through this command prefix, e.g. 'ssh mic0' for a card "
        "(real SCIF hardware; the emulator runs it locally as node 1)",
    )
    p.add_argument(
        "--remote-python",
        default="python3",
        metavar="PATH",
        help="the Python with scif-zmq installed on the other side (default python3)",
    )


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="scif-zmq", description="ZeroMQ over SCIF: information, benchmark, demo and paths."
    )
    top.add_argument("--version", action="version", version=f"scif-zmq {scif_zmq.__version__}")
    sub = top.add_subparsers(dest="command", required=True)

    sub.add_parser("info", help="versions, backend, libscif in use, nodes").set_defaults(
        run=cmd_info
    )

    p = sub.add_parser("bench", help="throughput and latency: scif:// vs ipc:// vs tcp://")
    p.add_argument(
        "--sizes",
        type=message_sizes,
        nargs="+",
        default=[[64, 1024, 65536, 1048576]],
        metavar="SIZE",
        help="message sizes: 64, 1K, 1MiB..., also joined by commas (default 64 1K 64K 1M)",
    )
    p.add_argument(
        "--transports",
        type=transports,
        nargs="+",
        default=[list(bench.TRANSPORTS)],
        metavar="NAME",
        help=f"transports to compare, also joined by commas (default {' '.join(bench.TRANSPORTS)})",
    )
    p.add_argument(
        "--repeats",
        type=integer_in(1, None, "a number of runs"),
        default=3,
        help="runs per point; the median is shown",
    )
    p.add_argument(
        "--plot", type=plot_file, metavar="FILE.png", help="also write a throughput plot"
    )
    p.add_argument(
        "--keep",
        type=kept_messages,
        default=0,
        metavar="N|all",
        help="the receiver keeps the last N messages it measured, or all of them, "
        "as code that collects results does (default 0)",
    )
    add_remote_options(p)
    p.set_defaults(run=cmd_bench)

    p = sub.add_parser("demo", help="PAIR ping-pong between node 0 and another node")
    p.add_argument(
        "--node", type=integer_in(0, 255, "a node id"), default=1, help="the peer's node id"
    )
    p.add_argument(
        "--port",
        type=integer_in(1, 65535, "a SCIF port"),
        default=6666,
        help="the SCIF port node 0 binds",
    )
    p.add_argument(
        "--count",
        type=integer_in(1, None, "a number of round trips"),
        default=3,
        help="round trips to make",
    )
    add_remote_options(p)
    p.set_defaults(run=cmd_demo)

    p = sub.add_parser(
        "clean",
        help="remove this user's emulated SCIF machines that no process uses "
        "(named machines stay in /tmp/scif-emu-UID otherwise)",
    )
    p.add_argument(
        "domains", nargs="*", metavar="NAME", help="SCIF_EMU_DOMAIN names (default: all of them)"
    )
    p.set_defaults(run=cmd_clean)

    p = sub.add_parser("paths", help="where the C/C++ headers, libraries and configs are")
    p.add_argument(
        "what",
        choices=["cmakedir", "includedir", "libdir", "pkgconfigdir"],
        help="which directory to print",
    )
    p.set_defaults(run=cmd_paths)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_demo-peer"]:
        demo_peer(argv[1])
        return 0
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except CliError as error:
        print(f"scif-zmq: error: {error}", file=sys.stderr)
        return 1
    except ImportError as error:  # the environment: SCIF_EMU_*, SCIF_ZMQ_LIBSCIF
        print(f"scif-zmq: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
