/* SPDX-License-Identifier: MPL-2.0 */
/*
 * Which process a connection reaches (#27 items 5 and 6): an RMA must land
 * in the connected peer's process and nowhere else, across fork() and
 * across a pid the kernel gave to another process. Each case forks the
 * processes it needs; the victim's memory is a page at a fixed address, so
 * that a write meant for one process shows up in another's copy.
 *
 * Usage: scif_test_identity CASE
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "rawpeer.h"

#define PORT	  5100
#define PEER_PORT 3100
#define PAGE	  4096
#define PAGE_ADDR ((void *)0x6e0000000000UL)
#define CLEAN	  0x5A
#define WRITTEN	  0x77

static struct harness_gate ready, go, done, release;

static void gates_init(void)
{
	gate_init(&ready);
	gate_init(&go);
	gate_init(&done);
	gate_init(&release);
}

/* True while every byte of the page is still CLEAN. */
static bool page_clean(const unsigned char *page)
{
	for (size_t i = 0; i < PAGE; i++)
		if (page[i] != CLEAN)
			return false;
	return true;
}

/* Forks a plain child (no harness node) running fn; its CHECKs count. */
static pid_t fork_child(void (*fn)(void *), void *arg)
{
	pid_t pid = fork();

	if (pid == 0) {
		fn(arg);
		_exit(harness_failures ? 1 : 0);
	}
	CHECK(pid > 0);
	return pid;
}

/*
 * Node 1, honest: connects to (0, PORT), then writes WRITTEN over offset 0
 * of its peer's windows when told; whether that may succeed is the case's
 * to check, in the memory it must not reach.
 */
static void writer(void *arg)
{
	(void)arg;
	char buf[PAGE];
	struct scif_portID dst = {0, PORT};
	scif_epd_t epd = scif_open(); /* made after fork(): ours */

	memset(buf, WRITTEN, sizeof(buf));
	CHECK(epd >= 0 && scif_connect(epd, &dst) >= 0);
	gate_open(&ready);
	gate_wait(&go);
	if (scif_vwriteto(epd, buf, PAGE, 0, SCIF_RMA_SYNC) < 0)
		fprintf(stderr, "    writer: %s\n", strerror(errno));
	gate_open(&done);
	scif_close(epd);
}

/* --- 5. fork() ---------------------------------------------------------- */

static scif_epd_t inherited_listener;

/*
 * A forked child of the listener's process: none of its inherited
 * endpoints is its own (EBADF), not even to accept on; closing one only
 * drops its descriptor, and endpoints it opens itself work.
 */
static void forked_acceptor(void *arg)
{
	(void)arg;
	struct scif_portID peer;
	scif_epd_t conn = -1;
	unsigned char *page = PAGE_ADDR; /* our copy of the parent's page */

	gate_wait(&ready);
	CHECK_FAILS(
	    scif_accept(inherited_listener, &peer, &conn, SCIF_ACCEPT_SYNC),
	    EBADF);
	if (conn >= 0) /* before the fix: accepted, as the parent */
		scif_register(conn, page, PAGE, 0,
			      SCIF_PROT_READ | SCIF_PROT_WRITE, SCIF_MAP_FIXED);
	CHECK_FAILS(scif_listen(inherited_listener, 1), EBADF);
	struct scif_pollepd p = {.epd = inherited_listener,
				 .events = SCIF_POLLIN};
	CHECK(scif_poll(&p, 1, 0) == 1 && p.revents == SCIF_POLLNVAL);
	scif_epd_t own = scif_open();
	CHECK(own >= 0 && scif_bind(own, 0) > 0);
	CHECK(scif_close(own) == 0);
	CHECK(scif_close(inherited_listener) == 0);
	gate_open(&go);
	gate_wait(&release);
	if (conn >= 0)
		scif_close(conn);
}

/*
 * Item 5: a connection accepted by a forked child was bound to the
 * parent's pid (the listener's SO_PEERCRED), so the peer's RMA into the
 * child's window wrote the parent's memory at that address.
 */
static void case_fork_accept(void)
{
	unsigned char *page = raw_fixed_pages(PAGE_ADDR, PAGE, CLEAN);

	gates_init();
	inherited_listener = harness_listener(PORT);
	pid_t peer = harness_spawn(1, writer, NULL);
	pid_t child = fork_child(forked_acceptor, NULL);
	harness_join(peer);
	CHECK(page_clean(page)); /* the listener's own memory */
	gate_open(&release);
	harness_join(child);
	/* The listener still serves in its own process. */
	struct scif_portID from;
	scif_epd_t conn = -1;
	struct pollfd pending = {scif_get_fd(inherited_listener), POLLIN, 0};
	CHECK(poll(&pending, 1, 1000) == 1 &&
	      scif_accept(inherited_listener, &from, &conn, 0) == 0);
	CHECK(from.node == 1);
	scif_close(conn);
	scif_close(inherited_listener);
}

/* Holds whatever it inherited until told. */
static void holder(void *arg)
{
	(void)arg;
	gate_wait(&release);
}

/*
 * Item 5: a window of an endpoint close(2)d in its process while a forked
 * child still held the descriptor stayed writable: the peer saw no hang-up
 * and wrote into memory the process had reused.
 */
static void case_fork_close_window(void)
{
	unsigned char *page = raw_fixed_pages(PAGE_ADDR, PAGE, 0);
	struct scif_portID from;
	scif_epd_t conn = -1;

	gates_init();
	scif_epd_t listener = harness_listener(PORT);
	pid_t peer = harness_spawn(1, writer, NULL);
	CHECK(scif_accept(listener, &from, &conn, SCIF_ACCEPT_SYNC) == 0);
	CHECK(scif_register(conn, page, PAGE, 0,
			    SCIF_PROT_READ | SCIF_PROT_WRITE,
			    SCIF_MAP_FIXED) == 0);
	pid_t child = fork_child(holder, NULL);
	CHECK(close(scif_get_fd(conn)) == 0);
	memset(page, CLEAN, PAGE); /* the memory now serves something else */
	gate_open(&go);
	gate_wait(&done);
	harness_join(peer);
	CHECK(page_clean(page));
	gate_open(&release);
	harness_join(child);
	scif_close(listener);
}

/*
 * A raw listener at (1, PEER_PORT) whose forked child accepts and sends a
 * window table naming its page: as the listener's creator holds the same
 * page, an RMA bound to the creator's pid lands there.
 */
static void forking_listener(void *arg)
{
	(void)arg;
	unsigned char *page = raw_fixed_pages(PAGE_ADDR, PAGE, CLEAN);
	CHECK(raw_hold_port(1, PEER_PORT) >= 0);
	int sock = raw_bound_socket(1, PEER_PORT);
	CHECK(sock >= 0 && listen(sock, 4) == 0);
	pid_t child = fork();
	if (child == 0) {
		int memfd;
		int fd = accept4(sock, NULL, NULL, SOCK_CLOEXEC);
		struct window_table *t = raw_table(RAW_SEALS_ALL, &memfd);
		CHECK(fd >= 0 && t != NULL);
		raw_publish(t, 0, 0, PAGE, (uint64_t)(uintptr_t)page,
			    SCIF_PROT_READ | SCIF_PROT_WRITE);
		CHECK(raw_send_hello(fd, WINDOW_TABLE_MAGIC, &memfd, 1) == 0);
		gate_wait(&release);
		_exit(harness_failures ? 1 : 0);
	}
	gate_open(&ready);
	gate_wait(&go);
	CHECK(page_clean(page)); /* the creator's memory */
	gate_open(&release);
	harness_join(child);
}

/*
 * Item 5: the hello must come from the process SO_PEERCRED names; a table
 * sent by a forked child of the listener resets the connection.
 */
static void case_fork_hello(void)
{
	struct scif_portID dst = {1, PEER_PORT};
	char buf[PAGE];

	gates_init();
	scif_epd_t epd = scif_open(); /* the domain is set up first */
	pid_t listener = harness_spawn(1, forking_listener, NULL);
	gate_wait(&ready);
	CHECK(epd >= 0 && scif_connect(epd, &dst) >= 0);
	memset(buf, WRITTEN, sizeof(buf));
	/* The hello may take a moment: wait for it as an RMA would. */
	struct scif_pollepd p = {.epd = epd, .events = SCIF_POLLIN};
	scif_poll(&p, 1, 1000);
	CHECK_FAILS(scif_vwriteto(epd, buf, PAGE, 0, SCIF_RMA_SYNC),
		    ECONNRESET);
	gate_open(&go);
	harness_join(listener);
	scif_close(epd);
}

/* --- dispatch ------------------------------------------------------------- */

static const struct {
	const char *name;
	void (*run)(void);
} cases[] = {
    {"fork_accept", case_fork_accept},
    {"fork_close_window", case_fork_close_window},
    {"fork_hello", case_fork_hello},
};

int main(int argc, char **argv)
{
	for (size_t i = 0; argc == 2 && i < sizeof(cases) / sizeof(cases[0]);
	     i++) {
		if (strcmp(argv[1], cases[i].name) != 0)
			continue;
		char name[64];
		snprintf(name, sizeof(name), "identity-%s", cases[i].name);
		harness_init(name, 60);
		cases[i].run();
		return harness_finish();
	}
	fprintf(stderr, "usage: %s CASE\n", argv[0]);
	return 2;
}
