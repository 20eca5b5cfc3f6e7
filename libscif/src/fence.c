/* SPDX-License-Identifier: MPL-2.0 */
/*
 * Fences: scif_fence_mark, scif_fence_wait, scif_fence_signal.
 *
 * An RMA is complete when its call returns (see rma.c), so the only RMAs a
 * fence can find unfinished are ones other threads (or the peer) are
 * running at that moment. Each side counts the RMAs it started and finished
 * in its window table; a mark remembers the "started" count and waiting
 * means letting "finished" catch up with it. With several threads issuing
 * RMAs concurrently this can also wait for RMAs started after the mark,
 * never less. Marks of the peer read the peer's table: they wait for no
 * more than the peer's life.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* Marks: bit 30 says "peer's RMAs", bits 0-29 hold the counter. */
#define MARK_PEER  (1 << 30)
#define MARK_COUNT 0x3fffffff

/* The counters a mark refers to; NULL: the peer has not said hello yet. */
static const struct window_table *counters(struct endpoint *ep, bool peer)
{
	return peer ? handshake_peer_table(ep) : ep->local_table;
}

static int mark_now(struct endpoint *ep, bool peer)
{
	const struct window_table *t = counters(ep, peer);
	uint32_t started = t ? windows_rma_count(t, false) : 0;

	return (int)(started & MARK_COUNT) | (peer ? MARK_PEER : 0);
}

static int wait_mark(struct endpoint *ep, int mark)
{
	bool peer = mark & MARK_PEER;
	uint32_t target = (uint32_t)mark & MARK_COUNT;
	struct timespec pause = {.tv_nsec = 100 * 1000};

	for (unsigned round = 0;; round++) {
		const struct window_table *t = counters(ep, peer);
		uint32_t done = t ? windows_rma_count(t, true) & MARK_COUNT : 0;
		/* Reached when done - target is "small non-negative" mod 2^30.
		 */
		if (((done - target) & MARK_COUNT) < MARK_COUNT / 2)
			return 0;
		if (peer && !ep_peer_process_alive(ep))
			return ep_lost_errno(ep);
		if (round < 100)
			sched_yield();
		else
			nanosleep(&pause, NULL);
	}
}

static bool init_flags_valid(int flags)
{
	int init = flags & (SCIF_FENCE_INIT_SELF | SCIF_FENCE_INIT_PEER);

	return init == SCIF_FENCE_INIT_SELF || init == SCIF_FENCE_INIT_PEER;
}

int scif_fence_mark(scif_epd_t epd, int flags, int *mark)
{
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
	return rc < 0 ? fail(-rc) : 0;
}

int scif_fence_wait(scif_epd_t epd, int mark)
{
	struct endpoint *ep = ep_get_live(epd);
	int rc;

	if (!ep)
		return -1;
	if (mark < 0 || (mark & ~(MARK_PEER | MARK_COUNT)))
		rc = -EINVAL;
	else if ((rc = ep_check_connected(ep)) == 0)
		rc = wait_mark(ep, mark);
	ep_put(ep);
	return rc < 0 ? fail(-rc) : 0;
}

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

int scif_fence_signal(scif_epd_t epd, off_t loff, uint64_t lval, off_t roff,
		      uint64_t rval, int flags)
{
	const int known = SCIF_FENCE_INIT_SELF | SCIF_FENCE_INIT_PEER |
			  SCIF_SIGNAL_LOCAL | SCIF_SIGNAL_REMOTE;
	bool local = flags & SCIF_SIGNAL_LOCAL;
	bool remote = flags & SCIF_SIGNAL_REMOTE;
	struct endpoint *ep = ep_get_live(epd);
	int rc;

	if (!ep)
		return -1;
	if ((flags & ~known) || !init_flags_valid(flags) ||
	    !(local || remote) || (local && (loff & 3)) ||
	    (remote && (roff & 3)))
		rc = -EINVAL;
	else if ((rc = ep_check_connected(ep)) == 0 &&
		 ((local && loff < 0) || (remote && roff < 0)))
		rc = -ENXIO;
	if (rc == 0)
		rc = wait_mark(ep, mark_now(ep, flags & SCIF_FENCE_INIT_PEER));
	if (rc == 0 && local)
		rc = signal_local(ep, (uint64_t)loff, lval);
	if (rc == 0 && remote)
		rc = rma_write_peer(ep, (uint64_t)roff, &rval, sizeof(rval));
	ep_put(ep);
	return rc < 0 ? fail(-rc) : 0;
}
