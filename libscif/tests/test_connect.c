/* SPDX-License-Identifier: MPL-2.0 */
/*
 * Connect/accept across 5 nodes: every node listens on the same port number
 * (ports are per node), node 0 accepts from all cards and connects to each.
 * Also: data sent before a close can still be read, then ECONNRESET.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"

#define NODES 5
#define PORT  5000

static struct harness_gate ready[NODES], done[NODES];

static void card(void *arg)
{
	int node = (int)(intptr_t)arg;
	scif_epd_t listener = harness_listener(PORT);
	struct scif_portID peer;
	scif_epd_t conn;
	uint16_t self, ids[NODES];

	CHECK(scif_get_nodeIDs(ids, NODES, &self) == NODES && self == node);
	gate_open(&ready[node]);

	/* Connect to the host and introduce ourselves. */
	scif_epd_t up = harness_connect(0, PORT);
	uint32_t hello = (uint32_t)node;
	CHECK(scif_send(up, &hello, 4, SCIF_SEND_BLOCK) == 4);
	uint32_t reply = 0;
	CHECK(scif_recv(up, &reply, 4, SCIF_RECV_BLOCK) == 4);
	CHECK(reply == 100u + (uint32_t)node);

	/* Accept the host's connection to our own listener. */
	CHECK(scif_accept(listener, &peer, &conn, SCIF_ACCEPT_SYNC) == 0);
	CHECK(peer.node == 0 && peer.port >= SCIF_PORT_RSVD);
	uint32_t word = 0;
	CHECK(scif_recv(conn, &word, 4, SCIF_RECV_BLOCK) == 4);
	CHECK(word == 0xC0FFEEu);

	/* The host closed after sending: data first, then ECONNRESET. */
	char tail[3] = {0};
	CHECK(scif_recv(conn, tail, 3, SCIF_RECV_BLOCK) == 3);
	CHECK(memcmp(tail, "bye", 3) == 0);
	gate_wait(&done[node]);
	CHECK_FAILS(scif_recv(conn, tail, 1, SCIF_RECV_BLOCK), ECONNRESET);
	CHECK_FAILS(scif_recv(conn, tail, 1, 0), ECONNRESET);
	CHECK_FAILS(scif_send(conn, tail, 1, 0), ECONNRESET);
	scif_close(conn);
	scif_close(up);
	scif_close(listener);
}

int main(void)
{
	pid_t children[NODES];

	setenv("SCIF_EMU_NODES", "5", 1);
	harness_init("connect", 30);
	for (int n = 1; n < NODES; n++) {
		gate_init(&ready[n]);
		gate_init(&done[n]);
	}
	scif_epd_t listener = harness_listener(PORT);
	for (int n = 1; n < NODES; n++)
		children[n] = harness_spawn(n, card, (void *)(intptr_t)n);

	/* Accept one connection from every card, in whatever order. */
	int seen = 0;
	for (int i = 1; i < NODES; i++) {
		struct scif_portID peer;
		scif_epd_t conn;
		uint32_t hello = 0;

		CHECK(scif_accept(listener, &peer, &conn, SCIF_ACCEPT_SYNC) ==
		      0);
		CHECK(scif_recv(conn, &hello, 4, SCIF_RECV_BLOCK) == 4);
		CHECK(hello == peer.node && peer.node >= 1 &&
		      peer.node < NODES);
		seen |= 1 << peer.node;
		uint32_t reply = 100u + hello;
		CHECK(scif_send(conn, &reply, 4, SCIF_SEND_BLOCK) == 4);
		scif_close(conn);
	}
	CHECK(seen == 0x1e);

	for (int n = 1; n < NODES; n++) {
		gate_wait(&ready[n]);
		scif_epd_t down = harness_connect((uint16_t)n, PORT);
		uint32_t word = 0xC0FFEEu;
		CHECK(scif_send(down, &word, 4, SCIF_SEND_BLOCK) == 4);
		CHECK(scif_send(down, "bye", 3, SCIF_SEND_BLOCK) == 3);
		CHECK(scif_close(down) == 0);
		gate_open(&done[n]);
	}
	for (int n = 1; n < NODES; n++)
		harness_join(children[n]);
	scif_close(listener);
	return harness_finish();
}
