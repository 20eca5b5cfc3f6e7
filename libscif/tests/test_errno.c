/* SPDX-License-Identifier: MPL-2.0 */
/* Every documented error path reachable without a misbehaving kernel. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "scif_emu.h"

static void check_bad_descriptors(void)
{
	int devnull = open("/dev/null", O_RDONLY);
	struct scif_portID peer;
	scif_epd_t newepd;
	char byte = 0;
	int mark;

	CHECK_FAILS(scif_close(-1), EBADF);
	CHECK_FAILS(scif_close(12345), EBADF);
	CHECK_FAILS(scif_bind(devnull, 0), ENOTTY);
	CHECK_FAILS(scif_listen(devnull, 1), ENOTTY);
	CHECK_FAILS(scif_accept(devnull, &peer, &newepd, 0), ENOTTY);
	CHECK_FAILS(scif_send(devnull, &byte, 1, 0), ENOTTY);
	CHECK_FAILS(scif_recv(-5, &byte, 1, 0), EBADF);
	CHECK_FAILS(scif_register(-1, NULL, 4096, 0, SCIF_PROT_READ, 0), EBADF);
	CHECK_FAILS(scif_unregister(-1, 0, 4096), EBADF);
	CHECK_FAILS(scif_vwriteto(-1, &byte, 1, 0, 0), EBADF);
	CHECK_FAILS(scif_readfrom(-1, 0, 1, 0, 0), EBADF);
	CHECK_FAILS(scif_fence_mark(-1, SCIF_FENCE_INIT_SELF, &mark), EBADF);
	CHECK_FAILS(scif_fence_wait(-1, 0), EBADF);
	CHECK_FAILS(scif_fence_signal(-1, 0, 0, 0, 0, 0), EBADF);
	CHECK(scif_mmap(NULL, 4096, SCIF_PROT_READ, 0, -1, 0) ==
		  SCIF_MMAP_FAILED &&
	      errno == EBADF);
	close(devnull);
}

static char problem[256];

/* The environment is refused, with a message that starts with `start`. */
static void explains(const char *start)
{
	CHECK_FAILS(scif_emu_check_environment(problem, sizeof(problem)),
		    EINVAL);
	CHECK(strncmp(problem, start, strlen(start)) == 0);
	if (strncmp(problem, start, strlen(start)) != 0)
		fprintf(stderr, "    got \"%s\"\n", problem);
}

static void check_environment(void)
{
	uint16_t nodes[8], self = 99;

	setenv("SCIF_EMU_NODES", "5", 1);
	setenv("SCIF_EMU_NODE", "3", 1);
	CHECK(scif_get_nodeIDs(nodes, 8, &self) == 5);
	CHECK(self == 3 && nodes[0] == 0 && nodes[4] == 4);
	CHECK(scif_get_nodeIDs(nodes, 2, &self) == 5);
	CHECK_FAILS(scif_get_nodeIDs(nodes, 2, NULL), EFAULT);

	CHECK(scif_emu_check_environment(problem, sizeof(problem)) == 0);
	CHECK(problem[0] == '\0');
	setenv("SCIF_EMU_NODE", "5", 1); /* not below SCIF_EMU_NODES */
	CHECK(scif_open() == SCIF_OPEN_FAILED && errno == EINVAL);
	explains("SCIF_EMU_NODE=5: expected a node id from 0 to 4");
	setenv("SCIF_EMU_NODE", "1x", 1);
	CHECK(scif_open() == SCIF_OPEN_FAILED && errno == EINVAL);
	explains("SCIF_EMU_NODE=1x: expected a node id from 0 to 4");
	setenv("SCIF_EMU_NODE", "0", 1);
	setenv("SCIF_EMU_NODES", "0", 1);
	CHECK(scif_open() == SCIF_OPEN_FAILED && errno == EINVAL);
	explains("SCIF_EMU_NODES=0: expected a number of nodes from 1 to 256");
	setenv("SCIF_EMU_NODES", "2", 1);
	char *domain = strdup(getenv("SCIF_EMU_DOMAIN"));
	setenv("SCIF_EMU_DOMAIN", "a/b", 1);
	CHECK(scif_open() == SCIF_OPEN_FAILED && errno == EINVAL);
	explains("SCIF_EMU_DOMAIN=a/b: expected a name of 1 to 64 characters");
	setenv("SCIF_EMU_DOMAIN", "", 1);
	CHECK(scif_open() == SCIF_OPEN_FAILED && errno == EINVAL);
	explains("SCIF_EMU_DOMAIN=: expected");
	/* Cut to the caller's buffer, still a string. */
	CHECK(scif_emu_check_environment(problem, 8) == -1 &&
	      strcmp(problem, "SCIF_EM") == 0);
	setenv("SCIF_EMU_DOMAIN", domain, 1);
	free(domain);
}

static void check_bind_listen(void)
{
	scif_epd_t a = scif_open(), b = scif_open();
	int port;

	CHECK(a >= 0 && b >= 0);
	port = scif_bind(a, 0);
	CHECK(port >= SCIF_PORT_RSVD && port <= 65535);
	CHECK_FAILS(scif_bind(a, 0), EINVAL);
	CHECK_FAILS(scif_bind(b, (uint16_t)port), EADDRINUSE);
	CHECK(scif_bind(b, 2000) == 2000);
	CHECK(scif_close(b) == 0);
	/* The port is free again once its endpoint is closed. */
	b = scif_open();
	CHECK(scif_bind(b, 2000) == 2000);

	scif_epd_t unbound = scif_open();
	CHECK_FAILS(scif_listen(unbound, 4), EINVAL);
	CHECK(scif_listen(a, 4) == 0);
	CHECK_FAILS(scif_listen(a, 4), EISCONN);
	CHECK_FAILS(scif_bind(a, 0), EINVAL);

	struct scif_portID peer, dst = {.node = 0, .port = 2000};
	scif_epd_t newepd;
	CHECK_FAILS(scif_connect(a, &dst), EOPNOTSUPP);
	CHECK_FAILS(scif_accept(a, &peer, &newepd, 0), EAGAIN);
	CHECK_FAILS(scif_accept(a, &peer, &newepd, 4), EINVAL);
	CHECK_FAILS(scif_accept(a, NULL, &newepd, 0), EINVAL);
	CHECK_FAILS(scif_accept(a, &peer, NULL, 0), EINVAL);
	CHECK_FAILS(scif_accept(b, &peer, &newepd, 0), EINVAL);

	/* A listening endpoint is not readable without requests. */
	struct scif_pollepd p = {.epd = a, .events = SCIF_POLLIN};
	CHECK(scif_poll(&p, 1, 0) == 0 && p.revents == 0);

	scif_close(a);
	scif_close(b);
	scif_close(unbound);
}

static void check_privileged_ports(void)
{
	scif_epd_t epd = scif_open();

	/* We run as root in CI: allowed here ... */
	if (geteuid() == 0)
		CHECK(scif_bind(epd, SCIF_COI_PORT_0) == SCIF_COI_PORT_0);
	scif_close(epd);

	/* ... and refused to an unprivileged user. */
	pid_t child = fork();
	if (child == 0) {
		if (geteuid() == 0 && setuid(65534) < 0)
			_exit(3);
		scif_epd_t e = scif_open();
		int rc = scif_bind(e, 100);
		int ok = rc == -1 && errno == EACCES;
		ok = ok &&
		     scif_bind(e, SCIF_ADMIN_PORT_END) == SCIF_ADMIN_PORT_END;
		_exit(ok ? 0 : 1);
	}
	harness_join(child);
}

static void check_connect_errors(void)
{
	scif_epd_t epd = scif_open();
	struct scif_portID dst = {.node = 0, .port = 0};
	char byte = 0;

	CHECK_FAILS(scif_connect(epd, NULL), EINVAL);
	CHECK_FAILS(scif_connect(epd, &dst), EINVAL);
	dst.port = 3000;
	dst.node = 2; /* SCIF_EMU_NODES=2: nodes 0 and 1 only */
	CHECK_FAILS(scif_connect(epd, &dst), ENODEV);
	dst.node = 1; /* online, but nobody listens */
	CHECK_FAILS(scif_connect(epd, &dst), ECONNREFUSED);
	dst.node = 0;
	CHECK_FAILS(scif_connect(epd, &dst), ECONNREFUSED);

	CHECK_FAILS(scif_send(epd, &byte, 1, 0), ENOTCONN);
	CHECK_FAILS(scif_recv(epd, &byte, 1, SCIF_RECV_BLOCK), ENOTCONN);
	CHECK_FAILS(scif_send(epd, &byte, 1, 2), EINVAL);
	CHECK_FAILS(scif_recv(epd, &byte, -1, 0), EINVAL);

	void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int mark;
	CHECK_FAILS(scif_register(epd, page, 4096, 0, SCIF_PROT_READ, 0),
		    ENOTCONN);
	CHECK_FAILS(scif_unregister(epd, 0, 4096), ENOTCONN);
	CHECK_FAILS(scif_vwriteto(epd, page, 16, 0, 0), ENOTCONN);
	CHECK_FAILS(scif_readfrom(epd, 0, 16, 0, 0), ENOTCONN);
	CHECK_FAILS(scif_fence_mark(epd, SCIF_FENCE_INIT_SELF, &mark),
		    ENOTCONN);
	CHECK_FAILS(scif_fence_mark(epd, 0, &mark), EINVAL);
	CHECK_FAILS(scif_fence_signal(epd, 0, 1, 0, 1, SCIF_FENCE_INIT_SELF),
		    EINVAL);
	CHECK_FAILS(scif_fence_signal(epd, 2, 1, 0, 1,
				      SCIF_FENCE_INIT_SELF | SCIF_SIGNAL_LOCAL),
		    EINVAL);
	CHECK(scif_mmap(NULL, 4096, SCIF_PROT_READ, 0, epd, 0) ==
		  SCIF_MMAP_FAILED &&
	      errno == ENOTCONN);
	CHECK(scif_mmap(NULL, 100, SCIF_PROT_READ, 0, epd, 0) ==
		  SCIF_MMAP_FAILED &&
	      errno == EINVAL);
	CHECK_FAILS(scif_munmap((char *)page + 1, 4096), EINVAL);
	CHECK(scif_munmap(page, 4096) == 0);

	/* A refused endpoint stays usable. */
	scif_epd_t listener = harness_listener(3001);
	dst.port = 3001;
	CHECK(scif_connect(epd, &dst) >= SCIF_PORT_RSVD);
	CHECK_FAILS(scif_connect(epd, &dst), EISCONN);
	CHECK_FAILS(scif_bind(epd, 0), EISCONN);
	CHECK_FAILS(scif_listen(epd, 1), EISCONN);
	CHECK(scif_mmap(NULL, 4096, SCIF_PROT_READ, 0, epd, 0) ==
		  SCIF_MMAP_FAILED &&
	      errno == ENOSYS);
	/* Non-blocking recv with nothing queued: 0 bytes, not an error. */
	CHECK(scif_recv(epd, &byte, 1, 0) == 0);
	CHECK(scif_send(epd, &byte, 0, 0) == 0);
	scif_close(epd);
	scif_close(listener);
}

static void check_poll_nval(void)
{
	struct scif_pollepd p[2] = {{.epd = 4242, .events = SCIF_POLLIN},
				    {.epd = -1, .events = SCIF_POLLIN}};

	CHECK(scif_poll(p, 2, 1000) == 2);
	CHECK(p[0].revents == SCIF_POLLNVAL && p[1].revents == SCIF_POLLNVAL);
	CHECK(scif_poll(NULL, 0, 10) == 0);
}

/* As on a kernel before 3.17: memfd_create(2) fails with ENOSYS. */
static void without_memfds(void)
{
	harness_syscall_fails(SYS_memfd_create, -1, 0, ENOSYS);
}

/* Node 1 on such a kernel: a connection needs a memfd for its table. */
static void connector_without_memfds(void *arg)
{
	struct scif_portID dst = {.node = 0, .port = (uint16_t)(intptr_t)arg};
	scif_epd_t epd = scif_open();

	without_memfds();
	CHECK(epd >= 0);
	CHECK_FAILS(scif_connect(epd, &dst), ENOSYS);
	scif_close(epd);
}

static void check_kernel_without_memfds(void)
{
	scif_epd_t listener = harness_listener(9300);

	harness_join(
	    harness_spawn(1, connector_without_memfds, (void *)(intptr_t)9300));
	scif_close(listener);
}

int main(void)
{
	harness_init("errno", 30);
	CHECK(strcmp(scif_emu_version(), SCIF_EMU_VERSION) == 0);
	check_bad_descriptors();
	check_environment();
	check_bind_listen();
	check_privileged_ports();
	check_connect_errors();
	check_poll_nval();
	check_kernel_without_memfds();
	return harness_finish();
}
