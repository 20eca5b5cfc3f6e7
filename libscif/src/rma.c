/* SPDX-License-Identifier: MPL-2.0 */
/*
 * Registration and remote memory access: scif_register, scif_unregister,
 * scif_readfrom, scif_writeto, scif_vreadfrom, scif_vwriteto.
 *
 * The initiator does the whole transfer itself, like a DMA engine would:
 * it pins the peer's windows (windows.c) and copies with
 * process_vm_readv/writev straight between its memory and the peer's
 * process, the one the kernel named at connect time. One copy per byte and
 * no work in the peer. The copy goes in chunks, and a window the peer
 * retires for good in the middle stops it. Where the kernel refuses
 * process_vm_* for this peer (EPERM, ENOSYS), this endpoint switches to the
 * fallback path (fallback_client.c) and stays there.
 *
 * With SCIF_RMA_SYNC (and on the fallback path) the caller's thread
 * copies and the transfer is complete on return. Without it, as in MPSS, the
 * call checks the ranges, queues the copy to the DMA engine (dma.c) and
 * returns: the local memory must stay as it is until a fence says the RMA
 * completed. Copies keep their order within a transfer and the last byte lands
 * last, so SCIF_RMA_ORDERED always holds; SCIF_RMA_USECPU and SCIF_RMA_USECACHE
 * change nothing (there is no DMA setup or page pinning to save).
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include "internal.h"

#define RMA_FLAGS_ALL                                                          \
	(SCIF_RMA_USECPU | SCIF_RMA_USECACHE | SCIF_RMA_SYNC | SCIF_RMA_ORDERED)

/* Largest piece copied between two checks of the peer's window. */
#define RMA_CHUNK (8u << 20)

const char *scif_emu_version(void)
{
	return SCIF_EMU_VERSION;
}

static const char *path_name(enum rma_path path)
{
	return path == RMA_PATH_SOCKET ? "socket" : "process_vm";
}

const char *scif_emu_rma_path(void)
{
	return path_name(rma_path_default());
}

const char *scif_emu_ep_rma_path(scif_epd_t epd)
{
	struct endpoint *ep = ep_get_live(epd);
	const char *name;

	if (!ep)
		return NULL;
	name = path_name(atomic_load(&ep->rma_path));
	ep_put(ep);
	return name;
}

static bool page_aligned(uint64_t value)
{
	return (value & (SCIF_EMU_PAGE_SIZE - 1)) == 0;
}

/* --- registration ----------------------------------------------------------
 */

off_t scif_register(scif_epd_t epd, void *addr, size_t len, off_t offset,
		    int prot_flags, int map_flags)
{
	uint64_t begun = stats_begin();
	struct endpoint *ep;
	off_t placed = 0;
	int rc;

	if (!(ep = ep_get_live(epd)))
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
		/* Peers the kernel keeps out of our memory need the service. */
		fallback_service_start(ep);
		pthread_mutex_lock(&ep->lock);
		rc = windows_register(ep, addr, len, offset, prot_flags,
				      map_flags, &placed);
		pthread_mutex_unlock(&ep->lock);
	}
	ep_put(ep);
	stats_end(STAT_REGISTER, begun, rc < 0 ? 0 : (long long)len);
	if (rc < 0) {
		errno = -rc;
		return SCIF_REGISTER_FAILED;
	}
	return placed;
}

int scif_unregister(scif_epd_t epd, off_t offset, size_t len)
{
	uint64_t begun = stats_begin();
	struct endpoint *ep;
	int rc;

	if (!(ep = ep_get_live(epd)))
		return -1;
	if (offset < 0 || !page_aligned((uint64_t)offset) || !len ||
	    !page_aligned(len) || len > (1ULL << 62))
		rc = -EINVAL;
	else
		rc = ep_check_connected(ep);
	if (rc == 0) {
		pthread_mutex_lock(&ep->lock);
		rc = windows_unregister(ep, offset, len);
		pthread_mutex_unlock(&ep->lock);
	}
	ep_put(ep);
	stats_end(STAT_UNREGISTER, begun, rc < 0 ? 0 : (long long)len);
	return rc < 0 ? fail(-rc) : 0;
}

/* --- transfers ---------------------------------------------------------------
 */

static int copy_chunk(enum rma_dir dir, pid_t pid, uint64_t local,
		      uint64_t remote, size_t len)
{
	while (len) {
		struct iovec liov = {(void *)(uintptr_t)local, len};
		struct iovec riov = {(void *)(uintptr_t)remote, len};
		ssize_t n = dir == RMA_WRITE
				? process_vm_writev(pid, &liov, 1, &riov, 1, 0)
				: process_vm_readv(pid, &liov, 1, &riov, 1, 0);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return n < 0 ? -errno : -EFAULT;
		}
		local += (uint64_t)n;
		remote += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Walks the local pieces and the pinned remote pieces side by side, one
 * chunk at a time, checking before each that the peer has not retired the
 * window for good.
 */
static int copy_process_vm(struct endpoint *ep, enum rma_dir dir,
			   const struct segment_list *local,
			   const struct window_table *peer,
			   const struct segment_list *remote)
{
	size_t li = 0, ri = 0;
	uint64_t ldone = 0, rdone = 0;

	while (li < local->count && ri < remote->count) {
		const struct segment *l = &local->segs[li];
		const struct segment *r = &remote->segs[ri];
		uint64_t chunk = l->len - ldone;
		if (r->len - rdone < chunk)
			chunk = r->len - rdone;
		if (chunk > RMA_CHUNK)
			chunk = RMA_CHUNK;
		if (!windows_peer_still_valid(peer, r))
			return -ECONNRESET;
		/* A peer that went away (or close(2)d) mid-transfer: stop. */
		if ((ldone || rdone || li || ri) && ep_peer_state(ep) < 0)
			return ep_peer_state(ep);
		int rc = copy_chunk(dir, ep->peer_pid, l->addr + ldone,
				    r->addr + rdone, (size_t)chunk);
		if (rc < 0)
			return rc;
		ldone += chunk;
		rdone += chunk;
		if (ldone == l->len) {
			li++;
			ldone = 0;
		}
		if (rdone == r->len) {
			ri++;
			rdone = 0;
		}
	}
	return 0;
}

/* Moves len bytes between local pieces and the peer's range at roffset. */
static int transfer(struct endpoint *ep, enum rma_dir dir,
		    const struct segment_list *local, uint64_t roffset,
		    uint64_t len)
{
	int need = dir == RMA_WRITE ? SCIF_PROT_WRITE : SCIF_PROT_READ;
	int rc;

	if (atomic_load(&ep->rma_path) == RMA_PATH_PROCESS_VM) {
		const struct window_table *peer = handshake_peer_table(ep);
		struct segment_list remote;

		/* No hello yet (no window of the peer), or one refused. */
		if (!peer)
			return ep_peer_state(ep) < 0 ? ep_peer_state(ep)
						     : -ENXIO;
		rc = windows_pin_peer(ep, peer, roffset, len, need, &remote);
		if (rc < 0)
			return rc;
		rc = copy_process_vm(ep, dir, local, peer, &remote);
		windows_unpin_peer(ep, &remote);
		if (rc != -EPERM && rc != -ENOSYS)
			return rc == -ESRCH ? ep_lost_errno(ep) : rc;
		/* The kernel keeps us out of this peer: its service copies. */
		atomic_store(&ep->rma_path, RMA_PATH_SOCKET);
	}
	return fallback_copy(ep, dir, local, roffset, len);
}

int rma_run(struct endpoint *ep, const struct rma_args *args)
{
	struct segment_list local;
	int rc;

	if (args->virt) {
		segments_init(&local);
		rc = segments_push(
		    &local,
		    (struct segment){.addr = (uint64_t)(uintptr_t)args->vaddr,
				     .len = args->len});
	} else {
		rc = windows_pin_local(ep, args->loffset, args->len,
				       args->dir == RMA_WRITE ? SCIF_PROT_READ
							      : SCIF_PROT_WRITE,
				       &local);
	}
	if (rc == 0) {
		rc = transfer(ep, args->dir, &local, args->roffset, args->len);
		if (args->virt)
			segments_free(&local);
		else
			windows_unpin_local(ep, &local);
	}
	if (rc == -EFAULT && ep_peer_state(ep) < 0)
		rc = ep_peer_state(ep);
	return rc;
}

/*
 * What MPSS checks before it queues an RMA: the local range is mapped (or
 * lies in our windows) and the peer's windows cover the remote range with
 * the protection needed.
 */
static int check_ranges(struct endpoint *ep, const struct rma_args *args)
{
	int need = args->dir == RMA_WRITE ? SCIF_PROT_WRITE : SCIF_PROT_READ;
	struct segment_list pinned;
	int rc;

	if (args->virt) {
		uintptr_t first =
		    (uintptr_t)args->vaddr & ~(SCIF_EMU_PAGE_SIZE - 1);
		size_t span = (uintptr_t)args->vaddr + args->len - first;
		if (msync((void *)first, span, MS_ASYNC) < 0)
			return -EFAULT;
	} else {
		rc = windows_pin_local(ep, args->loffset, args->len,
				       args->dir == RMA_WRITE ? SCIF_PROT_READ
							      : SCIF_PROT_WRITE,
				       &pinned);
		if (rc < 0)
			return rc;
		windows_unpin_local(ep, &pinned);
	}
	const struct window_table *peer = handshake_peer_table(ep);
	if (!peer)
		return -ENXIO;
	rc =
	    windows_pin_peer(ep, peer, args->roffset, args->len, need, &pinned);
	if (rc == 0)
		windows_unpin_peer(ep, &pinned);
	return rc;
}

/*
 * Common body of the four RMA calls. virt selects the "v" form (the local
 * side is ordinary memory at vaddr), otherwise loffset names local windows.
 * With SCIF_RMA_SYNC the copy runs here; otherwise the ranges are checked
 * here and the copy is queued to the DMA engine. On the fallback path only
 * the peer's service can check its ranges: those RMAs run here too, so
 * that the call still reports what MPSS reports before queuing.
 */
static int rma(scif_epd_t epd, enum rma_dir dir, bool virt, void *vaddr,
	       off_t loffset, size_t len, off_t roffset, int flags)
{
	struct rma_args args = {
	    .dir = dir,
	    .virt = virt,
	    .vaddr = vaddr,
	    .loffset = (uint64_t)loffset,
	    .len = len,
	    .roffset = (uint64_t)roffset,
	};
	static const enum stat_call calls[2][2] = {
	    [RMA_READ] = {STAT_READFROM, STAT_VREADFROM},
	    [RMA_WRITE] = {STAT_WRITETO, STAT_VWRITETO},
	};
	uint64_t begun = stats_begin();
	struct rma_ticket ticket;
	struct endpoint *ep;
	int rc;

	if (!(ep = ep_get_live(epd)))
		return -1;
	if (flags & ~RMA_FLAGS_ALL)
		rc = -EINVAL;
	else if ((rc = ep_check_connected(ep)) == 0 &&
		 (roffset < 0 || (!virt && loffset < 0)))
		rc = -ENXIO;
	if (rc == 0 && len &&
	    ((flags & SCIF_RMA_SYNC) ||
	     atomic_load(&ep->rma_path) == RMA_PATH_SOCKET)) {
		rma_ticket_take(ep, &ticket);
		rc = rma_run(ep, &args);
		rma_ticket_done(ep, &ticket, rc, false);
	} else if (rc == 0 && len && (rc = check_ranges(ep, &args)) == 0) {
		rc = dma_submit_rma(ep, &args);
	}
	ep_put(ep);
	stats_end(calls[dir][virt], begun, rc < 0 ? 0 : (long long)len);
	return rc < 0 ? fail(-rc) : 0;
}

int scif_readfrom(scif_epd_t epd, off_t loffset, size_t len, off_t roffset,
		  int rma_flags)
{
	return rma(epd, RMA_READ, false, NULL, loffset, len, roffset,
		   rma_flags);
}

int scif_writeto(scif_epd_t epd, off_t loffset, size_t len, off_t roffset,
		 int rma_flags)
{
	return rma(epd, RMA_WRITE, false, NULL, loffset, len, roffset,
		   rma_flags);
}

int scif_vreadfrom(scif_epd_t epd, void *addr, size_t len, off_t roffset,
		   int rma_flags)
{
	return rma(epd, RMA_READ, true, addr, 0, len, roffset, rma_flags);
}

int scif_vwriteto(scif_epd_t epd, void *addr, size_t len, off_t roffset,
		  int rma_flags)
{
	return rma(epd, RMA_WRITE, true, addr, 0, len, roffset, rma_flags);
}

int rma_write_peer(struct endpoint *ep, uint64_t roffset, const void *data,
		   size_t len)
{
	struct segment_list local;
	int rc;

	segments_init(&local);
	rc = segments_push(
	    &local,
	    (struct segment){.addr = (uint64_t)(uintptr_t)data, .len = len});
	if (rc == 0)
		rc = transfer(ep, RMA_WRITE, &local, roffset, len);
	segments_free(&local);
	return rc;
}
