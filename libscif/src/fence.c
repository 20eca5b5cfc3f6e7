/* SPDX-License-Identifier: MPL-2.0 */
/*
 * Fences: scif_fence_mark, scif_fence_wait, scif_fence_signal, and the
 * completion order they rest on.
 *
 * Every RMA of ours takes a ticket when issued and gives it back when
 * complete: synchronous ones in the caller's thread, the others in the DMA
 * engine (dma.c). "Complete up to n" means no ticket below n is still out,
 * so a mark (the next ticket number) is reached exactly when every RMA
 * issued before it is complete, whatever order they finish in. Both
 * numbers are published in our window table, where the peer's marks
 * (SCIF_FENCE_INIT_PEER) read them.
 *
 * As in MPSS, scif_fence_signal only queues: the values are written by
 * the engine once the RMAs issued before it are complete, and a signal
 * takes a ticket of its own, so that a later mark covers it too. A failed
 * asynchronous RMA resets the connection (nobody is to wait for data that
 * will not come, a poller of a signal included) and is reported once, by
 * the next scif_fence_wait on a mark after it; the signals after it are
 * not written (they would claim data that never arrived). Signals on the peer's
 * RMAs are written before scif_fence_signal returns: the engine would otherwise
 * wait on another process, in front of every other endpoint's requests. So are
 * signals on the fallback path, whose RMAs all complete in their calls (rma.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* Marks: bit 30 says "peer's RMAs", bits 0-29 hold the ticket number. */
#define MARK_PEER  (1 << 30)
#define MARK_COUNT 0x3fffffff

/* Reached when done - target is "small non-negative" mod 2^30. */
static bool reached(uint32_t done, uint32_t target)
{
	return ((done - target) & MARK_COUNT) < MARK_COUNT / 2;
}

/* --- tickets -------------------------------------------------------------- */

bool rma_ticket_before(uint32_t number, uint32_t mark)
{
	return !reached(number, mark & MARK_COUNT);
}

static uint32_t complete_up_to(const struct endpoint *ep)
{
	return ep->oldest_rma ? ep->oldest_rma->number : ep->next_ticket;
}

static void publish_counters(struct endpoint *ep)
{
	struct window_table *t = ep->local_table;

	atomic_store(&t->rma_started, ep->next_ticket);
	atomic_store(&t->rma_completed, complete_up_to(ep));
}

void rma_ticket_take(struct endpoint *ep, struct rma_ticket *ticket)
{
	pthread_mutex_lock(&ep->rma_lock);
	ticket->number = ep->next_ticket++;
	ticket->next = NULL;
	ticket->prev = ep->newest_rma;
	if (ep->newest_rma)
		ep->newest_rma->next = ticket;
	else
		ep->oldest_rma = ticket;
	ep->newest_rma = ticket;
	publish_counters(ep);
	pthread_mutex_unlock(&ep->rma_lock);
}

void rma_ticket_done(struct endpoint *ep, struct rma_ticket *ticket, int rc,
		     bool async)
{
	pthread_mutex_lock(&ep->rma_lock);
	if (ticket->prev)
		ticket->prev->next = ticket->next;
	else
		ep->oldest_rma = ticket->next;
	if (ticket->next)
		ticket->next->prev = ticket->prev;
	else
		ep->newest_rma = ticket->prev;
	if (async && rc < 0 && !ep->async_error) {
		ep->async_error = rc;
		ep->failed_ticket = ticket->number;
		ep_reset(ep, ECONNRESET);
	}
	publish_counters(ep);
	pthread_cond_broadcast(&ep->rma_progress);
	pthread_mutex_unlock(&ep->rma_lock);
}

/* The failure a wait for target (under ep->rma_lock) has to report. */
static int failure_before(const struct endpoint *ep, uint32_t target)
{
	return ep->async_error && rma_ticket_before(ep->failed_ticket, target)
		   ? ep->async_error
		   : 0;
}

/* --- marks ---------------------------------------------------------------- */

static int mark_now(struct endpoint *ep, bool peer)
{
	uint32_t next;

	if (peer) {
		const struct window_table *t = handshake_peer_table(ep);
		next = t ? windows_rma_count(t, false) : 0;
	} else {
		pthread_mutex_lock(&ep->rma_lock);
		next = ep->next_ticket;
		pthread_mutex_unlock(&ep->rma_lock);
	}
	return (int)(next & MARK_COUNT) | (peer ? MARK_PEER : 0);
}

/*
 * Our own RMAs always complete (each is bounded by the peer's liveness),
 * so this waits without a deadline. Under ep->rma_lock.
 */
static void wait_self_locked(struct endpoint *ep, uint32_t target)
{
	while (!reached(complete_up_to(ep) & MARK_COUNT, target))
		pthread_cond_wait(&ep->rma_progress, &ep->rma_lock);
}

static bool peer_reached(struct endpoint *ep, uint32_t target)
{
	const struct window_table *t = handshake_peer_table(ep);

	return reached(t ? windows_rma_count(t, true) & MARK_COUNT : 0, target);
}

/*
 * The peer's counters are the peer's to keep: the connection bounds the
 * wait. It ends when the peer hangs up or dies (its RMAs will not complete
 * then, unless they did just before) and when our endpoint is closed.
 */
static int wait_peer(struct endpoint *ep, uint32_t target)
{
	struct timespec pause = {.tv_nsec = 100 * 1000};

	for (unsigned round = 0;; round++) {
		if (peer_reached(ep, target))
			return 0;
		if (atomic_load(&ep->closing))
			return -EINTR;
		int lost = ep_peer_state(ep);
		if (lost)
			return peer_reached(ep, target) ? 0 : lost;
		if (round < 100)
			sched_yield();
		else
			nanosleep(&pause, NULL);
	}
}

static int wait_mark(struct endpoint *ep, int mark)
{
	uint32_t target = (uint32_t)mark & MARK_COUNT;
	int rc;

	if (mark & MARK_PEER)
		return wait_peer(ep, target);
	dma_run_queued(ep, target);
	pthread_mutex_lock(&ep->rma_lock);
	if (!reached(ep->next_ticket & MARK_COUNT, target)) {
		rc = -EINVAL; /* not a mark of ours: nothing would reach it */
	} else {
		wait_self_locked(ep, target);
		if ((rc = failure_before(ep, target)))
			ep->async_error = 0;
	}
	pthread_mutex_unlock(&ep->rma_lock);
	return rc;
}

static bool init_flags_valid(int flags)
{
	int init = flags & (SCIF_FENCE_INIT_SELF | SCIF_FENCE_INIT_PEER);

	return init == SCIF_FENCE_INIT_SELF || init == SCIF_FENCE_INIT_PEER;
}

int scif_fence_mark(scif_epd_t epd, int flags, int *mark)
{
	uint64_t begun = stats_begin();
	struct endpoint *ep = ep_get_live(epd);
	int rc;

	if (!ep)
		return -1;
	if ((flags & ~(SCIF_FENCE_INIT_SELF | SCIF_FENCE_INIT_PEER)) ||
	    !init_flags_valid(flags) || !mark)
		rc = -EINVAL;
	else if ((rc = ep_check_connected(ep)) == 0)
		*mark = mark_now(ep, flags & SCIF_FENCE_INIT_PEER);
	ep_put(ep);
	stats_end(STAT_FENCE_MARK, begun, 0);
	return rc < 0 ? fail(-rc) : 0;
}

int scif_fence_wait(scif_epd_t epd, int mark)
{
	uint64_t begun = stats_begin();
	struct endpoint *ep = ep_get_live(epd);
	int rc;

	if (!ep)
		return -1;
	if (mark < 0 || (mark & ~(MARK_PEER | MARK_COUNT)))
		rc = -EINVAL;
	else if (mark & MARK_PEER) {
		if ((rc = ep_check_connected(ep)) == 0)
			rc = wait_mark(ep, mark);
	} else if (ep->state != EP_CONNECTED) {
		rc = -ENOTCONN;
	} else if ((rc = wait_mark(ep, mark)) == 0) {
		/* Our own RMAs are waited for even on a lost connection: the
		 * caller may then free what they read. */
		rc = ep_peer_state(ep);
	}
	ep_put(ep);
	stats_end(STAT_FENCE_WAIT, begun, 0);
	return rc < 0 ? fail(-rc) : 0;
}

/* --- signals -------------------------------------------------------------- */

/* Stores value at local offset loff (may straddle adjacent windows). */
static int signal_local(struct endpoint *ep, uint64_t loff, uint64_t value)
{
	struct segment_list local;
	size_t done = 0;
	int rc =
	    windows_pin_local(ep, loff, sizeof(value), SCIF_PROT_WRITE, &local);

	if (rc < 0)
		return rc;
	if (local.count == 1 && (local.segs[0].addr & 7) == 0) {
		/* The common case: one aligned store, seen whole by pollers. */
		__atomic_store_n((uint64_t *)(uintptr_t)local.segs[0].addr,
				 value, __ATOMIC_RELEASE);
	} else {
		for (size_t i = 0; i < local.count; i++) {
			memcpy((void *)(uintptr_t)local.segs[i].addr,
			       (char *)&value + done, local.segs[i].len);
			done += local.segs[i].len;
		}
	}
	windows_unpin_local(ep, &local);
	return 0;
}

static int write_signals(struct endpoint *ep, const struct signal_args *args)
{
	int rc = 0;

	if (args->local)
		rc = signal_local(ep, args->loff, args->lval);
	if (rc == 0 && args->remote)
		rc = rma_write_peer(ep, args->roff, &args->rval,
				    sizeof(args->rval));
	return rc;
}

void fence_signal_run(struct endpoint *ep, const struct signal_args *args,
		      uint32_t mark)
{
	int rc;

	pthread_mutex_lock(&ep->rma_lock);
	wait_self_locked(ep, mark & MARK_COUNT);
	rc = failure_before(ep, mark);
	pthread_mutex_unlock(&ep->rma_lock);
	if (rc < 0 || (rc = write_signals(ep, args)) == 0)
		return;
	/* A window retired since the call: reported like a failed RMA. */
	pthread_mutex_lock(&ep->rma_lock);
	if (!ep->async_error) {
		ep->async_error = rc;
		ep->failed_ticket = mark;
		ep_reset(ep, ECONNRESET);
	}
	pthread_mutex_unlock(&ep->rma_lock);
}

/* What MPSS checks before queuing: the offsets name writable windows. */
static int check_signal_offsets(struct endpoint *ep,
				const struct signal_args *args)
{
	struct segment_list pinned;
	int rc = 0;

	if (args->local) {
		rc = windows_pin_local(ep, args->loff, sizeof(args->lval),
				       SCIF_PROT_WRITE, &pinned);
		if (rc == 0)
			windows_unpin_local(ep, &pinned);
	}
	if (rc == 0 && args->remote) {
		const struct window_table *peer = handshake_peer_table(ep);
		if (!peer)
			return -ENXIO;
		rc = windows_pin_peer(ep, peer, args->roff, sizeof(args->rval),
				      SCIF_PROT_WRITE, &pinned);
		if (rc == 0)
			windows_unpin_peer(ep, &pinned);
	}
	return rc;
}

int scif_fence_signal(scif_epd_t epd, off_t loff, uint64_t lval, off_t roff,
		      uint64_t rval, int flags)
{
	const int known = SCIF_FENCE_INIT_SELF | SCIF_FENCE_INIT_PEER |
			  SCIF_SIGNAL_LOCAL | SCIF_SIGNAL_REMOTE;
	struct signal_args args = {
	    .local = flags & SCIF_SIGNAL_LOCAL,
	    .remote = flags & SCIF_SIGNAL_REMOTE,
	    .loff = (uint64_t)loff,
	    .lval = lval,
	    .roff = (uint64_t)roff,
	    .rval = rval,
	};
	bool peer = flags & SCIF_FENCE_INIT_PEER;
	uint64_t begun = stats_begin();
	struct endpoint *ep = ep_get_live(epd);
	bool queued;
	int rc;

	if (!ep)
		return -1;
	if ((flags & ~known) || !init_flags_valid(flags) ||
	    !(args.local || args.remote) || (args.local && (loff & 3)) ||
	    (args.remote && (roff & 3)))
		rc = -EINVAL;
	else if ((rc = ep_check_connected(ep)) == 0 &&
		 ((args.local && loff < 0) || (args.remote && roff < 0)))
		rc = -ENXIO;
	queued = !peer && atomic_load(&ep->rma_path) == RMA_PATH_PROCESS_VM;
	if (rc == 0 && queued && (rc = check_signal_offsets(ep, &args)) == 0) {
		rc = dma_submit_signal(ep, &args);
	} else if (rc == 0 && !queued &&
		   (rc = wait_mark(ep, mark_now(ep, peer))) == 0) {
		rc = write_signals(ep, &args);
	}
	ep_put(ep);
	stats_end(STAT_FENCE_SIGNAL, begun, 0);
	return rc < 0 ? fail(-rc) : 0;
}
