/* SPDX-License-Identifier: MPL-2.0 */
/* 200 connections open at the same time between two nodes. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"

#define COUNT 200

static struct harness_gate listening;

/* Accepts everything, then answers each request with value + 1. */
static void card(void *arg)
{
	(void)arg;
	scif_epd_t listener = harness_listener(9700);
	scif_epd_t conns[COUNT];

	gate_open(&listening);
	for (int i = 0; i < COUNT; i++) {
		struct scif_portID peer;
		CHECK(scif_accept(listener, &peer, &conns[i],
				  SCIF_ACCEPT_SYNC) == 0);
		CHECK(peer.node == 0);
	}
	for (int i = 0; i < COUNT; i++) {
		uint32_t v = 0;
		CHECK(scif_recv(conns[i], &v, 4, SCIF_RECV_BLOCK) == 4);
		v++;
		CHECK(scif_send(conns[i], &v, 4, SCIF_SEND_BLOCK) == 4);
	}
	for (int i = 0; i < COUNT; i++) {
		char byte;
		CHECK(scif_recv(conns[i], &byte, 1, SCIF_RECV_BLOCK) == -1);
		scif_close(conns[i]);
	}
	scif_close(listener);
}

int main(void)
{
	static scif_epd_t epds[COUNT];
	static int ports[COUNT];

	harness_init("many", 60);
	gate_init(&listening);
	pid_t child = harness_spawn(1, card, NULL);
	gate_wait(&listening);

	struct scif_portID dst = {.node = 1, .port = 9700};
	for (int i = 0; i < COUNT; i++) {
		epds[i] = scif_open();
		ports[i] = scif_connect(epds[i], &dst);
		CHECK(ports[i] >= SCIF_PORT_RSVD);
	}
	int distinct = 1;
	for (int i = 0; i < COUNT; i++)
		for (int j = 0; j < i; j++)
			distinct &= ports[i] != ports[j];
	CHECK(distinct);
	for (int i = 0; i < COUNT; i++) {
		uint32_t v = (uint32_t)i * 3;
		CHECK(scif_send(epds[i], &v, 4, SCIF_SEND_BLOCK) == 4);
	}
	/* Answers arrive in the card's order: wait for them with scif_poll. */
	static int done[COUNT];
	int answered = 0;
	while (answered < COUNT) {
		struct scif_pollepd live[COUNT];
		int index[COUNT], n = 0;
		for (int i = 0; i < COUNT; i++)
			if (!done[i]) {
				live[n] = (struct scif_pollepd){
				    .epd = epds[i], .events = SCIF_POLLIN};
				index[n++] = i;
			}
		if (scif_poll(live, (unsigned)n, 10000) <= 0)
			break;
		for (int k = 0; k < n; k++) {
			uint32_t v = 0;
			int i = index[k];
			if (!(live[k].revents & SCIF_POLLIN))
				continue;
			CHECK(scif_recv(epds[i], &v, 4, SCIF_RECV_BLOCK) == 4);
			CHECK(v == (uint32_t)i * 3 + 1);
			done[i] = 1;
			answered++;
		}
	}
	CHECK(answered == COUNT);
	for (int i = 0; i < COUNT; i++)
		scif_close(epds[i]);
	harness_join(child);
	return harness_finish();
}
