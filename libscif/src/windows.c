/* SPDX-License-Identifier: MPL-2.0 */
/*
 * Registered address space.
 *
 * Our windows: the authoritative copy is private (ep->windows); each is
 * also published in our table, which the peer maps read-only, so that its
 * RMAs can find them without our help. Our own RMAs and the fallback
 * service pin our windows in private memory.
 *
 * The peer's windows: read from the peer's table, where every field is
 * hostile input, checked before use. It can only ever make us reach into
 * the peer's own process. An RMA pins a peer window by counting itself in
 * *our* table (pins[slot]) and re-checking the slot's sequence number; the
 * peer retiring a slot makes the sequence odd, then waits for that count.
 * Both sides use sequentially consistent operations, so one always sees
 * the other. That wait is bounded: RETIRE_WAIT_MS while the peer lives,
 * after which the connection is reset, and none at all once it is dead.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* MPSS reserves offsets from 2^62 on; SCIF_MAP_FIXED there: EADDRINUSE. */
#define OFFSET_LIMIT (1ULL << 62)

#define relaxed_load(p)	    atomic_load_explicit(p, memory_order_relaxed)
#define relaxed_store(p, v) atomic_store_explicit(p, v, memory_order_relaxed)

static bool page_aligned(uint64_t value)
{
	return (value & (SCIF_EMU_PAGE_SIZE - 1)) == 0;
}

/* --- segment lists ----------------------------------------------------------
 */

void segments_init(struct segment_list *list)
{
	list->count = 0;
	list->capacity =
	    sizeof(list->inline_segs) / sizeof(list->inline_segs[0]);
	list->segs = list->inline_segs;
}

int segments_push(struct segment_list *list, struct segment seg)
{
	if (list->count == list->capacity) {
		size_t cap = list->capacity * 2;
		struct segment *grown = malloc(cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		memcpy(grown, list->segs, list->count * sizeof(*grown));
		if (list->segs != list->inline_segs)
			free(list->segs);
		list->segs = grown;
		list->capacity = cap;
	}
	list->segs[list->count++] = seg;
	return 0;
}

void segments_free(struct segment_list *list)
{
	if (list->segs != list->inline_segs)
		free(list->segs);
	segments_init(list);
}

/* --- our windows
 * -------------------------------------------------------------- */

static bool overlaps(const struct window *w, uint64_t off, uint64_t len)
{
	return w->len && w->offset < off + len && off < w->offset + w->len;
}

/* Returns the end of one of our windows overlapping [off, off+len), or 0. */
static uint64_t first_overlap_end(const struct window_set *set, uint64_t off,
				  uint64_t len)
{
	for (uint32_t i = 0; i < set->capacity; i++)
		if (overlaps(&set->slots[i], off, len))
			return set->slots[i].offset + set->slots[i].len;
	return 0;
}

/* Picks a free page-aligned range of len bytes at or after hint. */
static int choose_offset(const struct window_set *set, uint64_t hint,
			 uint64_t len, uint64_t *out)
{
	uint64_t starts[2] = {hint & ~(SCIF_EMU_PAGE_SIZE - 1), 0};

	if (len > OFFSET_LIMIT)
		return -ENOMEM;
	for (int attempt = 0; attempt < 2; attempt++) {
		uint64_t cand = starts[attempt], end;
		while (cand + len <= OFFSET_LIMIT &&
		       (end = first_overlap_end(set, cand, len)) != 0)
			cand = end;
		if (cand + len <= OFFSET_LIMIT) {
			*out = cand;
			return 0;
		}
	}
	return -ENOMEM;
}

/* A slot with no window and no retirement in progress; grows the set. */
static int free_slot(struct endpoint *ep)
{
	struct window_set *set = &ep->windows;
	uint32_t cap = set->capacity;

	for (uint32_t i = 0; i < cap; i++)
		if (!set->slots[i].len)
			return (int)i;
	if (cap == SCIF_EMU_MAX_WINDOWS)
		return -EAGAIN;
	uint32_t grown_cap = cap ? cap * 2 : 8;
	if (grown_cap > SCIF_EMU_MAX_WINDOWS)
		grown_cap = SCIF_EMU_MAX_WINDOWS;
	struct window *grown = realloc(set->slots, grown_cap * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	memset(grown + cap, 0, (grown_cap - cap) * sizeof(*grown));
	set->slots = grown;
	set->capacity = grown_cap;
	return (int)cap;
}

/* Writes window w into our published table (seqlock: odd while changing). */
static void publish(struct window_table *t, uint32_t slot,
		    const struct window *w)
{
	struct table_slot *s = &t->slots[slot];

	atomic_fetch_add(&s->seq, 1);
	relaxed_store(&s->prot, (uint32_t)w->prot);
	relaxed_store(&s->offset, w->offset);
	relaxed_store(&s->addr, w->addr);
	relaxed_store(&s->len, w->len);
	atomic_fetch_add_explicit(&s->seq, 1, memory_order_release);
	if (slot >= atomic_load(&t->used_slots))
		atomic_store(&t->used_slots, slot + 1);
}

int windows_register(struct endpoint *ep, void *addr, size_t len, off_t offset,
		     int prot, int map_flags, off_t *placed)
{
	struct window_set *set = &ep->windows;
	uint64_t where;
	int slot, rc = 0;

	pthread_mutex_lock(&set->lock);
	if (map_flags & SCIF_MAP_FIXED) {
		if ((uint64_t)offset >= OFFSET_LIMIT ||
		    len > OFFSET_LIMIT - (uint64_t)offset ||
		    first_overlap_end(set, (uint64_t)offset, len))
			rc = -EADDRINUSE;
		where = (uint64_t)offset;
	} else {
		rc = choose_offset(set, (uint64_t)offset, len, &where);
	}
	if (rc == 0 && (slot = free_slot(ep)) < 0)
		rc = slot;
	if (rc == 0) {
		struct window *w = &set->slots[slot];
		*w = (struct window){.offset = where,
				     .len = len,
				     .addr = (uint64_t)(uintptr_t)addr,
				     .prot = prot};
		publish(ep->local_table, (uint32_t)slot, w);
		*placed = (off_t)where;
	}
	pthread_mutex_unlock(&set->lock);
	return rc;
}

static void pause_briefly(unsigned round)
{
	struct timespec pause = {.tv_nsec = 200 * 1000};

	if (round < 50)
		sched_yield();
	else
		nanosleep(&pause, NULL);
}

/*
 * Waits until the peer runs no RMA on the retiring slots (marked in
 * retiring[]): at most RETIRE_WAIT_MS while it lives, then the connection
 * is reset, so that a peer holding a count can stall nobody.
 */
static void wait_peer_release(struct endpoint *ep, const bool *retiring,
			      uint32_t count)
{
	const struct window_table *peer = handshake_peer_table(ep);
	int64_t deadline = now_ms() + RETIRE_WAIT_MS;

	if (!peer)
		return; /* no hello yet: the peer cannot have found a window */
	for (unsigned round = 0;; round++) {
		bool busy = false;
		for (uint32_t i = 0; i < count && !busy; i++)
			busy = retiring[i] && atomic_load(&peer->pins[i]);
		if (!busy || !ep_peer_process_alive(ep))
			return; /* a dead peer holds nothing */
		if (now_ms() >= deadline) {
			ep_reset(ep, ECONNRESET);
			return;
		}
		pause_briefly(round);
	}
}

/*
 * Retires the windows marked in retiring[]: no new pins, our own users
 * finish, the peer's RMAs finish (bounded), then the slots are freed.
 */
static void retire(struct endpoint *ep, bool *retiring)
{
	struct window_set *set = &ep->windows;
	struct window_table *t = ep->local_table;
	uint32_t count = set->capacity;

	for (uint32_t i = 0; i < count; i++)
		if (retiring[i]) {
			set->slots[i].retiring = true;
			while (set->slots[i].users)
				pthread_cond_wait(&set->idle, &set->lock);
			atomic_fetch_add(&t->slots[i].seq, 1); /* odd */
		}
	pthread_mutex_unlock(&set->lock);
	wait_peer_release(ep, retiring, count);
	pthread_mutex_lock(&set->lock);
	for (uint32_t i = 0; i < count; i++)
		if (retiring[i]) {
			set->slots[i] = (struct window){0};
			relaxed_store(&t->slots[i].len, 0);
			atomic_fetch_add_explicit(&t->slots[i].seq, 1,
						  memory_order_release);
		}
}

int windows_unregister(struct endpoint *ep, off_t offset, size_t len)
{
	struct window_set *set = &ep->windows;
	uint64_t off = (uint64_t)offset;
	bool retiring[SCIF_EMU_MAX_WINDOWS] = {0};
	int found = 0, rc = 0;

	pthread_mutex_lock(&set->lock);
	/* Validate everything first: on error nothing is unregistered. */
	for (uint32_t i = 0; i < set->capacity && rc == 0; i++) {
		const struct window *w = &set->slots[i];
		if (!overlaps(w, off, len) || w->retiring)
			continue;
		if (w->offset < off || w->offset + w->len > off + len)
			rc = -EINVAL; /* would cut a window */
		retiring[i] = true;
		found++;
	}
	if (rc == 0 && !found)
		rc = -ENXIO;
	if (rc == 0)
		retire(ep, retiring);
	pthread_mutex_unlock(&set->lock);
	return rc;
}

void windows_release_all(struct endpoint *ep)
{
	struct window_set *set = &ep->windows;
	bool retiring[SCIF_EMU_MAX_WINDOWS] = {0};
	bool any = false;

	if (!ep->local_table)
		return;
	pthread_mutex_lock(&set->lock);
	for (uint32_t i = 0; i < set->capacity; i++)
		if (set->slots[i].len && !set->slots[i].retiring)
			any = retiring[i] = true;
	if (any)
		retire(ep, retiring);
	pthread_mutex_unlock(&set->lock);
}

/* --- pinning our windows -------------------------------------------------- */

static void unpin_local_locked(struct window_set *set,
			       const struct segment_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		set->slots[list->segs[i].slot].users--;
	pthread_cond_broadcast(&set->idle);
}

int windows_pin_local(struct endpoint *ep, uint64_t offset, uint64_t len,
		      int need_prot, struct segment_list *out)
{
	struct window_set *set = &ep->windows;
	uint64_t cur = offset, end = offset + len;
	int rc = 0;

	segments_init(out);
	if (end < offset)
		return -ENXIO;
	pthread_mutex_lock(&set->lock);
	while (cur < end && rc == 0) {
		uint32_t i;
		for (i = 0; i < set->capacity; i++) {
			const struct window *w = &set->slots[i];
			if (w->len && !w->retiring && cur >= w->offset &&
			    cur - w->offset < w->len)
				break;
		}
		if (i == set->capacity) {
			rc = -ENXIO;
			break;
		}
		struct window *w = &set->slots[i];
		uint64_t wend = w->offset + w->len;
		struct segment seg = {
		    .slot = i,
		    .addr = w->addr + (cur - w->offset),
		    .len = (end < wend ? end : wend) - cur,
		};
		if ((w->prot & need_prot) != need_prot)
			rc = -EACCES;
		else if ((rc = segments_push(out, seg)) == 0)
			w->users++;
		cur += seg.len;
	}
	if (rc < 0) {
		unpin_local_locked(set, out);
		segments_free(out);
	}
	pthread_mutex_unlock(&set->lock);
	return rc;
}

void windows_unpin_local(struct endpoint *ep, struct segment_list *list)
{
	pthread_mutex_lock(&ep->windows.lock);
	unpin_local_locked(&ep->windows, list);
	pthread_mutex_unlock(&ep->windows.lock);
	segments_free(list);
}

/* --- pinning the peer's windows ------------------------------------------- */

/* What a peer slot says, taken only when its sequence is stable. */
struct peer_window {
	uint32_t seq;
	uint32_t prot;
	uint64_t offset, len, addr;
};

static bool read_peer_slot(const struct table_slot *s, struct peer_window *w)
{
	w->seq = atomic_load_explicit(&s->seq, memory_order_acquire);
	w->prot = relaxed_load(&s->prot);
	w->offset = relaxed_load(&s->offset);
	w->len = relaxed_load(&s->len);
	w->addr = relaxed_load(&s->addr);
	/* Everything the peer wrote is checked: no wrap, nothing unknown. */
	return !(w->seq & 1) && w->len && page_aligned(w->offset) &&
	       page_aligned(w->len) && page_aligned(w->addr) &&
	       w->offset < OFFSET_LIMIT && w->len <= OFFSET_LIMIT - w->offset &&
	       w->addr <= UINT64_MAX - w->len && w->prot &&
	       !(w->prot & ~(uint32_t)(SCIF_PROT_READ | SCIF_PROT_WRITE));
}

void windows_unpin_peer(struct endpoint *ep, struct segment_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		atomic_fetch_sub_explicit(
		    &ep->local_table->pins[list->segs[i].slot], 1,
		    memory_order_release);
	segments_free(list);
}

/* Pins the peer window containing cur; 1 if found, 0 if not, -EACCES. */
static int pin_peer_at(struct endpoint *ep, const struct window_table *peer,
		       uint64_t cur, uint64_t end, int need_prot,
		       struct segment *seg)
{
	uint32_t used = atomic_load(&peer->used_slots);

	if (used > SCIF_EMU_MAX_WINDOWS)
		used = SCIF_EMU_MAX_WINDOWS;
	for (uint32_t i = 0; i < used; i++) {
		struct peer_window w;
		if (!read_peer_slot(&peer->slots[i], &w) || cur < w.offset ||
		    cur - w.offset >= w.len)
			continue;
		if (((int)w.prot & need_prot) != need_prot)
			return -EACCES;
		atomic_fetch_add(&ep->local_table->pins[i], 1);
		if (atomic_load(&peer->slots[i].seq) != w.seq) {
			/* Changed under us: it is being unregistered. */
			atomic_fetch_sub(&ep->local_table->pins[i], 1);
			continue;
		}
		uint64_t wend = w.offset + w.len;
		*seg = (struct segment){
		    .slot = i,
		    .seq = w.seq,
		    .addr = w.addr + (cur - w.offset),
		    .len = (end < wend ? end : wend) - cur,
		};
		return 1;
	}
	return 0;
}

int windows_pin_peer(struct endpoint *ep, const struct window_table *peer,
		     uint64_t offset, uint64_t len, int need_prot,
		     struct segment_list *out)
{
	uint64_t cur = offset, end = offset + len;

	segments_init(out);
	if (end < offset)
		return -ENXIO;
	while (cur < end) {
		struct segment seg;
		int rc = pin_peer_at(ep, peer, cur, end, need_prot, &seg);
		if (rc == 0)
			rc = -ENXIO;
		else if (rc == 1 && (rc = segments_push(out, seg)) < 0)
			atomic_fetch_sub(&ep->local_table->pins[seg.slot], 1);
		if (rc < 0) {
			windows_unpin_peer(ep, out);
			return rc;
		}
		cur += seg.len;
	}
	return 0;
}

bool windows_peer_still_valid(const struct window_table *peer,
			      const struct segment *seg)
{
	uint32_t seq = atomic_load(&peer->slots[seg->slot].seq);

	/* Retiring (seq + 1) still waits for us; anything else is gone. */
	return seq == seg->seq || seq == seg->seq + 1;
}

/* --- fence counters ------------------------------------------------------- */

uint32_t windows_rma_count(const struct window_table *t, bool completed)
{
	return atomic_load(completed ? &t->rma_completed : &t->rma_started);
}
