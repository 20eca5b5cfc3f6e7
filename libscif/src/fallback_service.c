/* SPDX-License-Identifier: MPL-2.0 */
/*
 * The server side of the fallback RMA path: one listening socket per
 * process and domain, "<domain>/rma/<pid>", in the domain's protected
 * directory. Each accepted channel gets a thread of its own, so a slow or
 * hostile client holds up nobody else, every step of a request is bounded
 * by FALLBACK_TIMEOUT_MS, and each client has a fair share of channels (see
 * below), so none can starve another. A channel serves exactly one of our
 * endpoints: the one its client is connected to, as the kernel tells
 * (SO_PEERCRED), and only that endpoint's windows with their protection.
 * Copies into and out of windows go through process_vm_* on ourselves, so
 * a window the application unmapped without unregistering is an EFAULT,
 * not a crash.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

struct service {
	struct service *next;
	struct domain *dom;
	pid_t pid;
	int fd;
};

static pthread_mutex_t services_lock = PTHREAD_MUTEX_INITIALIZER;
static struct service *services;

int fallback_io(int fd, enum rma_dir dir, void *buf, size_t len)
{
	while (len) {
		ssize_t n = dir == RMA_WRITE ? send(fd, buf, len, MSG_NOSIGNAL)
					     : recv(fd, buf, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return -ETIMEDOUT;
		if (n < 0 && errno == EFAULT)
			return -EFAULT;
		if (n <= 0)
			return -ECONNRESET;
		buf = (char *)buf + n;
		len -= (size_t)n;
	}
	return 0;
}

void fallback_set_timeouts(int fd)
{
	struct timeval tv = {.tv_sec = FALLBACK_TIMEOUT_MS / 1000,
			     .tv_usec = FALLBACK_TIMEOUT_MS % 1000 * 1000};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* --- fair shares ------------------------------------------------------------
 */

/*
 * A client process gets at most two channels per connection it has with
 * us (one serving it, one being opened to take over), a process with none
 * gets no channel at all: no peer can take another's share, and nobody
 * ties up our threads for nothing. A connection is served by its newest
 * channel only, and a channel left idle for FALLBACK_IDLE_MS is closed
 * (the client opens another when it needs one).
 */
struct channel {
	struct channel *next;
	int fd;
	pid_t server; /* the process serving it: not a fork()ed child */
	pid_t client;
	struct endpoint *ep; /* the connection it serves, once open */
};

static pthread_mutex_t channels_lock = PTHREAD_MUTEX_INITIALIZER;
static struct channel *channels;

/* False once ep is closed, even by close(2) its windows never saw. */
static bool still_served(struct endpoint *ep)
{
	return !atomic_load(&ep->closing) && !ep_is_stale(ep);
}

static bool connected_to(struct endpoint *ep, const void *arg)
{
	return ep->owner == self_pid() && ep->state == EP_CONNECTED &&
	       ep->peer_pid == *(const pid_t *)arg && still_served(ep);
}

/* A channel for fd, a new client of ours, or NULL: beyond its share. */
static struct channel *channel_admit(int fd, pid_t client)
{
	size_t share = 2 * ep_count(connected_to, &client), held = 0;
	struct channel *ch = NULL;

	pthread_mutex_lock(&channels_lock);
	for (struct channel *c = channels; c; c = c->next)
		held += c->server == self_pid() && c->client == client;
	if (held < share && (ch = malloc(sizeof(*ch))) != NULL) {
		*ch = (struct channel){channels, fd, self_pid(), client, NULL};
		channels = ch;
	}
	pthread_mutex_unlock(&channels_lock);
	return ch;
}

/* ch now serves ep: an older channel of ep's is shut down. */
static void channel_serve(struct channel *ch, struct endpoint *ep)
{
	pthread_mutex_lock(&channels_lock);
	for (struct channel *c = channels; c; c = c->next)
		if (c != ch && c->server == self_pid() && c->ep == ep)
			shutdown(c->fd, SHUT_RDWR);
	ch->ep = ep;
	pthread_mutex_unlock(&channels_lock);
}

static void channel_leave(struct channel *ch)
{
	struct channel **link = &channels;

	pthread_mutex_lock(&channels_lock);
	while (*link != ch)
		link = &(*link)->next;
	*link = ch->next;
	pthread_mutex_unlock(&channels_lock);
	close(ch->fd);
	free(ch);
}

/* --- one channel ------------------------------------------------------------
 */

struct channel_owner {
	uint64_t token;
	pid_t client;
};

/* The endpoint a channel may serve: ours, connected, to that client. */
static bool serves(struct endpoint *ep, const void *arg)
{
	const struct channel_owner *who = arg;

	return ep->owner == self_pid() && ep->state == EP_CONNECTED &&
	       ep->local_table && ep->token == who->token &&
	       ep->peer_pid == who->client && still_served(ep);
}

/* Copies between buf and our windows at offset; 0, -ENXIO, -EACCES... */
static int copy_window(struct endpoint *ep, uint64_t offset, void *buf,
		       size_t len, enum rma_dir dir)
{
	struct segment_list segs;
	int need = dir == RMA_WRITE ? SCIF_PROT_WRITE : SCIF_PROT_READ;
	size_t done = 0;
	int rc;

	if (!still_served(ep))
		return -ECONNRESET;
	if ((rc = windows_pin_local(ep, offset, len, need, &segs)) < 0)
		return rc;
	for (size_t i = 0; rc == 0 && i < segs.count; i++) {
		struct iovec mine = {(char *)buf + done, segs.segs[i].len};
		struct iovec win = {(void *)(uintptr_t)segs.segs[i].addr,
				    segs.segs[i].len};
		ssize_t n =
		    dir == RMA_WRITE
			? process_vm_writev(self_pid(), &mine, 1, &win, 1, 0)
			: process_vm_readv(self_pid(), &mine, 1, &win, 1, 0);
		if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
			/* No process_vm_* at all: a plain copy then. */
			if (dir == RMA_WRITE)
				memcpy(win.iov_base, mine.iov_base,
				       win.iov_len);
			else
				memcpy(mine.iov_base, win.iov_base,
				       win.iov_len);
			n = (ssize_t)win.iov_len;
		}
		if (n != (ssize_t)win.iov_len)
			rc = -EFAULT;
		done += segs.segs[i].len;
	}
	windows_unpin_local(ep, &segs);
	return rc;
}

/* Serves one request; returns false when the channel must close. */
static bool serve_request(int fd, struct endpoint *ep,
			  const struct fallback_request *req, char *bounce)
{
	int need = req->dir == RMA_WRITE ? SCIF_PROT_WRITE : SCIF_PROT_READ;
	struct segment_list probe;
	int32_t status = 0;

	if (req->dir != RMA_READ && req->dir != RMA_WRITE)
		return false;
	if (req->len && (status = -windows_pin_local(ep, req->offset, req->len,
						     need, &probe)) == 0)
		windows_unpin_local(ep, &probe);
	if (fallback_io(fd, RMA_WRITE, &status, sizeof(status)) < 0)
		return false;
	if (status)
		return true;
	for (uint64_t done = 0; done < req->len;) {
		size_t n = req->len - done < FALLBACK_CHUNK
			       ? (size_t)(req->len - done)
			       : FALLBACK_CHUNK;
		if (req->dir == RMA_WRITE) {
			/* Keep reading the bytes sent even after a failure. */
			if (fallback_io(fd, RMA_READ, bounce, n) < 0)
				return false;
			if (status == 0)
				status = -copy_window(ep, req->offset + done,
						      bounce, n, RMA_WRITE);
		} else {
			struct fallback_chunk chunk = {0, (uint32_t)n};
			chunk.status = -copy_window(ep, req->offset + done,
						    bounce, n, RMA_READ);
			if (chunk.status)
				chunk.len = 0;
			if (fallback_io(fd, RMA_WRITE, &chunk, sizeof(chunk)) <
				0 ||
			    (chunk.len &&
			     fallback_io(fd, RMA_WRITE, bounce, n) < 0))
				return false;
			if (chunk.status)
				return true;
		}
		done += n;
	}
	return req->dir == RMA_READ ||
	       fallback_io(fd, RMA_WRITE, &status, sizeof(status)) == 0;
}

/*
 * Waits for the next request while ep stays connected and open, at most
 * FALLBACK_IDLE_MS.
 */
static bool wait_request(int fd, struct endpoint *ep)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	int64_t idle_end = now_ms() + FALLBACK_IDLE_MS;

	for (;;) {
		int64_t left = idle_end - now_ms();
		if (left <= 0 || !still_served(ep) || ep_peer_state(ep) < 0)
			return false;
		int n = poll(&pfd, 1, left < 500 ? (int)left : 500);
		if (n > 0)
			return true;
		if (n < 0 && errno != EINTR)
			return false;
	}
}

/*
 * True when ep's peer names itself client_token in its table: the client
 * reached us through this connection, not through another one whose peer
 * merely has our pid (a number reused after the fact, before Linux 6.5).
 * The client read our hello, so its own was sent before: wait for it
 * within the step's bound, as a scif_recv may be about to read it.
 */
static bool same_connection(struct endpoint *ep, uint64_t client_token)
{
	int64_t end = now_ms() + FALLBACK_TIMEOUT_MS;
	const struct window_table *peer;

	while (!(peer = handshake_peer_table(ep)) && now_ms() < end &&
	       ep_peer_state(ep) == 0)
		poll(NULL, 0, 10);
	return peer && peer->token == client_token;
}

static void *channel_main(void *arg)
{
	struct channel *ch = arg;
	int fd = ch->fd;
	struct fallback_open open_msg;
	struct fallback_request req;
	struct endpoint *ep = NULL;
	char *bounce = malloc(FALLBACK_CHUNK);
	int32_t status = EACCES;

	fallback_set_timeouts(fd);
	if (bounce &&
	    fallback_io(fd, RMA_READ, &open_msg, sizeof(open_msg)) == 0 &&
	    open_msg.magic == FALLBACK_MAGIC &&
	    open_msg.version == FALLBACK_VERSION) {
		struct channel_owner who = {open_msg.token, ch->client};
		ep = ep_find(serves, &who);
		if (ep && !same_connection(ep, open_msg.client_token)) {
			ep_put(ep);
			ep = NULL;
		}
		if (ep)
			channel_serve(ch, ep);
		status = ep ? 0 : EACCES;
		if (fallback_io(fd, RMA_WRITE, &status, sizeof(status)) < 0)
			status = EPIPE;
	}
	while (ep && status == 0 && wait_request(fd, ep) &&
	       fallback_io(fd, RMA_READ, &req, sizeof(req)) == 0 &&
	       serve_request(fd, ep, &req, bounce))
		;
	channel_leave(ch);
	if (ep)
		ep_put(ep);
	free(bounce);
	return NULL;
}

/* --- the listener ------------------------------------------------------------
 */

static void *accept_main(void *arg)
{
	struct service *s = arg;
	struct timespec pause = {.tv_nsec = 10 * 1000 * 1000};

	for (;;) {
		/*
		 * A blocked accept(2) would hold a descriptor number the whole
		 * time: wait for a client first.
		 */
		struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
		if (poll(&pfd, 1, -1) < 0)
			continue;
		int fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			/* Out of descriptors or memory: wait, never spin. */
			if (errno != EINTR && errno != ECONNABORTED &&
			    errno != EAGAIN)
				nanosleep(&pause, NULL);
			continue;
		}
		struct ucred cred;
		socklen_t len = sizeof(cred);
		struct channel *ch =
		    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0
			? channel_admit(fd, cred.pid)
			: NULL;
		if (!ch) {
			close(fd);
			continue;
		}
		pthread_attr_t attr;
		pthread_t thread;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&thread, &attr, channel_main, ch) != 0)
			channel_leave(ch);
		pthread_attr_destroy(&attr);
	}
	return NULL;
}

static int listen_here(struct domain *d)
{
	struct sockaddr_un addr;
	socklen_t len = (socklen_t)service_address(d, self_pid(), &addr);
	/* Left by a dead process with our pid, if there: replaced. */
	const char *name = strrchr(addr.sun_path, '/') + 1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int rc;

	if (fd < 0)
		return -errno;
	rc = domain_bind_socket(d, fd, "rma", name, &addr, len, d->mode);
	if (rc == 0 && listen(fd, 64) < 0)
		rc = -errno;
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

void services_fork_lock(bool lock)
{
	if (lock) {
		pthread_mutex_lock(&services_lock);
		pthread_mutex_lock(&channels_lock);
	} else {
		pthread_mutex_unlock(&channels_lock);
		pthread_mutex_unlock(&services_lock);
	}
}

int fallback_service_start(struct endpoint *ep)
{
	struct service *s;
	int rc = 0;

	pthread_mutex_lock(&services_lock);
	/* A fork()ed child has no helper thread: it starts its own. */
	for (s = services; s; s = s->next)
		if (s->dom == ep->dom && s->pid == self_pid())
			goto out;
	s = calloc(1, sizeof(*s));
	if (!s) {
		rc = -ENOMEM;
		goto out;
	}
	s->fd = listen_here(ep->dom);
	if (s->fd < 0) {
		rc = s->fd;
		free(s);
		goto out;
	}
	/* The service lives as long as the process: so does its domain. */
	domain_ref(ep->dom);
	s->dom = ep->dom;
	s->pid = self_pid();
	pthread_attr_t attr;
	pthread_t thread;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = -pthread_create(&thread, &attr, accept_main, s);
	pthread_attr_destroy(&attr);
	if (rc < 0) {
		close(s->fd);
		domain_put(s->dom);
		free(s);
		goto out;
	}
	s->next = services;
	services = s;
out:
	pthread_mutex_unlock(&services_lock);
	return rc;
}
