"""What a large scif:// message costs in SCIF calls, in steady state.

On a real card, registering memory pins its pages and unregistering waits for
every DMA that used it: the RMA path registers one pool per connection and
nothing per message, and writes each part of a message with one RMA. The
emulator counts the calls a process makes (SCIF_EMU_STATS); a run of 2N
messages less a run of N is what N messages cost, whatever a connection
costs once.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scif_peer import finish, spawn

pytestmark = pytest.mark.usefixtures("scif_domain")

TIMEOUT_MS = 30_000
STATS_RE = re.compile(r"^scif-emu-stats pid=\d+ node=(\d) call=(\w+) count=(\d+)", re.M)
SIDES = {"0": "receiver", "1": "sender"}

Calls = dict[str, dict[str, int]]


def counted_run(stats: Path, size: int, count: int) -> Calls:
    """A PAIR socket on node 0 receives *count* messages of *size* bytes from
    one on node 1, both counting their SCIF calls into *stats*. The sender
    starts once the receiver's first message arrived: its engine then knows
    the receiver's pool, announced before that message, and no large
    message goes in the stream for want of it."""
    receiver = spawn(
        f"""
        s = zmq.Context().socket(zmq.PAIR); s.rcvtimeo = {TIMEOUT_MS}
        s.bind("scif://*:*")
        print(s.getsockopt_string(zmq.LAST_ENDPOINT), flush=True)
        s.send(b"ready")
        for _ in range({count}):
            assert len(s.recv(copy=False)) == {size}
        """,
        node=0,
        SCIF_EMU_STATS=str(stats),
    )
    assert receiver.stdout is not None
    endpoint = receiver.stdout.readline().strip()
    sender = spawn(
        f"""
        ctx = zmq.Context()
        s = ctx.socket(zmq.PAIR); s.sndtimeo = s.rcvtimeo = {TIMEOUT_MS}
        s.connect({endpoint!r})
        assert s.recv() == b"ready"
        data = bytes({size})
        for _ in range({count}):
            s.send(data, copy=False)
        # Sent messages leave with the context, which waits for them.
        s.close(linger=-1)
        ctx.term()
        """,
        node=1,
        SCIF_EMU_STATS=str(stats),
    )
    finish(sender)
    finish(receiver)
    calls: Calls = {"receiver": {}, "sender": {}}
    for node, call, n in STATS_RE.findall(stats.read_text()):
        side = calls[SIDES[node]]
        side[call] = side.get(call, 0) + int(n)
    return calls


@pytest.mark.parametrize(
    "size,parts",
    # Parts are at most 4 MiB, half the default 8 MiB pool.
    [(64 << 10, 1), (1 << 20, 1), (9 << 20, 3)],
    ids=["64KiB", "1MiB", "9MiB"],
)
def test_no_registration_and_one_rma_per_part(tmp_path: Path, size: int, parts: int) -> None:
    n = 20
    once = counted_run(tmp_path / "once", size, n)
    twice = counted_run(tmp_path / "twice", size, 2 * n)
    for side in ("sender", "receiver"):
        # One pool each, registered once per connection ...
        assert once[side].get("register") == 1, once
        assert twice[side].get("register") == 1, twice
        # ... and never unregistered call by call: closing the endpoint does.
        assert twice[side].get("unregister", 0) == 0, twice
    # One RMA per part, by the sender alone; the receiver's acknowledgements
    # go in its byte stream.
    assert twice["sender"]["vwriteto"] - once["sender"]["vwriteto"] == n * parts
    for call in ("vwriteto", "vreadfrom", "writeto", "readfrom"):
        assert call not in twice["receiver"], twice
