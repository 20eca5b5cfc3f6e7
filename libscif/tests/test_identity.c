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
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "rawpeer.h"
#include "scif_emu.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5 */
#endif

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

/* --- 6. a pid the kernel gave to another process ------------------------ */

static void need_root(void)
{
	if (geteuid() != 0) {
		printf("SKIPPED: needs root to choose a process's pid\n");
		exit(77);
	}
}

/*
 * The kernel this process runs on, as far as SO_PEERPIDFD goes: it fails
 * with err, ENOPROTOOPT before Linux 6.5, EINVAL from 6.5 to 6.8 for a
 * peer that is gone (later kernels give a pidfd of the dead process).
 */
static void peerpidfd_fails(int err)
{
	harness_syscall_fails(SYS_getsockopt, 2, SO_PEERPIDFD, err);
}

static char holder_stack[64 * 1024];

/* Shares the connector's descriptors: its socket and its port's lock. */
static int descriptor_holder(void *arg)
{
	(void)arg;
	alarm(60);
	gate_wait(&release);
	return 0;
}

/*
 * Connects to (0, PORT) as (1, PEER_PORT) and sends a table naming
 * PAGE_ADDR, then exits while a CLONE_FILES child keeps the socket and the
 * port's lock: the kernel goes on naming our pid as the peer and the lock
 * holder, whoever gets that number next.
 */
static void dying_connector(void *arg)
{
	(void)arg;
	int memfd;
	int fd = raw_connect_as(1, PEER_PORT, 0, PORT);
	struct window_table *t = raw_table(RAW_SEALS_ALL, &memfd);

	CHECK(fd >= 0 && t != NULL);
	raw_publish(t, 0, 0, PAGE, (uint64_t)(uintptr_t)PAGE_ADDR,
		    SCIF_PROT_READ | SCIF_PROT_WRITE);
	CHECK(raw_send_hello(fd, WINDOW_TABLE_MAGIC, &memfd, 1) == 0);
	CHECK(clone(descriptor_holder, holder_stack + sizeof(holder_stack),
		    CLONE_FILES | SIGCHLD, NULL) > 0);
}

/* A child of ours with pid pid (clone3's set_tid, root only). */
static pid_t spawn_with_pid(pid_t pid)
{
	struct clone_args args = {
	    .exit_signal = SIGCHLD,
	    .set_tid = (uintptr_t)&pid,
	    .set_tid_size = 1,
	};

	return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

/*
 * Item 6: the connector is gone, its number given to a bystander holding
 * a page at the address its table names; we accept on a kernel whose
 * SO_PEERPIDFD fails with err. The pidfd_open after the fact named the
 * bystander, and our RMA wrote its page.
 */
static void pid_reused(int err)
{
	struct scif_portID from;
	scif_epd_t conn = -1;
	char buf[PAGE];

	need_root();
	gates_init();
	scif_epd_t listener = harness_listener(PORT);
	pid_t gone = harness_spawn(1, dying_connector, NULL);
	harness_join(gone); /* reaped: its number is free */
	pid_t bystander = spawn_with_pid(gone);
	if (bystander < 0) {
		printf("SKIPPED: no process with pid %d: %s\n", (int)gone,
		       strerror(errno));
		exit(77);
	}
	if (bystander == 0) {
		unsigned char *page = raw_fixed_pages(PAGE_ADDR, PAGE, CLEAN);
		gate_open(&ready);
		gate_wait(&go);
		_exit(page_clean(page) ? 0 : 1);
	}
	gate_wait(&ready);
	peerpidfd_fails(err);
	struct pollfd pending = {scif_get_fd(listener), POLLIN, 0};
	CHECK(poll(&pending, 1, 1000) == 1);
	int rc = scif_accept(listener, &from, &conn, 0);
	int accept_errno = errno;
	memset(buf, WRITTEN, sizeof(buf));
	if (rc == 0 && scif_vwriteto(conn, buf, PAGE, 0, SCIF_RMA_SYNC) == 0)
		CHECK(!"an RMA of the connection succeeded");
	if (err == ENOPROTOOPT) {
		/* Accepted, but RMAs only through the peer's own service. */
		CHECK(rc == 0);
		CHECK(rc == 0 &&
		      strcmp(scif_emu_ep_rma_path(conn), "socket") == 0);
	} else {
		/* Refused: the kernel says the peer is gone. */
		CHECK(rc == -1 && accept_errno == EAGAIN);
	}
	gate_open(&go);
	harness_join(bystander); /* its page is clean */
	gate_open(&release);
	if (conn >= 0)
		scif_close(conn);
	scif_close(listener);
}

/*
 * The bystander as a libscif process of node 1 connected to us, with a
 * window on its page (so its fallback service runs): started afresh by
 * exec, told through stdin/stdout. Its endpoint's token is 1, the one the
 * gone connector's table names.
 */
static int window_owner(void)
{
	struct scif_portID dst = {0, PORT};
	unsigned char *page = raw_fixed_pages(PAGE_ADDR, PAGE, CLEAN);
	scif_epd_t epd = scif_open();
	char byte = 'r';

	alarm(60);
	if (epd < 0 || scif_connect(epd, &dst) < 0 ||
	    scif_register(epd, page, PAGE, 0, SCIF_PROT_READ | SCIF_PROT_WRITE,
			  SCIF_MAP_FIXED) != 0 ||
	    write(1, &byte, 1) != 1 || read(0, &byte, 1) != 1)
		return 2;
	return page_clean(page) ? 0 : 1;
}

/* Accepts one of the queued connections; its peer's port in *from. */
static scif_epd_t accept_queued(scif_epd_t listener, struct scif_portID *from)
{
	struct pollfd pending = {scif_get_fd(listener), POLLIN, 0};
	scif_epd_t conn = -1;

	CHECK(poll(&pending, 1, 1000) == 1 &&
	      scif_accept(listener, from, &conn, 0) == 0);
	return conn;
}

/*
 * Item 6, through the fallback path: the number now belongs to a process
 * connected to us as well, whose service serves its window to us. A
 * channel opened for the gone peer's connection must not get it.
 */
static void case_pid_reused_service(void)
{
	int to_owner[2], from_owner[2];
	struct scif_portID from;
	scif_epd_t conn[2];
	char buf[PAGE], byte;
	int status;

	need_root();
	gates_init();
	CHECK(pipe(to_owner) == 0 && pipe(from_owner) == 0);
	scif_epd_t listener = harness_listener(PORT);
	pid_t gone = harness_spawn(1, dying_connector, NULL);
	harness_join(gone);
	pid_t owner = spawn_with_pid(gone);
	if (owner < 0) {
		printf("SKIPPED: no process with pid %d: %s\n", (int)gone,
		       strerror(errno));
		exit(77);
	}
	if (owner == 0) {
		dup2(to_owner[0], 0);
		dup2(from_owner[1], 1);
		setenv("SCIF_EMU_NODE", "1", 1);
		execl("/proc/self/exe", "scif_test_identity", "window_owner",
		      (char *)NULL);
		_exit(127);
	}
	CHECK(read(from_owner[0], &byte, 1) == 1);
	peerpidfd_fails(ENOPROTOOPT);
	conn[0] = accept_queued(listener, &from);
	scif_epd_t gone_conn = from.port == PEER_PORT ? conn[0] : -1;
	conn[1] = accept_queued(listener, &from);
	if (from.port == PEER_PORT)
		gone_conn = conn[1];
	CHECK(gone_conn >= 0);
	memset(buf, WRITTEN, sizeof(buf));
	CHECK(scif_vwriteto(gone_conn, buf, PAGE, 0, SCIF_RMA_SYNC) == -1);
	CHECK(write(to_owner[1], &byte, 1) == 1);
	CHECK(waitpid(owner, &status, 0) == owner);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0); /* page clean */
	gate_open(&release);
	scif_close(conn[0]);
	scif_close(conn[1]);
	scif_close(listener);
}

static void case_pid_reused_before_6_5(void)
{
	pid_reused(ENOPROTOOPT);
}

static void case_pid_reused_peer_gone(void)
{
	pid_reused(EINVAL);
}

/* --- dispatch ------------------------------------------------------------- */

static const struct {
	const char *name;
	void (*run)(void);
} cases[] = {
    {"fork_accept", case_fork_accept},
    {"fork_close_window", case_fork_close_window},
    {"fork_hello", case_fork_hello},
    {"pid_reused_before_6_5", case_pid_reused_before_6_5},
    {"pid_reused_peer_gone", case_pid_reused_peer_gone},
    {"pid_reused_service", case_pid_reused_service},
};

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "window_owner") == 0)
		return window_owner(); /* pid_reused_service's bystander */
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
