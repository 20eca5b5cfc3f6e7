/* SPDX-License-Identifier: MPL-2.0 */
/*
 * Registered address space: scif_register, scif_unregister and the
 * lock-free lookup ("pinning") used by RMAs of either side.
 *
 * Each side's window table lives in the connection's shared area. Only the
 * owning side writes it (under ep->lock); both sides read it. A reader
 * takes a slot by bumping its inflight counter and re-checking its sequence
 * number; a writer retiring a slot first makes the sequence odd and then
 * waits for inflight to drop to zero. With sequentially consistent
 * operations on both counters one of the two always sees the other, so an
 * RMA never touches memory of a window whose scif_unregister has returned.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* MPSS reserves offsets from 2^62 on; SCIF_MAP_FIXED there: EADDRINUSE. */
#define OFFSET_LIMIT (1ULL << 62)

#define relaxed_load(p)	    atomic_load_explicit(p, memory_order_relaxed)
#define relaxed_store(p, v) atomic_store_explicit(p, v, memory_order_relaxed)

static bool page_aligned(uint64_t value)
{
	return (value & (SCIF_EMU_PAGE_SIZE - 1)) == 0;
}

static bool slot_overlaps(struct window_slot *s, uint64_t off, uint64_t len)
{
	uint64_t wlen = relaxed_load(&s->len);
	uint64_t woff = relaxed_load(&s->offset);

	return wlen && woff < off + len && off < woff + wlen;
}

/* Returns the end of a window overlapping [off, off+len), or 0. */
static uint64_t first_overlap_end(struct window_table *t, uint64_t off,
				  uint64_t len)
{
	uint32_t used = atomic_load(&t->used_slots);

	for (uint32_t i = 0; i < used; i++)
		if (slot_overlaps(&t->slots[i], off, len))
			return relaxed_load(&t->slots[i].offset) +
			       relaxed_load(&t->slots[i].len);
	return 0;
}

/* Picks a free page-aligned range of len bytes at or after hint. */
static int choose_offset(struct window_table *t, uint64_t hint, uint64_t len,
			 uint64_t *out)
{
	uint64_t starts[2] = {hint & ~(SCIF_EMU_PAGE_SIZE - 1), 0};

	if (len > OFFSET_LIMIT)
		return -ENOMEM;
	for (int attempt = 0; attempt < 2; attempt++) {
		uint64_t cand = starts[attempt], end;
		while (cand + len <= OFFSET_LIMIT &&
		       (end = first_overlap_end(t, cand, len)) != 0)
			cand = end;
		if (cand + len <= OFFSET_LIMIT) {
			*out = cand;
			return 0;
		}
	}
	return -ENOMEM;
}

static int free_slot(struct window_table *t)
{
	uint32_t used = atomic_load(&t->used_slots);

	for (uint32_t i = 0; i < used; i++)
		if (!relaxed_load(&t->slots[i].len))
			return (int)i;
	if (used == SCIF_EMU_MAX_WINDOWS)
		return -EAGAIN;
	atomic_store(&t->used_slots, used + 1);
	return (int)used;
}

static void sleep_briefly(unsigned round)
{
	struct timespec pause = {.tv_nsec = 50 * 1000};

	if (round < 100)
		sched_yield();
	else
		nanosleep(&pause, NULL);
}

/* Makes a slot unusable and waits for RMAs still using it. */
static void retire_slot(struct endpoint *ep, struct window_slot *s)
{
	atomic_fetch_add(&s->seq, 1); /* odd: readers back off */
	for (unsigned round = 0; atomic_load(&s->inflight); round++) {
		/* A dead peer will never finish its RMAs. */
		if (round > 100 && ep_peer_gone(ep))
			break;
		sleep_briefly(round);
	}
	relaxed_store(&s->len, 0);
	atomic_fetch_add_explicit(&s->seq, 1, memory_order_release);
}

int windows_register(struct endpoint *ep, void *addr, size_t len, off_t offset,
		     int prot, int map_flags, off_t *placed)
{
	struct window_table *t = ep_local_table(ep);
	uint64_t where;
	int slot, rc;

	if (map_flags & SCIF_MAP_FIXED) {
		if ((uint64_t)offset >= OFFSET_LIMIT ||
		    len > OFFSET_LIMIT - (uint64_t)offset ||
		    first_overlap_end(t, (uint64_t)offset, len))
			return -EADDRINUSE;
		where = (uint64_t)offset;
	} else if ((rc = choose_offset(t, (uint64_t)offset, len, &where)) < 0) {
		return rc;
	}
	if ((slot = free_slot(t)) < 0)
		return slot;

	struct window_slot *s = &t->slots[slot];
	atomic_fetch_add(&s->seq, 1);
	relaxed_store(&s->prot, (uint32_t)prot);
	relaxed_store(&s->pid, getpid());
	relaxed_store(&s->offset, where);
	relaxed_store(&s->addr, (uint64_t)(uintptr_t)addr);
	relaxed_store(&s->len, len);
	atomic_fetch_add_explicit(&s->seq, 1, memory_order_release);
	*placed = (off_t)where;
	return 0;
}

int windows_unregister(struct endpoint *ep, off_t offset, size_t len)
{
	struct window_table *t = ep_local_table(ep);
	uint64_t off = (uint64_t)offset;
	uint32_t used = atomic_load(&t->used_slots);
	int found = 0;

	/* Validate everything first: on error nothing is unregistered. */
	for (uint32_t i = 0; i < used; i++) {
		struct window_slot *s = &t->slots[i];
		if (!slot_overlaps(s, off, len))
			continue;
		uint64_t woff = relaxed_load(&s->offset);
		if (woff < off || woff + relaxed_load(&s->len) > off + len)
			return -EINVAL; /* would cut a window */
		found++;
	}
	if (!found)
		return -ENXIO;
	for (uint32_t i = 0; i < used; i++)
		if (slot_overlaps(&t->slots[i], off, len))
			retire_slot(ep, &t->slots[i]);
	return 0;
}

void windows_release_all(struct endpoint *ep)
{
	struct window_table *t = ep_local_table(ep);
	uint32_t used;

	pthread_mutex_lock(&ep->lock);
	used = atomic_load(&t->used_slots);
	for (uint32_t i = 0; i < used; i++)
		if (relaxed_load(&t->slots[i].len))
			retire_slot(ep, &t->slots[i]);
	pthread_mutex_unlock(&ep->lock);
}

/* --- pinning -------------------------------------------------------------- */

static int range_push(struct pinned_range *r, struct segment seg)
{
	if (r->count == r->capacity) {
		size_t cap = r->capacity * 2;
		struct segment *grown = malloc(cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		for (size_t i = 0; i < r->count; i++)
			grown[i] = r->segs[i];
		if (r->segs != r->inline_segs)
			free(r->segs);
		r->segs = grown;
		r->capacity = cap;
	}
	r->segs[r->count++] = seg;
	return 0;
}

/*
 * Pins the live window containing offset cur. Returns 1 and fills *seg on
 * success, 0 if no window contains cur.
 */
static int pin_window_at(struct window_table *t, uint64_t cur, uint64_t end,
			 uint32_t *prot, struct segment *seg)
{
	uint32_t used = atomic_load(&t->used_slots);

	for (uint32_t i = 0; i < used; i++) {
		struct window_slot *s = &t->slots[i];
		uint32_t seq =
		    atomic_load_explicit(&s->seq, memory_order_acquire);
		if (seq & 1)
			continue;
		uint64_t wlen = relaxed_load(&s->len);
		uint64_t woff = relaxed_load(&s->offset);
		if (!wlen || cur < woff || cur - woff >= wlen)
			continue;
		uint64_t waddr = relaxed_load(&s->addr);
		int32_t pid = relaxed_load(&s->pid);
		*prot = relaxed_load(&s->prot);
		atomic_fetch_add(&s->inflight, 1);
		if (atomic_load(&s->seq) != seq) {
			/* Changed under us: it is being unregistered. */
			atomic_fetch_sub(&s->inflight, 1);
			continue;
		}
		uint64_t wend = woff + wlen;
		seg->slot = i;
		seg->pid = pid;
		seg->addr = waddr + (cur - woff);
		seg->len = (end < wend ? end : wend) - cur;
		return 1;
	}
	return 0;
}

int windows_pin(struct window_table *table, uint64_t offset, uint64_t len,
		int need_prot, struct pinned_range *out)
{
	uint64_t cur = offset, end = offset + len;

	out->table = table;
	out->count = 0;
	out->capacity = sizeof(out->inline_segs) / sizeof(out->inline_segs[0]);
	out->segs = out->inline_segs;
	if (end < offset)
		return -ENXIO;
	while (cur < end) {
		struct segment seg;
		uint32_t prot;
		int rc = -ENXIO;

		if (pin_window_at(table, cur, end, &prot, &seg)) {
			rc = ((int)prot & need_prot) == need_prot
				 ? range_push(out, seg)
				 : -EACCES;
			if (rc < 0)
				atomic_fetch_sub(
				    &table->slots[seg.slot].inflight, 1);
		}
		if (rc < 0) {
			windows_unpin(out);
			return rc;
		}
		cur += seg.len;
	}
	return 0;
}

void windows_unpin(struct pinned_range *range)
{
	for (size_t i = 0; i < range->count; i++)
		atomic_fetch_sub_explicit(
		    &range->table->slots[range->segs[i].slot].inflight, 1,
		    memory_order_release);
	if (range->segs != range->inline_segs)
		free(range->segs);
	range->segs = range->inline_segs;
	range->count = 0;
}

/* --- API --------------------------------------------------------------- */

off_t scif_register(scif_epd_t epd, void *addr, size_t len, off_t offset,
		    int prot_flags, int map_flags)
{
	struct endpoint *ep;
	off_t placed = 0;
	int rc;

	if (!(ep = ep_get(epd)))
		return SCIF_REGISTER_FAILED;
	if (!page_aligned((uintptr_t)addr) || !page_aligned(len) || !len ||
	    offset < 0 || !prot_flags ||
	    (prot_flags & ~(SCIF_PROT_READ | SCIF_PROT_WRITE)) ||
	    (map_flags & ~SCIF_MAP_FIXED) ||
	    ((map_flags & SCIF_MAP_FIXED) && !page_aligned((uint64_t)offset)))
		rc = -EINVAL;
	else if ((rc = ep_check_connected(ep)) == 0 &&
		 msync(addr, len, MS_ASYNC) < 0)
		rc = -EFAULT; /* some page of the range is not mapped */
	if (rc == 0) {
		/* Lets peers fall back to our helper thread if needed. */
		rma_socket_serve_start();
		pthread_mutex_lock(&ep->lock);
		rc = windows_register(ep, addr, len, offset, prot_flags,
				      map_flags, &placed);
		pthread_mutex_unlock(&ep->lock);
	}
	ep_put(ep);
	if (rc < 0) {
		errno = -rc;
		return SCIF_REGISTER_FAILED;
	}
	return placed;
}

int scif_unregister(scif_epd_t epd, off_t offset, size_t len)
{
	struct endpoint *ep;
	int rc;

	if (!(ep = ep_get(epd)))
		return -1;
	if (offset < 0 || !page_aligned((uint64_t)offset) || !len ||
	    !page_aligned(len) || len > OFFSET_LIMIT)
		rc = -EINVAL;
	else
		rc = ep_check_connected(ep);
	if (rc == 0) {
		pthread_mutex_lock(&ep->lock);
		rc = windows_unregister(ep, offset, len);
		pthread_mutex_unlock(&ep->lock);
	}
	ep_put(ep);
	return rc < 0 ? fail(-rc) : 0;
}
