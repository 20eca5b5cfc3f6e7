"""scif:// through pyzmq's plain API, between processes on different nodes."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Iterator

import pytest
import zmq
import zmq.asyncio
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils.monitor import recv_monitor_message

import scif_zmq
from scif_peer import finish, spawn

pytestmark = pytest.mark.usefixtures("scif_domain")

TIMEOUT_MS = 10_000


@pytest.fixture
def ctx() -> Iterator[zmq.Context]:
    context = zmq.Context()
    yield context
    context.destroy(linger=0)


def bind_ephemeral(sock: zmq.Socket) -> tuple[str, int]:
    """Bind to scif://*:* and return (connect endpoint, port) for a peer."""
    sock.bind("scif://*:*")
    endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
    assert endpoint.startswith("scif://0:")
    return endpoint, int(endpoint.rsplit(":", 1)[1])


def receiving(sock: zmq.Socket) -> zmq.Socket:
    sock.rcvtimeo = TIMEOUT_MS
    sock.sndtimeo = TIMEOUT_MS
    return sock


def test_backend_is_scif_enabled() -> None:
    assert zmq.has("scif")
    # scif_zmq.backend.pyzmq_X_Y_Z._zmq: compiled from the installed pyzmq's sources
    assert zmq.backend.Socket.__module__.startswith("scif_zmq.backend.pyzmq_")


def test_only_one_libzmq_is_loaded() -> None:
    with open("/proc/self/maps") as maps:
        libs = {line.split()[-1] for line in maps if "libzmq" in line}
    assert len(libs) == 1
    assert "scif_zmq" in next(iter(libs))


def test_pair_both_directions(ctx: zmq.Context) -> None:
    sock = receiving(ctx.socket(zmq.PAIR))
    endpoint, _ = bind_ephemeral(sock)
    peer = spawn(
        f"""
        s = zmq.Context().socket(zmq.PAIR); s.rcvtimeo = {TIMEOUT_MS}
        s.connect({endpoint!r})
        s.send(b"from node 1")
        s.send(s.recv() + b" echoed")
        assert s.recv() == b"bye"
        """
    )
    assert sock.recv() == b"from node 1"
    sock.send(b"from node 0")
    assert sock.recv() == b"from node 0 echoed"
    sock.send(b"bye")
    finish(peer)


def test_push_pull_from_the_connecting_side(ctx: zmq.Context) -> None:
    sock = receiving(ctx.socket(zmq.PULL))
    endpoint, _ = bind_ephemeral(sock)
    peer = spawn(
        f"""
        s = zmq.Context().socket(zmq.PUSH); s.connect({endpoint!r})
        for i in range(1000):
            s.send(str(i).encode())
        s.close(linger=-1)
        """
    )
    assert [int(sock.recv()) for _ in range(1000)] == list(range(1000))
    finish(peer)


def test_pull_on_the_connecting_side(ctx: zmq.Context) -> None:
    sock = receiving(ctx.socket(zmq.PUSH))
    endpoint, _ = bind_ephemeral(sock)
    peer = spawn(
        f"""
        s = zmq.Context().socket(zmq.PULL); s.rcvtimeo = {TIMEOUT_MS}
        s.connect({endpoint!r})
        print(sum(int(s.recv()) for _ in range(100)))
        """
    )
    for i in range(100):
        sock.send(str(i).encode())
    assert finish(peer).strip() == str(sum(range(100)))


@pytest.mark.parametrize("pub_type,sub_type", [(zmq.PUB, zmq.SUB), (zmq.XPUB, zmq.XSUB)])
def test_pub_sub(ctx: zmq.Context, pub_type: int, sub_type: int) -> None:
    pub = receiving(ctx.socket(pub_type))
    endpoint, _ = bind_ephemeral(pub)
    subscribe = "s.setsockopt(zmq.SUBSCRIBE, b'A')" if sub_type == zmq.SUB else "s.send(b'\\x01A')"
    peer = spawn(
        f"""
        s = zmq.Context().socket({sub_type}); s.rcvtimeo = {TIMEOUT_MS}
        s.connect({endpoint!r})
        {subscribe}
        print(s.recv().decode()); print(s.recv().decode())
        """
    )
    if pub_type == zmq.XPUB:
        assert pub.recv() == b"\x01A"
    deadline = time.monotonic() + 10
    # PUB drops messages until the subscription has arrived: keep publishing.
    while peer.poll() is None and time.monotonic() < deadline:
        pub.send(b"B ignored")
        pub.send(b"A wanted")
        time.sleep(0.01)
    assert finish(peer).split("\n")[:2] == ["A wanted", "A wanted"]


def test_req_rep(ctx: zmq.Context) -> None:
    rep = receiving(ctx.socket(zmq.REP))
    endpoint, _ = bind_ephemeral(rep)
    peer = spawn(
        f"""
        s = zmq.Context().socket(zmq.REQ); s.rcvtimeo = {TIMEOUT_MS}
        s.connect({endpoint!r})
        for i in range(50):
            s.send_string(f"q{{i}}"); assert s.recv_string() == f"a{{i}}"
        """
    )
    for i in range(50):
        assert rep.recv_string() == f"q{i}"
        rep.send_string(f"a{i}")
    finish(peer)


def test_dealer_router_with_identity(ctx: zmq.Context) -> None:
    router = receiving(ctx.socket(zmq.ROUTER))
    endpoint, _ = bind_ephemeral(router)
    peer = spawn(
        f"""
        s = zmq.Context().socket(zmq.DEALER); s.rcvtimeo = {TIMEOUT_MS}
        s.identity = b"card-1"; s.connect({endpoint!r})
        s.send_multipart([b"hello", b"world"])
        print(s.recv_multipart())
        """
    )
    assert router.recv_multipart() == [b"card-1", b"hello", b"world"]
    router.send_multipart([b"card-1", b"reply"])
    assert finish(peer).strip() == "[b'reply']"


def test_multipart_zero_byte_and_64_mib(ctx: zmq.Context) -> None:
    sock = receiving(ctx.socket(zmq.PAIR))
    endpoint, _ = bind_ephemeral(sock)
    peer = spawn(
        f"""
        import hashlib
        s = zmq.Context().socket(zmq.PAIR); s.rcvtimeo = {TIMEOUT_MS}
        s.connect({endpoint!r})
        parts = s.recv_multipart(copy=False)
        print(len(parts), [len(p) for p in parts])
        print(hashlib.sha256(parts[2].buffer).hexdigest())
        s.send_multipart([bytes(p.buffer) if len(p) < 100 else p for p in parts], copy=False)
        assert s.recv() == b"bye"
        """
    )
    big = os.urandom(64 << 20)
    sock.send_multipart([b"", b"head", big], copy=False)
    back = sock.recv_multipart(copy=False)
    sock.send(b"bye")
    out = finish(peer).splitlines()
    assert out[0] == f"3 [0, 4, {64 << 20}]"
    assert out[1] == hashlib.sha256(big).hexdigest()
    assert [bytes(p.buffer) for p in back[:2]] == [b"", b"head"]
    assert back[2].buffer == big


def test_sizes_across_the_rma_threshold_keep_order(ctx: zmq.Context) -> None:
    # From 8 KiB the engine writes messages into the peer's pool by RMA,
    # below through the stream; those larger than 4 MiB, half the default
    # pool, in parts.
    sizes = [8191, 8192, 8193, 100, 1 << 20, 0, 7 << 20, 9 << 20, 65536]
    sock = receiving(ctx.socket(zmq.PULL))
    endpoint, _ = bind_ephemeral(sock)
    peer = spawn(
        f"""
        ctx = zmq.Context()
        s = ctx.socket(zmq.PUSH); s.sndtimeo = {TIMEOUT_MS}
        s.connect({endpoint!r})
        for i, size in enumerate({sizes!r}):
            s.send(bytes([i]) * size, copy=False)
        s.send_multipart([b"a", bytes(1 << 20), b"b", bytes(3 << 20)])
        # Zero-copy buffers must outlive their sending: end the context.
        s.close(linger=-1)
        ctx.term()
        """
    )
    for i, size in enumerate(sizes):
        frame = sock.recv(copy=False)
        assert frame.buffer == bytes([i]) * size
    assert [len(p) for p in sock.recv_multipart()] == [1, 1 << 20, 1, 3 << 20]
    finish(peer)


def test_rma_options_from_python(ctx: zmq.Context) -> None:
    sock = receiving(ctx.socket(zmq.PAIR))
    defaults = {
        scif_zmq.SCIF_RMA_THRESHOLD: 8192,
        scif_zmq.SCIF_RMA_WINDOW: 8 << 20,
        scif_zmq.SCIF_RMA_MEMORY: 64 << 20,
    }
    for option, default in defaults.items():
        assert sock.getsockopt(option) == default
        sock.setsockopt(option, default // 2)
        assert sock.getsockopt(option) == default // 2
        with pytest.raises(zmq.ZMQError) as refused:
            sock.setsockopt(option, -1)
        assert refused.value.errno == zmq.EINVAL
    # A 256 KiB pool: 1 MiB goes in eight parts, 100 KiB in one.
    sock.setsockopt(scif_zmq.SCIF_RMA_WINDOW, 256 << 10)
    sock.setsockopt(scif_zmq.SCIF_RMA_THRESHOLD, 16 << 10)
    endpoint, _ = bind_ephemeral(sock)
    peer = spawn(
        f"""
        import scif_zmq
        ctx = zmq.Context()
        s = ctx.socket(zmq.PAIR); s.sndtimeo = {TIMEOUT_MS}
        s.setsockopt(scif_zmq.SCIF_RMA_THRESHOLD, 16 << 10)
        s.connect({endpoint!r})
        for i, size in enumerate([100 << 10, 1 << 20, 10, 100 << 10]):
            s.send(bytes([i]) * size)
        s.close(linger=-1)
        ctx.term()
        """
    )
    for i, size in enumerate([100 << 10, 1 << 20, 10, 100 << 10]):
        assert sock.recv() == bytes([i]) * size
    finish(peer)


def test_poller_sees_readiness(ctx: zmq.Context) -> None:
    sock = receiving(ctx.socket(zmq.PULL))
    endpoint, _ = bind_ephemeral(sock)
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    assert poller.poll(50) == []
    peer = spawn(f"s = zmq.Context().socket(zmq.PUSH); s.connect({endpoint!r}); s.send(b'x')")
    assert dict(poller.poll(TIMEOUT_MS)) == {sock: zmq.POLLIN}
    assert sock.recv() == b"x"
    finish(peer)


def test_asyncio() -> None:
    async def main(actx: zmq.asyncio.Context) -> bytes:
        sock = actx.socket(zmq.PAIR)
        endpoint, _ = bind_ephemeral(sock)
        peer = spawn(
            f"s = zmq.Context().socket(zmq.PAIR); s.connect({endpoint!r}); "
            "s.send(s.recv()[::-1]); s.recv()"
        )
        await sock.send(b"olleh")
        reply = await asyncio.wait_for(sock.recv(), TIMEOUT_MS / 1000)
        await sock.send(b"bye")
        finish(peer)
        return reply

    actx = zmq.asyncio.Context()
    try:
        assert asyncio.run(main(actx)) == b"hello"
    finally:
        actx.destroy(linger=0)


def wait_event(monitor: zmq.Socket, event: int) -> dict:
    monitor.rcvtimeo = TIMEOUT_MS
    while True:
        message = recv_monitor_message(monitor)
        if message["event"] == event:
            return message


def test_monitor_and_reconnect_after_peer_restart(ctx: zmq.Context) -> None:
    """The connecting side survives the binding process's death and restart."""
    sock = receiving(ctx.socket(zmq.PAIR))
    sock.reconnect_ivl = 50
    monitor = ctx.socket(zmq.PAIR)
    monitor_endpoint = "inproc://monitor"
    sock.monitor(monitor_endpoint, zmq.EVENT_ALL)
    monitor.connect(monitor_endpoint)
    port = 4000 + os.getpid() % 20000
    endpoint = f"scif://1:{port}"

    server = f"""
        s = zmq.Context().socket(zmq.PAIR); s.rcvtimeo = {TIMEOUT_MS}
        s.bind("scif://*:{port}")
        s.send(s.recv() + b" ack")
        s.recv()  # the ack arrived: now die without a goodbye
        import os, signal; os.kill(os.getpid(), signal.SIGKILL)
        """
    first = spawn(server)
    sock.connect(endpoint)
    assert wait_event(monitor, zmq.EVENT_CONNECTED)["endpoint"] == endpoint.encode()
    sock.send(b"one")
    assert sock.recv() == b"one ack"
    sock.send(b"die")
    first.wait(timeout=30)
    assert first.returncode == -9
    wait_event(monitor, zmq.EVENT_DISCONNECTED)

    second = spawn(server)
    wait_event(monitor, zmq.EVENT_CONNECTED)
    sock.send(b"two")
    assert sock.recv() == b"two ack"
    sock.send(b"die")
    second.wait(timeout=30)
    assert second.returncode == -9
    sock.disable_monitor()


def test_plain_security(ctx: zmq.Context) -> None:
    authenticator = ThreadAuthenticator(ctx)
    authenticator.start()
    authenticator.configure_plain(domain="*", passwords={"admin": "secret"})
    server = receiving(ctx.socket(zmq.PAIR))
    server.plain_server = True
    endpoint, _ = bind_ephemeral(server)
    peer = spawn(
        f"""
        s = zmq.Context().socket(zmq.PAIR); s.rcvtimeo = {TIMEOUT_MS}
        s.plain_username = b"admin"; s.plain_password = b"secret"
        s.connect({endpoint!r}); s.send(b"plain ok"); s.recv()
        """
    )
    assert server.recv() == b"plain ok"
    server.send(b"bye")
    finish(peer)
    authenticator.stop()


def test_plain_rejects_a_wrong_password(ctx: zmq.Context) -> None:
    authenticator = ThreadAuthenticator(ctx)
    authenticator.start()
    authenticator.configure_plain(domain="*", passwords={"admin": "secret"})
    server = ctx.socket(zmq.PAIR)
    server.plain_server = True
    server.rcvtimeo = 1000
    endpoint, _ = bind_ephemeral(server)
    peer = spawn(
        f"""
        s = zmq.Context().socket(zmq.PAIR)
        s.plain_username = b"admin"; s.plain_password = b"guess"
        s.connect({endpoint!r}); s.send(b"must not arrive")
        import time; time.sleep(1.5); s.close(linger=0)
        """
    )
    with pytest.raises(zmq.Again):
        server.recv()
    finish(peer)
    authenticator.stop()


def test_curve_security(ctx: zmq.Context) -> None:
    assert zmq.has("curve")
    server_public, server_secret = zmq.curve_keypair()
    server = receiving(ctx.socket(zmq.PAIR))
    server.curve_server = True
    server.curve_secretkey = server_secret
    endpoint, _ = bind_ephemeral(server)
    peer = spawn(
        f"""
        s = zmq.Context().socket(zmq.PAIR); s.rcvtimeo = {TIMEOUT_MS}
        s.curve_serverkey = {server_public!r}
        s.curve_publickey, s.curve_secretkey = zmq.curve_keypair()
        s.connect({endpoint!r}); s.send(b"x" * 100000); print(s.recv())
        """
    )
    assert server.recv() == b"x" * 100000
    server.send(b"curve ok")
    assert finish(peer).strip() == "b'curve ok'"


def test_curve_rejects_a_wrong_server_key(ctx: zmq.Context) -> None:
    _, server_secret = zmq.curve_keypair()
    wrong_public, _ = zmq.curve_keypair()
    server = ctx.socket(zmq.PAIR)
    server.curve_server = True
    server.curve_secretkey = server_secret
    server.rcvtimeo = 1000
    endpoint, _ = bind_ephemeral(server)
    peer = spawn(
        f"""
        s = zmq.Context().socket(zmq.PAIR)
        s.curve_serverkey = {wrong_public!r}
        s.curve_publickey, s.curve_secretkey = zmq.curve_keypair()
        s.connect({endpoint!r}); s.send(b"must not arrive")
        import time; time.sleep(1.5); s.close(linger=0)
        """
    )
    with pytest.raises(zmq.Again):
        server.recv()
    finish(peer)


@pytest.mark.parametrize(
    "endpoint",
    [
        "scif://",
        "scif://abc",
        "scif://1:",
        "scif://:5",
        "scif://0:70000",
        "scif://0:-1",
        "scif://x:5",
        "scif://0:5:6",
        "scif://0:0x10",
    ],
)
def test_invalid_endpoints_raise_einval(ctx: zmq.Context, endpoint: str) -> None:
    sock = ctx.socket(zmq.PAIR)
    with pytest.raises(zmq.ZMQError) as bind_error:
        sock.bind(endpoint)
    assert bind_error.value.errno == zmq.EINVAL
    with pytest.raises(zmq.ZMQError) as connect_error:
        sock.connect(endpoint)
    assert connect_error.value.errno == zmq.EINVAL
    # Nothing half-created: the socket still binds a valid endpoint.
    bind_ephemeral(sock)


def test_bind_to_another_node_is_refused(ctx: zmq.Context) -> None:
    sock = ctx.socket(zmq.PAIR)
    with pytest.raises(zmq.ZMQError):
        sock.bind("scif://1:5555")


def test_bind_port_in_use(ctx: zmq.Context) -> None:
    first = ctx.socket(zmq.PAIR)
    _, port = bind_ephemeral(first)
    second = ctx.socket(zmq.PAIR)
    with pytest.raises(zmq.ZMQError) as error:
        second.bind(f"scif://*:{port}")
    assert error.value.errno == zmq.EADDRINUSE


def test_connect_to_a_node_that_is_not_online(ctx: zmq.Context) -> None:
    """Nodes can come online later (a card boots): libzmq keeps retrying."""
    sock = ctx.socket(zmq.PUSH)
    sock.reconnect_ivl = 20
    # Without IMMEDIATE, PUSH would queue for the absent peer.
    sock.immediate = True
    monitor = ctx.socket(zmq.PAIR)
    sock.monitor("inproc://offline", zmq.EVENT_CONNECT_RETRIED)
    monitor.connect("inproc://offline")
    sock.connect("scif://7:5555")
    wait_event(monitor, zmq.EVENT_CONNECT_RETRIED)
    with pytest.raises(zmq.Again):
        sock.send(b"nobody there", zmq.NOBLOCK)
