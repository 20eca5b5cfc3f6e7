/* SPDX-License-Identifier: MPL-2.0 */
/*
 * Remote memory access: scif_readfrom, scif_writeto, scif_vreadfrom,
 * scif_vwriteto.
 *
 * The initiator does the whole transfer itself, like a DMA engine would:
 * it pins the windows involved (see windows.c), then copies straight
 * between its memory and the peer's with process_vm_readv/writev - one copy
 * per byte and no work in the peer. Transfers are complete on return, so
 * SCIF_RMA_SYNC and SCIF_RMA_ORDERED are always satisfied and
 * SCIF_RMA_USECPU/SCIF_RMA_USECACHE change nothing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"

#define RMA_FLAGS_ALL                                                          \
	(SCIF_RMA_USECPU | SCIF_RMA_USECACHE | SCIF_RMA_SYNC | SCIF_RMA_ORDERED)

enum rma_path { PATH_PROCESS_VM, PATH_SOCKET };

static _Atomic int path = -1; /* -1: not decided yet */

static enum rma_path current_path(void)
{
	int p = atomic_load(&path);

	if (p < 0) {
		const char *env = getenv("SCIF_EMU_RMA_PATH");
		int chosen = (env && strcmp(env, "socket") == 0)
				 ? PATH_SOCKET
				 : PATH_PROCESS_VM;
		atomic_compare_exchange_strong(&path, &p, chosen);
		p = atomic_load(&path);
	}
	return (enum rma_path)p;
}

const char *scif_emu_rma_path(void)
{
	return current_path() == PATH_SOCKET ? "socket" : "process_vm";
}

const char *scif_emu_version(void)
{
	return SCIF_EMU_VERSION;
}

static int copy_process_vm(enum rma_dir dir, void *local, int32_t pid,
			   uint64_t remote, size_t len)
{
	while (len) {
		struct iovec liov = {.iov_base = local, .iov_len = len};
		struct iovec riov = {.iov_base = (void *)(uintptr_t)remote,
				     .iov_len = len};
		ssize_t n = dir == RMA_WRITE
				? process_vm_writev(pid, &liov, 1, &riov, 1, 0)
				: process_vm_readv(pid, &liov, 1, &riov, 1, 0);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return n < 0 ? -errno : -EFAULT;
		}
		local = (char *)local + n;
		remote += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int rma_copy_remote(enum rma_dir dir, void *local, int32_t pid, uint64_t remote,
		    size_t len)
{
	if (current_path() == PATH_PROCESS_VM) {
		int rc = copy_process_vm(dir, local, pid, remote, len);
		if (rc != -EPERM && rc != -ENOSYS)
			return rc == -ESRCH ? -ECONNRESET : rc;
		/* The kernel forbids it (Yama, seccomp...): switch for good. */
		atomic_store(&path, PATH_SOCKET);
	}
	return rma_socket_copy(dir, local, pid, remote, len);
}

/*
 * Walks the local pieces (one user buffer or pinned local windows) and the
 * pinned remote pieces side by side, copying the overlap of each pair.
 */
static int transfer(enum rma_dir dir, const struct pinned_range *local,
		    const struct pinned_range *remote)
{
	size_t li = 0, ri = 0;
	uint64_t ldone = 0, rdone = 0;

	while (li < local->count && ri < remote->count) {
		const struct segment *l = &local->segs[li];
		const struct segment *r = &remote->segs[ri];
		uint64_t chunk = l->len - ldone;
		if (r->len - rdone < chunk)
			chunk = r->len - rdone;
		int rc =
		    rma_copy_remote(dir, (void *)(uintptr_t)(l->addr + ldone),
				    r->pid, r->addr + rdone, chunk);
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

/*
 * Common body of the four RMA calls. virt selects the "v" form (the local
 * side is ordinary memory at vaddr), otherwise loffset names local windows.
 */
static int rma(scif_epd_t epd, enum rma_dir dir, bool virt, void *vaddr,
	       off_t loffset, size_t len, off_t roffset, int flags)
{
	struct pinned_range local = {0}, remote = {0};
	struct window_table *mine;
	struct endpoint *ep;
	int rc;

	if (!(ep = ep_get(epd)))
		return -1;
	if (flags & ~RMA_FLAGS_ALL)
		rc = -EINVAL;
	else if ((rc = ep_check_connected(ep)) == 0 &&
		 (roffset < 0 || (!virt && loffset < 0)))
		rc = -ENXIO;
	if (rc < 0 || len == 0)
		goto out;

	mine = ep_local_table(ep);
	atomic_fetch_add(&mine->rma_started, 1);
	rc = windows_pin(ep_peer_table(ep), (uint64_t)roffset, len,
			 dir == RMA_WRITE ? SCIF_PROT_WRITE : SCIF_PROT_READ,
			 &remote);
	if (rc == 0 && virt) {
		local.count = 1;
		local.segs = local.inline_segs;
		local.segs[0].addr = (uint64_t)(uintptr_t)vaddr;
		local.segs[0].len = len;
	} else if (rc == 0) {
		rc = windows_pin(mine, (uint64_t)loffset, len,
				 dir == RMA_WRITE ? SCIF_PROT_READ
						  : SCIF_PROT_WRITE,
				 &local);
		if (rc < 0)
			windows_unpin(&remote);
	}
	if (rc == 0) {
		rc = transfer(dir, &local, &remote);
		if (!virt)
			windows_unpin(&local);
		windows_unpin(&remote);
	}
	atomic_fetch_add(&mine->rma_completed, 1);
	if (rc == -EFAULT && ep_peer_gone(ep))
		rc = -ECONNRESET;
out:
	ep_put(ep);
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

int rma_write_remote_value(struct endpoint *ep, uint64_t roff,
			   const void *value, size_t len)
{
	struct pinned_range remote;
	uint64_t done = 0;
	int rc = windows_pin(ep_peer_table(ep), roff, len, 0, &remote);

	for (size_t i = 0; rc == 0 && i < remote.count; i++) {
		const struct segment *s = &remote.segs[i];
		rc = rma_copy_remote(RMA_WRITE, (char *)value + done, s->pid,
				     s->addr, s->len);
		done += s->len;
	}
	windows_unpin(&remote); /* no-op when pinning failed */
	return rc;
}
