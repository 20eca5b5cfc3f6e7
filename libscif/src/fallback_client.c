/* SPDX-License-Identifier: MPL-2.0 */
/*
 * The client side of the fallback RMA path: one channel per endpoint to
 * the peer's service, opened on the first RMA that needs it. The service
 * must be the peer's own process (SO_PEERCRED against the pid the kernel
 * gave at connect time): anything else listening under that name is an
 * impostor and the connection is reset. A peer that stalls a request for
 * longer than FALLBACK_TIMEOUT_MS is treated as gone.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"

/* How long a peer being killed takes from closing its service socket to
 * its connection and pidfd showing it gone: the kernel's exit path. */
#define EXIT_SETTLE_MS 100

static void channel_close(struct endpoint *ep)
{
	close(ep->channel_fd);
	ep->channel_fd = -1;
}

/*
 * No service: a live peer never registered a window (ENXIO), or a peer
 * being killed, whose exit closed the service's socket a moment before its
 * connection and its pidfd show it gone: that shows within a bound.
 */
static int no_service(struct endpoint *ep)
{
	struct pollfd gone[2] = {
	    {.fd = ep->fd, .events = POLLRDHUP},
	    {.fd = ep->peer_pidfd, .events = POLLIN},
	};

	if (ep_peer_state(ep) == 0)
		poll(gone, 2, EXIT_SETTLE_MS);
	return ep_peer_state(ep) < 0 ? ep_peer_state(ep) : -ENXIO;
}

/* Opens ep's channel; under channel_lock. */
static int channel_open(struct endpoint *ep)
{
	const struct window_table *peer = handshake_peer_table(ep);
	struct sockaddr_un addr;
	socklen_t len;
	struct ucred cred;
	socklen_t cred_len = sizeof(cred);
	int32_t status;
	int fd;

	/* No hello yet (no window to reach), or one refused. */
	if (!peer)
		return ep_peer_state(ep) < 0 ? ep_peer_state(ep) : -ENXIO;
	struct fallback_open open_msg = {FALLBACK_MAGIC, FALLBACK_VERSION,
					 peer->token, ep->token};
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	len = (socklen_t)service_address(ep->dom, ep->peer_pid, &addr);
	if (connect(fd, (struct sockaddr *)&addr, len) < 0) {
		close(fd);
		return no_service(ep);
	}
	/*
	 * Not the peer's process, a peer that stalls or does not know this
	 * connection (any more): the connection is over.
	 */
	fallback_set_timeouts(fd);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) < 0 ||
	    cred.pid != ep->peer_pid ||
	    fallback_io(fd, RMA_WRITE, &open_msg, sizeof(open_msg)) < 0 ||
	    fallback_io(fd, RMA_READ, &status, sizeof(status)) < 0 || status) {
		close(fd);
		ep_reset(ep, ECONNRESET);
		return ep_lost_errno(ep);
	}
	ep->channel_fd = fd;
	return 0;
}

/* Sends or receives len bytes at stream position pos of the segments. */
static int move_segments(int fd, enum rma_dir dir,
			 const struct segment_list *local, uint64_t pos,
			 uint64_t len)
{
	for (size_t i = 0; i < local->count && len; i++) {
		const struct segment *s = &local->segs[i];
		if (pos >= s->len) {
			pos -= s->len;
			continue;
		}
		uint64_t n = s->len - pos < len ? s->len - pos : len;
		int rc = fallback_io(
		    fd, dir, (void *)(uintptr_t)(s->addr + pos), (size_t)n);
		if (rc < 0)
			return rc;
		len -= n;
		pos = 0;
	}
	return 0;
}

static int request(struct endpoint *ep, enum rma_dir dir,
		   const struct segment_list *local, uint64_t roffset,
		   uint64_t len)
{
	struct fallback_request req = {
	    .dir = dir, .offset = roffset, .len = len};
	int fd = ep->channel_fd;
	int32_t status;
	int rc;

	/* -ENOTCONN: closed unanswered (idle, or replaced): nothing done. */
	if ((rc = fallback_io(fd, RMA_WRITE, &req, sizeof(req))) < 0 ||
	    (rc = fallback_io(fd, RMA_READ, &status, sizeof(status))) < 0)
		return rc == -ECONNRESET ? -ENOTCONN : rc;
	if (status)
		return -status; /* range or protection: nothing moved */
	if (dir == RMA_WRITE) {
		if ((rc = move_segments(fd, RMA_WRITE, local, 0, len)) < 0 ||
		    (rc = fallback_io(fd, RMA_READ, &status, sizeof(status))) <
			0)
			return rc;
		return -status;
	}
	for (uint64_t done = 0; done < len;) {
		struct fallback_chunk chunk;
		if ((rc = fallback_io(fd, RMA_READ, &chunk, sizeof(chunk))) < 0)
			return rc;
		if (chunk.status)
			return -chunk.status;
		if (chunk.len == 0 || chunk.len > len - done)
			return -EPROTO;
		rc = move_segments(fd, RMA_READ, local, done, chunk.len);
		if (rc < 0)
			return rc;
		done += chunk.len;
	}
	return 0;
}

int fallback_copy(struct endpoint *ep, enum rma_dir dir,
		  const struct segment_list *local, uint64_t roffset,
		  uint64_t len)
{
	int rc = 0;

	pthread_mutex_lock(&ep->channel_lock);
	bool reused = ep->channel_fd >= 0;
	if (!reused)
		rc = channel_open(ep);
	if (rc == 0) {
		rc = request(ep, dir, local, roffset, len);
		if (rc == -ENOTCONN && reused) {
			/* The service closed it for idleness: a new one. */
			channel_close(ep);
			if ((rc = channel_open(ep)) == 0)
				rc = request(ep, dir, local, roffset, len);
		}
		if (rc == -ENOTCONN)
			rc = -ECONNRESET;
		if (rc == -ETIMEDOUT || rc == -ECONNRESET || rc == -EPROTO) {
			/* A peer that stalls or breaks the protocol is gone. */
			channel_close(ep);
			ep_reset(ep, ECONNRESET);
			rc = ep_lost_errno(ep);
		} else if (rc == -EFAULT) {
			channel_close(ep); /* out of step: start afresh */
		}
	}
	pthread_mutex_unlock(&ep->channel_lock);
	return rc;
}
