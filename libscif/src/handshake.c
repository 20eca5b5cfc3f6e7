/* SPDX-License-Identifier: MPL-2.0 */
/*
 * Connection set-up.
 *
 * Who the peer is comes from the kernel only: its credentials and pidfd
 * from the socket (SO_PEERCRED, SO_PEERPIDFD), its port from the address
 * its socket is bound to, checked against the holder of that port's lock.
 * Nothing the peer sends can name another process. SO_PEERCRED names the
 * process that called connect(2) or listen(2), not one that took the socket
 * over (a fork()ed child accepting on its parent's listener): the hello must
 * come from that very process (SCM_CREDENTIALS), else the connection is
 * reset, as RMAs would reach the process named, not the one that sent the
 * window table.
 *
 * Each side then creates its window table in a memfd, sealed so that it
 * can neither shrink nor grow (no SIGBUS for the reader) and cannot be
 * mapped writable by anyone else, and sends it as its "hello": 8 bytes with
 * the memfd attached (SCM_RIGHTS), ahead of any scif_send data. Neither
 * side waits for the other's hello: scif_accept returns at once, and the
 * hello is read from the head of the stream when it has arrived (by
 * scif_accept if it is already there, else by the next scif_recv, scif_poll
 * or RMA), so a silent peer costs no waiting.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5 */
#endif
/* memfd_create(2), Linux 3.17: through syscall(2), for glibc < 2.27. */
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC	  0x0001U
#define MFD_ALLOW_SEALING 0x0002U
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010 /* Linux 5.1 */
#endif

#define TABLE_SIZE sizeof(struct window_table)

struct hello {
	uint32_t magic;
	uint32_t version;
};

/* --- our table -------------------------------------------------------------
 */

/*
 * Creates our sealed table; returns its memfd (mapping in ep). A kernel
 * without memfds (before 3.17) gives ENOSYS: no connection can be made.
 */
static int table_create(struct endpoint *ep)
{
	int memfd = (int)syscall(SYS_memfd_create, "scif-emu-windows",
				 MFD_CLOEXEC | MFD_ALLOW_SEALING);
	struct window_table *t;

	if (memfd < 0)
		return -errno;
	if (ftruncate(memfd, TABLE_SIZE) < 0)
		goto fail;
	t = mmap(NULL, TABLE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd,
		 0);
	if (t == MAP_FAILED)
		goto fail;
	/* Our mapping stays writable; no later one can be (Linux >= 5.1). */
	if (fcntl(memfd, F_ADD_SEALS,
		  F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE |
		      F_SEAL_SEAL) < 0 &&
	    fcntl(memfd, F_ADD_SEALS,
		  F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		munmap(t, TABLE_SIZE);
		goto fail;
	}
	t->magic = WINDOW_TABLE_MAGIC;
	t->version = WINDOW_TABLE_VERSION;
	t->token = ep->token;
	ep->local_table = t;
	return memfd;
fail:;
	int err = errno;
	close(memfd);
	return -err;
}

static int send_hello(struct endpoint *ep, int memfd)
{
	struct hello hello = {WINDOW_TABLE_MAGIC, WINDOW_TABLE_VERSION};
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
	if (sendmsg(ep->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) ==
	    (ssize_t)sizeof(hello))
		return 0;
	/* A peer already gone still has its data delivered; else refuse. */
	return errno == EPIPE || errno == ECONNRESET ? 0 : -ECONNREFUSED;
}

/* --- the peer, from the kernel ---------------------------------------------
 */

int handshake_pass_credentials(int fd, bool on)
{
	int value = on;

	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &value, sizeof(value)) < 0)
		return -errno;
	return 0;
}

static int peer_credentials(int fd, struct ucred *cred)
{
	socklen_t len = sizeof(*cred);

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &len) == 0 &&
		       cred->pid > 0
		   ? 0
		   : -ECONNREFUSED;
}

/* True once the peer has closed its end: only queued data is left. */
static bool peer_hung_up(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLRDHUP};

	return poll(&pfd, 1, 0) > 0 &&
	       (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/*
 * A pidfd for the peer, to see it die and to never mistake a process that
 * reused its number for it. SO_PEERPIDFD gives it race-free; if the kernel
 * has it but cannot give it, the peer is gone (Linux 6.5 to 6.8: EINVAL),
 * and its number may already be another process's. Before Linux 6.5 a
 * pidfd_open after the fact is beaten by a peer whose socket outlives it
 * (held by a CLONE_FILES child): the number, and so the pidfd, may name a
 * process that took it over. There it serves liveness only, and RMAs take
 * the fallback path (*pinned false): the service at the number serves only
 * the connection both our tokens name, so nobody but the peer.
 */
static int peer_pidfd(struct endpoint *ep, pid_t pid, bool *pinned)
{
	socklen_t len = sizeof(int);
	int pidfd = -1;

	*pinned =
	    getsockopt(ep->fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) == 0;
	if (*pinned)
		return pidfd;
	if (errno != ENOPROTOOPT)
		return -ECONNREFUSED;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0 && errno == ENOSYS)
		return -1;
	if (pidfd < 0) /* out of descriptors or memory, or already gone */
		return errno == ESRCH ? -ECONNREFUSED : -errno;
	fcntl(pidfd, F_SETFD, FD_CLOEXEC);
	if (peer_hung_up(ep->fd)) {
		close(pidfd); /* gone: the number may name another process */
		return -1;
	}
	return pidfd;
}

/* Everything both sides do once the peer is known: pidfd, table, hello. */
static int establish(struct endpoint *ep, const struct ucred *cred)
{
	bool pinned;
	int memfd;
	int rc;

	static _Atomic uint64_t tokens;

	ep->token = atomic_fetch_add(&tokens, 1) + 1;
	ep->peer_pidfd = peer_pidfd(ep, cred->pid, &pinned);
	if (ep->peer_pidfd < -1)
		return ep->peer_pidfd;
	if (!pinned) /* for good: rma.c never switches back */
		atomic_store(&ep->rma_path, RMA_PATH_SOCKET);
	ep->peer_pid = cred->pid;
	ep->peer_uid = cred->uid;
	memfd = table_create(ep);
	if (memfd < 0)
		return memfd;
	rc = send_hello(ep, memfd);
	close(memfd);
	return rc;
}

/* Undoes a set-up that failed: the caller may try again. */
static void abandon(struct endpoint *ep)
{
	if (ep->peer_pidfd >= 0)
		close(ep->peer_pidfd);
	ep->peer_pidfd = -1;
	if (ep->local_table)
		munmap(ep->local_table, TABLE_SIZE);
	ep->local_table = NULL;
}

/* A socket connected to the wrong listener is replaced by a fresh one. */
static int replace_socket(struct endpoint *ep)
{
	int flags = fcntl(ep->fd, F_GETFL);
	int fresh = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int rc;

	if (fresh < 0)
		return -errno;
	port_unbind(ep->dom, ep->self.node, ep->self.port);
	ep->holds_port = false;
	rc = port_bind(ep->dom, ep->node, ep->self.port, fresh);
	if (rc >= 0 && dup3(fresh, ep->fd, O_CLOEXEC) < 0)
		rc = -errno;
	close(fresh);
	if (rc < 0)
		return rc;
	ep->holds_port = true;
	fcntl(ep->fd, F_SETFL, flags);
	ep_note_socket(ep);
	return 0;
}

int handshake_connect(struct endpoint *ep, const struct scif_portID *dst)
{
	struct ucred cred;
	int rc;

	if (node_offline(ep->dom, dst->node))
		return -ENODEV;
	/* Before the listener's hello can arrive: see the top. */
	if ((rc = handshake_pass_credentials(ep->fd, true)) < 0)
		return rc;
	rc = port_connect(ep->dom, dst->node, dst->port, ep->fd);
	if (rc < 0)
		return rc;
	rc = peer_credentials(ep->fd, &cred);
	if (rc == 0 && port_claim(ep->dom, dst->node, dst->port, cred.pid,
				  cred.uid) != CLAIM_HELD)
		rc = -ECONNREFUSED; /* not who holds the port: a stale file
				       or an impostor */
	if (rc == 0 && (rc = establish(ep, &cred)) == 0) {
		ep->peer = *dst;
		return 0;
	}
	abandon(ep);
	int replaced = replace_socket(ep);
	return replaced < 0 ? replaced : rc;
}

/*
 * Checks the connector's claim to its port: it must hold it, or, since a
 * connect completes before it is accepted, have closed the connection and
 * given the port up already (what it sent is still delivered).
 */
static bool connector_verified(struct endpoint *ep,
			       const struct scif_portID *peer,
			       const struct ucred *cred)
{
	switch (
	    port_claim(ep->dom, peer->node, peer->port, cred->pid, cred->uid)) {
	case CLAIM_HELD:
		return true;
	case CLAIM_FREE:
		return peer_hung_up(ep->fd);
	default:
		return false;
	}
}

int handshake_accept(struct endpoint *ep, const void *sun, size_t sun_len)
{
	struct scif_portID peer;
	struct ucred cred;
	int rc;

	/* The connector's port is the name its socket is bound to. */
	if (port_from_address(ep->dom, sun, sun_len, &peer) < 0 ||
	    peer.node >= ep->nodes || node_offline(ep->dom, peer.node) ||
	    peer_credentials(ep->fd, &cred) < 0 ||
	    !connector_verified(ep, &peer, &cred))
		return -EAGAIN;
	rc = establish(ep, &cred);
	if (rc < 0) {
		abandon(ep);
		return rc == -ECONNREFUSED ? -EAGAIN : rc;
	}
	ep->peer = peer;
	return 0;
}

/* --- the peer's hello --------------------------------------------------------
 */

/* Maps the peer's table if its memfd is what we need: else NULL. */
static struct window_table *table_adopt(int memfd)
{
	struct window_table *t;
	struct stat st;
	int seals = fcntl(memfd, F_GET_SEALS);

	/* Without F_SEAL_SHRINK the peer could make our reads fault. */
	if (seals < 0 || !(seals & F_SEAL_SHRINK) || fstat(memfd, &st) < 0 ||
	    !S_ISREG(st.st_mode) || st.st_size != (off_t)TABLE_SIZE)
		return NULL;
	t = mmap(NULL, TABLE_SIZE, PROT_READ, MAP_SHARED, memfd, 0);
	if (t == MAP_FAILED)
		return NULL;
	if (t->magic != WINDOW_TABLE_MAGIC ||
	    t->version != WINDOW_TABLE_VERSION) {
		munmap(t, TABLE_SIZE);
		return NULL;
	}
	return t;
}

/*
 * Keeps the first descriptor received, closes any other, and notes a piece
 * of the hello that was not sent by the peer's process (or not said by
 * whom); false when the kernel had to drop some (EMFILE, or more than we
 * take).
 */
static bool collect_control(struct endpoint *ep, struct msghdr *msg)
{
	bool from_peer = false;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c;
	     c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level == SOL_SOCKET &&
		    c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len == CMSG_LEN(sizeof(struct ucred))) {
			struct ucred cred;
			memcpy(&cred, CMSG_DATA(c), sizeof(cred));
			from_peer = cred.pid == ep->peer_pid;
		}
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < count; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (ep->hello.memfd < 0)
				ep->hello.memfd = fd;
			else
				close(fd);
		}
	}
	ep->hello.foreign |= !from_peer;
	return !(msg->msg_flags & MSG_CTRUNC);
}

static int hello_complete(struct endpoint *ep)
{
	struct hello hello;
	struct window_table *t = NULL;

	memcpy(&hello, ep->hello.bytes, sizeof(hello));
	if (hello.magic == WINDOW_TABLE_MAGIC &&
	    hello.version == WINDOW_TABLE_VERSION && ep->hello.memfd >= 0 &&
	    !ep->hello.foreign)
		t = table_adopt(ep->hello.memfd);
	if (ep->hello.memfd >= 0)
		close(ep->hello.memfd);
	ep->hello.memfd = -1;
	if (!t) {
		ep_reset(ep, ECONNRESET); /* not a libscif peer we can trust */
		return -ECONNRESET;
	}
	/* Data need not be told apart by sender: reads are not split. */
	handshake_pass_credentials(ep->fd, false);
	atomic_store_explicit(&ep->peer_table, t, memory_order_release);
	return 1;
}

int handshake_progress(struct endpoint *ep, bool block)
{
	if (atomic_load_explicit(&ep->peer_table, memory_order_acquire))
		return 1;
	if (atomic_load(&ep->broken))
		return -atomic_load(&ep->broken);
	while (ep->hello.got < sizeof(struct hello)) {
		struct iovec iov = {
		    .iov_base = ep->hello.bytes + ep->hello.got,
		    .iov_len = sizeof(struct hello) - ep->hello.got,
		};
		union {
			char buf[CMSG_SPACE(sizeof(struct ucred)) +
				 CMSG_SPACE(4 * sizeof(int))];
			struct cmsghdr align;
		} control = {0};
		struct msghdr msg = {
		    .msg_iov = &iov,
		    .msg_iovlen = 1,
		    .msg_control = control.buf,
		    .msg_controllen = sizeof(control.buf),
		};
		ssize_t n =
		    recvmsg(ep->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (n > 0) {
			if (!collect_control(ep, &msg)) {
				ep_reset(ep, ECONNRESET);
				return -ECONNRESET;
			}
			ep->hello.got += (uint8_t)n;
		} else if (n == 0) {
			return ep_lost_errno(ep); /* closed before its hello */
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (!block)
				return 0;
			int rc = ep_wait(ep, POLLIN);
			if (rc < 0)
				return rc;
		} else if (errno != EINTR) {
			return -errno;
		}
	}
	return hello_complete(ep);
}

const struct window_table *handshake_peer_table(struct endpoint *ep)
{
	const struct window_table *t =
	    atomic_load_explicit(&ep->peer_table, memory_order_acquire);

	/* A blocked scif_recv owns the stream's head: do not wait for it. */
	if (!t && ep->state == EP_CONNECTED &&
	    pthread_mutex_trylock(&ep->recv_lock) == 0) {
		handshake_progress(ep, false);
		pthread_mutex_unlock(&ep->recv_lock);
		t = atomic_load_explicit(&ep->peer_table, memory_order_acquire);
	}
	return t;
}
