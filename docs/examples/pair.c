/* SPDX-License-Identifier: MPL-2.0 */
/*
 * PAIR over scif:// between two SCIF nodes: the host (node 0) and a card.
 * Run "./pair host" on node 0 and "./pair card" on another node.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#define PORT "5555" /* a SCIF port on the host; below 1024 needs root */

static void send_str(void *sock, const char *text)
{
	int rc = zmq_send(sock, text, strlen(text), 0);
	assert(rc == (int)strlen(text));
}

static void recv_str(void *sock, char *buf, size_t size)
{
	int n = zmq_recv(sock, buf, size - 1, 0);
	assert(n >= 0 && (size_t)n < size);
	buf[n] = '\0';
}

int main(int argc, char **argv)
{
	char text[64], reply[96], endpoint[64];
	size_t len = sizeof endpoint;
	void *ctx = zmq_ctx_new();
	void *sock = zmq_socket(ctx, ZMQ_PAIR);
	int rc;

	if (argc != 2 || !zmq_has("scif")) {
		fprintf(stderr, "usage: %s host|card (libzmq with scif://)\n",
			argv[0]);
		return 2;
	}
	if (strcmp(argv[1], "host") == 0) {
		rc = zmq_bind(sock, "scif://*:" PORT); /* this node's port */
		assert(rc == 0);
		rc = zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, endpoint, &len);
		assert(rc == 0);
		printf("host: bound %s\n", endpoint);
		for (int i = 0; i < 3; i++) {
			snprintf(text, sizeof text, "ping %d", i);
			send_str(sock, text);
			recv_str(sock, reply, sizeof reply);
			printf("host: got %s\n", reply);
		}
		send_str(sock, "bye");
	} else {
		rc = zmq_connect(sock, "scif://0:" PORT); /* node 0: the host */
		assert(rc == 0);
		for (;;) {
			recv_str(sock, text, sizeof text);
			if (strcmp(text, "bye") == 0)
				break;
			snprintf(reply, sizeof reply, "pong (%s)", text);
			send_str(sock, reply);
		}
		printf("card: done\n");
	}
	zmq_close(sock);
	zmq_ctx_term(ctx);
	return 0;
}
