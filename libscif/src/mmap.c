/* SPDX-License-Identifier: MPL-2.0 */
/*
 * scif_mmap / scif_munmap. Mapping a peer's window would need its pages to
 * be shareable, which ordinary (anonymous, private) process memory is not,
 * so scif_mmap validates its arguments as MPSS does and then reports
 * ENOSYS. scif_munmap is munmap(2) with the SCIF alignment rules.
 */
#include <errno.h>
#include <sys/mman.h>

#include "internal.h"

static bool page_aligned(uint64_t value)
{
	return (value & (SCIF_EMU_PAGE_SIZE - 1)) == 0;
}

void *scif_mmap(void *addr, size_t len, int prot_flags, int map_flags,
		scif_epd_t epd, off_t offset)
{
	struct endpoint *ep = ep_get_live(epd);
	int rc;

	if (!ep)
		return SCIF_MMAP_FAILED;
	if (!prot_flags || (prot_flags & ~(SCIF_PROT_READ | SCIF_PROT_WRITE)) ||
	    (map_flags & ~SCIF_MAP_FIXED) ||
	    ((map_flags & SCIF_MAP_FIXED) && !page_aligned((uintptr_t)addr)) ||
	    !page_aligned(len) || !len || !page_aligned((uint64_t)offset))
		rc = -EINVAL;
	else if ((rc = ep_check_connected(ep)) == 0)
		rc = offset < 0 ? -ENXIO : -ENOSYS;
	ep_put(ep);
	errno = -rc;
	return SCIF_MMAP_FAILED;
}

int scif_munmap(void *addr, size_t len)
{
	if (!page_aligned((uintptr_t)addr) || !page_aligned(len))
		return fail(EINVAL);
	return munmap(addr, len);
}
