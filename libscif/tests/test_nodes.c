/* SPDX-License-Identifier: MPL-2.0 */
/*
 * Fault injection: scif_emu_node_offline(1) as a card reset. Every process
 * with an endpoint open as node 1 (one streaming to the host, one with a
 * bare scif_open, one whose connect request waits in the host's backlog)
 * dies by SIGKILL before the call returns; a node 1 process with no
 * endpoint and a node 2 process live on. While node 1 is down the host's
 * connection to it reports ENODEV once drained, the queued request is not
 * accepted, connecting to the node and opening endpoints as it fail with
 * ENODEV and scif_get_nodeIDs leaves it out. Node 0 cannot take itself
 * offline (EBUSY), nor can a node that does not exist be named (EINVAL).
 * Back online, the dead connection reports ECONNRESET and node 1 serves
 * and reaches the host again. Every node is left online.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "scif_emu.h"

#define HOST_PORT   9200
#define CARD_PORT   9400
#define CHUNK	    (64 << 10)
#define STREAM_SEED 77
#define MSG	    16

static struct harness_gate n2_connected, idle_open, bystander_ready,
    bystander_go, streamer_connected, pending_connected, card_listening;
static pid_t host_pid;
static void (*child_body)(void *);

/* A child dies with the host: none is left behind by the watchdog. */
static void child_main(void *arg)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != host_pid)
		_exit(1);
	child_body(arg);
}

static pid_t spawn(int node, void (*body)(void *))
{
	child_body = body;
	return harness_spawn(node, child_main, NULL);
}

/* The online nodes as scif_get_nodeIDs reports them, with nodes=count. */
static bool online_nodes_are(const char *nodes_env, const uint16_t *want,
			     int count, uint16_t want_self)
{
	uint16_t nodes[8] = {0}, self = 0xffff;
	int n;

	setenv("SCIF_EMU_NODES", nodes_env, 1);
	n = scif_get_nodeIDs(nodes, 8, &self);
	setenv("SCIF_EMU_NODES", "3", 1);
	if (n != count || self != want_self) {
		fprintf(stderr, "    SCIF_EMU_NODES=%s: %d nodes, self %u\n",
			nodes_env, n, self);
		return false;
	}
	for (int i = 0; i < count; i++)
		if (nodes[i] != want[i]) {
			fprintf(stderr, "    SCIF_EMU_NODES=%s: nodes[%d]=%u\n",
				nodes_env, i, nodes[i]);
			return false;
		}
	return true;
}

/* Sends msg and expects it back. */
static void round_trip(scif_epd_t epd, const char *text)
{
	char msg[MSG] = {0}, back[MSG] = {0};

	snprintf(msg, sizeof(msg), "%s", text);
	CHECK(scif_send(epd, msg, MSG, SCIF_SEND_BLOCK) == MSG);
	CHECK(scif_recv(epd, back, MSG, SCIF_RECV_BLOCK) == MSG);
	CHECK(memcmp(msg, back, MSG) == 0);
}

/* Answers each message with itself until "quit" (not answered). */
static void echo_until_quit(scif_epd_t epd, void (*on_msg)(const char *))
{
	char msg[MSG];

	for (;;) {
		int n = scif_recv(epd, msg, MSG, SCIF_RECV_BLOCK);
		CHECK(n == MSG);
		if (n != MSG || strcmp(msg, "quit") == 0)
			return;
		if (on_msg)
			on_msg(msg);
		CHECK(scif_send(epd, msg, MSG, SCIF_SEND_BLOCK) == MSG);
	}
}

/* --- the children ------------------------------------------------------- */

/* Node 2 sees node 1 leave and come back, and outlives the reset. */
static void node2_sees(const char *msg)
{
	static const uint16_t all[] = {0, 1, 2}, without_1[] = {0, 2};

	if (strcmp(msg, "offline") == 0)
		CHECK(online_nodes_are("3", without_1, 2, 2));
	else if (strcmp(msg, "online") == 0)
		CHECK(online_nodes_are("3", all, 3, 2));
}

static void node2_child(void *arg)
{
	(void)arg;
	scif_epd_t epd = harness_connect(0, HOST_PORT);

	gate_open(&n2_connected);
	echo_until_quit(epd, node2_sees);
	CHECK(scif_close(epd) == 0);
}

/* Node 1 with an endpoint open but nothing else: killed all the same. */
static void idle_child(void *arg)
{
	(void)arg;
	scif_epd_t epd = scif_open();

	CHECK(epd >= 0);
	gate_open(&idle_open);
	for (;;)
		pause();
}

/* Node 1 with no endpoint: not a member of the node, so it lives on. */
static void bystander_child(void *arg)
{
	(void)arg;
	gate_open(&bystander_ready);
	gate_wait(&bystander_go);
	/* The node is down now: no endpoint can be opened as it. */
	CHECK_FAILS(scif_open(), ENODEV);
}

/* Node 1 streams a pattern to the host until it is killed. */
static void streamer_child(void *arg)
{
	(void)arg;
	scif_epd_t epd = harness_connect(0, HOST_PORT);
	char *buf = malloc(CHUNK);
	uint64_t pos = 0;

	gate_open(&streamer_connected);
	for (;;) {
		pattern_fill(buf, CHUNK, pos, STREAM_SEED);
		int n = scif_send(epd, buf, CHUNK, SCIF_SEND_BLOCK);
		if (n != CHUNK) {
			CHECK(!"streaming to the host");
			for (;;)
				pause();
		}
		pos += CHUNK;
	}
}

/* Node 1 connects to the host, is never accepted, and is killed. */
static void pending_child(void *arg)
{
	(void)arg;
	scif_epd_t epd = harness_connect(0, HOST_PORT);
	char msg[MSG] = "never read";

	CHECK(scif_send(epd, msg, MSG, SCIF_SEND_BLOCK) == MSG);
	gate_open(&pending_connected);
	for (;;)
		pause();
}

/* A node 1 process started while the node is offline. */
static void open_fails_child(void *arg)
{
	(void)arg;
	CHECK_FAILS(scif_open(), ENODEV);
	uint16_t nodes[4], self = 0;
	CHECK(scif_get_nodeIDs(nodes, 4, &self) == 2 && self == 1);
}

/* Node 1 back online: listens and echoes one connection. */
static void card_listener_child(void *arg)
{
	(void)arg;
	scif_epd_t listener = harness_listener(CARD_PORT);
	struct scif_portID peer = {0};
	scif_epd_t epd = -1;

	gate_open(&card_listening);
	CHECK(scif_accept(listener, &peer, &epd, SCIF_ACCEPT_SYNC) == 0);
	CHECK(peer.node == 0);
	echo_until_quit(epd, NULL);
	CHECK(scif_close(epd) == 0);
	CHECK(scif_close(listener) == 0);
}

/* Node 1 back online: connects up to the host and round-trips. */
static void card_connector_child(void *arg)
{
	(void)arg;
	scif_epd_t epd = harness_connect(0, HOST_PORT);

	round_trip(epd, "from card");
	round_trip(epd, "quit");
	CHECK(scif_close(epd) == 0);
}

/* --- the host ------------------------------------------------------------- */

static scif_epd_t accept_from(scif_epd_t listener, uint16_t node)
{
	struct scif_portID peer = {0};
	scif_epd_t epd = -1;

	CHECK(scif_accept(listener, &peer, &epd, SCIF_ACCEPT_SYNC) == 0);
	CHECK(peer.node == node);
	return epd;
}

/* The host's side of an echo: answers every message until "quit". */
static void serve(scif_epd_t epd)
{
	echo_until_quit(epd, NULL);
	char msg[MSG] = "quit";
	CHECK(scif_send(epd, msg, MSG, SCIF_SEND_BLOCK) == MSG);
}

/*
 * scif_emu_node_offline waits until every member of the node is dead, so
 * the child is a zombie already: WNOHANG must reap it.
 */
static void expect_killed_already(pid_t child)
{
	int status = 0;
	pid_t got = waitpid(child, &status, WNOHANG);

	CHECK(got == child);
	if (got == 0) {
		fprintf(stderr, "    child %d still alive after offline\n",
			(int)child);
		kill(child, SIGKILL);
		got = waitpid(child, &status, 0);
	}
	CHECK(got == child && WIFSIGNALED(status) &&
	      WTERMSIG(status) == SIGKILL);
}

static bool still_running(pid_t child)
{
	int status;

	return waitpid(child, &status, WNOHANG) == 0;
}

/* Receives the stream up to the end, checking it; returns the last rc. */
static int drain_stream(scif_epd_t epd, uint64_t *pos, int *err)
{
	char *buf = malloc(CHUNK);
	int n;

	while ((n = scif_recv(epd, buf, CHUNK, SCIF_RECV_BLOCK)) > 0) {
		CHECK(pattern_check(buf, (size_t)n, *pos, STREAM_SEED));
		*pos += (uint64_t)n;
	}
	*err = errno;
	free(buf);
	return n;
}

int main(void)
{
	static const uint16_t all[] = {0, 1, 2}, without_1[] = {0, 2},
			      only_0[] = {0};
	char *buf = malloc(CHUNK);
	uint64_t pos = 0;
	int err;

	/* Three nodes, whatever the environment says: see online_nodes_are. */
	setenv("SCIF_EMU_NODES", "3", 1);
	harness_init("nodes", 60);
	host_pid = getpid();
	gate_init(&n2_connected);
	gate_init(&idle_open);
	gate_init(&bystander_ready);
	gate_init(&bystander_go);
	gate_init(&streamer_connected);
	gate_init(&pending_connected);
	gate_init(&card_listening);
	CHECK(online_nodes_are("3", all, 3, 0));

	/*
	 * Node 2 first, so that its fork copies none of the host's other
	 * sockets (later children copy conn2 but never outlive it).
	 */
	scif_epd_t listener = harness_listener(HOST_PORT);
	pid_t node2 = spawn(2, node2_child);
	gate_wait(&n2_connected);
	scif_epd_t conn2 = accept_from(listener, 2);
	round_trip(conn2, "before");

	pid_t idle = spawn(1, idle_child);
	gate_wait(&idle_open);
	pid_t bystander = spawn(1, bystander_child);
	gate_wait(&bystander_ready);
	pid_t streamer = spawn(1, streamer_child);
	gate_wait(&streamer_connected);
	scif_epd_t conn1 = accept_from(listener, 1);

	/* Some of the stream, in order. */
	for (int i = 0; i < 64; i++) {
		int n = scif_recv(conn1, buf, CHUNK, SCIF_RECV_BLOCK);
		CHECK(n == CHUNK &&
		      pattern_check(buf, CHUNK, pos, STREAM_SEED));
		pos += CHUNK;
	}
	/* A request queued at our listener, not yet accepted. */
	pid_t pending = spawn(1, pending_child);
	gate_wait(&pending_connected);

	/* Card reset: node 1's members die before the call returns. */
	CHECK(scif_emu_node_offline(1) == 0);
	expect_killed_already(streamer);
	expect_killed_already(idle);
	expect_killed_already(pending);
	CHECK(still_running(bystander));
	CHECK(still_running(node2));

	/* What was sent before the reset is delivered, then ENODEV. */
	int n = drain_stream(conn1, &pos, &err);
	CHECK(n == -1 && err == ENODEV);
	if (n != -1 || err != ENODEV)
		fprintf(stderr, "    drained up to rc=%d errno=%d (%s)\n", n,
			err, strerror(err));
	CHECK_FAILS(scif_recv(conn1, buf, 1, SCIF_RECV_BLOCK), ENODEV);
	CHECK_FAILS(scif_recv(conn1, buf, 1, 0), ENODEV);
	CHECK_FAILS(scif_send(conn1, buf, 1, SCIF_SEND_BLOCK), ENODEV);
	CHECK_FAILS(scif_send(conn1, buf, 1, 0), ENODEV);
	CHECK_FAILS(scif_vwriteto(conn1, buf, 64, 0, 0), ENODEV);
	struct scif_pollepd p = {.epd = conn1, .events = SCIF_POLLIN};
	CHECK(scif_poll(&p, 1, 5000) == 1 && (p.revents & SCIF_POLLHUP));

	/* The node is unreachable and left out of the list. */
	struct scif_portID dst = {.node = 1, .port = CARD_PORT};
	scif_epd_t epd = scif_open();
	CHECK(epd >= 0);
	CHECK_FAILS(scif_connect(epd, &dst), ENODEV);
	CHECK(scif_close(epd) == 0);
	CHECK(online_nodes_are("3", without_1, 2, 0));
	CHECK(online_nodes_are("2", only_0, 1, 0));
	pid_t late = spawn(1, open_fails_child);
	harness_join(late);
	gate_open(&bystander_go);
	harness_join(bystander);

	/* The queued request of a killed member is not handed to us. */
	scif_epd_t refused = -1;
	struct scif_portID from;
	CHECK_FAILS(scif_accept(listener, &from, &refused, 0), EAGAIN);

	/* Node 2 is not affected. */
	round_trip(conn2, "offline");

	/* Not our own node, not a node that does not exist. */
	CHECK_FAILS(scif_emu_node_offline(0), EBUSY);
	CHECK_FAILS(scif_emu_node_offline(3), EINVAL);
	CHECK_FAILS(scif_emu_node_offline(7), EINVAL);
	CHECK_FAILS(scif_emu_node_online(7), EINVAL);
	CHECK(online_nodes_are("3", without_1, 2, 0)); /* node 0 still up */

	/* Back online: the old connection is reset, node 1 serves again. */
	CHECK(scif_emu_node_online(1) == 0);
	CHECK(online_nodes_are("3", all, 3, 0));
	CHECK_FAILS(scif_recv(conn1, buf, 1, SCIF_RECV_BLOCK), ECONNRESET);
	CHECK_FAILS(scif_send(conn1, buf, 1, SCIF_SEND_BLOCK), ECONNRESET);
	CHECK(scif_close(conn1) == 0);
	round_trip(conn2, "online");

	pid_t card = spawn(1, card_listener_child);
	gate_wait(&card_listening);
	epd = harness_connect(1, CARD_PORT);
	round_trip(epd, "to card");
	char quit[MSG] = "quit";
	CHECK(scif_send(epd, quit, MSG, SCIF_SEND_BLOCK) == MSG);
	CHECK_FAILS(scif_recv(epd, buf, 1, SCIF_RECV_BLOCK), ECONNRESET);
	CHECK(scif_close(epd) == 0);
	harness_join(card);

	card = spawn(1, card_connector_child);
	epd = accept_from(listener, 1);
	serve(epd);
	CHECK(scif_close(epd) == 0);
	harness_join(card);

	/* Node 2 exits normally when told to. */
	CHECK(scif_send(conn2, quit, MSG, SCIF_SEND_BLOCK) == MSG);
	harness_join(node2);
	CHECK(scif_close(conn2) == 0);
	CHECK(scif_close(listener) == 0);

	/* Leave every node online. */
	for (uint16_t node = 0; node < 3; node++)
		CHECK(scif_emu_node_online(node) == 0);
	CHECK(online_nodes_are("3", all, 3, 0));
	free(buf);
	return harness_finish();
}
