/* SPDX-License-Identifier: MPL-2.0 */
/*
 * The endpoint table: maps a scif_epd_t (a socket descriptor) to its
 * endpoint state, with reference counts so that scif_close can run while
 * other threads still use the endpoint; the last reference releases what
 * the endpoint owns. Also the peer's liveness, always taken from kernel
 * objects (the socket, the peer's pidfd), never from shared memory.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct endpoint **table;
static size_t table_size;

/*
 * Open while a fork() of a process with endpoints is under way: the child
 * closes its write end once it dropped them, so the parent knows.
 */
static int fork_sync[2] = {-1, -1};

void endpoints_fork_prepare(void)
{
	pthread_mutex_lock(&table_lock);
	for (size_t i = 0; i < table_size; i++)
		if (table[i] && table[i]->fd >= 0) {
			if (pipe2(fork_sync, O_CLOEXEC) < 0)
				fork_sync[0] = fork_sync[1] = -1;
			break;
		}
}

void endpoints_fork_parent(void)
{
	char byte;

	if (fork_sync[0] >= 0) {
		close(fork_sync[1]);
		while (read(fork_sync[0], &byte, 1) < 0 && errno == EINTR)
			;
		close(fork_sync[0]);
		fork_sync[0] = fork_sync[1] = -1;
	}
	pthread_mutex_unlock(&table_lock);
}

int ep_bad_descriptor_errno(scif_epd_t epd)
{
	/* MPSS: not open -> EBADF; open but not a SCIF device -> ENOTTY. */
	return (epd >= 0 && fcntl(epd, F_GETFD) >= 0) ? ENOTTY : EBADF;
}

void ep_note_socket(struct endpoint *ep)
{
	struct stat st;

	if (fstat(ep->fd, &st) == 0) {
		ep->sock_dev = st.st_dev;
		ep->sock_ino = st.st_ino;
	}
}

/* True when ep's number now names something else than its socket. */
static bool number_reused(const struct endpoint *ep)
{
	struct stat st;

	return fstat(ep->fd, &st) < 0 || st.st_dev != ep->sock_dev ||
	       st.st_ino != ep->sock_ino;
}

int ep_table_insert(struct endpoint *ep, struct endpoint **stale)
{
	int rc = 0;

	*stale = NULL;
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
	/* The caller closed a previous endpoint with close(2). */
	*stale = table[ep->fd];
	if (*stale)
		(*stale)->fd = -1; /* the number now belongs to ep */
	table[ep->fd] = ep;
out:
	pthread_mutex_unlock(&table_lock);
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

struct endpoint *ep_unpublish_stale(void)
{
	struct endpoint *stale = NULL;

	pthread_mutex_lock(&table_lock);
	for (size_t i = 0; i < table_size && !stale; i++) {
		struct endpoint *ep = table[i];
		if (ep && ep->owner == self_pid() && number_reused(ep)) {
			table[i] = NULL;
			ep->fd = -1;
			stale = ep;
		}
	}
	pthread_mutex_unlock(&table_lock);
	return stale;
}

bool ep_is_stale(struct endpoint *ep)
{
	return ep->fd < 0 || number_reused(ep);
}

struct endpoint *ep_get_live(scif_epd_t epd)
{
	struct endpoint *ep = ep_get(epd);

	if (ep && ep_is_stale(ep)) {
		ep_put(ep);
		errno = ep_bad_descriptor_errno(epd);
		return NULL;
	}
	return ep;
}

struct endpoint *ep_get(scif_epd_t epd)
{
	struct endpoint *ep = NULL;
	bool inherited = false;

	pthread_mutex_lock(&table_lock);
	if (epd >= 0 && (size_t)epd < table_size && table[epd]) {
		/* The peer knows its creator: a fork()ed copy is none. */
		inherited = table[epd]->owner != self_pid();
		if (!inherited) {
			ep = table[epd];
			atomic_fetch_add(&ep->refs, 1);
		}
	}
	pthread_mutex_unlock(&table_lock);
	if (!ep)
		errno = inherited ? EBADF : ep_bad_descriptor_errno(epd);
	return ep;
}

void endpoints_fork_child(void)
{
	int inert = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	for (size_t i = 0; i < table_size; i++) {
		struct endpoint *ep = table[i];
		if (!ep || ep->fd < 0)
			continue;
		/* Out of descriptors: the number is given up instead. */
		if (inert < 0 || dup3(inert, ep->fd, O_CLOEXEC) < 0) {
			close(ep->fd);
			ep->fd = -1;
		}
	}
	if (inert >= 0)
		close(inert);
	if (fork_sync[0] >= 0) {
		close(fork_sync[0]);
		close(fork_sync[1]);
		fork_sync[0] = fork_sync[1] = -1;
	}
	pthread_mutex_unlock(&table_lock);
}

struct endpoint *ep_find(bool (*fn)(struct endpoint *, const void *),
			 const void *arg)
{
	struct endpoint *found = NULL;

	pthread_mutex_lock(&table_lock);
	for (size_t i = 0; i < table_size && !found; i++)
		if (table[i] && fn(table[i], arg)) {
			found = table[i];
			atomic_fetch_add(&found->refs, 1);
		}
	pthread_mutex_unlock(&table_lock);
	return found;
}

size_t ep_count(bool (*fn)(struct endpoint *, const void *), const void *arg)
{
	size_t count = 0;

	pthread_mutex_lock(&table_lock);
	for (size_t i = 0; i < table_size; i++)
		count += table[i] && fn(table[i], arg);
	pthread_mutex_unlock(&table_lock);
	return count;
}

/* Releases everything ep owns; the caller retired its windows. */
static void ep_destroy(struct endpoint *ep)
{
	bool owner = ep->owner == self_pid();

	if (ep->local_table)
		munmap(ep->local_table, sizeof(struct window_table));
	if (ep->peer_table)
		munmap((void *)ep->peer_table, sizeof(struct window_table));
	if (ep->hello.memfd >= 0)
		close(ep->hello.memfd);
	if (ep->peer_pidfd >= 0)
		close(ep->peer_pidfd);
	if (ep->channel_fd >= 0)
		close(ep->channel_fd);
	/* A forked child's copy must not give up its parent's port. */
	if (owner && ep->holds_port)
		port_unbind(ep->dom, ep->self.node, ep->self.port);
	if (owner)
		node_leave(ep->dom, ep->node);
	domain_put(ep->dom);
	if (ep->fd >= 0)
		close(ep->fd);
	free(ep->windows.slots);
	pthread_cond_destroy(&ep->windows.idle);
	pthread_mutex_destroy(&ep->windows.lock);
	pthread_mutex_destroy(&ep->channel_lock);
	pthread_cond_destroy(&ep->rma_progress);
	pthread_mutex_destroy(&ep->rma_lock);
	pthread_mutex_destroy(&ep->lock);
	pthread_mutex_destroy(&ep->send_lock);
	pthread_mutex_destroy(&ep->recv_lock);
	free(ep);
}

void ep_put(struct endpoint *ep)
{
	if (atomic_fetch_sub(&ep->refs, 1) == 1)
		ep_destroy(ep);
}

int ep_create(int fd, uint16_t node, uint16_t nodes, struct domain *dom,
	      struct endpoint **out)
{
	struct endpoint *ep = calloc(1, sizeof(*ep));
	int rc;

	if (!ep)
		return -ENOMEM;
	/* Fails with ENODEV while our own node is offline. */
	if ((rc = node_join(dom, node)) < 0) {
		free(ep);
		return rc;
	}
	domain_ref(dom);
	ep->fd = fd;
	ep->owner = self_pid();
	atomic_init(&ep->refs, 1);
	atomic_init(&ep->closing, false);
	pthread_mutex_init(&ep->lock, NULL);
	pthread_mutex_init(&ep->send_lock, NULL);
	pthread_mutex_init(&ep->recv_lock, NULL);
	pthread_mutex_init(&ep->channel_lock, NULL);
	pthread_mutex_init(&ep->rma_lock, NULL);
	pthread_cond_init(&ep->rma_progress, NULL);
	pthread_mutex_init(&ep->windows.lock, NULL);
	pthread_cond_init(&ep->windows.idle, NULL);
	ep->node = node;
	ep->nodes = nodes;
	ep->dom = dom;
	ep->state = EP_UNBOUND;
	ep->peer_pidfd = -1;
	ep->channel_fd = -1;
	ep->hello.memfd = -1;
	atomic_init(&ep->rma_path, rma_path_default());
	ep_note_socket(ep);
	*out = ep;
	return 0;
}

enum rma_path rma_path_default(void)
{
	const char *env = getenv("SCIF_EMU_RMA_PATH");

	return env && strcmp(env, "socket") == 0 ? RMA_PATH_SOCKET
						 : RMA_PATH_PROCESS_VM;
}

/* --- liveness ---------------------------------------------------------- */

int ep_lost_errno(struct endpoint *ep)
{
	return node_offline(ep->dom, ep->peer.node) ? -ENODEV : -ECONNRESET;
}

int ep_peer_state(struct endpoint *ep)
{
	struct pollfd pfd[2] = {
	    {.fd = ep->fd, .events = POLLRDHUP},
	    {.fd = ep->peer_pidfd, .events = POLLIN},
	};
	int broken = atomic_load(&ep->broken);

	if (broken)
		return -broken;
	if (ep->fd < 0)
		return -ECONNRESET;
	if (poll(pfd, 2, 0) > 0 &&
	    ((pfd[0].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) ||
	     (pfd[1].revents & POLLIN)))
		return ep_lost_errno(ep);
	return 0;
}

bool ep_peer_process_alive(struct endpoint *ep)
{
	struct pollfd pfd = {.fd = ep->peer_pidfd, .events = POLLIN};

	if (ep->peer_pidfd < 0) /* no pidfd: the socket is the best proxy */
		return ep->fd >= 0 && ep_peer_state(ep) == 0;
	return poll(&pfd, 1, 0) == 0;
}

int ep_check_connected(struct endpoint *ep)
{
	if (ep->state != EP_CONNECTED)
		return -ENOTCONN;
	return ep_peer_state(ep);
}

void ep_reset(struct endpoint *ep, int err)
{
	int expected = 0;

	atomic_compare_exchange_strong(&ep->broken, &expected, err);
	if (ep->fd >= 0 && ep->owner == self_pid())
		shutdown(ep->fd, SHUT_RDWR);
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
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}
