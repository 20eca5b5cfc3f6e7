/* SPDX-License-Identifier: MPL-2.0 */
/*
 * Readiness of scif_get_fd() under poll(2), epoll (level-triggered) and
 * scif_poll(): it must always match what scif_recv/scif_send/scif_accept
 * can do without blocking.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "harness.h"

static struct harness_gate listening, connected, go_send, card_sent, filled,
    drained, go_close;
static int fill_count[2];

static short revents(scif_epd_t epd, short events, int timeout)
{
	struct pollfd pfd = {.fd = scif_get_fd(epd), .events = events};
	return poll(&pfd, 1, timeout) == 1 ? pfd.revents : 0;
}

static uint32_t epoll_events(int epfd)
{
	struct epoll_event ev = {0};
	return epoll_wait(epfd, &ev, 1, 0) == 1 ? ev.events : 0;
}

static void card(void *arg)
{
	(void)arg;
	gate_wait(&listening);
	scif_epd_t epd = harness_connect(0, 8000);
	gate_open(&connected);
	gate_wait(&go_send);
	CHECK(scif_send(epd, "0123456789", 10, SCIF_SEND_BLOCK) == 10);
	gate_open(&card_sent);

	/* Drain exactly what the host managed to queue. */
	int total = 0;
	gate_wait(&filled);
	CHECK(read(fill_count[0], &total, sizeof(total)) == sizeof(total));
	char *buf = malloc((size_t)total);
	CHECK(scif_recv(epd, buf, total, SCIF_RECV_BLOCK) == total);
	free(buf);
	gate_open(&drained);
	gate_wait(&go_close);
	scif_close(epd); /* host must now see POLLHUP */
}

int main(void)
{
	harness_init("poll", 30);
	gate_init(&listening);
	gate_init(&connected);
	gate_init(&go_send);
	gate_init(&card_sent);
	gate_init(&filled);
	gate_init(&drained);
	gate_init(&go_close);
	CHECK(pipe(fill_count) == 0);
	pid_t child = harness_spawn(1, card, NULL);

	scif_epd_t listener = harness_listener(8000);
	CHECK(revents(listener, POLLIN, 0) == 0);
	gate_open(&listening);
	gate_wait(&connected);
	CHECK(revents(listener, POLLIN, 5000) & POLLIN);
	struct scif_pollepd sp = {.epd = listener,
				  .events = SCIF_POLLIN | SCIF_POLLOUT};
	CHECK(scif_poll(&sp, 1, 0) == 1 && sp.revents == SCIF_POLLIN);

	struct scif_portID peer;
	scif_epd_t conn;
	CHECK(scif_accept(listener, &peer, &conn, 0) == 0);
	CHECK(revents(listener, POLLIN, 0) == 0);
	CHECK_FAILS(scif_accept(listener, &peer, &conn, 0), EAGAIN);

	int epfd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = conn};
	CHECK(epoll_ctl(epfd, EPOLL_CTL_ADD, scif_get_fd(conn), &ev) == 0);

	/* Connected, nothing queued: writable, not readable. */
	CHECK(revents(conn, POLLIN | POLLOUT, 0) == POLLOUT);
	CHECK(epoll_events(epfd) == 0);
	gate_open(&go_send);
	gate_wait(&card_sent);
	CHECK(revents(conn, POLLIN, 5000) == POLLIN);
	CHECK(epoll_events(epfd) == EPOLLIN);
	char buf[64];
	CHECK(scif_recv(conn, buf, 4, 0) == 4);
	CHECK(epoll_events(epfd) == EPOLLIN); /* 6 bytes left */
	CHECK(scif_recv(conn, buf, sizeof(buf), 0) == 6);
	CHECK(memcmp(buf, "456789", 6) == 0);
	CHECK(epoll_events(epfd) == 0);
	CHECK(scif_recv(conn, buf, sizeof(buf), 0) == 0);

	/* Fill the stream until a non-blocking send moves nothing. */
	char *block = calloc(1, 65536);
	int total = 0, n;
	while ((n = scif_send(conn, block, 65536, 0)) > 0)
		total += n;
	CHECK(n == 0);
	CHECK(total > 0);
	CHECK((revents(conn, POLLOUT, 0) & POLLOUT) == 0);
	sp.epd = conn;
	CHECK(scif_poll(&sp, 1, 0) == 0);
	CHECK(write(fill_count[1], &total, sizeof(total)) == sizeof(total));
	gate_open(&filled);
	gate_wait(&drained);
	CHECK(revents(conn, POLLOUT, 5000) & POLLOUT);
	CHECK(scif_send(conn, block, 65536, 0) > 0); /* writable means room */
	free(block);

	/* Peer closes: POLLHUP (and readable), recv/send report ECONNRESET. */
	gate_open(&go_close);
	harness_join(child);
	short r = revents(conn, POLLIN, 5000);
	CHECK((r & POLLHUP) && (r & POLLIN));
	sp.events = SCIF_POLLIN;
	CHECK(scif_poll(&sp, 1, 1000) == 1 && (sp.revents & SCIF_POLLHUP));
	CHECK_FAILS(scif_recv(conn, buf, 1, 0), ECONNRESET);
	CHECK_FAILS(scif_send(conn, buf, 1, 0), ECONNRESET);
	close(epfd);
	scif_close(conn);
	scif_close(listener);
	return harness_finish();
}
