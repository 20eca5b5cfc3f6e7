"""The memory a receiver gets its large scif:// messages in.

Messages of 128 KiB and more are copied out of the connection's pool into
buffers of their own, which come back to the connection for the next
messages once the application releases them. Buffers of 2 MiB and more are
advised for huge pages (fewer faults, fewer TLB misses on each reuse) while
they are likely to come back; once the application holds several messages
it keeps what it receives, and new buffers get ordinary pages: there a huge
page's first touch can stall while the kernel compacts memory (100 MB
arrays kept by the receiver went at a third of ipc://'s speed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zmq

from scif_peer import finish, spawn

pytestmark = pytest.mark.usefixtures("scif_domain")

HELD = 8
SIZE = 4 << 20  # one part: half of the default 8 MiB pool
KEPT_BUFFERS = 4  # what a connection keeps for reuse (scif_rma_buffers_t)


def advised_for_huge_pages(address: int) -> bool:
    """Whether the mapping holding *address* has MADV_HUGEPAGE ("hg")."""
    inside = False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            first = line.split()[0]
            if not first.endswith(":"):  # "start-end perms ...": a new mapping
                start, end = (int(bound, 16) for bound in first.split("-"))
                inside = start <= address < end
            elif inside and first == "VmFlags:":
                return "hg" in line.split()[1:]
    raise AssertionError(f"no mapping holds {address:#x}")


@pytest.mark.skipif(
    not Path("/sys/kernel/mm/transparent_hugepage").is_dir(),
    reason="the kernel has no transparent huge pages to advise",
)
def test_a_receiver_that_holds_its_messages_gets_ordinary_pages() -> None:
    with zmq.Context() as ctx, ctx.socket(zmq.PAIR) as sock:
        sock.rcvtimeo = 30_000
        sock.bind("scif://*:*")
        sender = spawn(
            f"""
            ctx = zmq.Context()
            s = ctx.socket(zmq.PAIR); s.rcvtimeo = 30_000
            s.connect({sock.getsockopt_string(zmq.LAST_ENDPOINT)!r})
            # Once this arrives the sender knows the receiver's pool: every
            # large message then goes by RMA, none in the stream.
            assert s.recv() == b"ready"
            for i in range({HELD}):
                s.send(bytes([i]) * {SIZE})
            s.close(linger=-1)
            ctx.term()
            """
        )
        sock.send(b"ready")
        held = [sock.recv(copy=False) for _ in range(HELD)]
        finish(sender)
        assert [bytes(frame.buffer[-1:]) for frame in held] == [bytes([i]) for i in range(HELD)]
        advice = [
            advised_for_huge_pages(int(np.frombuffer(frame.buffer, np.uint8).ctypes.data))
            for frame in held
        ]
        assert advice == [True] * KEPT_BUFFERS + [False] * (HELD - KEPT_BUFFERS)
