/* SPDX-License-Identifier: MPL-2.0 */
/*
 * A wait on the peer's RMAs (SCIF_FENCE_INIT_PEER) is bounded by the
 * connection, not by the peer process: it ends with ECONNRESET when the
 * peer hangs up with its RMAs unfinished, and with EINTR when another
 * thread closes the waiting endpoint. The peer stops itself (SIGSTOP) with
 * its RMAs queued, so that they never complete while it stays alive.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define PORT	  9100
#define WINDOW	  (1 << 20)
#define QUEUED	  32768 /* 32 GiB of writes: seconds of copying */
#define HANG_UP	  1
#define STAY_OPEN 2

static struct harness_gate listening, queued, marked;

/* Node 1: queues writes into node 0's window, then stops with them. */
static void writer(void *arg)
{
	int mode = (int)(intptr_t)arg;
	scif_epd_t listener = harness_listener(PORT);
	char *source = calloc(1, WINDOW);
	struct scif_portID peer;
	scif_epd_t conn;
	off_t window;
	int n = 0;

	gate_open(&listening);
	CHECK(scif_accept(listener, &peer, &conn, SCIF_ACCEPT_SYNC) == 0);
	CHECK(scif_recv(conn, &window, sizeof(window), SCIF_RECV_BLOCK) ==
	      (int)sizeof(window));
	while (n < QUEUED &&
	       scif_vwriteto(conn, source, WINDOW, window, 0) == 0)
		n++;
	CHECK(n == QUEUED);
	gate_open(&queued);
	gate_wait(&marked);
	if (mode == HANG_UP)
		shutdown(scif_get_fd(conn), SHUT_RDWR);
	raise(SIGSTOP); /* alive, its RMAs never completing */
	exit(0);
}

/* Node 0: a window for the writer, and a mark on its RMAs. */
static pid_t start_writer(int mode, scif_epd_t *epd, int *mark)
{
	void *window = mmap(NULL, WINDOW, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int status;
	off_t offset;

	gate_init(&listening);
	gate_init(&queued);
	gate_init(&marked);
	pid_t child = harness_spawn(1, writer, (void *)(intptr_t)mode);
	gate_wait(&listening);
	*epd = harness_connect(1, PORT);
	offset = scif_register(*epd, window, WINDOW, 0, SCIF_PROT_WRITE, 0);
	CHECK(offset != SCIF_REGISTER_FAILED);
	CHECK(scif_send(*epd, &offset, sizeof(offset), SCIF_SEND_BLOCK) ==
	      (int)sizeof(offset));
	gate_wait(&queued);
	CHECK(scif_fence_mark(*epd, SCIF_FENCE_INIT_PEER, mark) == 0);
	gate_open(&marked);
	CHECK(waitpid(child, &status, WUNTRACED) == child &&
	      WIFSTOPPED(status));
	return child;
}

static void stop_writer(pid_t child)
{
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
}

struct waiter {
	scif_epd_t epd;
	int mark, rc, err;
};

static void *wait_for_mark(void *arg)
{
	struct waiter *w = arg;

	w->rc = scif_fence_wait(w->epd, w->mark);
	w->err = errno;
	return NULL;
}

int main(void)
{
	/* The watchdog fails a wait that does not end (the defect fixed). */
	harness_init("fence_peer", 60);
	scif_epd_t epd;
	int mark;

	/* 1. The peer hangs up with its writes unfinished, and stays alive. */
	pid_t child = start_writer(HANG_UP, &epd, &mark);
	CHECK_FAILS(scif_fence_wait(epd, mark), ECONNRESET);
	scif_close(epd);
	stop_writer(child);

	/* 2. Another thread closes the endpoint a wait is on. */
	child = start_writer(STAY_OPEN, &epd, &mark);
	struct waiter w = {.epd = epd, .mark = mark};
	pthread_t thread;
	pthread_create(&thread, NULL, wait_for_mark, &w);
	usleep(100 * 1000); /* the wait has begun; if not, it sees EBADF */
	CHECK(scif_close(epd) == 0);
	pthread_join(thread, NULL);
	CHECK(w.rc == -1 && (w.err == EINTR || w.err == EBADF));
	if (w.rc != -1 || (w.err != EINTR && w.err != EBADF))
		fprintf(stderr, "    got rc=%d errno=%d\n", w.rc, w.err);
	stop_writer(child);

	return harness_finish();
}
