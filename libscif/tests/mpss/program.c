/* SPDX-License-Identifier: MPL-2.0 */
/*
 * A program written for MPSS: it calls each of the 22 functions of MPSS's
 * libscif.so.0 and nothing of the emulator's. It is built twice, linked
 * against the MPSS stand-in and against libscif, and test_mpss_abi runs
 * each build on the other library.
 *
 *   program session   node 0 here, node 1 in a child: connect, send and
 *                     receive, RMAs both ways, fences, poll, mmap
 *   program load      exits at once: the dynamic loader has bound every
 *                     symbol by then (LD_BIND_NOW=1)
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "scif.h"

#define WINDOW 8192
#define PAGE   4096

static int failures;

#define REQUIRE(cond)                                                          \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: %s failed (%s)\n", __FILE__,   \
				__LINE__, #cond, strerror(errno));             \
			failures++;                                            \
		}                                                              \
	} while (0)

static void *pages(size_t len, int fill)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	memset(p, fill, len);
	return p;
}

static int all_bytes(const void *p, size_t len, int value)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i] != value)
			return 0;
	return 1;
}

/* Node 1: registers a window for node 0's RMAs, checks what they left. */
static int window_owner(uint16_t port)
{
	struct scif_portID dst = {.node = 0, .port = port};
	unsigned char *window = pages(WINDOW, 0);
	scif_epd_t epd = scif_open();
	off_t offset;
	char done = 0;

	REQUIRE(epd != SCIF_OPEN_FAILED);
	REQUIRE(scif_connect(epd, &dst) >= SCIF_PORT_RSVD);
	offset = scif_register(epd, window, WINDOW, 0,
			       SCIF_PROT_READ | SCIF_PROT_WRITE, 0);
	REQUIRE(offset != SCIF_REGISTER_FAILED);
	REQUIRE(scif_send(epd, &offset, sizeof(offset), SCIF_SEND_BLOCK) ==
		(int)sizeof(offset));
	REQUIRE(scif_recv(epd, &done, 1, SCIF_RECV_BLOCK) == 1 && done == 'd');
	REQUIRE(all_bytes(window, PAGE, 'A') &&
		all_bytes(window + PAGE, PAGE, 'B'));
	REQUIRE(scif_unregister(epd, offset, WINDOW) == 0);
	REQUIRE(scif_close(epd) == 0);
	return failures ? 1 : 0;
}

static int wait_for_value(volatile uint64_t *where, uint64_t value)
{
	struct timespec pause = {0, 1000000};

	/* Generous: a loaded machine may take long to run the DMA engine. */
	for (int i = 0; i < 30000 && *where != value; i++)
		nanosleep(&pause, NULL);
	return *where == value;
}

/* Node 0: accepts, then reads and writes node 1's window every way. */
static int session(void)
{
	uint16_t nodes[2], self = 99;
	scif_epd_t listener = scif_open(), conn = -1;
	struct scif_pollepd ready = {.epd = listener, .events = SCIF_POLLIN};
	struct scif_portID peer;
	unsigned char *local = pages(PAGE, 'A'), *source = pages(PAGE, 'B');
	unsigned char *sink = pages(PAGE, 0);
	off_t loffset, roffset = -1;
	int port, mark = -1, status = 0;
	void *mapped;
	pid_t child;

	REQUIRE(scif_get_nodeIDs(nodes, 2, &self) == 2 && self == 0);
	REQUIRE(listener != SCIF_OPEN_FAILED);
	port = scif_bind(listener, 0);
	REQUIRE(port >= SCIF_PORT_RSVD);
	REQUIRE(scif_listen(listener, 1) == 0);
	fflush(NULL);
	child = fork();
	if (child == 0) {
		setenv("SCIF_EMU_NODE", "1", 1);
		_exit(window_owner((uint16_t)port));
	}
	REQUIRE(scif_poll(&ready, 1, 30000) == 1 &&
		ready.revents & SCIF_POLLIN);
	REQUIRE(scif_accept(listener, &peer, &conn, SCIF_ACCEPT_SYNC) == 0);
	REQUIRE(peer.node == 1);
	REQUIRE(scif_get_fd(conn) == conn);
	REQUIRE(scif_recv(conn, &roffset, sizeof(roffset), SCIF_RECV_BLOCK) ==
		(int)sizeof(roffset));

	loffset = scif_register(conn, local, PAGE, 0,
				SCIF_PROT_READ | SCIF_PROT_WRITE, 0);
	REQUIRE(loffset != SCIF_REGISTER_FAILED);
	REQUIRE(scif_writeto(conn, loffset, PAGE, roffset, 0) == 0);
	REQUIRE(scif_vwriteto(conn, source, PAGE, roffset + PAGE, 0) == 0);
	REQUIRE(scif_fence_mark(conn, SCIF_FENCE_INIT_SELF, &mark) == 0);
	REQUIRE(scif_fence_wait(conn, mark) == 0);
	REQUIRE(scif_readfrom(conn, loffset, PAGE, roffset + PAGE,
			      SCIF_RMA_SYNC) == 0);
	REQUIRE(all_bytes(local, PAGE, 'B'));
	REQUIRE(scif_vreadfrom(conn, sink, PAGE, roffset, SCIF_RMA_SYNC) == 0);
	REQUIRE(all_bytes(sink, PAGE, 'A'));
	REQUIRE(scif_fence_signal(conn, loffset, 7, 0, 0,
				  SCIF_FENCE_INIT_SELF | SCIF_SIGNAL_LOCAL) ==
		0);
	REQUIRE(wait_for_value((volatile uint64_t *)local, 7));

	/* The emulator cannot map another process's private pages: ENOSYS. */
	mapped = scif_mmap(NULL, PAGE, SCIF_PROT_READ, 0, conn, roffset);
	if (mapped != SCIF_MMAP_FAILED)
		REQUIRE(scif_munmap(mapped, PAGE) == 0);
	else
		REQUIRE(errno == ENOSYS);
	REQUIRE(scif_munmap(pages(PAGE, 0), PAGE) == 0);

	REQUIRE(scif_unregister(conn, loffset, PAGE) == 0);
	REQUIRE(scif_send(conn, "d", 1, SCIF_SEND_BLOCK) == 1);
	REQUIRE(waitpid(child, &status, 0) == child);
	REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	REQUIRE(scif_close(conn) == 0);
	REQUIRE(scif_close(listener) == 0);
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "load") == 0)
		return 0;
	if (argc == 2 && strcmp(argv[1], "session") == 0)
		return session();
	fprintf(stderr, "usage: %s session|load\n", argv[0]);
	return 2;
}
