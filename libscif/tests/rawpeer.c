/* SPDX-License-Identifier: MPL-2.0 */
#define _GNU_SOURCE
#include "rawpeer.h"

#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

void raw_address(struct sockaddr_un *addr, const char *fmt, ...)
{
	va_list args;

	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	va_start(args, fmt);
	vsnprintf(addr->sun_path, sizeof(addr->sun_path), fmt, args);
	va_end(args);
}

const char *raw_domain_dir(void)
{
	static char dir[256];
	const char *env = getenv("SCIF_EMU_DOMAIN");

	if (env && env[0] == '/')
		snprintf(dir, sizeof(dir), "%s", env);
	else
		snprintf(dir, sizeof(dir), "/tmp/scif-emu-%lu/%s",
			 (unsigned long)geteuid(), env ? env : "default");
	return dir;
}

int raw_hold_port(uint16_t node, uint16_t port)
{
	char path[300];
	struct flock fl = {
	    .l_type = F_WRLCK,
	    .l_whence = SEEK_SET,
	    .l_start = LOCKS_PORT(node, port),
	    .l_len = 1,
	};

	snprintf(path, sizeof(path), "%s/locks", raw_domain_dir());
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || fcntl(fd, F_SETLK, &fl) < 0)
		return -1;
	return fd;
}

static socklen_t port_address(uint16_t node, uint16_t port,
			      struct sockaddr_un *addr)
{
	if (port < SCIF_ADMIN_PORT_END)
		raw_address(addr, "%s/admin/%u.%u", raw_domain_dir(), node,
			    port);
	else
		raw_address(addr, "%s/%u/%u", raw_domain_dir(), node, port);
	return (socklen_t)sizeof(*addr);
}

int raw_bound_socket(uint16_t node, uint16_t port)
{
	struct sockaddr_un addr;
	char dir[300];
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(dir, sizeof(dir), "%s/%u", raw_domain_dir(), node);
	mkdir(dir, 0777);
	port_address(node, port, &addr);
	unlink(addr.sun_path);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int raw_connect(int fd, uint16_t node, uint16_t port)
{
	struct sockaddr_un addr;

	port_address(node, port, &addr);
	return connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0
		   ? 0
		   : -errno;
}

int raw_connect_as(uint16_t node, uint16_t port, uint16_t dst_node,
		   uint16_t dst_port)
{
	if (raw_hold_port(node, port) < 0)
		return -1; /* the lock file stays open: the lock is held */
	int fd = raw_bound_socket(node, port);
	if (fd < 0 || raw_connect(fd, dst_node, dst_port) < 0)
		return -1;
	return fd;
}

struct window_table *raw_table(unsigned seals, int *memfd)
{
	struct window_table *t;

	*memfd = memfd_create("raw-table", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (*memfd < 0 || ftruncate(*memfd, sizeof(*t)) < 0)
		return NULL;
	t = mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE, MAP_SHARED, *memfd,
		 0);
	if (t == MAP_FAILED)
		return NULL;
	if (seals && fcntl(*memfd, F_ADD_SEALS, seals) < 0)
		return NULL;
	t->magic = WINDOW_TABLE_MAGIC;
	t->version = WINDOW_TABLE_VERSION;
	t->token = 1; /* what raw_channel names us by */
	return t;
}

void raw_publish(struct window_table *t, uint32_t slot, uint64_t offset,
		 uint64_t len, uint64_t addr, uint32_t prot)
{
	struct table_slot *s = &t->slots[slot];

	atomic_fetch_add(&s->seq, 1);
	atomic_store(&s->offset, offset);
	atomic_store(&s->len, len);
	atomic_store(&s->addr, addr);
	atomic_store(&s->prot, prot);
	atomic_fetch_add(&s->seq, 1);
	if (atomic_load(&t->used_slots) <= slot)
		atomic_store(&t->used_slots, slot + 1);
}

int raw_send_hello(int fd, uint32_t magic, const int *fds, int nfds)
{
	uint32_t hello[2] = {magic, WINDOW_TABLE_VERSION};

	return raw_send_fds(fd, hello, sizeof(hello), fds, nfds);
}

int raw_send_fds(int fd, const void *buf, size_t len, const int *fds, int nfds)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	size_t space = CMSG_SPACE(sizeof(int) * (size_t)(nfds ? nfds : 1));
	char *control = calloc(1, space);
	struct msghdr msg = {
	    .msg_iov = &iov,
	    .msg_iovlen = 1,
	    .msg_control = nfds ? control : NULL,
	    .msg_controllen = nfds ? space : 0,
	};

	if (nfds) {
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	free(control);
	return n == (ssize_t)len ? 0 : -1;
}

int raw_recv_hello(int fd)
{
	uint32_t hello[2];
	struct iovec iov = {.iov_base = hello, .iov_len = sizeof(hello)};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control = {0};
	struct msghdr msg = {
	    .msg_iov = &iov,
	    .msg_iovlen = 1,
	    .msg_control = control.buf,
	    .msg_controllen = sizeof(control.buf),
	};
	int memfd = -1;

	if (recvmsg(fd, &msg, MSG_WAITALL | MSG_CMSG_CLOEXEC) !=
	    (ssize_t)sizeof(hello))
		return -1;
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (c && c->cmsg_type == SCM_RIGHTS)
		memcpy(&memfd, CMSG_DATA(c), sizeof(int));
	return memfd;
}

const struct window_table *raw_map_table(int memfd)
{
	void *t = mmap(NULL, sizeof(struct window_table), PROT_READ, MAP_SHARED,
		       memfd, 0);
	return t == MAP_FAILED ? NULL : t;
}

int raw_channel(pid_t pid, uint64_t token, int32_t *status)
{
	struct sockaddr_un addr;
	/* Our side of the connection: raw_table's token. */
	struct fallback_open open_msg = {FALLBACK_MAGIC, FALLBACK_VERSION,
					 token, 1};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	raw_address(&addr, "%s/rma/%d", raw_domain_dir(), (int)pid);
	*status = -1;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    send(fd, &open_msg, sizeof(open_msg), MSG_NOSIGNAL) !=
		(ssize_t)sizeof(open_msg) ||
	    recv(fd, status, sizeof(*status), MSG_WAITALL) !=
		(ssize_t)sizeof(*status)) {
		close(fd);
		return -1;
	}
	return fd;
}

void *raw_fixed_pages(void *addr, size_t len, int byte)
{
	void *p =
	    mmap(addr, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p != addr) {
		perror("raw_fixed_pages");
		exit(2);
	}
	memset(p, byte, len);
	return p;
}

void raw_become(uid_t uid)
{
	if (setgroups(0, NULL) < 0 || setgid(uid) < 0 || setuid(uid) < 0)
		_exit(3);
	/* Changing user makes a process undumpable: undo, as for a login. */
	prctl(PR_SET_DUMPABLE, 1);
}

double raw_ms_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) * 1e3 +
	       (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}
