/* SPDX-License-Identifier: MPL-2.0 */
/*
 * scif_bench: numbers for the emulated SCIF against plain Unix sockets.
 *   - 64 B round-trip latency, scif_send/scif_recv vs socketpair
 *   - 1 MiB-message stream throughput, scif_send/scif_recv vs socketpair
 *   - scif_vwriteto of 4 MiB into a peer process vs memcpy of 4 MiB
 * The peer is always a separate process (node 1), as on a real card.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "scif.h"
#include "scif_emu.h"

#define PORT	    4242
#define PING_ROUNDS 50000
#define PING_SIZE   64
#define STREAM_MSG  (1 << 20)
#define STREAM_MSGS 2048 /* 2 GiB */
#define RMA_SIZE    (4 << 20)
#define RMA_ROUNDS  1000

enum test { PING, STREAM, RMA };

/* A connected transport: either a SCIF endpoint or a socket. */
struct link {
	bool scif;
	int fd;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void xfer(struct link *l, void *buf, int len, bool send_dir)
{
	int done = 0;

	while (done < len) {
		int n;
		if (l->scif)
			n = send_dir ? scif_send(l->fd, (char *)buf + done,
						 len - done, SCIF_SEND_BLOCK)
				     : scif_recv(l->fd, (char *)buf + done,
						 len - done, SCIF_RECV_BLOCK);
		else
			n = (int)(send_dir ? send(l->fd, (char *)buf + done,
						  (size_t)(len - done), 0)
					   : recv(l->fd, (char *)buf + done,
						  (size_t)(len - done), 0));
		if (n <= 0)
			die("transfer");
		done += n;
	}
}

/* Same buffer kind for every contender: page aligned and prefaulted. */
static char *bench_buffer(void)
{
	char *p = mmap(NULL, RMA_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap");
	memset(p, 7, RMA_SIZE);
	return p;
}

/* Peer side of every test; runs in the child process. */
static void serve(enum test test, struct link *l)
{
	char *buf = malloc(STREAM_MSG);

	if (test == PING) {
		for (int i = 0; i < PING_ROUNDS; i++) {
			xfer(l, buf, PING_SIZE, false);
			xfer(l, buf, PING_SIZE, true);
		}
	} else if (test == STREAM) {
		for (int i = 0; i < STREAM_MSGS; i++)
			xfer(l, buf, STREAM_MSG, false);
		xfer(l, buf, 1, true); /* all received */
	} else {
		void *win =
		    mmap(NULL, RMA_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (scif_register(l->fd, win, RMA_SIZE, 0, SCIF_PROT_WRITE,
				  SCIF_MAP_FIXED) != 0)
			die("scif_register");
		xfer(l, buf, 1, true);	/* window ready */
		xfer(l, buf, 1, false); /* host finished */
	}
	free(buf);
}

static double measure(enum test test, struct link *l)
{
	char *buf = bench_buffer();
	double start;

	if (test == RMA)
		xfer(l, buf, 1, false);
	start = now();
	if (test == PING) {
		for (int i = 0; i < PING_ROUNDS; i++) {
			xfer(l, buf, PING_SIZE, true);
			xfer(l, buf, PING_SIZE, false);
		}
	} else if (test == STREAM) {
		for (int i = 0; i < STREAM_MSGS; i++)
			xfer(l, buf, STREAM_MSG, true);
		xfer(l, buf, 1, false);
	} else {
		for (int i = 0; i < RMA_ROUNDS; i++)
			if (scif_vwriteto(l->fd, buf, RMA_SIZE, 0,
					  SCIF_RMA_SYNC) != 0)
				die("scif_vwriteto");
	}
	double elapsed = now() - start;
	if (test == RMA)
		xfer(l, buf, 1, true);
	munmap(buf, RMA_SIZE);
	return elapsed;
}

static double run_scif(enum test test)
{
	scif_epd_t listener = scif_open();
	if (listener < 0 || scif_bind(listener, PORT) < 0 ||
	    scif_listen(listener, 1) < 0)
		die("scif listener");
	fflush(NULL);
	pid_t child = fork();
	if (child == 0) {
		setenv("SCIF_EMU_NODE", "1", 1);
		struct link l = {.scif = true, .fd = scif_open()};
		struct scif_portID dst = {.node = 0, .port = PORT};
		if (scif_connect(l.fd, &dst) < 0)
			die("scif_connect");
		serve(test, &l);
		scif_close(l.fd);
		_exit(0);
	}
	struct scif_portID peer;
	struct link l = {.scif = true};
	if (scif_accept(listener, &peer, &l.fd, SCIF_ACCEPT_SYNC) < 0)
		die("scif_accept");
	double t = measure(test, &l);
	waitpid(child, NULL, 0);
	scif_close(l.fd);
	scif_close(listener);
	return t;
}

static double run_socketpair(enum test test)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		die("socketpair");
	fflush(NULL);
	pid_t child = fork();
	if (child == 0) {
		struct link l = {.scif = false, .fd = sv[1]};
		close(sv[0]);
		serve(test, &l);
		_exit(0);
	}
	close(sv[1]);
	struct link l = {.scif = false, .fd = sv[0]};
	double t = measure(test, &l);
	waitpid(child, NULL, 0);
	close(sv[0]);
	return t;
}

static double run_memcpy(void)
{
	char *src = bench_buffer(), *dst = bench_buffer();
	double start = now();
	for (int i = 0; i < RMA_ROUNDS; i++) {
		memcpy(dst, src, RMA_SIZE);
		/* Keep the compiler from dropping repeated copies. */
		__asm__ volatile("" : : "r"(dst) : "memory");
	}
	double t = now() - start;
	munmap(src, RMA_SIZE);
	munmap(dst, RMA_SIZE);
	return t;
}

int main(void)
{
	char domain[64];
	snprintf(domain, sizeof(domain), "bench-%d", (int)getpid());
	setenv("SCIF_EMU_DOMAIN", domain, 1);
	setenv("SCIF_EMU_NODE", "0", 1);
	setenv("SCIF_EMU_NODES", "2", 1);

	const double gib = 1024.0 * 1024 * 1024;
	double t_scif = run_scif(PING), t_unix = run_socketpair(PING);
	printf("64 B round trip:     scif %7.2f us   socketpair %7.2f us\n",
	       t_scif / PING_ROUNDS * 1e6, t_unix / PING_ROUNDS * 1e6);

	double bytes = (double)STREAM_MSG * STREAM_MSGS;
	t_scif = run_scif(STREAM);
	t_unix = run_socketpair(STREAM);
	printf("1 MiB stream:        scif %7.2f GiB/s socketpair %7.2f GiB/s\n",
	       bytes / t_scif / gib, bytes / t_unix / gib);

	bytes = (double)RMA_SIZE * RMA_ROUNDS;
	double t_rma = run_scif(RMA), t_copy = run_memcpy();
	printf("4 MiB vwriteto:      scif %7.2f GiB/s memcpy     %7.2f GiB/s "
	       "(ratio %.2f, path %s)\n",
	       bytes / t_rma / gib, bytes / t_copy / gib, t_copy / t_rma,
	       scif_emu_rma_path());
	return 0;
}
