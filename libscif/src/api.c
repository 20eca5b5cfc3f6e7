/* SPDX-License-Identifier: MPL-2.0 */
/*
 * Endpoint life cycle: scif_open, scif_close, scif_bind, scif_listen,
 * scif_connect, scif_accept. Ports are in ports.c, the connection set-up
 * in handshake.c, the endpoint table in endpoints.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

scif_epd_t scif_open(void)
{
	struct emu_config cfg;
	int err = emu_config_load(&cfg);
	int fd;

	if (err < 0)
		return fail(-err);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return SCIF_OPEN_FAILED;
	if (!ep_publish(fd, &cfg))
		return SCIF_OPEN_FAILED;
	return fd;
}

int scif_close(scif_epd_t epd)
{
	struct endpoint *ep = ep_unpublish(epd);

	if (!ep)
		return fail(ep_bad_descriptor_errno(epd));
	/*
	 * Wake threads blocked on this endpoint; they see closing and quit.
	 * A forked child closing its inherited copy only drops its
	 * descriptor, as closing a duplicated MPSS descriptor would.
	 */
	atomic_store(&ep->closing, true);
	if (ep->owner == getpid())
		shutdown(ep->fd, SHUT_RDWR);
	ep_put(ep);
	return 0;
}

int scif_bind(scif_epd_t epd, uint16_t pn)
{
	struct endpoint *ep = ep_get(epd);
	int rc;

	if (!ep)
		return -1;
	pthread_mutex_lock(&ep->lock);
	switch (ep->state) {
	case EP_UNBOUND:
		rc = port_bind(ep, pn);
		break;
	case EP_CONNECTING:
	case EP_CONNECTED:
		rc = -EISCONN;
		break;
	default:
		rc = -EINVAL;
	}
	pthread_mutex_unlock(&ep->lock);
	ep_put(ep);
	return rc < 0 ? fail(-rc) : rc;
}

int scif_listen(scif_epd_t epd, int backlog)
{
	struct endpoint *ep = ep_get(epd);
	int rc = 0;

	if (!ep)
		return -1;
	pthread_mutex_lock(&ep->lock);
	if (ep->state == EP_UNBOUND) {
		rc = -EINVAL;
	} else if (ep->state != EP_BOUND) {
		rc = -EISCONN;
	} else if (listen(ep->fd, backlog < 1 ? 1 : backlog) < 0) {
		rc = -errno;
	} else {
		/* accept(2) must never block: scif_accept polls instead. */
		fcntl(ep->fd, F_SETFL, fcntl(ep->fd, F_GETFL) | O_NONBLOCK);
		ep->state = EP_LISTENING;
	}
	pthread_mutex_unlock(&ep->lock);
	ep_put(ep);
	return rc < 0 ? fail(-rc) : 0;
}

int scif_connect(scif_epd_t epd, struct scif_portID *dst)
{
	struct endpoint *ep = ep_get(epd);
	int rc;

	if (!ep)
		return -1;
	pthread_mutex_lock(&ep->lock);
	if (ep->state == EP_CONNECTING) {
		/* Report the outcome of the earlier non-blocking request. */
		rc = ep->connect_result;
		if (rc == 0)
			ep->state = EP_CONNECTED;
		else
			ep->state = ep->self.port ? EP_BOUND : EP_UNBOUND;
	} else if (ep->state == EP_CONNECTED) {
		rc = -EISCONN;
	} else if (ep->state == EP_LISTENING) {
		rc = -EOPNOTSUPP;
	} else if (!dst || dst->port == 0) {
		rc = -EINVAL;
	} else if (dst->node >= ep->cfg.nodes) {
		rc = -ENODEV;
	} else {
		if (ep->state != EP_UNBOUND || (rc = port_bind(ep, 0)) >= 0)
			rc = handshake_connect(ep, dst);
		if (fcntl(ep->fd, F_GETFL) & O_NONBLOCK) {
			/*
			 * Like MPSS, a non-blocking connect always reports
			 * EINPROGRESS; the outcome is already known, so the
			 * descriptor is writable right away.
			 */
			ep->connect_result = rc;
			ep->state = EP_CONNECTING;
			rc = -EINPROGRESS;
		} else if (rc == 0) {
			ep->state = EP_CONNECTED;
		}
	}
	if (rc == 0)
		rc = ep->self.port;
	pthread_mutex_unlock(&ep->lock);
	ep_put(ep);
	return rc < 0 ? fail(-rc) : rc;
}

/* Turns an accepted socket into a connected endpoint. */
static int adopt_connection(struct endpoint *listener, int fd,
			    struct scif_portID *peer, scif_epd_t *newepd)
{
	struct endpoint *ep = ep_create(fd, &listener->cfg);
	int rc;

	if (!ep) {
		close(fd);
		return -ENOMEM;
	}
	ep->self = listener->self;
	if ((rc = handshake_accept(ep)) < 0) {
		ep_put(ep); /* closes fd */
		return rc;
	}
	ep->state = EP_CONNECTED;
	if (ep_table_insert(ep) < 0) {
		ep_put(ep);
		return -ENOMEM;
	}
	*peer = ep->peer;
	*newepd = fd;
	return 0;
}

int scif_accept(scif_epd_t epd, struct scif_portID *peer, scif_epd_t *newepd,
		int flags)
{
	struct endpoint *ep;
	bool sync = flags & SCIF_ACCEPT_SYNC;
	int rc;

	if (!(ep = ep_get(epd)))
		return -1;
	if (ep->state != EP_LISTENING || (flags & ~SCIF_ACCEPT_SYNC) || !peer ||
	    !newepd) {
		ep_put(ep);
		return fail(EINVAL);
	}
	for (;;) {
		int fd = accept4(ep->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			rc = adopt_connection(ep, fd, peer, newepd);
			/* A requester that died half-way is skipped. */
			if (rc == -EAGAIN && sync)
				continue;
			break;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			rc = sync ? ep_wait(ep, POLLIN) : -EAGAIN;
			if (rc < 0)
				break;
		} else if (errno != ECONNABORTED && errno != EINTR) {
			rc = -errno;
			break;
		}
	}
	ep_put(ep);
	return rc < 0 ? fail(-rc) : 0;
}
