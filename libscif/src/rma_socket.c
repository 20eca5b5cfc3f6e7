/* SPDX-License-Identifier: MPL-2.0 */
/*
 * Fallback RMA path for kernels that forbid process_vm_readv/writev between
 * the processes (e.g. Yama ptrace_scope >= 2, seccomp filters).
 *
 * Every process that registers a window runs one helper thread listening on
 * "\0scif-emu-rma/<pid>". An RMA is then one short-lived connection: the
 * initiator names an address range inside one of the server's windows and
 * streams the bytes; the helper copies them from/to its own memory. Only
 * callers with the same uid are served, and only ranges inside windows the
 * process registered, so this grants nothing process_vm_* would not.
 * Costs: two copies per byte and CPU time in the peer's helper thread.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"

struct rma_request {
	uint32_t dir; /* enum rma_dir, seen from the initiator */
	uint32_t reserved;
	uint64_t addr; /* in the server's address space */
	uint64_t len;
};

static pthread_mutex_t server_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t server_pid; /* process the running helper belongs to */

static socklen_t server_address(pid_t pid, struct sockaddr_un *addr)
{
	int len;

	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	len = snprintf(addr->sun_path + 1, sizeof(addr->sun_path) - 1,
		       "scif-emu-rma/%d", (int)pid);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len);
}

/* Moves exactly len bytes; returns 0 or -errno (-ECONNRESET on EOF). */
static int move_all(int fd, enum rma_dir dir, void *buf, size_t len)
{
	while (len) {
		ssize_t n = dir == RMA_WRITE ? send(fd, buf, len, MSG_NOSIGNAL)
					     : recv(fd, buf, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -ECONNRESET;
		buf = (char *)buf + n;
		len -= (size_t)n;
	}
	return 0;
}

static bool same_user(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
	       cred.uid == geteuid();
}

static void serve_one(int fd)
{
	struct rma_request req;
	int32_t status = 0; /* 0 or a positive errno */

	if (!same_user(fd) || move_all(fd, RMA_READ, &req, sizeof(req)) < 0)
		return;
	if (!ep_windows_cover(req.addr, req.len, 0))
		status = ENXIO;
	/* Status first, so the initiator never waits for bytes never sent. */
	if (move_all(fd, RMA_WRITE, &status, sizeof(status)) < 0 || status)
		return;
	if (req.dir == RMA_READ) {
		move_all(fd, RMA_WRITE, (void *)(uintptr_t)req.addr, req.len);
		return;
	}
	/* The initiator's call may only return once the bytes are in place. */
	status = -move_all(fd, RMA_READ, (void *)(uintptr_t)req.addr, req.len);
	move_all(fd, RMA_WRITE, &status, sizeof(status));
}

static void *serve(void *arg)
{
	int listener = (int)(intptr_t)arg;

	for (;;) {
		int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		serve_one(fd);
		close(fd);
	}
	return NULL;
}

int rma_socket_serve_start(void)
{
	struct sockaddr_un addr;
	pthread_attr_t attr;
	pthread_t thread;
	int fd, rc = 0;

	pthread_mutex_lock(&server_lock);
	/* A forked child does not inherit the helper thread: start its own. */
	if (server_pid == getpid())
		goto out;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    bind(fd, (struct sockaddr *)&addr,
		 server_address(getpid(), &addr)) < 0 ||
	    listen(fd, 64) < 0) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		goto out;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = -pthread_create(&thread, &attr, serve, (void *)(intptr_t)fd);
	pthread_attr_destroy(&attr);
	if (rc < 0)
		close(fd);
	else
		server_pid = getpid();
out:
	pthread_mutex_unlock(&server_lock);
	return rc;
}

int rma_socket_copy(enum rma_dir dir, void *local, int32_t pid, uint64_t remote,
		    size_t len)
{
	struct rma_request req = {.dir = dir, .addr = remote, .len = len};
	struct sockaddr_un addr;
	int32_t status;
	int fd, rc;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, server_address(pid, &addr)) <
	    0)
		rc = -ECONNRESET; /* the peer process is gone */
	else if ((rc = move_all(fd, RMA_WRITE, &req, sizeof(req))) == 0 &&
		 (rc = move_all(fd, RMA_READ, &status, sizeof(status))) == 0)
		rc = status ? -status : move_all(fd, dir, local, len);
	if (rc == 0 && dir == RMA_WRITE &&
	    (rc = move_all(fd, RMA_READ, &status, sizeof(status))) == 0)
		rc = -status;
	close(fd);
	return rc;
}
