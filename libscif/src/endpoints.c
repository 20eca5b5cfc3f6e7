/* SPDX-License-Identifier: MPL-2.0 */
/*
 * The endpoint table: maps a scif_epd_t (a socket descriptor) to its
 * endpoint state, with reference counts so that scif_close can run while
 * other threads still use the endpoint; the last reference releases the
 * windows, the shared area and finally the descriptor itself.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct endpoint **table;
static size_t table_size;

int ep_bad_descriptor_errno(scif_epd_t epd)
{
	/* MPSS: not open -> EBADF; open but not a SCIF device -> ENOTTY. */
	return (epd >= 0 && fcntl(epd, F_GETFD) >= 0) ? ENOTTY : EBADF;
}

int ep_table_insert(struct endpoint *ep)
{
	struct endpoint *stale = NULL;
	int rc = 0;

	pthread_mutex_lock(&table_lock);
	if ((size_t)ep->fd >= table_size) {
		size_t size = table_size ? table_size : 64;
		while (size <= (size_t)ep->fd)
			size *= 2;
		struct endpoint **grown = realloc(table, size * sizeof(*grown));
		if (!grown) {
			rc = -ENOMEM;
			goto out;
		}
		memset(grown + table_size, 0,
		       (size - table_size) * sizeof(*grown));
		table = grown;
		table_size = size;
	}
	/* The caller closed a previous endpoint with close(2): forget it. */
	stale = table[ep->fd];
	table[ep->fd] = ep;
out:
	pthread_mutex_unlock(&table_lock);
	if (stale) {
		stale->fd = -1; /* the number now belongs to ep */
		ep_put(stale);
	}
	return rc;
}

struct endpoint *ep_unpublish(scif_epd_t epd)
{
	struct endpoint *ep = NULL;

	pthread_mutex_lock(&table_lock);
	if (epd >= 0 && (size_t)epd < table_size) {
		ep = table[epd];
		table[epd] = NULL;
	}
	pthread_mutex_unlock(&table_lock);
	return ep;
}

struct endpoint *ep_get(scif_epd_t epd)
{
	struct endpoint *ep = NULL;

	pthread_mutex_lock(&table_lock);
	if (epd >= 0 && (size_t)epd < table_size && table[epd]) {
		ep = table[epd];
		atomic_fetch_add(&ep->refs, 1);
	}
	pthread_mutex_unlock(&table_lock);
	if (!ep)
		errno = ep_bad_descriptor_errno(epd);
	return ep;
}

void ep_put(struct endpoint *ep)
{
	if (atomic_fetch_sub(&ep->refs, 1) != 1)
		return;
	if (ep->area) {
		/* A forked child must not tear down its parent's windows. */
		if (ep->owner == getpid())
			windows_release_all(ep);
		munmap(ep->area, sizeof(*ep->area));
	}
	if (ep->fd >= 0)
		close(ep->fd);
	pthread_mutex_destroy(&ep->lock);
	pthread_mutex_destroy(&ep->send_lock);
	pthread_mutex_destroy(&ep->recv_lock);
	free(ep);
}

struct endpoint *ep_create(int fd, const struct emu_config *cfg)
{
	struct endpoint *ep = calloc(1, sizeof(*ep));

	if (!ep)
		return NULL;
	ep->fd = fd;
	ep->owner = getpid();
	atomic_init(&ep->refs, 1); /* the table's reference */
	atomic_init(&ep->closing, false);
	pthread_mutex_init(&ep->lock, NULL);
	pthread_mutex_init(&ep->send_lock, NULL);
	pthread_mutex_init(&ep->recv_lock, NULL);
	ep->cfg = *cfg;
	ep->state = EP_UNBOUND;
	return ep;
}

/* Creates and publishes an endpoint for fd; closes fd on failure. */
struct endpoint *ep_publish(int fd, const struct emu_config *cfg)
{
	struct endpoint *ep = ep_create(fd, cfg);

	if (!ep) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	if (ep_table_insert(ep) < 0) {
		ep_put(ep);
		errno = ENOMEM;
		return NULL;
	}
	return ep;
}

bool ep_peer_gone(struct endpoint *ep)
{
	struct pollfd pfd = {.fd = ep->fd, .events = POLLRDHUP};

	return poll(&pfd, 1, 0) > 0 &&
	       (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

int ep_check_connected(struct endpoint *ep)
{
	if (ep->state != EP_CONNECTED)
		return -ENOTCONN;
	return ep_peer_gone(ep) ? -ECONNRESET : 0;
}

bool ep_windows_cover(uint64_t addr, uint64_t len, int need_prot)
{
	bool covered = false;
	pid_t self = getpid();

	pthread_mutex_lock(&table_lock);
	for (size_t i = 0; i < table_size && !covered; i++) {
		struct endpoint *ep = table[i];
		if (!ep || !ep->area)
			continue;
		struct window_table *t = ep_local_table(ep);
		uint32_t used = atomic_load(&t->used_slots);
		for (uint32_t j = 0; j < used && !covered; j++) {
			struct window_slot *s = &t->slots[j];
			uint64_t start = atomic_load(&s->addr);
			uint64_t wlen = atomic_load(&s->len);
			covered = wlen && atomic_load(&s->pid) == self &&
				  ((int)atomic_load(&s->prot) & need_prot) ==
				      need_prot &&
				  addr >= start && len <= wlen &&
				  addr - start <= wlen - len;
		}
	}
	pthread_mutex_unlock(&table_lock);
	return covered;
}

int ep_wait(struct endpoint *ep, short events)
{
	struct pollfd pfd = {.fd = ep->fd, .events = events};

	for (;;) {
		if (atomic_load(&ep->closing))
			return -EINTR;
		int n = poll(&pfd, 1, 200);
		if (n > 0)
			return 0;
		if (n < 0)
			return -errno;
	}
}
