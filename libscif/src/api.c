/* SPDX-License-Identifier: MPL-2.0 */
/*
 * Endpoint life cycle: scif_open, scif_close, scif_bind, scif_listen,
 * scif_connect, scif_accept, scif_get_fd. Ports are in ports.c, the
 * connection set-up in handshake.c, the endpoint table in endpoints.c.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"

/*
 * fork() in a threaded program copies whatever locks other threads hold:
 * the library's own (short-held) ones are taken around it, so that a child
 * never starts with one locked forever. In the order they nest.
 */
static void fork_prepare(void)
{
	dma_fork_lock(true);
	services_fork_lock(true);
	domains_fork_lock(true);
	endpoints_fork_prepare();
}

/* The locks but the endpoint table's, which each side gives back itself. */
static void fork_done(void)
{
	domains_fork_lock(false);
	services_fork_lock(false);
	dma_fork_lock(false);
}

/* Waits, last, for the child to drop our endpoints (endpoints.c). */
static void fork_parent(void)
{
	fork_done();
	endpoints_fork_parent();
}

/*
 * Which process we are is asked on every call (endpoints and windows
 * belong to the process that made them, not to a fork()ed child), so it is
 * cached rather than a system call each time; a child forgets it.
 */
static _Atomic pid_t own_pid;

pid_t self_pid(void)
{
	pid_t pid = atomic_load_explicit(&own_pid, memory_order_relaxed);

	if (!pid) {
		pid = getpid();
		atomic_store_explicit(&own_pid, pid, memory_order_relaxed);
	}
	return pid;
}

static void fork_child(void)
{
	atomic_store_explicit(&own_pid, 0, memory_order_relaxed);
	stats_fork_child();
	dma_fork_child();
	endpoints_fork_child();
	fork_done();
}

__attribute__((constructor)) static void fork_safety(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* Requesters scif_accept may refuse in one call before it returns. */
#define ACCEPT_REFUSALS_MAX 64

/*
 * Takes an unpublished endpoint down: its windows are retired (waiting a
 * bounded time for the peer's RMAs) and the connection shut, unless this is
 * a fork()ed child's copy, which only drops its descriptor, as closing a
 * duplicated MPSS descriptor would.
 */
static void teardown(struct endpoint *ep)
{
	atomic_store(&ep->closing, true);
	if (ep->owner == self_pid()) {
		pthread_mutex_lock(&ep->lock);
		windows_release_all(ep);
		pthread_mutex_unlock(&ep->lock);
		if (ep->fd >= 0)
			shutdown(ep->fd, SHUT_RDWR);
	}
	ep_put(ep);
}

/* Publishes ep; an endpoint the caller close(2)d under its number goes. */
static int publish(struct endpoint *ep)
{
	struct endpoint *stale;
	int rc = ep_table_insert(ep, &stale);

	if (stale)
		teardown(stale);
	return rc;
}

/* Tears down endpoints of ours whose numbers the caller close(2)d. */
static void collect_stale(void)
{
	struct endpoint *ep;

	while ((ep = ep_unpublish_stale()))
		teardown(ep);
}

scif_epd_t scif_open(void)
{
	struct emu_config cfg;
	struct endpoint *ep = NULL;
	struct domain *dom;
	int rc = emu_config_load(&cfg);
	int fd;

	if (rc == 0)
		rc = domain_get(cfg.domain, &dom);
	if (rc < 0)
		return fail(-rc);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	rc = fd < 0 ? -errno : ep_create(fd, cfg.node, cfg.nodes, dom, &ep);
	domain_put(dom); /* ep holds its own reference */
	if (rc < 0) {
		if (fd >= 0)
			close(fd);
		return fail(-rc);
	}
	if ((rc = publish(ep)) < 0) {
		ep_put(ep);
		return fail(-rc);
	}
	return fd;
}

int scif_close(scif_epd_t epd)
{
	struct endpoint *ep = ep_unpublish(epd);
	bool stale;

	if (!ep)
		return fail(ep_bad_descriptor_errno(epd));
	/* close(2)d before: what the number names now is not ours to close. */
	stale = ep->owner == self_pid() && ep_is_stale(ep);
	if (stale)
		ep->fd = -1;
	teardown(ep);
	return stale ? fail(ep_bad_descriptor_errno(epd)) : 0;
}

/* Binds ep to pn; a port held by an endpoint the caller close(2)d is
 * reclaimed. Under ep->lock. */
static int bind_endpoint(struct endpoint *ep, uint16_t pn)
{
	int rc = port_bind(ep->dom, ep->node, pn, ep->fd);

	if (rc == -EEXIST) {
		pthread_mutex_unlock(&ep->lock);
		collect_stale();
		pthread_mutex_lock(&ep->lock);
		rc = ep->state == EP_UNBOUND
			 ? port_bind(ep->dom, ep->node, pn, ep->fd)
			 : -EINVAL;
	}
	if (rc < 0)
		return rc == -EEXIST ? -EADDRINUSE : rc;
	ep->self.node = ep->node;
	ep->self.port = (uint16_t)rc;
	ep->holds_port = true;
	ep->state = EP_BOUND;
	return rc;
}

int scif_bind(scif_epd_t epd, uint16_t pn)
{
	struct endpoint *ep = ep_get_live(epd);
	int rc;

	if (!ep)
		return -1;
	pthread_mutex_lock(&ep->lock);
	switch (ep->state) {
	case EP_UNBOUND:
		rc = bind_endpoint(ep, pn);
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
	struct endpoint *ep = ep_get_live(epd);
	int rc = 0;

	if (!ep)
		return -1;
	pthread_mutex_lock(&ep->lock);
	if (ep->state == EP_UNBOUND) {
		rc = -EINVAL;
	} else if (ep->state != EP_BOUND) {
		rc = -EISCONN;
	} else if ((rc = handshake_pass_credentials(ep->fd, true)) == 0 &&
		   listen(ep->fd, backlog < 1 ? 1 : backlog) < 0) {
		rc = -errno;
	} else if (rc == 0) {
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
	struct endpoint *ep = ep_get_live(epd);
	int rc;

	if (!ep)
		return -1;
	pthread_mutex_lock(&ep->lock);
	if (ep->state == EP_CONNECTING) {
		/* Report the outcome of the earlier non-blocking request. */
		rc = ep->connect_result;
		ep->state = rc == 0	     ? EP_CONNECTED
			    : ep->holds_port ? EP_BOUND
					     : EP_UNBOUND;
	} else if (ep->state == EP_CONNECTED) {
		rc = -EISCONN;
	} else if (ep->state == EP_LISTENING) {
		rc = -EOPNOTSUPP;
	} else if (!dst || dst->port == 0) {
		rc = -EINVAL;
	} else if (dst->node >= ep->nodes) {
		rc = -ENODEV;
	} else {
		if (ep->state != EP_UNBOUND || (rc = bind_endpoint(ep, 0)) >= 0)
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

/*
 * Turns an accepted socket into a connected endpoint. Returns -EAGAIN for
 * a requester to refuse (its port or node cannot be verified, or it is
 * gone), which costs nothing but closing its socket.
 */
static int adopt_connection(struct endpoint *listener, int fd,
			    const struct sockaddr_un *addr, socklen_t len,
			    struct scif_portID *peer, scif_epd_t *newepd)
{
	struct endpoint *ep;
	int rc =
	    ep_create(fd, listener->node, listener->nodes, listener->dom, &ep);

	if (rc < 0) {
		close(fd);
		return rc;
	}
	ep->self = listener->self;
	ep->state = EP_CONNECTED;
	rc = handshake_accept(ep, addr, len);
	if (rc == 0) {
		/* The connector's hello is usually there already. */
		pthread_mutex_lock(&ep->recv_lock);
		handshake_progress(ep, false);
		pthread_mutex_unlock(&ep->recv_lock);
		rc = publish(ep);
	}
	if (rc < 0) {
		ep_put(ep); /* closes fd */
		return rc;
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
	int refused = 0, rc;

	if (!(ep = ep_get_live(epd)))
		return -1;
	if (ep->state != EP_LISTENING || (flags & ~SCIF_ACCEPT_SYNC) || !peer ||
	    !newepd) {
		ep_put(ep);
		return fail(EINVAL);
	}
	for (;;) {
		struct sockaddr_un addr;
		socklen_t len = sizeof(addr);
		int fd = accept4(ep->fd, (struct sockaddr *)&addr, &len,
				 SOCK_CLOEXEC);
		if (fd >= 0) {
			rc = adopt_connection(ep, fd, &addr, len, peer, newepd);
			/* Refused requesters never hold up a non-sync call. */
			if (rc != -EAGAIN ||
			    (!sync && ++refused >= ACCEPT_REFUSALS_MAX))
				break;
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			rc = sync ? ep_wait(ep, POLLIN) : -EAGAIN;
			if (rc < 0)
				break;
		} else if (errno != ECONNABORTED && errno != EINTR) {
			rc = -errno; /* EMFILE and the like: the caller's */
			break;
		}
	}
	ep_put(ep);
	return rc < 0 ? fail(-rc) : 0;
}

/* The descriptor is the endpoint (as in MPSS); it cannot fail. */
int scif_get_fd(scif_epd_t epd)
{
	return (int)epd;
}

/* --- fault injection ------------------------------------------------------ */

static int node_domain(uint16_t node, struct domain **d)
{
	struct emu_config cfg;
	int rc = emu_config_load(&cfg);

	if (rc == 0 && node >= cfg.nodes)
		rc = -EINVAL;
	if (rc == 0)
		rc = domain_get(cfg.domain, d);
	return rc;
}

int scif_emu_node_offline(uint16_t node)
{
	struct domain *d;
	int rc = node_domain(node, &d);

	if (rc < 0)
		return fail(-rc);
	/* Endpoints the caller close(2)d no longer make it a member. */
	collect_stale();
	rc = node_take_offline(d, node);
	domain_put(d);
	return rc < 0 ? fail(-rc) : 0;
}

int scif_emu_node_online(uint16_t node)
{
	struct domain *d;
	int rc = node_domain(node, &d);

	if (rc < 0)
		return fail(-rc);
	rc = node_bring_online(d, node);
	domain_put(d);
	return rc < 0 ? fail(-rc) : 0;
}
