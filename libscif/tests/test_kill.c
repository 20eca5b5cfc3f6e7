/* SPDX-License-Identifier: MPL-2.0 */
/*
 * A peer process SIGKILLed in the middle of a transfer: the survivor gets
 * ECONNRESET / POLLHUP (or a partial count), never a hang; so do fences
 * on its queued asynchronous RMAs. A queued RMA that fails resets the
 * connection. Its port is
 * released, so a new connect is refused.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define BIG (64 << 20)

static struct harness_gate listening, accepted;

/* Card: accepts, registers a window, then streams forever or idles. */
static void card(void *arg)
{
	int mode = (int)(intptr_t)arg;
	scif_epd_t listener = harness_listener(9000);
	struct scif_portID peer;
	scif_epd_t conn;

	gate_open(&listening);
	CHECK(scif_accept(listener, &peer, &conn, SCIF_ACCEPT_SYNC) == 0);
	void *win = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(scif_register(conn, win, 1 << 20, 0,
			    SCIF_PROT_READ | SCIF_PROT_WRITE,
			    SCIF_MAP_FIXED) == 0);
	gate_open(&accepted);
	char *buf = calloc(1, 1 << 16);
	for (;;) {
		if (mode == 0)
			scif_send(conn, buf, 1 << 16, SCIF_SEND_BLOCK);
		else
			pause(); /* never reads: the host's sends pile up */
	}
}

static pid_t start_card(int mode, scif_epd_t *epd)
{
	gate_init(&listening);
	gate_init(&accepted);
	pid_t child = harness_spawn(1, card, (void *)(intptr_t)mode);
	gate_wait(&listening);
	*epd = harness_connect(1, 9000);
	gate_wait(&accepted);
	return child;
}

static void reap(pid_t child)
{
	int status;
	waitpid(child, &status, 0);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

static void *kill_later(void *arg)
{
	usleep(200 * 1000);
	kill((pid_t)(intptr_t)arg, SIGKILL);
	return NULL;
}

/* Drains whatever is left; must end in ECONNRESET, not a hang. */
static void expect_reset_after_drain(scif_epd_t epd, char *buf)
{
	int n;
	while ((n = scif_recv(epd, buf, BIG, SCIF_RECV_BLOCK)) > 0)
		;
	CHECK(n == -1 && errno == ECONNRESET);
}

int main(void)
{
	harness_init("kill", 60);
	char *buf = malloc(BIG);
	scif_epd_t epd;
	pthread_t killer;

	/* 1. Blocked in a big receive while the sender dies. */
	pid_t child = start_card(0, &epd);
	pthread_create(&killer, NULL, kill_later, (void *)(intptr_t)child);
	int n;
	while ((n = scif_recv(epd, buf, BIG, SCIF_RECV_BLOCK)) == BIG)
		; /* the card streams until it is killed */
	CHECK((n > 0 && n < BIG) || (n == -1 && errno == ECONNRESET));
	pthread_join(killer, NULL);
	reap(child);
	expect_reset_after_drain(epd, buf);
	struct pollfd pfd = {.fd = scif_get_fd(epd), .events = POLLIN};
	CHECK(poll(&pfd, 1, 1000) == 1 && (pfd.revents & POLLHUP));
	CHECK_FAILS(scif_vwriteto(epd, buf, 64, 0, 0), ECONNRESET);
	CHECK_FAILS(scif_send(epd, buf, 1, 0), ECONNRESET);
	scif_close(epd);

	/* The dead card's port is gone. */
	struct scif_portID dst = {.node = 1, .port = 9000};
	epd = scif_open();
	CHECK_FAILS(scif_connect(epd, &dst), ECONNREFUSED);
	scif_close(epd);

	/* 2. Blocked in a big send to a card that never reads, then dies. */
	child = start_card(1, &epd);
	pthread_create(&killer, NULL, kill_later, (void *)(intptr_t)child);
	n = scif_send(epd, buf, BIG, SCIF_SEND_BLOCK);
	CHECK((n > 0 && n < BIG) || (n == -1 && errno == ECONNRESET));
	pthread_join(killer, NULL);
	reap(child);
	CHECK_FAILS(scif_send(epd, buf, 1, SCIF_SEND_BLOCK), ECONNRESET);
	CHECK_FAILS(scif_recv(epd, buf, 1, SCIF_RECV_BLOCK), ECONNRESET);
	struct scif_pollepd sp = {.epd = epd, .events = SCIF_POLLOUT};
	CHECK(scif_poll(&sp, 1, 1000) == 1 && (sp.revents & SCIF_POLLHUP));
	scif_close(epd);

	/*
	 * 3. The card dies with asynchronous RMAs queued: 8 GiB, most of a
	 * second of copying even into warm pages, where queuing them takes
	 * milliseconds. The fence reports the loss instead of waiting.
	 */
	child = start_card(1, &epd);
	int queued = 0, mark;
	while (queued < 8192 && scif_vwriteto(epd, buf, 1 << 20, 0, 0) == 0)
		queued++;
	CHECK(queued == 8192);
	CHECK(scif_fence_mark(epd, SCIF_FENCE_INIT_SELF, &mark) == 0);
	kill(child, SIGKILL);
	CHECK_FAILS(scif_fence_wait(epd, mark), ECONNRESET);
	reap(child);
	CHECK_FAILS(scif_vwriteto(epd, buf, 64, 0, 0), ECONNRESET);
	scif_close(epd);

	/*
	 * 4. A queued copy that fails (its source is mapped but unreadable):
	 * the next fence reports it, the signal queued after it is withheld,
	 * and the connection is reset, so that nobody waits for its data.
	 * 512 MiB of copies queued first keep the engine busy for tens of
	 * milliseconds, so the signal and the mark normally go in before the
	 * failure; a thread preempted longer than that finds the connection
	 * reset already (ECONNRESET), which is right too.
	 */
	child = start_card(1, &epd);
	uint64_t *word = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(scif_register(epd, word, 4096, 0x100000,
			    SCIF_PROT_READ | SCIF_PROT_WRITE,
			    SCIF_MAP_FIXED) == 0x100000);
	for (int i = 0; i < 512; i++)
		CHECK(scif_vwriteto(epd, buf, 1 << 20, 0, 0) == 0);
	char *doomed =
	    mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(scif_vwriteto(epd, doomed, 4096, 0, 0) == 0);
	int signalled = scif_fence_signal(
	    epd, 0x100000, 2, 0, 0, SCIF_FENCE_INIT_SELF | SCIF_SIGNAL_LOCAL);
	CHECK(signalled == 0 || errno == ECONNRESET);
	int marked = scif_fence_mark(epd, SCIF_FENCE_INIT_SELF, &mark);
	CHECK(marked == 0 || errno == ECONNRESET);
	if (marked == 0)
		CHECK_FAILS(scif_fence_wait(epd, mark), EFAULT);
	CHECK(__atomic_load_n(word, __ATOMIC_ACQUIRE) == 0);
	CHECK_FAILS(scif_vwriteto(epd, buf, 64, 0, 0), ECONNRESET);
	if (marked == 0)
		CHECK_FAILS(scif_fence_wait(epd, mark), ECONNRESET);
	munmap(doomed, 4096);
	kill(child, SIGKILL);
	reap(child);
	scif_close(epd);

	free(buf);
	return harness_finish();
}
