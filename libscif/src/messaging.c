/* SPDX-License-Identifier: MPL-2.0 */
/*
 * scif_send, scif_recv and scif_poll: the byte stream is the endpoint's
 * Unix stream socket, used without any private buffering so that poll/epoll
 * readiness of the descriptor is what these calls can do. The one exception
 * is the peer's hello at the head of the stream (handshake.c): it can make
 * the descriptor readable once; scif_recv and scif_poll then consume it and
 * report no data.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "internal.h"

/* Common validation; returns a referenced endpoint or NULL (errno set). */
static struct endpoint *stream_endpoint(scif_epd_t epd, int len, int flags,
					int allowed_flags)
{
	struct endpoint *ep = ep_get(epd);

	if (!ep)
		return NULL;
	if ((flags & ~allowed_flags) || len < 0) {
		ep_put(ep);
		errno = EINVAL;
		return NULL;
	}
	if (ep->state != EP_CONNECTED) {
		ep_put(ep);
		errno = ENOTCONN;
		return NULL;
	}
	return ep;
}

/* Maps the outcome of a partial transfer to the SCIF return convention. */
static int stream_result(struct endpoint *ep, int done, int err)
{
	if (err == -EINTR || atomic_load(&ep->closing))
		err = done ? 0 : -EINTR;
	else if (err == -ECONNRESET)
		err = ep_lost_errno(ep); /* ENODEV: the peer's node is down */
	else if ((err == -ENOTSOCK || err == -EBADF) && ep_is_stale(ep))
		err = -ep_bad_descriptor_errno(
		    ep->fd); /* close(2)d by the caller */
	ep_put(ep);
	if (done > 0 || err == 0)
		return done;
	return fail(-err);
}

static int send_stream(scif_epd_t epd, void *msg, int len, int flags)
{
	struct endpoint *ep = stream_endpoint(epd, len, flags, SCIF_SEND_BLOCK);
	bool block = flags & SCIF_SEND_BLOCK;
	int done = 0, err = 0;

	if (!ep)
		return -1;
	pthread_mutex_lock(&ep->send_lock);
	while (done < len) {
		ssize_t n = send(ep->fd, (char *)msg + done, len - done,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			done += (int)n;
			if (!block)
				break;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (!block || (err = ep_wait(ep, POLLOUT)) < 0)
				break;
		} else if (errno != EINTR) {
			err = (errno == EPIPE) ? -ECONNRESET : -errno;
			break;
		}
	}
	pthread_mutex_unlock(&ep->send_lock);
	return stream_result(ep, done, err);
}

static int recv_stream(scif_epd_t epd, void *msg, int len, int flags)
{
	struct endpoint *ep = stream_endpoint(epd, len, flags, SCIF_RECV_BLOCK);
	bool block = flags & SCIF_RECV_BLOCK;
	int done = 0, err = 0;

	if (!ep)
		return -1;
	pthread_mutex_lock(&ep->recv_lock);
	/* 0: the peer's hello is not complete yet, so no data either. */
	int hello = handshake_progress(ep, block);
	if (hello < 0)
		err = hello;
	while (hello == 1 && err == 0 && done < len) {
		ssize_t n =
		    recv(ep->fd, (char *)msg + done, len - done, MSG_DONTWAIT);
		if (n > 0) {
			done += (int)n;
			if (!block)
				break;
		} else if (n == 0) {
			err = -ECONNRESET; /* peer closed, stream drained */
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (!block || (err = ep_wait(ep, POLLIN)) < 0)
				break;
		} else if (errno != EINTR) {
			err = -errno;
			break;
		}
	}
	pthread_mutex_unlock(&ep->recv_lock);
	return stream_result(ep, done, err);
}

int scif_send(scif_epd_t epd, void *msg, int len, int flags)
{
	uint64_t begun = stats_begin();
	int rc = send_stream(epd, msg, len, flags);

	stats_end(STAT_SEND, begun, rc);
	return rc;
}

int scif_recv(scif_epd_t epd, void *msg, int len, int flags)
{
	uint64_t begun = stats_begin();
	int rc = recv_stream(epd, msg, len, flags);

	stats_end(STAT_RECV, begun, rc);
	return rc;
}

/* Fills pfd for one entry; returns false if epd is no endpoint. */
static bool poll_entry(const struct scif_pollepd *entry, struct pollfd *pfd)
{
	struct endpoint *ep = ep_get_live(entry->epd);

	pfd->fd = -1;
	pfd->events = 0;
	pfd->revents = 0;
	if (!ep)
		return false;
	/* A hello alone is no data: consume it, unless a recv holds it. */
	if (ep->state == EP_CONNECTED &&
	    pthread_mutex_trylock(&ep->recv_lock) == 0) {
		handshake_progress(ep, false);
		pthread_mutex_unlock(&ep->recv_lock);
	}
	pfd->fd = ep->fd;
	pfd->events = entry->events & (POLLIN | POLLOUT);
	/* Sending has no meaning on a listening endpoint. */
	if (ep->state == EP_LISTENING)
		pfd->events &= ~POLLOUT;
	ep_put(ep);
	return true;
}

int scif_poll(struct scif_pollepd *epds, unsigned int nepds, long timeout)
{
	struct pollfd stack_pfds[16];
	struct pollfd *pfds = stack_pfds;
	int ready, invalid = 0;

	if (nepds > (unsigned)INT_MAX / sizeof(*pfds))
		return fail(EINVAL);
	if (nepds && !epds)
		return fail(EFAULT);
	if (nepds > 16 && !(pfds = calloc(nepds, sizeof(*pfds))))
		return fail(ENOMEM);
	for (unsigned i = 0; i < nepds; i++)
		if (!poll_entry(&epds[i], &pfds[i]))
			invalid++;
	if (timeout > INT_MAX)
		timeout = INT_MAX;
	/* Invalid entries are reported at once: no reason to wait then. */
	ready =
	    poll(pfds, nepds, invalid ? 0 : (timeout < 0 ? -1 : (int)timeout));
	if (ready >= 0) {
		ready = 0;
		for (unsigned i = 0; i < nepds; i++) {
			epds[i].revents =
			    pfds[i].fd < 0 ? POLLNVAL : pfds[i].revents;
			ready += epds[i].revents != 0;
		}
	}
	if (pfds != stack_pfds)
		free(pfds);
	return ready;
}
