/* SPDX-License-Identifier: MPL-2.0 */
/*
 * Connection set-up. The connector creates the shared area (a memfd holding
 * both sides' window tables) and, right after connect(2), sends a "hello"
 * carrying its port ID and the memfd (SCM_RIGHTS). The acceptor reads that
 * hello and maps the same memfd. Nothing else ever travels out of band, so
 * the socket byte stream is exactly the scif_send/scif_recv stream and the
 * descriptor's readiness matches what scif_recv/scif_send can do.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* How long scif_accept waits for a queued requester's hello. */
#define HELLO_TIMEOUT_MS 2000

struct hello {
	uint32_t magic;
	uint32_t version;
	uint16_t node;
	uint16_t port;
	int32_t pid;
};

static struct shared_area *area_map(int memfd)
{
	void *p = mmap(NULL, sizeof(struct shared_area), PROT_READ | PROT_WRITE,
		       MAP_SHARED, memfd, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* Creates a zeroed shared area; returns the memfd (mapping in *out). */
static int area_create(struct shared_area **out)
{
	int memfd = memfd_create("scif-emu-windows", MFD_CLOEXEC);
	struct shared_area *area;

	if (memfd < 0)
		return -errno;
	if (ftruncate(memfd, sizeof(*area)) < 0 || !(area = area_map(memfd))) {
		int err = errno;
		close(memfd);
		return -err;
	}
	area->magic = SHARED_AREA_MAGIC;
	area->version = SHARED_AREA_VERSION;
	*out = area;
	return memfd;
}

static int send_hello(struct endpoint *ep, int memfd)
{
	struct hello hello = {
	    .magic = SHARED_AREA_MAGIC,
	    .version = SHARED_AREA_VERSION,
	    .node = ep->self.node,
	    .port = ep->self.port,
	    .pid = getpid(),
	};
	struct iovec iov = {.iov_base = &hello, .iov_len = sizeof(hello)};
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
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &memfd, sizeof(int));
	/* A fresh connection's buffer is empty: this never blocks. */
	if (sendmsg(ep->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) !=
	    (ssize_t)sizeof(hello))
		return -ECONNREFUSED; /* listener vanished meanwhile */
	return 0;
}

/* Reads the hello of a just-accepted connection; returns the memfd. */
static int receive_hello(int fd, struct hello *hello)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	struct iovec iov = {.iov_base = hello, .iov_len = sizeof(*hello)};
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} control;
	struct msghdr msg = {
	    .msg_iov = &iov,
	    .msg_iovlen = 1,
	    .msg_control = control.buf,
	    .msg_controllen = sizeof(control.buf),
	};
	int memfd = -1;
	ssize_t n;

	if (poll(&pfd, 1, HELLO_TIMEOUT_MS) <= 0)
		return -EAGAIN;
	n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c;
	     c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < count; i++) {
			int received;
			memcpy(&received, CMSG_DATA(c) + i * sizeof(int),
			       sizeof(int));
			if (memfd < 0)
				memfd = received;
			else
				close(received); /* unexpected extras */
		}
	}
	if (n != (ssize_t)sizeof(*hello) || memfd < 0 ||
	    hello->magic != SHARED_AREA_MAGIC ||
	    hello->version != SHARED_AREA_VERSION) {
		if (memfd >= 0)
			close(memfd);
		return -EAGAIN;
	}
	return memfd;
}

int handshake_connect(struct endpoint *ep, const struct scif_portID *dst)
{
	struct shared_area *area;
	int memfd = area_create(&area);
	int rc;

	if (memfd < 0)
		return memfd;
	atomic_store(&area->side[0].owner_pid, getpid());
	rc = port_connect(ep, dst);
	if (rc == 0)
		rc = send_hello(ep, memfd);
	close(memfd);
	if (rc < 0) {
		munmap(area, sizeof(*area));
		return rc;
	}
	ep->area = area;
	ep->side = 0;
	ep->peer = *dst;
	return 0;
}

int handshake_accept(struct endpoint *ep)
{
	struct hello hello;
	struct shared_area *area;
	struct stat st;
	int memfd = receive_hello(ep->fd, &hello);

	if (memfd < 0)
		return memfd;
	area = (fstat(memfd, &st) == 0 && st.st_size >= (off_t)sizeof(*area))
		   ? area_map(memfd)
		   : NULL;
	close(memfd);
	if (area && area->magic != SHARED_AREA_MAGIC) {
		munmap(area, sizeof(*area));
		area = NULL;
	}
	if (!area)
		return -EAGAIN;
	atomic_store(&area->side[1].owner_pid, getpid());
	ep->area = area;
	ep->side = 1;
	ep->peer.node = hello.node;
	ep->peer.port = hello.port;
	return 0;
}
