/* SPDX-License-Identifier: MPL-2.0 */
/*
 * Non-blocking connect (O_NONBLOCK on scif_get_fd): EINPROGRESS, then
 * POLLOUT, then a second scif_connect reports the outcome.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "harness.h"

static void set_nonblocking(scif_epd_t epd)
{
	int fd = scif_get_fd(epd);
	CHECK(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0);
}

static int wait_writable(scif_epd_t epd)
{
	struct pollfd pfd = {.fd = scif_get_fd(epd), .events = POLLOUT};
	return poll(&pfd, 1, 5000) == 1 && (pfd.revents & POLLOUT);
}

static struct harness_gate listening;

static void server(void *arg)
{
	(void)arg;
	scif_epd_t listener = harness_listener(6000);
	struct scif_portID peer;
	scif_epd_t conn;
	char buf[5] = {0};

	gate_open(&listening);
	CHECK(scif_accept(listener, &peer, &conn, SCIF_ACCEPT_SYNC) == 0);
	CHECK(peer.node == 0);
	CHECK(scif_recv(conn, buf, 5, SCIF_RECV_BLOCK) == 5);
	CHECK(memcmp(buf, "hello", 5) == 0);
	CHECK(scif_send(conn, "world", 5, SCIF_SEND_BLOCK) == 5);
	scif_close(conn);
	scif_close(listener);
}

int main(void)
{
	harness_init("nonblock", 30);
	gate_init(&listening);
	pid_t child = harness_spawn(1, server, NULL);
	gate_wait(&listening);

	/* Success: EINPROGRESS, POLLOUT, then the bound port. */
	struct scif_portID dst = {.node = 1, .port = 6000};
	scif_epd_t epd = scif_open();
	set_nonblocking(epd);
	CHECK_FAILS(scif_connect(epd, &dst), EINPROGRESS);
	char byte;
	CHECK_FAILS(scif_send(epd, &byte, 1, 0),
		    ENOTCONN); /* not reported yet */
	CHECK(wait_writable(epd));
	CHECK(scif_connect(epd, &dst) >= SCIF_PORT_RSVD);
	CHECK_FAILS(scif_connect(epd, &dst), EISCONN);
	/* Blocking transfers still block although the fd is O_NONBLOCK. */
	CHECK(scif_send(epd, "hello", 5, SCIF_SEND_BLOCK) == 5);
	char buf[5] = {0};
	CHECK(scif_recv(epd, buf, 5, SCIF_RECV_BLOCK) == 5);
	CHECK(memcmp(buf, "world", 5) == 0);
	scif_close(epd);
	harness_join(child);

	/* Refused: EINPROGRESS, POLLOUT, then ECONNREFUSED; epd reusable. */
	epd = scif_open();
	set_nonblocking(epd);
	dst.port = 6001;
	CHECK_FAILS(scif_connect(epd, &dst), EINPROGRESS);
	CHECK(wait_writable(epd));
	CHECK_FAILS(scif_connect(epd, &dst), ECONNREFUSED);
	CHECK_FAILS(scif_connect(epd, &dst), EINPROGRESS);
	CHECK_FAILS(scif_connect(epd, &dst), ECONNREFUSED);

	/* Offline node: reported at once, not via EINPROGRESS. */
	dst.node = 7;
	CHECK_FAILS(scif_connect(epd, &dst), ENODEV);
	scif_close(epd);
	return harness_finish();
}
