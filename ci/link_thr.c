// SPDX-License-Identifier: MPL-2.0
/*
 * link_thr SIZE COUNT POOL QUEUE [write|read]: the bandwidth of the SCIF
 * link itself, one RMA per message between two processes acting as two
 * nodes of the emulated machine named by SCIF_EMU_DOMAIN (node 0 forks
 * node 1), no transport around it. What a transport moving messages by RMA
 * is compared with, as MPI stacks compare osu_bw with ib_write_bw.
 *
 *   write: node 1 writes each message with scif_vwriteto (SCIF_RMA_SYNC)
 *          into a window of max(POOL, SIZE) bytes node 0 registered, at
 *          offsets rotating through it. As libzmq's remote_thr does, each
 *          message is a fresh malloc(SIZE), never written, and messages
 *          queue: each is freed once QUEUE later ones were allocated
 *          (remote_thr queues up to its ZMQ_SNDHWM, 1000), so that most of
 *          a message's pages are new, as remote_thr's are.
 *   read:  node 0 reads each message with scif_vreadfrom (SCIF_RMA_SYNC)
 *          from a window of max(POOL, SIZE) bytes node 1 registered, into
 *          a fresh malloc(SIZE) queued the same way.
 *
 * Prints what local_thr prints, timed over all COUNT messages at the side
 * that issues the RMAs:
 *
 *   mean throughput: N [msg/s]
 *   mean throughput: M [Mb/s]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scif.h"
#include "thr_tool.h"

static void die(const char *what)
{
	fprintf(stderr, "link_thr: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* A page-aligned region of len bytes, written once, registered on epd. */
static off_t register_region(scif_epd_t epd, size_t len, int prot)
{
	void *base = mmap(NULL, len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		die("mmap");
	memset(base, 1, len);
	off_t offset = scif_register(epd, base, len, 0, prot, 0);
	if (offset == SCIF_REGISTER_FAILED)
		die("scif_register");
	return offset;
}

/* The side that issues the RMAs: times count of them and prints the rate. */
static void run_rmas(scif_epd_t epd, int read, size_t size, size_t count,
		     size_t region, size_t queued, off_t window)
{
	struct messages messages;
	if (messages_init(&messages, queued) < 0)
		die("queue");
	size_t offset = 0;
	const double start = now();
	for (size_t i = 0; i < count; i++) {
		unsigned char *message = message_next(&messages, size);
		if (!message)
			die("message");
		if (offset + size > region)
			offset = 0;
		int rc =
		    read ? scif_vreadfrom(epd, message, size,
					  window + (off_t)offset, SCIF_RMA_SYNC)
			 : scif_vwriteto(epd, message, size,
					 window + (off_t)offset, SCIF_RMA_SYNC);
		if (rc == -1)
			die(read ? "scif_vreadfrom" : "scif_vwriteto");
		offset += size;
	}
	print_throughput(count, size, now() - start);
	messages_free(&messages);
}

/* Tells the other side where the window is, or waits to hear it. */
static off_t exchange_window(scif_epd_t epd, off_t mine)
{
	int64_t value = mine;
	if (mine >= 0) {
		if (scif_send(epd, &value, sizeof value, SCIF_SEND_BLOCK) !=
		    (int)sizeof value)
			die("scif_send");
		return mine;
	}
	if (scif_recv(epd, &value, sizeof value, SCIF_RECV_BLOCK) !=
	    (int)sizeof value)
		die("scif_recv");
	return (off_t)value;
}

/* Waits for the other side to say it is done, then closes. */
static void finish(scif_epd_t epd, int done_here)
{
	char done = 1;
	if (done_here ? scif_send(epd, &done, 1, SCIF_SEND_BLOCK) != 1
		      : scif_recv(epd, &done, 1, SCIF_RECV_BLOCK) != 1)
		die(done_here ? "scif_send" : "scif_recv");
	scif_close(epd);
}

int main(int argc, char **argv)
{
	size_t size, count, region, queued;
	int read = argc == 6 && strcmp(argv[5], "read") == 0;
	if ((argc != 5 && argc != 6) || parse(argv[1], &size) ||
	    parse(argv[2], &count) || parse(argv[3], &region) ||
	    parse(argv[4], &queued) ||
	    (argc == 6 && !read && strcmp(argv[5], "write") != 0)) {
		fprintf(stderr, "usage: link_thr SIZE COUNT POOL QUEUE "
				"[write|read] (positive integers)\n");
		return 2;
	}
	const size_t page = 4096;
	if (region < size)
		region = size;
	region = (region + page - 1) / page * page;

	/* Node 0 listens; node 1 is a child that connects. */
	if (setenv("SCIF_EMU_NODE", "0", 1) == -1)
		die("setenv");
	scif_epd_t listener = scif_open();
	if (listener == SCIF_OPEN_FAILED)
		die("scif_open");
	int port = scif_bind(listener, 0);
	if (port == -1 || scif_listen(listener, 1) == -1)
		die("scif_bind/listen");
	pid_t child = fork();
	if (child == -1)
		die("fork");
	if (child == 0) {
		scif_close(listener);
		if (setenv("SCIF_EMU_NODE", "1", 1) == -1)
			die("setenv");
		scif_epd_t epd = scif_open();
		struct scif_portID dst = {.node = 0, .port = (uint16_t)port};
		if (epd == SCIF_OPEN_FAILED || scif_connect(epd, &dst) == -1)
			die("scif_connect");
		if (read) {
			exchange_window(
			    epd, register_region(epd, region, SCIF_PROT_READ));
			finish(epd, 0);
		} else {
			off_t window = exchange_window(epd, -1);
			run_rmas(epd, 0, size, count, region, queued, window);
			finish(epd, 1);
		}
		exit(0);
	}
	struct scif_portID peer;
	scif_epd_t epd;
	if (scif_accept(listener, &peer, &epd, SCIF_ACCEPT_SYNC) == -1)
		die("scif_accept");
	if (read) {
		off_t window = exchange_window(epd, -1);
		run_rmas(epd, 1, size, count, region, queued, window);
		finish(epd, 1);
	} else {
		exchange_window(epd,
				register_region(epd, region, SCIF_PROT_WRITE));
		finish(epd, 0);
	}
	int status;
	if (waitpid(child, &status, 0) == -1)
		die("waitpid");
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
