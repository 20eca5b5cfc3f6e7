/* SPDX-License-Identifier: MPL-2.0 */
/*
 * The DMA engine: RMAs issued without SCIF_RMA_SYNC and fence signals.
 *
 * MPSS hands such an RMA to a DMA channel of the node and returns; a fence
 * signal is queued behind it the same way. Here this process is the node
 * and one engine thread is its channel: it takes requests in the order
 * they were queued and runs each as a synchronous call would, so the
 * caller's thread only checks and queues. The thread starts with the first
 * request and then waits for more; a fork()ed child starts its own.
 *
 * A thread about to wait for requests the engine has not started runs them
 * itself (dma_run_queued): the wait would be at least as long, and waking
 * the engine for them only adds the hand-over.
 *
 * Tickets are taken under the queue's lock, so that the queue holds every
 * endpoint's requests in ticket order: a signal, which waits for the
 * tickets before its own, never waits for a request queued behind it.
 *
 * A request holds a reference to its endpoint. One for an endpoint being
 * closed, or whose connection is gone, is dropped (its RMA completes with
 * that error): nobody will fence it, and nothing may be copied into a
 * peer that has hung up. A copy that fails resets the connection (see
 * fence.c), so that nothing waits for data that will not come.
 *
 * One engine serves every endpoint of the process, as a DMA channel
 * serves a node: a peer that makes process_vm_writev block (a window over
 * memory whose pages never come, such as a stalled FUSE file) stalls the
 * requests of other endpoints behind it. Threads waiting on a fence still
 * run their own endpoint's requests.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>

#include "internal.h"

enum dma_kind { DMA_RMA, DMA_SIGNAL };

struct dma_request {
	struct dma_request *next;
	struct endpoint *ep;
	enum dma_kind kind;
	struct rma_ticket ticket;  /* later fences wait for signals too */
	struct rma_args rma;	   /* DMA_RMA */
	struct signal_args signal; /* DMA_SIGNAL */
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t queued;
	struct dma_request *head, *tail;
	pid_t engine_pid; /* the process whose engine thread runs, or 0 */
} queue = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .queued = PTHREAD_COND_INITIALIZER,
};

static void run(struct dma_request *req)
{
	struct endpoint *ep = req->ep;
	int rc = atomic_load(&ep->closing) ? -ECONNRESET : ep_peer_state(ep);

	if (rc == 0 && req->kind == DMA_RMA) {
		uint64_t begun = stats_begin();
		rc = rma_run(ep, &req->rma);
		stats_end(STAT_DMA, begun,
			  rc < 0 ? 0 : (long long)req->rma.len);
	} else if (rc == 0) {
		fence_signal_run(ep, &req->signal, req->ticket.number);
	}
	rma_ticket_done(ep, &req->ticket, rc, true);
	ep_put(ep);
	free(req);
}

static void *engine(void *unused)
{
	(void)unused;
	for (;;) {
		pthread_mutex_lock(&queue.lock);
		while (!queue.head)
			pthread_cond_wait(&queue.queued, &queue.lock);
		struct dma_request *req = queue.head;
		queue.head = req->next;
		if (!queue.head)
			queue.tail = NULL;
		pthread_mutex_unlock(&queue.lock);
		run(req);
	}
	return NULL;
}

/* Under queue.lock. Signals stay with the application's threads. */
static int start_engine(void)
{
	sigset_t all, old;
	pthread_attr_t attr;
	pthread_t thread;
	int rc;

	if (queue.engine_pid == self_pid())
		return 0;
	sigfillset(&all);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&thread, &attr, engine, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (rc != 0)
		return -rc; /* EAGAIN: out of threads */
	queue.engine_pid = self_pid();
	return 0;
}

/* Queues req behind every earlier request; 0, or -errno with req freed. */
static int submit(struct dma_request *req)
{
	int rc;

	pthread_mutex_lock(&queue.lock);
	rc = start_engine();
	if (rc == 0) {
		rma_ticket_take(req->ep, &req->ticket);
		if (queue.tail)
			queue.tail->next = req;
		else
			queue.head = req;
		queue.tail = req;
		pthread_cond_signal(&queue.queued);
	}
	pthread_mutex_unlock(&queue.lock);
	if (rc < 0) {
		ep_put(req->ep);
		free(req);
	}
	return rc;
}

static struct dma_request *new_request(struct endpoint *ep, enum dma_kind kind)
{
	struct dma_request *req = calloc(1, sizeof(*req));

	if (req) {
		atomic_fetch_add(&ep->refs, 1);
		req->ep = ep;
		req->kind = kind;
	}
	return req;
}

int dma_submit_rma(struct endpoint *ep, const struct rma_args *args)
{
	struct dma_request *req = new_request(ep, DMA_RMA);

	if (!req)
		return -ENOMEM;
	req->rma = *args;
	return submit(req);
}

int dma_submit_signal(struct endpoint *ep, const struct signal_args *args)
{
	struct dma_request *req = new_request(ep, DMA_SIGNAL);

	if (!req)
		return -ENOMEM;
	req->signal = *args;
	return submit(req);
}

void dma_run_queued(struct endpoint *ep, uint32_t mark)
{
	struct dma_request *mine = NULL, **tail = &mine, **link;

	pthread_mutex_lock(&queue.lock);
	for (link = &queue.head; *link;) {
		struct dma_request *req = *link;
		if (req->ep == ep &&
		    rma_ticket_before(req->ticket.number, mark)) {
			*link = req->next;
			req->next = NULL;
			*tail = req;
			tail = &req->next;
		} else {
			queue.tail = req;
			link = &req->next;
		}
	}
	if (!queue.head)
		queue.tail = NULL;
	pthread_mutex_unlock(&queue.lock);
	while (mine) {
		struct dma_request *next = mine->next;
		run(mine);
		mine = next;
	}
}

void dma_fork_lock(bool lock)
{
	if (lock)
		pthread_mutex_lock(&queue.lock);
	else
		pthread_mutex_unlock(&queue.lock);
}

void dma_fork_child(void)
{
	/* The parent's requests and engine thread stay the parent's. */
	queue.head = queue.tail = NULL;
	queue.engine_pid = 0;
	pthread_cond_init(&queue.queued, NULL);
}
